"""Exports other tools read: OpenAI chat JSONL, CSV, the Naas Chat plugin (cards: cards.py)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.validation import training_messages

CSV_COLUMNS = (
    "id",
    "question",
    "answer",
    "status",
    "tags",
    "conversation",
    "source",
    "system_prompt",
)
# Cells a spreadsheet would run as a formula; exported with a leading apostrophe (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

DEFAULT_CHAT_MODEL = "gpt-4.1-mini"
DEFAULT_TEMPERATURE = 0.7  # the seed used 0, which made characters terse ("Yup")
DEFAULT_MAX_TOKENS = 1024


def plugin_model(persona: Persona) -> str:
    return persona.fine_tuned_model or persona.chat_model or DEFAULT_CHAT_MODEL


def naas_plugin_notes(persona: Persona, rules: int) -> str:
    """What a creator should know about a Naas plugin they just exported: which model it
    names and why, and that the conversational rules do not travel in it."""
    model = plugin_model(persona)
    if persona.fine_tuned_model:
        why = "your fine-tuned model"
    elif persona.chat_model:
        why = "the chat model set for the character"
    else:
        why = "the default, as the character has no fine-tuned or chat model yet"
    notes = f"The plugin names the model “{model}” ({why})."
    if rules:
        notes += (
            f" Your {rules} conversational rule{'s are' if rules != 1 else ' is'} not part of "
            "this format: in Naas Chat the character answers without "
            f"{'them' if rules != 1 else 'it'}."
        )
    return notes


def naas_plugin(
    persona: Persona,
    *,
    avatar_png: bytes | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> dict[str, Any]:
    """The Naas Chat plugin: the keys the original notebooks wrote, with the composed prompt."""
    avatar = ""
    if avatar_png:
        avatar = "data:image/png;base64," + base64.b64encode(avatar_png).decode("ascii")
    return {
        "name": persona.name,
        "model": plugin_model(persona),
        "temperature": temperature,
        "max_tokens": max_tokens,
        "prompt": persona.system_prompt(),
        "commands": [],
        "description": persona.description,
        "avatar": avatar,
        "prompt_type": "system",
    }


def openai_jsonl(examples: Sequence[Example], system_prompt: str, char: str = "") -> str:
    """One {"messages": [...]} line per example, with the persona's (or the example's) prompt.
    Card macros in the messages ({{char}}, {{user}}…) become the character's name (`char`) and
    the user's: a training file never teaches a model to say "{{char}}"."""
    return "".join(openai_jsonl_lines(examples, system_prompt, char))


def openai_jsonl_lines(
    examples: Sequence[Example], system_prompt: str, char: str = ""
) -> Iterator[str]:
    """`openai_jsonl`'s lines, one at a time."""
    from persona_studio.core.persona import expand_macros

    def messages(example: Example) -> list[dict[str, Any]]:
        found = training_messages(example, system_prompt)  # a new list of the example's dicts
        for at, message in enumerate(found):
            content = message.get("content")
            if isinstance(content, str):
                expanded = expand_macros(content, char)
                if expanded is not content:  # a copy only where a macro was replaced
                    found[at] = {**message, "content": expanded}
        return found

    return (json.dumps({"messages": messages(ex)}, ensure_ascii=False) + "\n" for ex in examples)


def safe_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def unescape_cell(text: str) -> str:
    """Undo `safe_cell` on the way back in."""
    # startswith at 1, not text[1:]: slicing copied every cell (0.5 s at 100,000 rows)
    return text[1:] if text.startswith("'") and text.startswith(FORMULA_PREFIXES, 1) else text


def examples_csv(examples: Sequence[Example]) -> str:
    """Question/answer rows; multi-turn examples also carry their turns as JSON."""
    return "".join(examples_csv_parts(examples, max(1, len(examples))))


def examples_csv_parts(examples: Sequence[Example], rows: int) -> Iterator[str]:
    """`examples_csv` in parts of `rows` rows each (the header with the first): a large export
    is made a part at a time, and can say how far it is between two."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for start in range(0, len(examples), rows):
        for ex in examples[start : start + rows]:
            multi = ex.turn_count > 2
            row = [
                ex.id,
                ex.question,
                ex.answer,
                ex.status,
                ", ".join(ex.tags),
                json.dumps(ex.read_messages(), ensure_ascii=False) if multi else "",
                ex.source,
                ex.system_prompt or "",
            ]
            # a bare CR is a line break inside the cell: written as \n it is quoted, so no
            # spreadsheet splits the row there (and nothing after it can start a row of its
            # own, formula or not)
            writer.writerow(
                [safe_cell(cell.replace("\r\n", "\n").replace("\r", "\n")) for cell in row]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell():  # no examples: the header alone
        yield out.getvalue()
