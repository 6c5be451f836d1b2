"""Fine-tuning through any endpoint that speaks the OpenAI fine-tuning API (OpenAI, Azure
OpenAI, gateways, self-hosted servers).

upload (files, purpose "fine-tune") → wait until processed → create the job (supervised method,
hyperparameters "auto" or values) → status (the job and its new events: at most two requests a
look) → cancel. Metrics come from the `data` of `metrics` events, never from text.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from persona_studio.core.records import ChatTarget
from persona_studio.core.trainers import OPENAI_CLOSED, openai_closed
from persona_studio.services.provider_errors import CHAT_ONLY, is_missing_route, provider_error
from persona_studio.services.training.backend import (
    BackendCheck,
    Capabilities,
    JobSpec,
    JobUpdate,
    TrainingError,
    UploadedFiles,
    suffix_error,
)

if TYPE_CHECKING:
    from persona_studio.core.records import JobRecord
    from persona_studio.core.validation import PreflightReport

# Errors a follower rides out (retrying with backoff) rather than stopping on.
TRANSIENT = ("APIConnectionError", "APITimeoutError", "RateLimitError", "InternalServerError")
AZURE_DEPLOY_NOTE = (
    "Azure answers with a fine-tuned model only once it is deployed, and deploying needs "
    "Azure rights this app does not ask for. In Azure AI Foundry (ai.azure.com) open "
    "Fine-tuning → this job → Deploy (or ask whoever manages your Azure resource), then enter "
    "the deployment's name here with “Enter deployment name…”."
)
PLAIN_JOB_ERRORS = {
    "invalid_training_file": "The provider rejected the training file.",
    "invalid_file_format": "The provider could not read the training file.",
    "exceeded_quota": "The account has no quota left for fine-tuning.",
    "invalid_n_examples": "The provider wants more training examples.",
}
# a job that failed on this computer (`local.py`): its own words and next step, no provider
LOCAL_FAILURES = ("worker_stopped", "training_failed")
MESSAGE_AT_MOST = 2_000  # characters of a job's error shown: a record's text, any length


def is_transient(exc: BaseException) -> bool:
    """An error a follower rides out (retrying with backoff) rather than stopping on."""
    return type(exc).__name__ in TRANSIENT


def training_error(exc: BaseException, what: str, *, where: str, profile: str) -> TrainingError:
    """An `openai` SDK error from a training request, in plain words."""
    plain = provider_error(exc, what=what, where=where, profile=profile)
    return TrainingError(plain.message, plain.hint)


def json_object(answer: Any, what: str) -> dict[str, Any]:
    """A provider's answer as the JSON object it should be (an empty body is an empty object);
    anything else is a plain TrainingError, never an AttributeError further on."""
    if answer is None:
        return {}
    if not isinstance(answer, dict):
        raise TrainingError(
            f"The provider's answer about the {what} is not what its API describes.",
            "Try again later; if it keeps happening, the provider may have changed its API.",
        )
    return answer


async def rest_call(
    client: Any, method: str, url: str, what: str, *, where: str, profile: str, **kwargs: Any
) -> dict[str, Any]:
    """One REST request through the `openai` client's generic get/post/delete (bearer key,
    retries, Retry-After, typed errors): the provider's JSON object, or a plain TrainingError."""
    import openai

    request = {"get": client.get, "post": client.post, "delete": client.delete}[method]
    try:
        answer = await request(url, cast_to=object, **kwargs)
    except openai.OpenAIError as exc:
        raise training_error(exc, what, where=where, profile=profile) from exc
    return json_object(answer, what)


def hyperparameters(spec: JobSpec) -> dict[str, Any]:
    """The API's supervised hyperparameters: "auto" wherever the creator left it."""
    return {
        "n_epochs": spec.n_epochs if spec.n_epochs is not None else "auto",
        "batch_size": spec.batch_size if spec.batch_size is not None else "auto",
        "learning_rate_multiplier": (
            spec.learning_rate_multiplier if spec.learning_rate_multiplier is not None else "auto"
        ),
    }


