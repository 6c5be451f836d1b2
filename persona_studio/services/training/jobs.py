"""The one owner of fine-tuning jobs for one open project, in this process.

`launch_job` uploads and starts a job and saves its record; `follow_job` yields the record each
time it changes until the job ends; `cancel_job` stops it. Every write of a job record in the
app goes through here (the Train tab, the pipeline and the CLI are views of it).

One poller per job: however many views follow a job (the Train tab and a pipeline run, say),
one task asks the trainer about it, merges each answer into the record, saves it, fetches the
checkpoints and registers the model with its chat target on success, then hands the record to
every follower. It stops when the job ends or its last follower leaves. Network trouble is
retried with backoff and reported through `warning(job_id)`; a refusal ends the followers with
the plain error.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from persona_studio.core.records import MAX_EVENTS, ChatTarget, JobRecord
from persona_studio.core.validation import default_epochs
from persona_studio.services.training.backend import (
    JobSpec,
    JobUpdate,
    TrainingBackend,
    TrainingError,
    UploadedFiles,
)

if TYPE_CHECKING:
    from persona_studio.core.dataset import Example
    from persona_studio.core.project import Project

BackendFactory = Callable[[str], Awaitable[TrainingBackend]]  # profile name → a backend
DEPLOY_FAILED = "Deploying failed: "  # how the job's messages say it


def needs_deploy(record: JobRecord) -> bool:
    """Trained, but nothing answers yet: deploying it failed (`deploy_job` tries again)."""
    return record.status == "succeeded" and not record.fine_tuned_model


def deploy_failure(record: JobRecord) -> str:
    """Why the last deploy failed, in the words the job's messages keep ("" if it did not)."""
    for event in reversed(record.events):
        message = str(event.get("message") or "")
        if message.startswith(DEPLOY_FAILED):
            return message.removeprefix(DEPLOY_FAILED)
    return ""


@dataclass
class TrainingFiles:
    """The JSONL bytes to upload, how many examples each holds, and which (for the job's
    record: the voice check asks the model only questions it never saw)."""

    train: bytes
    validation: bytes | None
    train_count: int
    validation_count: int
    trained: str  # `test_set.trained_digest` of both files' examples


def training_files(
    examples: Sequence[Example],
    system_prompt: str,
    validation_split: float,
    seed: int,
    test_share: float = 0.0,
    char: str = "",
) -> TrainingFiles:
    """The approved examples as OpenAI chat JSONL, split into training and validation; the
    voice check's test set is never in either."""
    from persona_studio.core.exports import openai_jsonl
    from persona_studio.core.test_set import split_test_set, trained_digest
    from persona_studio.core.validation import train_validation_split

    usable, _test = split_test_set(examples, test_share)
    approved = [ex for ex in usable if ex.status == "approved"]
    if not approved:
        raise TrainingError(
            "There are no approved examples to train on.",
            "Approve examples in the Dataset tab (or with `persona-studio examples`) first.",
        )
    train, validation = train_validation_split(approved, validation_split, seed)
    return TrainingFiles(
        openai_jsonl(train, system_prompt, char).encode("utf-8"),
        openai_jsonl(validation, system_prompt, char).encode("utf-8") if validation else None,
        len(train),
        len(validation),
        trained_digest(example.id for example in approved),
    )


def merge(record: JobRecord, update: JobUpdate) -> JobRecord:
    """The record with what the trainer just said (lists are replaced, never changed in place,
    so a record handed to a follower stays as it was). An ended job never starts again."""
    if update.status != "unknown" and not (record.terminal and update.status != record.status):
        record.status = update.status
    if update.fine_tuned_model:
        record.fine_tuned_model = update.fine_tuned_model
    if update.metrics:
        # a trainer that answers with all its metrics each time (Together) adds only new steps
        last = record.metrics[-1].get("step", -1) if record.metrics else -1
        record.metrics = record.metrics + [m for m in update.metrics if m.get("step", 0) > last]
    if update.events:
        record.events = (record.events + update.events)[-MAX_EVENTS:]
        record.last_event = update.events[-1]["id"]
    if update.error:
        record.error = update.error
    details = update.details
    for key in ("trained_tokens", "estimated_finish", "hyperparameters"):
        if details.get(key) is not None:
            setattr(record, key, details[key])
    for key in ("training_file", "validation_file"):
        if details.get(key):
            setattr(record, key, details[key])
    if details.get("estimated_cost_usd") is not None:  # the trainer's own price beats ours
        record.estimated_cost_usd = round(details["estimated_cost_usd"], 2)
    if details.get("user_provided_suffix"):
        record.suffix = details["user_provided_suffix"]
    return record


