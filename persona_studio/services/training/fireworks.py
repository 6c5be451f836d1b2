"""LoRA fine-tuning at Fireworks AI, through its REST API.

Follows Fireworks's published API as its official SDK describes it (fw-ai-external/python-sdk,
generated from Fireworks's OpenAPI document; read at commit 8399c12, 2026-07-21): datasets
(`POST /v1/accounts/{a}/datasets` {datasetId, dataset}, `:upload` multipart, state UPLOADING →
READY), `supervisedFineTuningJobs` (create {dataset, baseModel, epochs, learningRate, loraRank,
evaluationDataset, outputModel}, get: `state` JOB_STATE_*, `jobProgress.percent`, `status`,
delete — how a job is stopped), and models as `accounts/{a}/models/{outputModel}`. The requests
go through the `openai` SDK's generic get/post/delete (bearer key, retries, typed errors); chat
with the result uses Fireworks's OpenAI-compatible `/inference/v1` once it is deployed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
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

DEFAULT_BASE_URL = "https://api.fireworks.ai/inference/v1"
DEFAULT_LEARNING_RATE = 1e-4  # Fireworks's default for LoRA; the "multiplier" scales it
DEFAULT_LORA_RANK = 8
STATES = {
    "JOB_STATE_CREATING": "validating_files",
    "JOB_STATE_VALIDATING": "validating_files",
    "JOB_STATE_CREATING_INPUT_DATASET": "validating_files",
    "JOB_STATE_PENDING": "queued",
    "JOB_STATE_RE_QUEUEING": "queued",
    "JOB_STATE_IDLE": "queued",
    "JOB_STATE_PAUSED": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_WRITING_RESULTS": "running",
    "JOB_STATE_CANCELLING": "running",
    "JOB_STATE_COMPLETED": "succeeded",
    "JOB_STATE_EARLY_STOPPED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_EXPIRED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_DELETING": "cancelled",
    "JOB_STATE_DELETING_CLEANING_UP": "cancelled",
}
STATE_WORDS = {
    "validating_files": "Fireworks is checking the examples",
    "queued": "Waiting for a GPU at Fireworks",
    "running": "Training",
    "succeeded": "Training finished",
    "failed": "Fireworks stopped the job",
    "cancelled": "The job was stopped",
}
# Fireworks serves fine-tuned LoRA models only on dedicated deployments, never serverless
# (docs.fireworks.ai/fine-tuning/deploying-loras, read 2026-12-03), so the app starts none: a
# deployment bills by the hour whether or not anyone chats, which only the creator can choose.
DEPLOY_NOTE = (
    "Fireworks answers with a fine-tuned model only once it runs on a deployment of its own, "
    "billed per GPU hour while it is up (Fireworks does not serve fine-tuned models per "
    "token). At fireworks.ai open Models → this model → Deploy (or run `firectl create "
    "deployment MODEL`), then chat with it here. Stop the deployment when you are done."
)


def resource_id(text: str, *, prefix: str, limit: int = 63) -> str:
    """An id Fireworks accepts (lower-case letters, digits, dashes) made unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "persona"
    unique = uuid.uuid4().hex[:8]
    return f"{prefix}-{slug}"[: limit - len(unique) - 1].rstrip("-") + f"-{unique}"


