"""Fine-tuning through any endpoint that speaks the OpenAI fine-tuning API.

upload (files, purpose "fine-tune") → wait until processed → create the job (supervised method,
hyperparameters "auto" or values) → monitor (the job and its new events: at most two requests a
poll, with backoff) → cancel. Metrics come from the `data` of `metrics` events, never from text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.errors import UserFacingError

TERMINAL = ("succeeded", "failed", "cancelled")
STATUS_LABELS = {
    "validating_files": "Checking the files",
    "queued": "Waiting in the provider's queue",
    "running": "Training",
    "succeeded": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
MAX_SUFFIX = 64


class FineTuneError(UserFacingError):
    pass


@dataclass
class TrainSettings:
    base_model: str
    suffix: str = ""
    n_epochs: int | None = None  # None: "auto", the provider decides
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    seed: int | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "n_epochs": self.n_epochs if self.n_epochs is not None else "auto",
            "batch_size": self.batch_size if self.batch_size is not None else "auto",
            "learning_rate_multiplier": (
                self.learning_rate_multiplier
                if self.learning_rate_multiplier is not None
                else "auto"
            ),
        }


def suffix_error(suffix: str) -> str | None:
    if len(suffix) > MAX_SUFFIX:
        return f"The name tag is {len(suffix)} characters; the limit is {MAX_SUFFIX}."
    if suffix and not re.fullmatch(r"[A-Za-z0-9_-]+", suffix):
        return "Use only letters, digits, dashes and underscores in the name tag."
    return None


@dataclass
class JobUpdate:
    job: dict[str, Any]
    new_events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    metrics: list[dict[str, Any]] = field(default_factory=list)  # from metrics events
    warning: str = ""  # a polling problem the monitor is retrying through

    @property
    def status(self) -> str:
        return str(self.job.get("status"))

    @property
    def progress(self) -> float | None:
        if self.metrics:
            last = self.metrics[-1]
            if last.get("total_steps"):
                return min(1.0, last["step"] / last["total_steps"])
        return 1.0 if self.status == "succeeded" else None


def explain_job_error(job: dict[str, Any]) -> str:
    error = job.get("error") or {}
    code, message = error.get("code") or "", error.get("message") or ""
    plain = {
        "invalid_training_file": "The provider rejected the training file.",
        "invalid_file_format": "The provider could not read the training file.",
        "exceeded_quota": "The account has no quota left for fine-tuning.",
        "invalid_n_examples": "The provider wants more training examples.",
    }.get(code, "The provider stopped the job.")
    return f"{plain} ({message})" if message else plain


def _translate(exc: Exception, what: str) -> FineTuneError:
    import openai

    if isinstance(exc, openai.PermissionDeniedError):
        return FineTuneError(
            "Fine-tuning is not available to this organization on this provider.",
            "OpenAI stopped new self-serve fine-tuning jobs for most accounts; choose another "
            "provider profile (Azure OpenAI, a gateway or a self-hosted server) in Settings.",
        )
    if isinstance(exc, openai.AuthenticationError):
        return FineTuneError(
            "The provider refused the API key.", "Check the key in Settings → Providers."
        )
    if isinstance(exc, openai.RateLimitError):
        return FineTuneError(
            "The provider says too many requests, or the quota is used up.",
            "Wait a little, then try again.",
        )
    if isinstance(exc, openai.BadRequestError):
        body = getattr(exc, "body", None) or {}
        message = body.get("message") if isinstance(body, dict) else None
        return FineTuneError(
            f"The provider refused the {what}: {message or exc}.",
            "Check the dataset (Dataset tab) and the settings, then retry.",
        )
    if isinstance(exc, openai.NotFoundError):
        return FineTuneError(
            f"The provider does not offer this for the {what}.",
            "Check the base model name and that the profile's server supports fine-tuning.",
        )
    if isinstance(exc, openai.APIConnectionError | openai.APITimeoutError):
        return FineTuneError(
            "Could not reach the provider.",
            "Check your connection and the profile's address, then retry.",
        )
    return FineTuneError(
        f"The provider answered with an error while sending the {what}: {exc}", "Try again later."
    )


async def upload(
    client: Any, name: str, data: bytes, *, poll: float = 1.0, timeout: float = 600.0
) -> str:
    """Upload a JSONL file and wait until the provider has processed it; returns its id."""
    import openai

    try:
        file = await client.files.create(file=(name, data), purpose="fine-tune")
        waited = 0.0
        while getattr(file, "status", "processed") not in ("processed", "error"):
            await asyncio.sleep(poll)
            waited += poll
            if waited > timeout:
                raise FineTuneError(
                    "The provider is taking too long to process the file.", "Try again later."
                )
            file = await client.files.retrieve(file.id)
    except openai.OpenAIError as exc:
        raise _translate(exc, "training file") from exc
    if getattr(file, "status", "") == "error":
        raise FineTuneError(
            "The provider could not process the training file.",
            str(getattr(file, "status_details", "") or "Check the dataset."),
        )
    return str(file.id)


async def create_job(
    client: Any, settings: TrainSettings, training_file: str, validation_file: str | None
) -> dict[str, Any]:
    import openai

    error = suffix_error(settings.suffix)
    if error:
        raise FineTuneError(error, "Change the name tag in the Train tab.")
    kwargs: dict[str, Any] = {
        "model": settings.base_model,
        "training_file": training_file,
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": settings.hyperparameters()},
        },
    }
    if validation_file:
        kwargs["validation_file"] = validation_file
    if settings.suffix:
        kwargs["suffix"] = settings.suffix
    if settings.seed is not None:
        kwargs["seed"] = settings.seed
    try:
        job = await client.fine_tuning.jobs.create(**kwargs)
    except openai.OpenAIError as exc:
        raise _translate(exc, "job") from exc
    return job.model_dump()


async def new_events(
    client: Any, job_id: str, last_seen: str | None, page: int = 100
) -> list[dict[str, Any]]:
    """Events after `last_seen`, oldest first: one request unless more than a page arrived."""
    collected: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": page}
        if after:
            kwargs["after"] = after
        result = await client.fine_tuning.jobs.list_events(job_id, **kwargs)
        batch = [e.model_dump() for e in result.data]  # newest first
        for event in batch:
            if event["id"] == last_seen:
                return list(reversed(collected))
            collected.append(event)
        if not batch or not result.has_more or (last_seen is None and len(collected) >= 10 * page):
            return list(reversed(collected))
        after = batch[-1]["id"]


def metrics_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for event in events:
        data = event.get("data") or {}
        if event.get("type") == "metrics" and isinstance(data, dict) and "step" in data:
            rows.append(
                {
                    k: data.get(k)
                    for k in ("step", "total_steps", "train_loss", "valid_loss", "full_valid_loss")
                }
            )
    return rows


async def monitor(
    client: Any,
    job_id: str,
    *,
    last_event: str | None = None,
    poll: float = 2.0,
    max_poll: float = 30.0,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> AsyncIterator[JobUpdate]:
    """Updates until the job ends. Network trouble is retried with backoff, and reported."""
    import openai

    delay = poll
    while True:
        try:
            job = (await client.fine_tuning.jobs.retrieve(job_id)).model_dump()
            events = await new_events(client, job_id, last_event)
        except (
            openai.APIConnectionError,
            openai.APITimeoutError,
            openai.RateLimitError,
            openai.InternalServerError,
        ) as exc:
            delay = min(max_poll, delay * 2)
            yield JobUpdate(
                job={"id": job_id, "status": "unknown"},
                warning=f"Lost contact with the provider ({type(exc).__name__}); "
                f"retrying in {delay:.0f} s.",
            )
            await sleep(delay)
            continue
        except openai.OpenAIError as exc:
            raise _translate(exc, "job status") from exc
        if events:
            last_event = events[-1]["id"]
            delay = poll
        else:
            delay = min(max_poll, delay * 1.5)
        yield JobUpdate(job=job, new_events=events, metrics=metrics_of(events))
        if job.get("status") in TERMINAL:
            return
        await sleep(delay)


async def checkpoints(client: Any, job_id: str) -> list[dict[str, Any]]:
    """The job's saved checkpoints (models at intermediate steps), newest first."""
    import openai

    try:
        page = await client.fine_tuning.jobs.checkpoints.list(job_id)
    except openai.OpenAIError:
        return []  # optional: some compatible servers do not keep checkpoints
    return [
        {
            "step": c.step_number,
            "model": c.fine_tuned_model_checkpoint,
            "train_loss": (c.metrics.train_loss if c.metrics else None),
        }
        for c in page.data
    ]


