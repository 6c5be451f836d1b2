"""LoRA fine-tuning at Nebius Token Factory: its OpenAI-compatible fine-tuning API, plus the
deploy call that makes the result answer.

Follows Nebius's published API reference (docs.tokenfactory.nebius.com/api-reference, read
2026-12-02): `POST /v1/files`, `POST /v1/fine_tuning/jobs` with the supervised method's
hyperparameters (`lora`, `lora_r`, `lora_alpha`, `packing`, absolute `learning_rate`…), the
OpenAI job, event and checkpoint shapes, and `POST /v0/models` {name, base_model, source:
"JOB:CHECKPOINT"} → a model name to chat with, `GET /v0/models/{name}` (validating → active).
Everything else is `OpenAIBackend`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from persona_studio.core.records import ChatTarget
from persona_studio.services.training.backend import Capabilities, JobSpec, TrainingError
from persona_studio.services.training.openai_api import OpenAIBackend

if TYPE_CHECKING:
    from persona_studio.core.records import JobRecord

DEFAULT_BASE_URL = "https://api.tokenfactory.nebius.com/v1/"
DEFAULT_LEARNING_RATE = 1e-5  # the API's default; the "multiplier" scales it
DEFAULT_LORA_RANK = 16
DEFAULT_BATCH_SIZE = 8
PREPARING_NOTE = (
    "Nebius is getting the model ready; it usually answers within a few minutes. If the chat "
    "says it does not know the model, try again a little later."
)


def v0_url(base_url: str, path: str) -> str:
    """Nebius's control-plane address (`/v0/...`) beside the OpenAI-compatible `/v1/`."""
    root = re.sub(r"/v1/?$", "", base_url.rstrip("/") + "/")
    return root.rstrip("/") + "/v0/" + path.lstrip("/")


def model_name(record: JobRecord) -> str:
    """A name for the deployed model: the name tag (or "persona") and the job's id."""
    tag = re.sub(r"[^a-z0-9-]+", "-", (record.suffix or "persona").lower()).strip("-")
    job = re.sub(r"[^a-z0-9]+", "", record.id.lower())[-8:]
    return f"{tag or 'persona'}-{job}"


class NebiusBackend(OpenAIBackend):
    kind = "nebius"
    capabilities = Capabilities(lora_rank=True, auto_epochs=False, names_model=False)

    def hyperparameters(self, spec: JobSpec) -> dict[str, Any]:
        """Nebius's supervised hyperparameters: LoRA on, an absolute learning rate."""
        rank = spec.lora_rank or DEFAULT_LORA_RANK
        return {
            "n_epochs": spec.n_epochs or 1,
            "batch_size": spec.batch_size or DEFAULT_BATCH_SIZE,
            "learning_rate": DEFAULT_LEARNING_RATE * (spec.learning_rate_multiplier or 1.0),
            "lora": True,
            "lora_r": rank,
            "lora_alpha": rank * 2,
            "lora_dropout": 0.0,
            "packing": True,
        }

    async def deploy(self, record: JobRecord) -> ChatTarget:
        """Turn the job's last checkpoint into a model Nebius serves (LoRA, serverless)."""
        import openai

        try:
            page = await self.client.fine_tuning.jobs.checkpoints.list(record.id)
            checkpoints = sorted(page.data, key=lambda c: c.step_number, reverse=True)
            if not checkpoints:
                raise TrainingError(
                    "Nebius finished the job but kept no checkpoint to deploy.",
                    "Look at the job's messages: Nebius says more there.",
                )
            body = {
                "name": model_name(record),
                "base_model": record.base_model,
                "source": f"{record.id}:{checkpoints[0].id}",
                "description": "Trained with Persona Studio",
            }
            model = await self.client.post(
                v0_url(self.base_url, "models"), body=body, cast_to=object
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, "deployment") from exc
        name = str(model.get("name") or body["name"]) if isinstance(model, dict) else body["name"]
        ready = isinstance(model, dict) and model.get("status") == "active"
        return ChatTarget(record.profile, name, self.base_url, "" if ready else PREPARING_NOTE)