def _refuse_what_the_backend_refuses(backend: TrainingBackend, spec: JobSpec) -> None:
    problems = backend.check(spec, None).problems
    if problems:
        raise TrainingError(problems[0], "Change the training settings, then retry.")


@dataclass
class _Follower:
    task: asyncio.Task[None] | None = None
    queues: set[asyncio.Queue[JobRecord | BaseException]] = field(default_factory=set)
    ended: bool = False  # the job ended: the poller is only closing its backend


class TrainingJobs:
    """Jobs of one open project. Runs on the event loop that calls it (the GUI's qasync loop,
    or the CLI's `asyncio.run`)."""

    poll = 2.0  # seconds between looks at a running job (backs off while nothing happens)
    max_poll = 30.0

    def __init__(
        self,
        project: Project,
        backend_for: BackendFactory,
        *,
        register: Callable[[JobRecord], None] | None = None,
        on_change: Callable[[JobRecord], None] = lambda _record: None,
        poll: float | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        save: Callable[[JobRecord], JobRecord] | None = None,
    ) -> None:
        """`save`: how a record is saved (the project's `save_job` by default; the window's
        session keeps it ahead and writes it in turn, never waiting for a worker's read)."""
        self.project = project
        self.save = save or project.save_job
        self.backend_for = backend_for
        self.register = register or self._register_in_project
        self.on_change = on_change
        if poll is not None:
            self.poll = poll
        self.sleep = sleep
        self._followers: dict[str, _Follower] = {}
        self._warnings: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # a look and a cancel never interleave
        self._closed = False  # the project closed: a look that was answered meanwhile is dropped

    # ---- queries -------------------------------------------------------------------------

    def warning(self, job_id: str) -> str:
        """What went wrong on the last look at this job ("" when the last look was fine)."""
        return self._warnings.get(job_id, "")

    def following(self, job_id: str) -> bool:
        """Whether a poller is asking the trainer about this job now."""
        follower = self._followers.get(job_id)
        return follower is not None and follower.task is not None and not follower.task.done()

    def pollers(self) -> int:
        return sum(1 for job_id in self._followers if self.following(job_id))

    # ---- launch --------------------------------------------------------------------------

    async def launch_job(
        self,
        profile: str,
        spec: JobSpec,
        examples: Sequence[Example],
        system_prompt: str,
        *,
        validation_split: float = 0.0,
        seed: int = 42,
        estimated_cost: float | None = None,
        on_step: Callable[[str], None] = lambda _step: None,
        char: str = "",
    ) -> JobRecord:
        """Write the training files, upload them, start the job and save its record. `char`:
        the character's name, for the card macros an example may hold."""
        files = await asyncio.to_thread(
            training_files,
            examples,
            system_prompt,
            validation_split,
            seed,
            self.project.test_share,
            char,
        )
        backend = await self.backend_for(profile)
        try:
            _refuse_what_the_backend_refuses(backend, spec)  # before anything is uploaded
            on_step("Uploading the training examples")
            uploaded = UploadedFiles(await backend.upload("train.jsonl", files.train))
            if files.validation is not None:
                on_step("Uploading the validation examples")
                uploaded.validation_file = await backend.upload(
                    "validation.jsonl", files.validation
                )
            on_step("Creating the fine-tuning job")
            record = await self.create_job(
                backend,
                profile,
                spec,
                uploaded,
                estimated_cost=estimated_cost,
                train_count=files.train_count,
                validation_count=files.validation_count,
                trained=files.trained,
            )
        finally:
            await backend.aclose()
        on_step("Job created")
        return record

    async def create_job(
        self,
        backend: TrainingBackend,
        profile: str,
        spec: JobSpec,
        files: UploadedFiles,
        *,
        estimated_cost: float | None = None,
        train_count: int | None = None,
        validation_count: int | None = None,
        trained: str | None = None,
    ) -> JobRecord:
        """Start a job on files already uploaded (the pipeline resumes here) and save it.
        Epochs left on auto are chosen from `train_count` when the trainer would not.
        `trained`: which examples the files hold (`TrainingFiles.trained`), kept with it, as
        are the files' counts (the Train tab shows them)."""
        _refuse_what_the_backend_refuses(backend, spec)
        if spec.n_epochs is None and not backend.capabilities.auto_epochs and train_count:
            spec = dataclasses.replace(spec, n_epochs=default_epochs(train_count))
        update = await backend.create(spec, files)
        if not update.id:  # every trainer names the job it started; one that does not is broken
            raise TrainingError(
                "The provider did not say which job it started.",
                "Look at its dashboard before you try again: a job may be running there.",
            )
        record = JobRecord(
            id=update.id,
            profile=profile,
            base_model=update.base_model or spec.base_model,
            status=update.status,
            estimated_cost_usd=round(estimated_cost, 2) if estimated_cost is not None else None,
            trained=trained,
            train_count=train_count,
            validation_count=validation_count,
        )
        record = self._save(merge(record, update))
        self.on_change(record)
        return record

    # ---- follow --------------------------------------------------------------------------

    async def follow_job(self, job_id: str) -> AsyncIterator[JobRecord]:
        """The record as it is, then each time it changes, until the job ends. Raises the
        trainer's refusal as a `TrainingError`."""
        record = self.project.job(job_id)
        if record is None:
            raise TrainingError(
                f"This project has no job “{job_id}”.", "See the job history for its jobs."
            )
        if record.terminal:
            yield record
            return
        queue: asyncio.Queue[JobRecord | BaseException] = asyncio.Queue()
        follower = self._followers.setdefault(job_id, _Follower())
        follower.queues.add(queue)
        if follower.task is None or follower.task.done():
            follower.ended = False
            follower.task = asyncio.ensure_future(self._poll(job_id, follower))
        try:
            yield record
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.terminal:
                    return
        finally:
            follower.queues.discard(queue)
            if not follower.queues and follower.task is not None and not follower.ended:
                follower.task.cancel()  # nobody is looking: stop asking the trainer

    async def _poll(self, job_id: str, follower: _Follower) -> None:
        record = self.project.job(job_id)
        if record is None:
            return
        delay = self.poll
        backend: TrainingBackend | None = None
        try:
            backend = await self.backend_for(record.profile)
            while True:
                async with self._lock(job_id):
                    update = await backend.status(job_id, record.last_event)
                    if self._closed:  # answered as the project closed: the cancel comes late
                        return
                    if update.warning:
                        delay = min(self.max_poll, delay * 2)
                        self._warnings[job_id] = f"{update.warning}; retrying in {delay:.0f} s."
                    else:
                        self._warnings.pop(job_id, None)
                        delay = self.poll if update.events else min(self.max_poll, delay * 1.5)
                        record = await self._merge_and_save(backend, job_id, update)
                follower.ended = record.terminal
                self._publish(follower, record)
                if record.terminal:
                    return
                await self.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lost key, a revoked profile: say it, keep the record
            if self._closed:
                return  # the project closed meanwhile: nothing to say, nowhere to keep it
            if not isinstance(exc, TrainingError):
                exc = TrainingError(f"Following the job failed: {exc}", "Try again later.")
            self._warnings[job_id] = str(exc)
            self.on_change(record)
            for queue in list(follower.queues):
                queue.put_nowait(exc)
        finally:
            if backend is not None:
                await backend.aclose()

    async def _merge_and_save(
        self, backend: TrainingBackend, job_id: str, update: JobUpdate
    ) -> JobRecord:
        record = self.project.job(job_id)  # as saved: a cancel may have written it meanwhile
        assert record is not None
        was = record.status
        merge(record, update)
        if record.status == "succeeded" and was != "succeeded":
            record.checkpoints = await backend.checkpoints(job_id)
            if record.fine_tuned_model or not backend.capabilities.names_model:
                await self._deploy(backend, record)
        self._save(record)
        if record.status == "succeeded" and was != "succeeded" and record.fine_tuned_model:
            self.register(record)
        return record

    @staticmethod
    async def _deploy(backend: TrainingBackend, record: JobRecord) -> None:
        """Make the finished model reachable; a failure is said in the job's messages and
        never loses the success (`deploy_job` tries again: the Train tab's "Deploy again")."""
        try:
            record.chat_target = await backend.deploy(record)
        except TrainingError as exc:
            event = {"id": f"local-deploy-{len(record.events)}", "level": "error"}
            record.events = [*record.events, {**event, "message": f"{DEPLOY_FAILED}{exc}"}]
            return
        record.fine_tuned_model = record.fine_tuned_model or record.chat_target.model

    async def deploy_job(self, job_id: str) -> JobRecord:
        """Try again to make a finished job's model answer, after deploying it failed (a
        service that deploys for the creator, such as Nebius, was down). Raises what went wrong;
        on success the model is registered on the character."""
        record = self.project.job(job_id)
        if record is None or not needs_deploy(record):
            raise TrainingError(
                "This job's model needs no deploying.", "Chat with it in the Chat tab."
            )
        backend = await self.backend_for(record.profile)
        try:
            async with self._lock(job_id):
                target = await backend.deploy(record)
                record = self.project.job(job_id) or record
                record.chat_target = target
                record.fine_tuned_model = record.fine_tuned_model or target.model
                record = self._save(record)
        finally:
            await backend.aclose()
        self.register(record)
        self.on_change(record)
        return record

    def _publish(self, follower: _Follower, record: JobRecord) -> None:
        self.on_change(record)
        for queue in list(follower.queues):
            queue.put_nowait(dataclasses.replace(record))

    # ---- cancel and close ----------------------------------------------------------------

    async def cancel_job(self, job_id: str) -> JobRecord:
        """Ask the trainer to stop the job; its followers see it end."""
        record = self.project.job(job_id)
        if record is None:
            raise TrainingError(
                f"This project has no job “{job_id}”.", "See the job history for its jobs."
            )
        backend = await self.backend_for(record.profile)
        try:
            async with self._lock(job_id):
                update = await backend.cancel(job_id)
                record = self.project.job(job_id) or record
                record = self._save(merge(record, update))
        finally:
            await backend.aclose()
        self._publish(self._followers.get(job_id) or _Follower(), record)
        return record

    async def resume_job(self, job_id: str) -> JobRecord:
        """Carry on with a stopped job from its last checkpoint (trainers that can: this
        computer's); followers then see it run again."""
        record = self.project.job(job_id)
        if record is None or record.status not in ("failed", "cancelled"):
            raise TrainingError(
                "Only a stopped or failed training can be resumed.", "Start a new training."
            )
        backend = await self.backend_for(record.profile)
        try:
            resume = getattr(backend, "resume", None)
            if not backend.capabilities.resume or resume is None:
                raise TrainingError(
                    "This service cannot resume a stopped training.", "Start a new training."
                )
            async with self._lock(job_id):
                update = await resume(job_id)
                record = self.project.job(job_id) or record
                record.status, record.error = update.status, None
                record = self._save(record)
        finally:
            await backend.aclose()
        self.on_change(record)
        return record

    def close(self) -> None:
        """Stop every poller (the project is closing); the jobs go on at the trainer."""
        self._closed = True
        for follower in self._followers.values():
            if follower.task is not None:
                follower.task.cancel()
        self._followers.clear()

    # ---- records -------------------------------------------------------------------------

    def _lock(self, job_id: str) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    def _save(self, record: JobRecord) -> JobRecord:
        return self.save(record)

    def register_model(self, record: JobRecord) -> None:
        """Make this job's model the character's (the "Use this model" button, the pipeline)."""
        if record.fine_tuned_model:
            self.register(record)

    def _register_in_project(self, record: JobRecord) -> None:
        self.project.set_persona_fields(fine_tuned_model=record.chat_model)

    def set_deployment(self, job_id: str, deployment: str) -> JobRecord:
        """The name under which someone deployed this job's model (Azure cannot be deployed
        from here): chats ask for it from now on, and the character answers with it."""
        record = self.project.job(job_id)
        deployment = deployment.strip()
        if record is None or not record.fine_tuned_model:
            raise TrainingError(
                "This job has no trained model to deploy yet.", "Wait until the job is done."
            )
        if not deployment or any(c.isspace() for c in deployment) or len(deployment) > 64:
            raise TrainingError(
                "That is not a deployment name.",
                "Copy the name shown under Deployments in Azure AI Foundry (no spaces).",
            )
        target = record.chat_target or ChatTarget(record.profile, record.fine_tuned_model)
        record.chat_target = ChatTarget(target.profile, deployment, target.base_url)
        record = self._save(record)
        self.register(record)
        self.on_change(record)
        return record
