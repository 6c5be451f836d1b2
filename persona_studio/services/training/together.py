"""LoRA fine-tuning at Together AI, through its REST API (the published OpenAPI document,
https://github.com/togethercomputer/openapi, `openapi.yaml`, 2026-04-28; vendored for the
contract tests under tests/fakes/specs/).

The requests go through the `openai` SDK's generic `get`/`post`: Together authenticates with the
same bearer key, and the SDK brings what a hand-written httpx client would have to redo (retries
with Retry-After, timeouts, typed errors that `provider_error` already explains). Chat with the
result uses Together's OpenAI-compatible chat endpoint at the same address.

upload (`POST /files/upload`) → price (`POST /fine-tunes/estimate-price`, refused when the
account's limit is below it) → create (`POST /fine-tunes`, LoRA) → status (`GET /fine-tunes/{id}`,
its events and its metrics) → cancel (`POST /fine-tunes/{id}/cancel`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from persona_studio.core.records import ChatTarget
from persona_studio.services.training.backend import (
    BackendCheck,
    Capabilities,
    JobSpec,
    JobUpdate,
    TrainingError,
    UploadedFiles,
    suffix_error,
)
from persona_studio.services.training.openai_api import (
    is_transient,
    json_object,
    rest_call,
    training_error,
)

if TYPE_CHECKING:
    from persona_studio.core.records import JobRecord
    from persona_studio.core.validation import PreflightReport

DEFAULT_BASE_URL = "https://api.together.ai/v1"
DEFAULT_LEARNING_RATE = 1e-5  # the API's default; the "multiplier" scales it
DEFAULT_LORA_RANK = 16
EVALS_WITH_VALIDATION = 5  # validation-loss points on the chart when a validation file is sent
# Together's statuses (FinetuneJobStatus) onto ours. A job that is compressing or uploading its
# result, or waiting for a cancel to take, is still running for the creator.
STATUSES = {
    "pending": "queued",
    "queued": "queued",
    "running": "running",
    "compressing": "running",
    "uploading": "running",
    "cancel_requested": "running",
    "cancelled": "cancelled",
    "error": "failed",
    "completed": "succeeded",
}
# Base models whose LoRA adapters Together serves serverless, billed per token
# (docs.together.ai/docs/adapter-upload, "Supported base models", read 2026-12-02). Any other
# base needs a dedicated endpoint, billed per minute.
SERVERLESS_LORA_BASES = frozenset(
    {
        "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference",
        "Qwen/Qwen2.5-72B-Instruct",
        "Qwen/Qwen3-235B-A22B-Instruct-2507-tput",
    }
)
DEDICATED_NOTE = (
    "Together answers with a model trained on this base only on a dedicated endpoint, billed "
    "per minute while it runs: start one at together.ai → Models, then chat with it here. "
    "Or download the trained adapter there (the job → Download) to run it with its base "
    "model elsewhere."
)


def event_id(event: dict[str, Any]) -> str:
    """Together's events carry no id: their hash, else when and what they say."""
    if event.get("hash"):
        return str(event["hash"])
    return f"{event.get('created_at')}|{event.get('type')}|{event.get('step')}"


def metric_rows(metrics: list[dict[str, Any]], total_steps: int | None) -> list[dict[str, Any]]:
    """Loss rows (step, total_steps, train_loss, valid_loss) from `/metrics` snapshots."""
    rows = []
    for snapshot in metrics:
        step = snapshot.get("train/global_step", snapshot.get("eval/global_step"))
        if not isinstance(step, int | float):
            continue
        train, valid = snapshot.get("train/loss"), snapshot.get("eval/loss")
        if train is None and valid is None:
            continue
        rows.append(
            {
                "step": int(step),
                "total_steps": total_steps,
                "train_loss": train,
                "valid_loss": valid,
            }
        )
    return rows


