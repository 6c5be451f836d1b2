"""Candidate training examples written by a model from what the creator already has.

Sources become *tasks* (one model call each): a LinkedIn post → the question it answers (the
post stays the answer, a "reverse prompt"); a passage of a document → question/answer pairs in
the persona's voice; the persona itself → questions in several styles across its topics, with
its answers. The prompts are `resources/generation/prompts.toml`, readable and editable.

`estimate` prices a run before it starts. `generate` runs the tasks with a concurrency limit,
backs off on 429 (honouring Retry-After), can be paused, and streams candidates to a callback;
nothing reaches the dataset until the user accepts it (see `Candidate`). A candidate that
(nearly) repeats an existing example, or another candidate, is flagged before review.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import Example, new_id
from persona_studio.core.duplicates import DuplicateFinder
from persona_studio.core.errors import UserFacingError
from persona_studio.core.importers.documents import Passage
from persona_studio.core.importers.linkedin import LinkedInExport
from persona_studio.core.persona import Persona
from persona_studio.resources_path import resource_path
from persona_studio.services.provider_errors import provider_error

if TYPE_CHECKING:
    pass

DEFAULT_MODEL = "gpt-4.1-mini"  # when the profile names no chat model
PAIRS_PER_PASSAGE = 2
PAIRS_PER_TOPIC_CALL = 5
OUTPUT_TOKENS = {"reverse": 40, "passage": 160 * PAIRS_PER_PASSAGE, "topics": 140}
SAME_LANGUAGE = (
    "Write in the same language as the text you are given (a French post gets a French question)."
)
MAX_ATTEMPTS = 8


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

    def to_example(self) -> Example:
        return Example.from_qa(
            self.question.strip(), self.answer.strip(), source=self.source, tags=["generated"]
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
) -> SourceRead:
    """Tasks from one kind of source: "linkedin" (a ZIP), "documents" (files), "persona"
    (`limit` pairs) or "text" (pasted). Reads files: call it off the UI thread."""
    from collections import Counter

    from persona_studio.core.importers.documents import passages_from_text, read_passages
    from persona_studio.core.importers.linkedin import read_linkedin_export

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
) -> Estimate:
    from persona_studio.core.tokens import count_many

    texts = [
        "\n".join(m["content"] for m in messages_for(t, persona, prompts, language)) for t in tasks
    ]
    counts = count_many(set(texts))
    tokens_in = sum(counts[t] + 8 for t in texts)  # + the messages' framing
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
    """(question, answer) pairs from the model's JSON; tolerant of code fences and chatter."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    data = json.loads(reply[start : end + 1])
    if task.kind == "reverse":
        question = str(data.get("question", "")).strip()
        if not question:
            raise ValueError("no question in the reply")
        return [(question, task.text)]
    pairs = []
    for pair in data.get("pairs", []):
        if isinstance(pair, dict):
            q, a = str(pair.get("question", "")).strip(), str(pair.get("answer", "")).strip()
            if q and a:
                pairs.append((q, a))
    if not pairs:
        raise ValueError("no question/answer pairs in the reply")
    return pairs


# ---- running -------------------------------------------------------------------------------


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    failed: int = 0
    candidates: int = 0
    note: str = ""  # waiting on a rate limit, a task that failed…
    failures: list[str] = field(default_factory=list)