class FireworksBackend:
    kind = "fireworks"
    capabilities = Capabilities(
        lora_rank=True, auto_epochs=False, seed=False, checkpoints=False, max_suffix=40
    )

    def __init__(
        self,
        client: Any,
        *,
        account: str,
        profile: str = "",
        base_url: str = DEFAULT_BASE_URL,
        upload_poll: float = 1.0,
        upload_timeout: float = 600.0,
    ) -> None:
        if not account:
            raise TrainingError(
                "The Fireworks profile has no account ID.",
                "Add it in Settings → Providers (it is in the address of your Fireworks "
                "dashboard, fireworks.ai/account/…).",
            )
        self.client, self.account, self.profile, self.base_url = client, account, profile, base_url
        self.upload_poll, self.upload_timeout = upload_poll, upload_timeout
        root = re.sub(r"/inference/v1/?$", "", base_url.rstrip("/"))
        self.root = f"{root}/v1/accounts/{account}"

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return await rest_call(
            self.client,
            method,
            f"{self.root}/{path}",
            what,
            where=self.base_url,
            profile=self.profile,
            **kwargs,
        )

    def check(self, spec: JobSpec, report: PreflightReport | None) -> BackendCheck:
        problems = [p for p in (suffix_error(spec.suffix, self.capabilities),) if p]
        if not spec.base_model:
            problems.append("Choose the base model to fine-tune.")
        elif not spec.base_model.startswith("accounts/"):
            problems.append(
                f"Fireworks names its models like accounts/fireworks/models/…; "
                f"“{spec.base_model}” is not one of them."
            )
        return BackendCheck(problems, report.estimated_cost if report is not None else None)

    async def models(self) -> list[str]:
        return []  # Fireworks lists every model, not the tunable ones: the table says

    async def upload(self, name: str, data: bytes) -> str:
        """A dataset made from the JSONL, uploaded, and ready; returns its resource name."""
        dataset_id = resource_id(name.rsplit(".", 1)[0], prefix="persona")
        count = sum(1 for line in data.splitlines() if line.strip())
        body = {
            "datasetId": dataset_id,
            "dataset": {"userUploaded": {}, "exampleCount": str(count), "format": "CHAT"},
        }
        await self._call("post", "datasets", "training file", body=body)
        await self._call(
            "post",
            f"datasets/{dataset_id}:upload",
            "training file",
            files=[("file", (name, data, "application/jsonl"))],
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )
        waited = 0.0
        while True:
            dataset = await self._call("get", f"datasets/{dataset_id}", "training file")
            if dataset.get("state") == "READY":
                return str(dataset.get("name") or f"accounts/{self.account}/datasets/{dataset_id}")
            if waited >= self.upload_timeout:
                raise TrainingError(
                    "Fireworks is taking too long to accept the examples.", "Try again later."
                )
            await asyncio.sleep(self.upload_poll)
            waited += self.upload_poll

    async def create(self, spec: JobSpec, files: UploadedFiles) -> JobUpdate:
        error = suffix_error(spec.suffix, self.capabilities)
        if error:
            raise TrainingError(error, "Change the name tag.")
        body: dict[str, Any] = {
            "dataset": files.training_file,
            "baseModel": spec.base_model,
            "epochs": spec.n_epochs or 1,
            "loraRank": spec.lora_rank or DEFAULT_LORA_RANK,
            "learningRate": DEFAULT_LEARNING_RATE * (spec.learning_rate_multiplier or 1.0),
            "outputModel": resource_id(spec.suffix or "persona", prefix="persona", limit=40),
            "displayName": f"Persona Studio: {spec.suffix or 'persona'}",
        }
        if files.validation_file:
            body["evaluationDataset"] = files.validation_file
        if spec.batch_size:
            body["batchSize"] = spec.batch_size
        job = await self._call("post", "supervisedFineTuningJobs", "job", body=body)
        return self._update(job, None)

    def _update(self, job: dict[str, Any], last_event: str | None) -> JobUpdate:
        name = str(job.get("name") or "")
        job_id = name.rsplit("/", 1)[-1]
        status = STATES.get(str(job.get("state")), "running")
        percent = (job.get("jobProgress") or {}).get("percent")
        update = JobUpdate(id=job_id, status=status, base_model=str(job.get("baseModel") or ""))
        if status == "succeeded" and job.get("outputModel"):
            output = str(job["outputModel"])
            update.fine_tuned_model = (
                output
                if output.startswith("accounts/")
                else f"accounts/{self.account}/models/{output}"
            )
        if isinstance(percent, int | float) and status in ("running", "succeeded"):
            update.metrics = [{"step": int(percent), "total_steps": 100, "train_loss": None}]
        event_id = f"{job.get('state')}"
        if event_id != last_event:  # Fireworks keeps no event list: a change of state is one
            message = (job.get("status") or {}).get("message") or STATE_WORDS[status]
            level = "error" if status == "failed" else "info"
            update.events = [{"id": event_id, "level": level, "message": message}]
        if status == "failed":
            update.error = {
                "code": str((job.get("status") or {}).get("code") or "fireworks_error"),
                "message": str((job.get("status") or {}).get("message") or ""),
            }
        epochs = job.get("epochs")
        if epochs:
            update.details["hyperparameters"] = {
                "n_epochs": epochs,
                "learning_rate": job.get("learningRate"),
                "lora_rank": job.get("loraRank"),
            }
        return update

    async def status(self, job_id: str, last_event: str | None) -> JobUpdate:
        import openai

        try:
            job = await self.client.get(
                f"{self.root}/supervisedFineTuningJobs/{job_id}", cast_to=object
            )
        except openai.OpenAIError as exc:
            if is_transient(exc):
                return JobUpdate(
                    id=job_id,
                    status="unknown",
                    warning=f"Lost contact with Fireworks ({type(exc).__name__})",
                )
            raise training_error(
                exc, "job status", where=self.base_url, profile=self.profile
            ) from exc
        return self._update(json_object(job, "job status"), last_event)

    async def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return []

    async def cancel(self, job_id: str) -> JobUpdate:
        """Fireworks stops a job by deleting it (the dataset stays)."""
        await self._call("delete", f"supervisedFineTuningJobs/{job_id}", "cancellation")
        return JobUpdate(
            id=job_id,
            status="cancelled",
            events=[{"id": "cancelled", "level": "info", "message": STATE_WORDS["cancelled"]}],
        )

    async def deploy(self, record: JobRecord) -> ChatTarget:
        if not record.fine_tuned_model:
            raise TrainingError(
                "Fireworks finished the job without naming the new model.",
                "Look at the job in your Fireworks dashboard.",
            )
        return ChatTarget(record.profile, record.fine_tuned_model, self.base_url, DEPLOY_NOTE)

    async def aclose(self) -> None:
        await self.client.close()
