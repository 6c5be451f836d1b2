"""A local, stateful stand-in for Nebius Token Factory, driven by the real `openai` client.

Follows Nebius's published API reference (docs.tokenfactory.nebius.com/api-reference, read
2026-12-02): the OpenAI-compatible files and fine-tuning jobs of `FakeOpenAI` (a finished job
names no model: it leaves checkpoints), with the supervised method's LoRA hyperparameters
checked, and the control plane's `POST /v0/models` {name, base_model, source: "JOB:CHECKPOINT"}
→ {name, base_model, source, created_at, status: validating} and `GET /v0/models/{name}`.
Nebius publishes no OpenAPI document to vendor, so `required` below is what its reference marks
required; its OpenAI-compatible requests are checked against OpenAI's document.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openai_server import FakeOpenAI, error_body

SUPPORTED = ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct")
LORA_KEYS = {"lora", "lora_r", "lora_alpha", "lora_dropout", "packing", "n_epochs",
             "batch_size", "learning_rate", "warmup_ratio", "weight_decay", "max_grad_norm",
             "context_length"}  # fmt: skip


class FakeNebius(FakeOpenAI):
    def __init__(self, *, api_key: str = "nb-test") -> None:
        super().__init__(api_key=api_key, models=SUPPORTED)
        self.custom_models: dict[str, dict[str, Any]] = {}

    def advance_job(self, job_id: str, steps: int = 1) -> None:
        super().advance_job(job_id, steps)
        with self._lock:
            self.jobs[job_id]["fine_tuned_model"] = None  # Nebius leaves checkpoints only

    def _create_job(
        self, body: bytes, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = json.loads(body)
        if request.get("model") not in SUPPORTED:
            return 400, error_body(f"Model {request.get('model')} cannot be fine-tuned",
                                   "invalid_request_error")  # fmt: skip
        hyper = ((request.get("method") or {}).get("supervised") or {}).get("hyperparameters", {})
        unknown = set(hyper) - LORA_KEYS
        if unknown:
            return 400, error_body(f"Unknown hyperparameters: {sorted(unknown)}",
                                   "invalid_request_error")  # fmt: skip
        return super()._create_job(body, query)

    def _fine_tuning(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        if path == "/v0/models" and method == "POST":
            return self._deploy(json.loads(body))
        if path.startswith("/v0/models/") and method == "GET":
            model = self.custom_models.get(path.removeprefix("/v0/models/"))
            return (200, model) if model else (404, error_body("Model not found", "not_found"))
        return super()._fine_tuning(method, path, query, body, headers)

    def _deploy(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        missing = [k for k in ("name", "base_model", "source") if not request.get(k)]
        if missing:
            return 422, error_body(f"Missing: {missing}", "invalid_request_error")
        job_id, _, checkpoint = str(request["source"]).partition(":")
        job = self.jobs.get(job_id)
        if job is None or checkpoint not in {c["id"] for c in self.checkpoints.get(job_id, [])}:
            return 400, error_body("source is not a checkpoint of yours", "invalid_request_error")
        if request["base_model"] != job["model"]:
            return 400, error_body("base_model differs from the job's", "invalid_request_error")
        name = f"{job['model']}-LoRa:{request['name']}-abcd"
        self.custom_models[name] = {
            "name": name,
            "base_model": request["base_model"],
            "source": request["source"],
            "created_at": 1764669600,
            "status": "validating",
            "description": request.get("description"),
        }
        self.models.append(name)  # it answers (a real one after a few minutes)
        return 200, self.custom_models[name]
