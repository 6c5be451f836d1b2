"""Candidate generation runs: the model calls and their bookkeeping.

`Generator` runs tasks (see `core/generation.py`) against an OpenAI-compatible chat endpoint
with a concurrency limit, backs off on 429 (honouring Retry-After), can be paused, and streams
candidates to a callback. `GenerationRun` is one run kept in the review queue, as the generate
dialog and `persona-studio generate` both use it: nothing reaches the dataset until the creator
accepts it.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import Example
from persona_studio.core.duplicates import DuplicateFinder
from persona_studio.core.errors import UserFacingError
from persona_studio.core.generation import (
    Candidate,
    GenerateError,
    Task,
    known_examples,
    messages_for,
    parse_reply,
)
from persona_studio.core.persona import Persona
from persona_studio.services.provider_errors import provider_error

if TYPE_CHECKING:
    from persona_studio.services.review_queue import ReviewQueue

if TYPE_CHECKING:
    pass

MAX_ATTEMPTS = 8


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    failed: int = 0
    candidates: int = 0
    uncompared: int = 0  # candidates come, waiting for the texts they are compared with
    note: str = ""  # waiting on a rate limit, a task that failed…
    failures: list[str] = field(default_factory=list)


def flag_repeats(seen: DuplicateFinder, batch: list[Candidate]) -> list[Candidate]:
    """Mark each candidate of `batch` that repeats a text of `seen` (the dataset's, and the
    candidates compared before it), and add its question there."""
    for candidate in batch:
        candidate.compared = True
        if candidate.kind == "rescue":  # the question is the dataset's own, by design
            continue
        match = seen.find(candidate.question) or (
            seen.find(candidate.answer) if candidate.kind != "reverse" else None
        )
        candidate.duplicate_of = match or ""
        seen.add(candidate.question, candidate.question)
    return batch


def retry_after(exc: Any, attempt: int) -> float:
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
        seen: DuplicateFinder | asyncio.Future[DuplicateFinder] | None = None,
        language: str = "",
        concurrency: int = 4,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """`seen`: what candidates are compared with (else `existing`'s texts, learnt here),
        or a future of it: the calls go out meanwhile, and their candidates wait for it."""
        self.client, self.model, self.persona, self.prompts = client, model, persona, prompts
        self.language, self.concurrency, self.sleep = language, max(1, concurrency), sleep
        self.resume_event = asyncio.Event()
        self.resume_event.set()
        self.progress = Progress()
        self._seen = seen if seen is not None else known_examples(existing)
        self.json_mode = True  # off for good once the server refuses `response_format`

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
        # batches that came before the texts they are compared with were learnt: handed on,
        # in order, as soon as they are (the calls go on meanwhile)
        waiting: list[list[Candidate]] = []

        def hand_on(batch: list[Candidate]) -> None:
            progress.candidates += len(batch)
            on_candidates(batch)

        def arrived(batch: list[Candidate]) -> None:
            waiting.append(batch)
            progress.uncompared += len(batch)
            flush()

        def flush() -> None:  # (a failed learning raises: the batches stay, kept below)
            seen = self._learnt()
            if seen is None:
                return
            while waiting:
                hand_on(flag_repeats(seen, waiting.pop(0)))
            progress.uncompared = 0

        def learnt_now(done: asyncio.Future[DuplicateFinder]) -> None:
            if waiting and not done.cancelled() and done.exception() is None:
                flush()
                on_progress(progress)

        if isinstance(self._seen, asyncio.Future):
            self._seen.add_done_callback(learnt_now)

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
                    arrived([Candidate(q, a, task.source, task.kind) for q, a in pairs])
                progress.done += 1
                on_progress(progress)

        workers = [asyncio.ensure_future(worker()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
            seen = self._seen
            if waiting and isinstance(seen, asyncio.Future):  # every call made: the texts
                await asyncio.shield(seen)  # are what is left to wait for
            flush()
        finally:
            for w in workers:
                w.cancel()
            while waiting:  # stopped (or failed) before the texts were learnt: the candidates
                batch = waiting.pop(0)  # are kept, paid for, and marked for a later compare
                for candidate in batch:
                    candidate.compared = candidate.kind == "rescue"  # (never compared)
                hand_on(batch)
            progress.uncompared = 0
        return progress

    def _learnt(self) -> DuplicateFinder | None:
        """What candidates are compared with, or None while it is still being learnt (raises
        what stopped its learning)."""
        seen = self._seen
        if isinstance(seen, asyncio.Future):
            if not seen.done():
                return None
            self._seen = seen = seen.result()
        return seen

    async def _call(
        self, task: Task, on_progress: Callable[[Progress], None]
    ) -> list[tuple[str, str]]:
        import openai

        messages = messages_for(task, self.persona, self.prompts, self.language)
        for attempt in range(MAX_ATTEMPTS):
            # JSON mode where the server has it (our prompts ask for JSON and say so); a
            # rescued model answers in its own words
            extra = {"response_format": {"type": "json_object"}}
            json_mode = self.json_mode and task.kind != "rescue"
            try:
                response = await self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    temperature=0.7 if task.kind == "rescue" else 0.8,  # its everyday voice
                    **(extra if json_mode else {}),
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
                wait = retry_after(exc, attempt)
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
            except openai.BadRequestError as exc:
                if json_mode and "response_format" in str(exc).lower() + str(exc.body).lower():
                    self.json_mode = False  # this server has no JSON mode: ask plainly
                    continue
                raise
            except (openai.AuthenticationError, openai.NotFoundError) as exc:
                plain = provider_error(exc, model=self.model)
                raise GenerateError(plain.message, plain.hint) from exc
        raise ValueError("still rate-limited after several waits")


ClientFactory = Callable[[], Awaitable[Any]]


class GenerationRun:
    """One generation run kept in the review queue: its record is started, each batch of
    candidates saved as it arrives, and how it ended (done, failed, cancelled) written, however
    it ends. `generator` is there while it runs (pause and resume)."""

    def __init__(
        self,
        queue: ReviewQueue,
        client_factory: ClientFactory,
        *,
        source: str,
        profile: str,
        model: str,
        persona: Persona,
        prompts: dict[str, Any],
        existing: Sequence[Example] = (),
        known: Callable[[], Awaitable[DuplicateFinder]] | None = None,
        language: str = "",
        concurrency: int = 4,
    ) -> None:
        """`known`: a finder of `existing`'s texts made beforehand (else the run makes one:
        seconds at 100,000 examples); the run adds its candidates to it."""
        self.queue, self.client_factory, self.known = queue, client_factory, known
        self.meta = {"source": source, "model": model, "profile": profile}
        self.persona, self.prompts, self.existing = persona, prompts, list(existing)
        self.language, self.concurrency = language, concurrency
        self.generator: Generator | None = None
        self.candidates: list[Candidate] = []
        self.run_id = ""
        self.outcome, self.note = "", ""

    async def execute(
        self,
        tasks: Sequence[Task],
        on_candidates: Callable[[list[Candidate]], None] = lambda _batch: None,
        on_progress: Callable[[Progress], None] = lambda _p: None,
    ) -> Progress:
        """Run every task. Raises what stopped it (cancellation, a `UserFacingError`) after
        writing the run's outcome; the candidates that arrived stay in the queue."""
        self.run_id = run_id = self.queue.start_run(**self.meta)

        voice: dict[str, str] = {}  # this run's answers of the old model, as they came

        def keep(batch: list[Candidate]) -> None:
            self.candidates.extend(batch)
            self.queue.add(run_id, batch)
            rescued = [(c.question, c.answer) for c in batch if c.kind == "rescue"]
            if rescued:  # the old model's answers, kept as they came
                from persona_studio.services.voice import keep_voice

                voice.update(rescued)
                model, profile = self.meta["model"], self.meta["profile"]
                # with the queue's writes: the kept voice is read and written whole at each
                # batch (5,000 answers at most), on the UI thread it stalled the window. All
                # of this run's answers each time: a write of it still waiting is replaced
                self.queue.write(
                    partial(keep_voice, self.queue.project, model, profile, list(voice.items())),
                    len(self.candidates),
                    whole=("voice", model),
                )
            on_candidates(batch)

        self.outcome, self.note = "done", ""
        # learnt while the first calls go out (seconds at 100,000 examples: a run started as
        # the dialog opened waited 4 s for them before its first call)
        seen: asyncio.Future[DuplicateFinder] = asyncio.ensure_future(
            self.known()
            if self.known is not None
            else asyncio.to_thread(known_examples, self.existing)
        )
        seen.add_done_callback(lambda done: done.cancelled() or done.exception())  # (said once)
        try:
            client = await self.client_factory()
            async with client:
                self.generator = Generator(
                    client,
                    self.meta["model"],
                    self.persona,
                    self.prompts,
                    seen=seen,
                    language=self.language,
                    concurrency=self.concurrency,
                )
                progress = await self.generator.run(tasks, keep, on_progress)
            self.note = f"Done: {progress.candidates} candidates to review."
            if progress.failed:
                self.note += f" {progress.failed} calls failed (first: {progress.failures[0]})."
            return progress
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            self.note = "Stopped. The candidates already written are kept."
            raise
        except UserFacingError as exc:
            self.outcome, self.note = "failed", str(exc)
            raise
        finally:
            seen.cancel()  # (if not learnt yet: a run that failed or was stopped first)
            self.queue.finish(run_id, self.outcome, self.note)
            self.generator = None

    def accept_new(self) -> list[Example]:
        """Every candidate of this run that repeats nothing, accepted: the examples to add (as
        drafts, with their source). Those not compared yet stay for review."""
        fresh = [c.id for c in self.candidates if c.compared and not c.duplicate_of]
        return self.queue.decide(fresh, "accepted")
