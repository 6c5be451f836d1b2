"""Conversations from fine-tuning files: OpenAI chat JSONL, ShareGPT and legacy
prompt/completion lines (mixed freely), and `.json` arrays of ShareGPT or Alpaca records.

Formats: OpenAI's chat fine-tuning format and its legacy prompt/completion one (platform.openai
.com/docs/guides/fine-tuning, "Preparing your dataset"); ShareGPT (`conversations` of
{from, value}, with `function_call`/`observation` turns for tools); Alpaca (instruction, input,
output). Tool and function calling examples are refused with that reason: this app trains
persona conversations, and keeps no tool definitions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import orjson

from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import Example, new_ids, now_iso
from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError, ImportResult

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "system": "system",
}


TOOLS_REFUSED = (
    "a tool or function calling example (tools, tool_calls, function_call): Persona Studio "
    "trains persona conversations and cannot keep these"
)


def _content(content: Any) -> str | None:
    """A message's text: a string, or a list of text parts joined (None: an image or another
    non-text part, or no text at all)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                return None
            if not isinstance(part.get("text"), str):
                return None
            texts.append(part["text"])
        return "".join(texts)
    return None


def _openai_messages(line: dict[str, Any]) -> list[dict[str, Any]] | str:
    if line.get("tools") or line.get("functions"):
        return TOOLS_REFUSED
    messages = []
    for m in line["messages"]:
        if (  # the usual message, checked at once
            type(m) is dict
            and len(m) == 2
            and type(text := m.get("content")) is str
            and (role := m.get("role")) in ("system", "user", "assistant")
        ):
            messages.append({"role": role, "content": text})
            continue
        if not isinstance(m, dict):
            return "a message is not an object"
        if m.get("role") in ("tool", "function") or m.get("tool_calls") or m.get("function_call"):
            return TOOLS_REFUSED
        if m.get("role") not in ("system", "user", "assistant"):
            return "a message has no role, or a role other than system/user/assistant"
        text = _content(m.get("content"))
        if text is None:
            if isinstance(m.get("content"), list):
                return "a message holds an image or another part that is not text"
            return "a message's content is missing or is not text"
        kept: dict[str, Any] = {"role": m["role"], "content": text}
        if m["role"] == "assistant" and m.get("weight") in (0, 1):
            kept["weight"] = m["weight"]
        if isinstance(m.get("name"), str) and m["name"]:
            kept["name"] = m["name"]  # kept as written (the speaker's name tag)
        messages.append(kept)
    return messages


def _messages(line: Any) -> list[dict[str, Any]] | str:
    """Messages of one line, or why it cannot be used."""
    if not isinstance(line, dict):
        return "not a JSON object"
    if isinstance(line.get("messages"), list):
        return _openai_messages(line)
    if isinstance(line.get("prompt"), str) and isinstance(line.get("completion"), str):
        # OpenAI's legacy format: one question, one answer
        return [
            {"role": "user", "content": line["prompt"]},
            {"role": "assistant", "content": line["completion"]},
        ]
    if isinstance(line.get("instruction"), str) and isinstance(line.get("output"), str):
        extra = str(line["input"]) if isinstance(line.get("input"), str) else ""
        question = line["instruction"] + (f"\n\n{extra}" if extra.strip() else "")
        return [  # Alpaca: instruction (+ input) → output
            {"role": "user", "content": question},
            {"role": "assistant", "content": line["output"]},
        ]
    if isinstance(line.get("conversations"), list):
        messages = []
        for turn in line["conversations"]:
            if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
                return "a ShareGPT turn has no text"
            speaker = str(turn.get("from", "")).lower()
            if speaker in ("function_call", "observation", "tool"):
                return TOOLS_REFUSED
            role = SHAREGPT_ROLES.get(speaker)
            if role is None:
                return f"unknown ShareGPT speaker “{str(turn.get('from'))[:20]}”"
            messages.append({"role": role, "content": turn["value"]})
        return messages
    return "no “messages” (OpenAI) or “conversations” (ShareGPT) list"


_ROLE = itemgetter("role")
_BLOCK = 1 << 20  # bytes of lines read at a time: each decode and split holds the lock ~1 ms
_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(rb"[ \t\r\n]*")


