"""Candidate examples from what the creator already has: the pure half (no network).

Sources become *tasks* (one model call each): a LinkedIn post → the question it answers (the
post stays the answer, a "reverse prompt"); a passage of a document → question/answer pairs in
the persona's voice; the persona itself → questions in several styles across its topics, with
its answers; the character's current fine-tuned model → its own answer to each approved
question ("rescue": keep its voice before the model is retired; asked exactly as it was
trained, with the persona's system prompt). The prompts are
`resources/generation/prompts.toml`, readable and editable.
`estimate` prices a run before it starts; `parse_reply` reads the model's answer; a candidate
that (nearly) repeats an existing example is found with `known_examples`. The calls themselves
are made by `services/generate.py`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_studio.core.dataset import Example, new_id
from persona_studio.core.duplicates import DuplicateFinder, KnownTexts, Learning
from persona_studio.core.errors import UserFacingError
from persona_studio.core.importers.documents import Passage
from persona_studio.core.importers.linkedin import LinkedInExport
from persona_studio.core.persona import Persona
from persona_studio.resources_path import resource_path

DEFAULT_MODEL = "gpt-4.1-mini"  # when the profile names no chat model
PAIRS_PER_PASSAGE = 2
PAIRS_PER_TOPIC_CALL = 5
OUTPUT_TOKENS = {"reverse": 40, "passage": 160 * PAIRS_PER_PASSAGE, "topics": 140, "rescue": 150}
RESCUE_SOURCE = "rescue"  # the candidates' source prefix: "rescue:ft:gpt-4.1-mini…"
SAME_LANGUAGE = (
    "Write in the same language as the text you are given (a French post gets a French question)."
)


class GenerateError(UserFacingError):
    pass


@dataclass
class Task:
    kind: str  # reverse, passage, topics
    source: str
    text: str = ""  # the post or the passage
    style: str = ""  # topics: the style name
    count: int = 1  # pairs asked for
    context: str = ""  # what the source says about its author (a LinkedIn profile)


@dataclass
class Candidate:
    """A proposed example waiting for review: pending → accepted (in the dataset) or rejected."""

    question: str
    answer: str
    source: str
    kind: str
    id: str = field(default_factory=new_id)
    status: str = "pending"
    duplicate_of: str = ""  # the question of the example it (nearly) repeats
    # False: kept before the dataset's texts were there to compare it with (its run stopped
    # first); the Generate dialog compares it once they are, and "Accept all new" waits
    compared: bool = True

    def to_example(self, example_id: str, updated_at: str) -> Example:
        """The example it becomes once accepted, with this id and time (`ReviewQueue.decide`
        makes a decision's ids and time at once: one each took a third of accepting 5,000)."""
        return Example.from_qa(
            self.question.strip(),
            self.answer.strip(),
            id=example_id,
            source=self.source,
            tags=["generated"],
            updated_at=updated_at,
        )


def load_prompts(user_file: Path | None = None) -> dict[str, Any]:
    text = (user_file if user_file and user_file.exists() else None) or resource_path(
        "generation/prompts.toml"
    )
    try:
        return tomllib.loads(Path(text).read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GenerateError(
            f"The prompt file “{text}” could not be read ({exc}).",
            "Fix it, or delete your copy to use the shipped prompts.",
        ) from exc


# ---- tasks ---------------------------------------------------------------------------------


def tasks_from_linkedin(export: LinkedInExport, limit: int | None = None) -> list[Task]:
    items = [*export.posts, *export.comments]
    about = export.profile_text()
    return [Task("reverse", p.source, text=p.text, context=about) for p in items[:limit]]


def tasks_from_passages(passages: Sequence[Passage], limit: int | None = None) -> list[Task]:
    return [
        Task("passage", p.source, text=p.text, count=PAIRS_PER_PASSAGE) for p in passages[:limit]
    ]


def persona_topics(persona: Persona) -> list[str]:
    """What the character talks about (and is asked about): traits, background, its rules."""
    topics = [*persona.traits, *persona.tags]
    if persona.background:
        topics += [s.strip() for s in re.split(r"[.;\n]", persona.background) if s.strip()][:6]
    topics += [f"(to decline) {t}" for t in persona.avoid_topics]
    return [t for t in dict.fromkeys(topics) if t] or [persona.description or persona.name]


def tasks_from_persona(
    persona: Persona, count: int, styles: Sequence[str], prompts: dict[str, Any]
) -> list[Task]:
    """About `count` pairs, spread evenly over the styles, at most `PAIRS_PER_TOPIC_CALL` per
    call (a long list in one answer gets repetitive)."""
    known = prompts.get("styles", {})
    chosen = [s for s in styles if s in known] or list(known)
    per_call = max(1, min(PAIRS_PER_TOPIC_CALL, -(-count // len(chosen))))
    tasks: list[Task] = []
    made = 0
    while made < count:
        style = chosen[len(tasks) % len(chosen)]
        n = min(per_call, count - made)
        tasks.append(Task("topics", f"persona:{style}", style=style, count=n))
        made += n
    return tasks


def tasks_for_rescue(questions: Iterable[str], model: str, limit: int | None) -> list[Task]:
    """One call per distinct question (the approved examples', in order), the first `limit`:
    `questions` are read only until then (a large project's are read from each example)."""
    unique: dict[str, None] = {}
    if limit is None or limit > 0:
        for question in filter(None, map(str.strip, questions)):
            unique[question] = None
            if len(unique) == limit:
                break
    return [Task("rescue", f"{RESCUE_SOURCE}:{model}", text=q) for q in unique]


@dataclass
class SourceRead:
    tasks: list[Task]
    summary: str  # "12 posts (3 skipped: …)", for the user
    persona_fields: dict[str, str] = field(default_factory=dict)  # from a LinkedIn profile


def read_source(
    kind: str,
    persona: Persona,
    prompts: dict[str, Any],
    *,
    paths: Sequence[Path] = (),
    text: str = "",
    limit: int | None = None,
    styles: Sequence[str] = (),
    comments: bool = False,
    questions: Iterable[str] = (),
    model: str = "",
) -> SourceRead:
    """Tasks from one kind of source: "linkedin" (a ZIP), "documents" (files), "persona"
    (`limit` pairs) or "text" (pasted). Reads files: call it off the UI thread."""
    from collections import Counter

    from persona_studio.core.importers.documents import passages_from_text, read_passages
    from persona_studio.core.importers.linkedin import read_linkedin_export

    if kind == "rescue":
        tasks = tasks_for_rescue(questions, model, limit)
        if not model.strip():
            return SourceRead([], "Enter the fine-tuned model whose voice to keep.")
        return SourceRead(tasks, f"{len(tasks)} questions from your approved examples")
    if kind == "persona":
        tasks = tasks_from_persona(persona, limit or 20, styles, prompts)
        return SourceRead(tasks, f"{sum(t.count for t in tasks)} questions in {len(tasks)} calls")
    if kind == "linkedin":
        if not paths:
            return SourceRead([], "Choose the ZIP LinkedIn sent you.")
        export = read_linkedin_export(paths[0], include_comments=comments)
        tasks = tasks_from_linkedin(export, limit)
        found = len(export.posts) + len(export.comments)
        summary = f"{found} posts" + (" and comments" if export.comments else "")
        if export.skipped:
            why = Counter(reason for _where, reason in export.skipped)
            summary += (
                f" ({len(export.skipped)} skipped: "
                + ", ".join(f"{n} {reason}" for reason, n in why.most_common())
                + ")"
            )
        if limit is not None and found > limit:
            summary += f"; the first {limit} are used"
        summary += "".join(f". {note}" for note in export.notes)
        return SourceRead(tasks, summary, export.persona_fields())
    passages = (
        [p for path in paths for p in read_passages(path)]
        if kind == "documents"
        else passages_from_text(text)
    )
    tasks = tasks_from_passages(passages, limit)
    summary = f"{len(passages)} passages"
    if limit is not None and len(passages) > limit:
        summary += f"; the first {limit} are used"
    return SourceRead(tasks, summary)


# ---- prompts and cost ----------------------------------------------------------------------


def messages_for(
    task: Task, persona: Persona, prompts: dict[str, Any], language: str = ""
) -> list[dict[str, str]]:
    if task.kind == "rescue":  # the question as the model was trained to answer it
        return [
            {"role": "system", "content": persona.system_prompt()},
            {"role": "user", "content": task.text},
        ]
    template = prompts[task.kind]
    values = {
        "name": persona.name,
        "description": persona.description,
        "persona": persona.system_prompt(),
        "language_rule": f"Write in {language}." if language else SAME_LANGUAGE,
        "text": task.text,
        "source": task.source,
        "count": task.count,
        "style": prompts.get("styles", {}).get(task.style, task.style),
        "topics": "; ".join(persona_topics(persona)),
        "context": task.context or persona.description,
    }
    return [
        {"role": "system", "content": template["system"].format_map(values)},
        {"role": "user", "content": template["user"].format_map(values)},
    ]


@dataclass
class Estimate:
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float | None  # None: no price known for this model

    def text(self) -> str:
        from persona_studio.core.validation import price_text

        money = "price unknown" if self.cost is None else price_text(self.cost)
        return (
            f"{self.calls} calls, ≈ {self.input_tokens:,} tokens in and ≈ "
            f"{self.output_tokens:,} out: {money}"
        )


def estimate(
    tasks: Sequence[Task],
    persona: Persona,
    prompts: dict[str, Any],
    model: str,
    language: str = "",
    prices: tuple[float, float] | None = None,
    count: Callable[[list[str]], Sequence[int]] | None = None,
) -> Estimate:
    """What generating `tasks` costs. `count`: each text's o200k token count, in order (the
    window counts in the check's worker process); by default, here."""
    from persona_studio.core.tokens import count_many

    texts = [
        "\n".join(m["content"] for m in messages_for(t, persona, prompts, language)) for t in tasks
    ]
    if count is None:
        counts = count_many(set(texts))
        numbers: Sequence[int] = [counts[t] for t in texts]
    else:
        numbers = count(texts)
    tokens_in = sum(numbers) + 8 * len(texts)  # + the messages' framing
    tokens_out = sum(
        OUTPUT_TOKENS[t.kind] if t.kind != "topics" else OUTPUT_TOKENS["topics"] * t.count
        for t in tasks
    )
    cost = None
    if prices is not None:
        cost = (tokens_in * prices[0] + tokens_out * prices[1]) / 1_000_000
    return Estimate(len(tasks), tokens_in, tokens_out, cost)


# ---- reading the model's answer ------------------------------------------------------------


def parse_reply(task: Task, reply: str) -> list[tuple[str, str]]:
    """(question, answer) pairs from the model's JSON; tolerant of code fences and chatter.
    A rescued model's reply is its answer, as it came."""
    if task.kind == "rescue":
        if not reply.strip():
            raise ValueError("the model gave an empty answer")
        return [(task.text, reply.strip())]
    data = first_json_object(reply)
    if task.kind == "reverse":
        question = str((data or {}).get("question", "")).strip() or plain_question(reply)
        if not question:
            raise ValueError("no question in the reply")
        return [(question, task.text)]
    pairs = []
    for pair in (data or {}).get("pairs", []):
        if isinstance(pair, dict):
            q, a = str(pair.get("question", "")).strip(), str(pair.get("answer", "")).strip()
            if q and a:
                pairs.append((q, a))
    pairs = pairs or plain_pairs(reply)
    if not pairs:
        raise ValueError("no question/answer pairs in the reply")
    return pairs


def first_json_object(reply: str) -> dict[str, Any] | None:
    """The first JSON object in a reply, wherever it is: alone, in a ```json fence, or amid
    chatter that may hold braces of its own."""
    decoder = json.JSONDecoder()
    start = reply.find("{")
    while start >= 0:
        try:
            data, _end = decoder.raw_decode(reply, start)
        except json.JSONDecodeError:
            start = reply.find("{", start + 1)
            continue
        if isinstance(data, dict):
            return data
        start = reply.find("{", start + 1)
    return None


_LABEL = re.compile(r"^\s*(?:\*\*)?(question|q|answer|a)(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*", re.I)
MAX_PLAIN_QUESTION = 400


def plain_question(reply: str) -> str:
    """A reverse prompt answered in plain words: the first line that asks something ("Question:
    …", quoted or not, ending with a question mark). Code and JSON lines are never taken."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("```", "{", "["))]
    cleaned = [_LABEL.sub("", line).strip().strip('"“”*').strip() for line in lines]
    asked = [line for line in cleaned if line.endswith(("?", "？"))]
    return asked[0][:MAX_PLAIN_QUESTION] if asked else ""


def plain_pairs(reply: str) -> list[tuple[str, str]]:
    """Pairs written as "Question: … / Answer: …" (or Q:/A:) lines instead of JSON."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    answer: list[str] = []
    for line in reply.splitlines():
        match = _LABEL.match(line)
        role = match.group(1).lower()[0] if match else ""
        text = line[match.end() :].strip() if match else line.strip()
        if role == "q":
            if question and answer:
                pairs.append((question, " ".join(answer)))
            question, answer = text, []
        elif role == "a" and question is not None:
            answer = [text]
        elif answer and text:
            answer.append(text)  # an answer that goes on over several lines
    if question and answer:
        pairs.append((question, " ".join(answer)))
    return [(q, a) for q, a in pairs if q and a]


def known_examples(examples: Sequence[Example]) -> DuplicateFinder:
    """What candidates are compared with. Seconds at 100k examples: build it off the UI thread
    and pass it to `Generator` as `seen` (the window has the check's worker process make it:
    `CheckProcess.known_texts`)."""
    return DuplicateFinder.of(known_pairs(examples))


def known_pairs(examples: Iterable[Example]) -> Iterator[tuple[str, str]]:
    """Each example's question and answer, each labelled with its question."""
    for example in examples:
        question = example.question
        yield question, question
        yield question, example.answer


LOOK_EVERY = 1_024  # examples learnt between two looks at whether to stop (~25 ms)


def learn_examples(
    learning: Learning, examples: Sequence[Example], at: int, stop: Callable[[], bool]
) -> int:
    """Take `examples[at:]` into `learning` (`known_examples`' texts) until all are taken in
    or `stop()` says so (looked at as it goes); returns how many are taken in by then."""
    while at < len(examples) and not stop():
        end = min(at + LOOK_EVERY, len(examples))
        learning.take(known_pairs(examples[at:end]))
        at = end
    return at


def known_texts(examples: Sequence[Example], stop: Callable[[], bool]) -> KnownTexts | None:
    """`known_examples`' texts, or None once `stop()` says so: the examples changed."""
    learning = Learning()
    if learn_examples(learning, examples, 0, stop) < len(examples):
        return None
    return KnownTexts.learnt(learning)