async def cancel(client: Any, job_id: str) -> dict[str, Any]:
    import openai

    try:
        return (await client.fine_tuning.jobs.cancel(job_id)).model_dump()
    except openai.OpenAIError as exc:
        raise _translate(exc, "cancellation") from exc


@dataclass
class Launch:
    job: dict[str, Any]
    training_file: str
    validation_file: str | None
    train_count: int
    validation_count: int


async def launch(
    client: Any,
    examples: list[Any],
    system_prompt: str,
    settings: TrainSettings,
    *,
    validation_split: float = 0.0,
    seed: int = 42,
    on_step: Callable[[str], None] = lambda _s: None,
) -> Launch:
    """Export the approved examples, upload them, and create the job."""
    from persona_studio.core.exports import openai_jsonl
    from persona_studio.core.validation import train_validation_split

    approved = [ex for ex in examples if ex.status == "approved"]
    if not approved:
        raise FineTuneError(
            "There are no approved examples to train on.",
            "Approve examples in the Dataset tab first.",
        )
    train, validation = train_validation_split(approved, validation_split, seed)
    on_step("Uploading the training examples")
    training_file = await upload(
        client, "train.jsonl", openai_jsonl(train, system_prompt).encode("utf-8")
    )
    validation_file = None
    if validation:
        on_step("Uploading the validation examples")
        validation_file = await upload(
            client, "validation.jsonl", openai_jsonl(validation, system_prompt).encode("utf-8")
        )
    on_step("Creating the fine-tuning job")
    job = await create_job(client, settings, training_file, validation_file)
    on_step("Job created")
    return Launch(job, training_file, validation_file, len(train), len(validation))


def job_record(
    job: dict[str, Any], previous: dict[str, Any] | None = None, update: JobUpdate | None = None
) -> dict[str, Any]:
    """What the project keeps about a job: enough to redraw its chart and reattach."""
    data = dict(previous or {})
    data.setdefault("metrics", [])
    data.setdefault("events", [])
    if update is not None:
        data["metrics"] = data["metrics"] + update.metrics
        data["events"] = (
            data["events"]
            + [
                {
                    "id": e["id"],
                    "created_at": e.get("created_at"),
                    "level": e.get("level"),
                    "message": e.get("message"),
                    "type": e.get("type"),
                }
                for e in update.new_events
            ]
        )[-500:]
        if update.new_events:
            data["last_event"] = update.new_events[-1]["id"]
    for key in (
        "trained_tokens",
        "estimated_finish",
        "error",
        "hyperparameters",
        "training_file",
        "validation_file",
        "user_provided_suffix",
    ):
        if job.get(key) is not None:
            data[key] = job[key]
    return data