def _records(data: bytes) -> Iterator[tuple[int, Any]]:
    """(line or record number, parsed JSON or None when broken) of JSONL bytes or of a JSON
    array (ShareGPT and Alpaca files are often one array). Lines end at "\n" (JSON Lines; a
    "\r" before it is JSON's white space), read a block at a time: at 100,000 lines, splitting
    the whole text held the interpreter lock for 39 ms in one call, beside the window."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    space = _SPACE.match(data, start)
    first = space.end() if space else start  # (it always matches: maybe nothing)
    if data[first : first + 1] == b"[":
        try:
            array = json.loads(_text(data[start:]))
        except (json.JSONDecodeError, RecursionError) as exc:
            where = (
                f" (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise ImportFileError(
                f"The JSON file is broken{where}.", "Check the file, or export it again."
            ) from None
        if not isinstance(array, list):
            raise ImportFileError("The JSON file is not a list of examples.", "Check the file.")
        yield from enumerate(array, start=1)
        return
    number = 0
    while start < len(data):
        end = data.find(b"\n", start + _BLOCK)
        end = len(data) if end < 0 else end + 1
        lines = _text(data[start:end]).split("\n")
        if lines[-1] == "":  # the block's last line ended
            lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                yield number, _parsed(line)
        start = end


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text.", "Save it as UTF-8 and try again."
        ) from None


def _parsed(line: str) -> Any:
    """A line's JSON, or None: orjson first (~3× json's speed); what it refuses that json
    takes (an integer past 64 bits, NaN) json reads, as before. Nested past either's depth,
    it is broken (json's RecursionError had escaped as a crash of the import)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None


def examples_from_jsonl(
    data: bytes, source: str, *, keep_system_prompts: bool = True, default_status: str = "approved"
) -> ImportResult:
    """Examples from a fine-tuning file (JSONL lines, or a JSON array), each with
    `default_status` (a fine-tuning file is curated data: approved unless the creator asks to
    review it). An example's own system prompt is kept unless `keep_system_prompts` is off
    (then the persona's is used, and the note says how many were set aside). No cyclic
    collection meanwhile, as for a table (`examples_from_table`)."""
    with collector_paused(freeze=len(data) >= FREEZE_FROM * 500):  # (~500 bytes an example)
        return _examples_from_jsonl(data, source, keep_system_prompts, default_status)


def _examples_from_jsonl(
    data: bytes, source: str, keep_system_prompts: bool, default_status: str
) -> ImportResult:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError("The file is larger than 512 MB.", "Split it into parts.")
    result = ImportResult()
    dropped_prompts = joined_prompts = 0
    # one time for the whole import, and ids a thousand at a time, as a table's: 0.16 s and
    # 0.06 s less at 100,000 lines
    stamp, ids = now_iso(), chain.from_iterable(map(new_ids, repeat(1_000)))
    for number, line in _records(data):
        if line is None:
            result.skipped.append((number, "not valid JSON"))
            continue
        messages = _messages(line)
        if isinstance(messages, str):
            result.skipped.append((number, messages))
            continue
        roles = set(map(_ROLE, messages))
        system, turns = [], messages
        if "system" in roles:
            system = [m["content"] for m in messages if m["role"] == "system"]
            turns = [m for m in messages if m["role"] != "system"]
        if "assistant" not in roles:
            result.skipped.append((number, "no answer (assistant message)"))
            continue
        if "user" not in roles:
            result.skipped.append((number, "no question (user message)"))
            continue
        example = Example(turns, next(ids), default_status, source=source, updated_at=stamp)
        if system and keep_system_prompts:
            example.system_prompt = "\n\n".join(system)  # several are kept, in their order
            joined_prompts += len(system) > 1
        elif system:
            dropped_prompts += 1
        result.examples.append(example)
    if dropped_prompts:
        result.notes.append(
            f"{dropped_prompts} examples had their own system prompt; the "
            "persona's prompt is used instead."
        )
    if joined_prompts:
        result.notes.append(
            f"{joined_prompts} examples had several system messages: they are kept as one "
            "system prompt, in their order."
        )
    if not result.examples and not result.skipped:
        raise ImportFileError(
            "The file is empty.", "Choose a JSONL file with one example per line."
        )
    return result