def metrics_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Loss rows from the `data` of `metrics` events."""
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


def job_update(job: dict[str, Any], events: list[dict[str, Any]] | None = None) -> JobUpdate:
    events = events or []
    return JobUpdate(
        id=str(job["id"]),
        status=str(job.get("status")),
        base_model=str(job.get("model") or ""),
        fine_tuned_model=job.get("fine_tuned_model"),
        metrics=metrics_of(events),
        events=[
            {
                "id": e["id"],
                "created_at": e.get("created_at"),
                "level": e.get("level"),
                "message": e.get("message"),
                "type": e.get("type"),
            }
            for e in events
        ],
        error=job.get("error") or None,
        details={
            key: job[key]
            for key in (
                "trained_tokens",
                "estimated_finish",
                "hyperparameters",
                "training_file",
                "validation_file",
                "user_provided_suffix",
            )
            if job.get(key) is not None
        },
    )


class OpenAIBackend:
    """The OpenAI fine-tuning API through one `openai` async client (closed by `aclose`)."""

    kind = "openai"
    capabilities = Capabilities()

    def __init__(
        self,
        client: Any,
        *,
        profile: str = "",
        base_url: str = "",
        profile_kind: str = "openai-compatible",
        today: Callable[[], date] = date.today,
        upload_poll: float = 1.0,
        upload_timeout: float = 600.0,
        training_type: str = "",
    ) -> None:
        self.client = client
        self.profile, self.base_url = profile, base_url
        self.profile_kind, self.today = profile_kind, today
        self.training_type = training_type  # Azure: where it trains ("" = Azure decides)
        self.upload_poll, self.upload_timeout = upload_poll, upload_timeout

    def _error(self, exc: BaseException, what: str) -> TrainingError:
        import openai

        if isinstance(exc, openai.PermissionDeniedError):
            return TrainingError(
                "Fine-tuning is not available to this organization on this provider.",
                "OpenAI stopped new self-serve fine-tuning jobs for most accounts; choose "
                "another provider profile (Together AI, Azure OpenAI, or this computer).",
            )
        if what in ("training file", "job") and is_missing_route(exc):
            return TrainingError(*CHAT_ONLY)
        return training_error(exc, what, where=self.base_url, profile=self.profile)

    def check(self, spec: JobSpec, report: PreflightReport | None) -> BackendCheck:
        problems = [p for p in (suffix_error(spec.suffix, self.capabilities),) if p]
        if not spec.base_model:
            problems.append("Choose the base model to fine-tune.")
        if openai_closed(self.profile_kind, self.base_url, self.today()):
            problems.append(" ".join(OPENAI_CLOSED))
        return BackendCheck(problems, report.estimated_cost if report is not None else None)

    async def models(self) -> list[str]:
        return []  # the API lists every model, not the ones it fine-tunes: the table says

    async def upload(self, name: str, data: bytes) -> str:
        """Upload a JSONL file and wait until the provider has processed it; returns its id."""
        import openai

        if self.profile_kind == "azure" and not data.startswith(codecs.BOM_UTF8):
            data = codecs.BOM_UTF8 + data  # Azure OpenAI reads training files with a BOM
        try:
            file = await self.client.files.create(file=(name, data), purpose="fine-tune")
            waited = 0.0
            while getattr(file, "status", "processed") not in ("processed", "error"):
                await asyncio.sleep(self.upload_poll)
                waited += self.upload_poll
                if waited > self.upload_timeout:
                    raise TrainingError(
                        "The provider is taking too long to process the file.", "Try again later."
                    )
                file = await self.client.files.retrieve(file.id)
        except openai.OpenAIError as exc:
            raise self._error(exc, "training file") from exc
        if getattr(file, "status", "") == "error":
            raise TrainingError(
                "The provider could not process the training file.",
                str(getattr(file, "status_details", "") or "Check the dataset."),
            )
        return str(file.id)

    async def create(self, spec: JobSpec, files: UploadedFiles) -> JobUpdate:
        import openai

        error = suffix_error(spec.suffix, self.capabilities)
        if error:
            raise TrainingError(error, "Change the name tag.")
        if openai_closed(self.profile_kind, self.base_url, self.today()):
            raise TrainingError(*OPENAI_CLOSED)
        kwargs: dict[str, Any] = {
            "model": spec.base_model,
            "training_file": files.training_file,
            "method": {
                "type": "supervised",
                "supervised": {"hyperparameters": self.hyperparameters(spec)},
            },
        }
        if files.validation_file:
            kwargs["validation_file"] = files.validation_file
        if spec.suffix:
            kwargs["suffix"] = spec.suffix
        if spec.seed is not None:
            kwargs["seed"] = spec.seed
        if self.profile_kind == "azure" and self.training_type:
            kwargs["extra_body"] = {"trainingType": self.training_type}  # Azure's own field
        try:
            job = await self.client.fine_tuning.jobs.create(**kwargs)
        except openai.OpenAIError as exc:
            raise self._error(exc, "job") from exc
        return job_update(job.model_dump())

    def hyperparameters(self, spec: JobSpec) -> dict[str, Any]:
        """The supervised method's hyperparameters (a compatible server may take more)."""
        return hyperparameters(spec)

    async def _new_events(
        self, job_id: str, last_seen: str | None, page: int = 100
    ) -> list[dict[str, Any]]:
        """Events after `last_seen`, oldest first: one request unless more than a page came."""
        collected: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": page}
            if after:
                kwargs["after"] = after
            result = await self.client.fine_tuning.jobs.list_events(job_id, **kwargs)
            batch = [e.model_dump() for e in result.data]  # newest first
            for event in batch:
                if event["id"] == last_seen:
                    return list(reversed(collected))
                collected.append(event)
            done = not batch or not result.has_more
            if done or (last_seen is None and len(collected) >= 10 * page):
                return list(reversed(collected))
            after = batch[-1]["id"]

    async def status(self, job_id: str, last_event: str | None) -> JobUpdate:
        import openai

        try:
            job = (await self.client.fine_tuning.jobs.retrieve(job_id)).model_dump()
            events = await self._new_events(job_id, last_event)
        except openai.OpenAIError as exc:
            if is_transient(exc):
                return JobUpdate(
                    id=job_id,
                    status="unknown",
                    warning=f"Lost contact with the provider ({type(exc).__name__})",
                )
            raise self._error(exc, "job status") from exc
        return job_update(job, events)

    async def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        import openai

        try:
            page = await self.client.fine_tuning.jobs.checkpoints.list(job_id)
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

    async def cancel(self, job_id: str) -> JobUpdate:
        import openai

        try:
            return job_update((await self.client.fine_tuning.jobs.cancel(job_id)).model_dump())
        except openai.OpenAIError as exc:
            raise self._error(exc, "cancellation") from exc

    async def deploy(self, record: JobRecord) -> ChatTarget:
        if not record.fine_tuned_model:
            raise TrainingError(
                "The provider finished the job without naming the new model.",
                "Look at the job's messages: the provider says more there.",
            )
        note = AZURE_DEPLOY_NOTE if self.profile_kind == "azure" else ""
        return ChatTarget(record.profile, record.fine_tuned_model, self.base_url, note)

    async def aclose(self) -> None:
        await self.client.close()


def explain_job_error(error: dict[str, Any] | None) -> str:
    """Why the provider stopped a job, in plain words (its own message in parentheses); for a
    job that failed on this computer, the trainer's words and its next step."""
    error = error or {}
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    message = message[:MESSAGE_AT_MOST]
    if code in LOCAL_FAILURES:
        next_step = str(error.get("next_step") or "")[:MESSAGE_AT_MOST]
        said = " ".join(part for part in (message, next_step) if part)
        return said or "Training on this computer stopped."
    plain = PLAIN_JOB_ERRORS.get(code, "The provider stopped the job.")
    return f"{plain} ({message})" if message else plain