def _job_error(events: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [e for e in events if e.get("type") == "job_error" or e.get("level") == "error"]
    message = str(errors[-1].get("message") or "") if errors else ""
    return {"code": "together_error", "message": message}


class TogetherBackend:
    """Together AI's fine-tuning API through one `openai` async client on its address."""

    kind = "together"
    capabilities = Capabilities(lora_rank=True, auto_epochs=False, max_suffix=40)

    def __init__(
        self,
        client: Any,
        *,
        profile: str = "",
        base_url: str = DEFAULT_BASE_URL,
        upload_poll: float = 1.0,
        upload_timeout: float = 600.0,
    ) -> None:
        self.client = client
        self.profile, self.base_url = profile, base_url
        self.upload_poll, self.upload_timeout = upload_poll, upload_timeout

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return await rest_call(
            self.client, method, path, what, where=self.base_url, profile=self.profile, **kwargs
        )

    # ---- before launch -------------------------------------------------------------------

    def check(self, spec: JobSpec, report: PreflightReport | None) -> BackendCheck:
        problems = [p for p in (suffix_error(spec.suffix, self.capabilities),) if p]
        if not spec.base_model:
            problems.append("Choose the base model to fine-tune.")
        elif spec.base_model.startswith(("gpt-", "ft:", "o1", "o3", "o4")):
            problems.append(
                f"Together cannot fine-tune “{spec.base_model}”: choose one of its open models."
            )
        return BackendCheck(problems, report.estimated_cost if report is not None else None)

    async def models(self) -> list[str]:
        """The base models Together fine-tunes today (its live list)."""
        answer = await self._call("get", "/fine-tunes/models/supported", "model list")
        models = answer.get("models") if isinstance(answer, dict) else None
        return [str(m) for m in models or [] if isinstance(m, str)]

    # ---- launch --------------------------------------------------------------------------

    async def upload(self, name: str, data: bytes) -> str:
        body = {"purpose": "fine-tune", "file_name": name, "file_type": "jsonl"}
        file = await self._call(
            "post",
            "/files/upload",
            "training file",
            body=body,
            files=[("file", (name, data, "application/jsonl"))],
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )
        file_id = str(file.get("id") or "")
        if not file_id:
            raise TrainingError(
                "Together did not say which file it received.", "Try again in a moment."
            )
        waited = 0.0
        while not file.get("Processed", True):
            if waited >= self.upload_timeout:
                raise TrainingError(
                    "Together is taking too long to check the file.", "Try again later."
                )
            await asyncio.sleep(self.upload_poll)
            waited += self.upload_poll
            file = await self._call("get", f"/files/{file_id}", "training file")
        return file_id

    def _request(self, spec: JobSpec, files: UploadedFiles) -> dict[str, Any]:
        rank = spec.lora_rank or DEFAULT_LORA_RANK
        body: dict[str, Any] = {
            "model": spec.base_model,
            "training_file": files.training_file,
            "n_epochs": spec.n_epochs or 1,
            "n_evals": EVALS_WITH_VALIDATION if files.validation_file else 0,
            "training_method": {"method": "sft", "train_on_inputs": False},
            "training_type": {"type": "Lora", "lora_r": rank, "lora_alpha": rank * 2},
            # train_on_inputs false: learn the replies, not the questions (the published
            # schema refuses its documented "auto")
        }
        if files.validation_file:
            body["validation_file"] = files.validation_file
        return body

    async def estimate(self, spec: JobSpec, files: UploadedFiles) -> dict[str, Any]:
        """Together's own price for this job on the uploaded files."""
        answer = await self._call(
            "post", "/fine-tunes/estimate-price", "price estimate", body=self._request(spec, files)
        )
        return answer if isinstance(answer, dict) else {}

    async def create(self, spec: JobSpec, files: UploadedFiles) -> JobUpdate:
        error = suffix_error(spec.suffix, self.capabilities)
        if error:
            raise TrainingError(error, "Change the name tag.")
        estimate = await self.estimate(spec, files)
        price = estimate.get("estimated_total_price")
        if estimate.get("allowed_to_proceed") is False:
            limit = estimate.get("user_limit")
            raise TrainingError(
                f"Together estimates this job at ${price:,.2f}, above what the account may "
                f"spend now" + (f" (${limit:,.2f})." if isinstance(limit, int | float) else "."),
                "Add credit at together.ai (Settings → Billing), or train on fewer examples.",
            )
        body = self._request(spec, files)
        body["batch_size"] = spec.batch_size or "max"
        if spec.learning_rate_multiplier is not None:
            body["learning_rate"] = DEFAULT_LEARNING_RATE * spec.learning_rate_multiplier
        if spec.suffix:
            body["suffix"] = spec.suffix
        if spec.seed is not None:
            body["random_seed"] = spec.seed
        job = await self._call("post", "/fine-tunes", "job", body=body)
        update = self._update(job, [], [])
        if isinstance(price, int | float):
            update.details["estimated_cost_usd"] = float(price)
        return update

    # ---- follow --------------------------------------------------------------------------

    def _update(
        self, job: dict[str, Any], events: list[dict[str, Any]], metrics: list[dict[str, Any]]
    ) -> JobUpdate:
        status = STATUSES.get(str(job.get("status")), "running")
        details: dict[str, Any] = {
            "training_file": job.get("training_file"),
            "validation_file": job.get("validation_file"),
            "user_provided_suffix": job.get("suffix"),
            "trained_tokens": job.get("token_count"),
            "hyperparameters": {
                key: job[key]
                for key in ("n_epochs", "batch_size", "learning_rate")
                if job.get(key) is not None
            }
            or None,
        }
        progress = job.get("progress") or {}
        if progress.get("estimate_available") and progress.get("seconds_remaining"):
            details["estimated_finish"] = int(time.time()) + int(progress["seconds_remaining"])
        return JobUpdate(
            id=str(job.get("id") or ""),
            status=status,
            base_model=str(job.get("model") or ""),
            fine_tuned_model=(job.get("model_output_name") if status == "succeeded" else None),
            metrics=metrics,
            events=[
                {
                    "id": event_id(e),
                    "created_at": e.get("created_at"),
                    "level": e.get("level") or "info",
                    "message": e.get("message"),
                    "type": e.get("type"),
                }
                for e in events
            ],
            error=_job_error(events) if status == "failed" else None,
            details={k: v for k, v in details.items() if v is not None},
        )

    async def status(self, job_id: str, last_event: str | None) -> JobUpdate:
        import openai

        try:
            job = json_object(
                await self.client.get(f"/fine-tunes/{job_id}", cast_to=object), "job status"
            )
            listed = json_object(
                await self.client.get(f"/fine-tunes/{job_id}/events", cast_to=object), "job"
            )
            events = [e for e in listed.get("data") or [] if isinstance(e, dict)]
            metrics: list[dict[str, Any]] = []
            if job.get("status") not in ("pending", "queued"):
                answer = json_object(
                    await self.client.get(f"/fine-tunes/{job_id}/metrics", cast_to=object), "job"
                )
                metrics = [m for m in answer.get("metrics") or [] if isinstance(m, dict)]
        except openai.OpenAIError as exc:
            if is_transient(exc):
                return JobUpdate(
                    id=job_id,
                    status="unknown",
                    warning=f"Lost contact with Together ({type(exc).__name__})",
                )
            raise training_error(
                exc, "job status", where=self.base_url, profile=self.profile
            ) from exc
        ids = [event_id(e) for e in events]
        new = events[ids.index(last_event) + 1 :] if last_event in ids else events
        totals = [e.get("total_steps") for e in events if e.get("total_steps")]
        update = self._update(job, new, metric_rows(metrics, totals[-1] if totals else None))
        if update.status == "failed":
            update.error = _job_error(events)  # the reason may be in an event seen before
        return update

    async def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        try:
            answer = await self._call("get", f"/fine-tunes/{job_id}/checkpoints", "checkpoints")
        except TrainingError:
            return []
        rows = [c for c in (answer or {}).get("data") or [] if isinstance(c, dict)]
        rows.sort(key=lambda c: c.get("step") or 0, reverse=True)
        return [
            {"step": c.get("step"), "model": f"{job_id}:{c.get('step')}", "train_loss": None}
            for c in rows
        ]

    async def cancel(self, job_id: str) -> JobUpdate:
        job = await self._call("post", f"/fine-tunes/{job_id}/cancel", "cancellation")
        update = self._update(job, [], [])
        if update.status == "running":  # cancel_requested: it stops at the next step
            update.status = "cancelled"
        return update

    async def deploy(self, record: JobRecord) -> ChatTarget:
        if not record.fine_tuned_model:
            raise TrainingError(
                "Together finished the job without naming the new model.",
                "Look at the job's messages: Together says more there.",
            )
        note = "" if record.base_model in SERVERLESS_LORA_BASES else DEDICATED_NOTE
        return ChatTarget(record.profile, record.fine_tuned_model, self.base_url, note)

    async def aclose(self) -> None:
        await self.client.close()