def _retry_after(exc: Any, attempt: int) -> float:
    """Seconds to wait after a 429: the server's Retry-After when given, else backoff."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return min(60.0, float(value) * scale)
            except ValueError:
                pass
    return min(60.0, 2.0**attempt) * (0.5 + random.random() / 2)  # jitter: no thundering herd


def known_examples(examples: Sequence[Example]) -> DuplicateFinder:
    """What candidates are compared with. Seconds at 100k examples: build it off the UI thread
    and pass it to `Generator` as `seen`."""
    finder = DuplicateFinder()
    for example in examples:
        finder.add(example.question, example.question)
        finder.add(example.question, example.answer)
    return finder


class Generator:
    """Runs tasks against an OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        client: Any,
        model: str,
        persona: Persona,
        prompts: dict[str, Any],
        *,
        existing: Sequence[Example] = (),
        seen: DuplicateFinder | None = None,
        language: str = "",
        concurrency: int = 4,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client, self.model, self.persona, self.prompts = client, model, persona, prompts
        self.language, self.concurrency, self.sleep = language, max(1, concurrency), sleep
        self.resume_event = asyncio.Event()
        self.resume_event.set()
        self.progress = Progress()
        self._seen = seen if seen is not None else known_examples(existing)

    # pause/resume: workers finish the call in flight, then wait
    def pause(self) -> None:
        self.resume_event.clear()

    def resume(self) -> None:
        self.resume_event.set()

    @property
    def paused(self) -> bool:
        return not self.resume_event.is_set()

    async def run(
        self,
        tasks: Sequence[Task],
        on_candidates: Callable[[list[Candidate]], None],
        on_progress: Callable[[Progress], None] = lambda _p: None,
    ) -> Progress:
        progress = self.progress
        progress.total = len(tasks)
        queue: asyncio.Queue[Task] = asyncio.Queue()
        for task in tasks:
            queue.put_nowait(task)

        async def worker() -> None:
            while True:
                try:
                    task = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.resume_event.wait()
                try:
                    pairs = await self._call(task, on_progress)
                except GenerateError:
                    raise  # the whole run cannot go on (a refused key, a missing model)
                except Exception as exc:  # this task only: say why, go on with the others
                    progress.failed += 1
                    progress.failures.append(f"{task.source}: {exc}")
                    progress.note = f"One call failed ({exc}); going on with the others."
                else:
                    batch = self._flag([Candidate(q, a, task.source, task.kind) for q, a in pairs])
                    progress.candidates += len(batch)
                    on_candidates(batch)
                progress.done += 1
                on_progress(progress)

        workers = [asyncio.ensure_future(worker()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
        return progress

    def _flag(self, batch: list[Candidate]) -> list[Candidate]:
        for candidate in batch:
            match = self._seen.find(candidate.question) or (
                self._seen.find(candidate.answer) if candidate.kind != "reverse" else None
            )
            candidate.duplicate_of = match or ""
            self._seen.add(candidate.question, candidate.question)
        return batch

    async def _call(
        self, task: Task, on_progress: Callable[[Progress], None]
    ) -> list[tuple[str, str]]:
        import openai

        messages = messages_for(task, self.persona, self.prompts, self.language)
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = await self.client.chat.completions.create(
                    model=self.model, messages=messages, temperature=0.8
                )
                reply = response.choices[0].message.content or ""
                try:
                    return parse_reply(task, reply)
                except (ValueError, json.JSONDecodeError) as exc:
                    if attempt >= 1:
                        raise ValueError(
                            f"the model did not answer in the expected form ({exc})"
                        ) from exc
                    continue  # once more: models sometimes wrap or cut their JSON
            except openai.RateLimitError as exc:
                wait = _retry_after(exc, attempt)
                self.progress.note = f"The provider asks us to slow down; waiting {wait:.0f} s."
                on_progress(self.progress)
                await self.sleep(wait)
            except (openai.APITimeoutError, openai.InternalServerError):
                if attempt >= 3:
                    raise  # the server answers but not this call: fail this one only
                await self.sleep(min(30.0, 2.0**attempt))
            except openai.APIConnectionError as exc:
                if attempt >= 3:  # nothing gets through: every other call would wait the same
                    where = str(self.client.base_url).rstrip("/")
                    raise GenerateError(
                        f"Could not reach the provider at {where}.",
                        "Check your internet connection; for a local server (Ollama, LM Studio, "
                        "vLLM), check that it is running and that the profile's address is right.",
                    ) from exc
                await self.sleep(min(30.0, 2.0**attempt))
            except (openai.AuthenticationError, openai.NotFoundError) as exc:
                plain = provider_error(exc, model=self.model)
                raise GenerateError(plain.message, plain.hint) from exc
        raise ValueError("still rate-limited after several waits")
