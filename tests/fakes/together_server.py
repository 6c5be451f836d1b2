"""A local, stateful stand-in for Together AI's REST API, driven by the real `openai` client.

Follows Together's published OpenAPI document (github.com/togethercomputer/openapi,
`openapi.yaml` at commit 090263a, 2026-04-28; vendored as specs/together-openapi.json.gz):
`POST /files/upload` (multipart: purpose, file_name, file_type, file → FileResponse with
`Processed`), `GET /files/{id}`, `POST /fine-tunes` (→ FinetuneResponseTruncated),
`POST /fine-tunes/estimate-price`, `GET /fine-tunes/{id}` (FinetuneResponse with
FinetuneJobStatus pending → queued → running → compressing → uploading → completed, or error /
cancelled), `/events` (FineTuneEvent: no id, a hash), `/metrics` (`train/loss`,
`train/global_step`, `eval/loss`), `/checkpoints`, `POST /cancel`, `GET
/fine-tunes/models/supported`; errors as ErrorData. Chat completions are the OpenAI-compatible
ones of `FakeOpenAI`. `contract.check_requests` checks what was sent against the document.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openai_server import FakeOpenAI, error_body

SUPPORTED = (
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    "Qwen/Qwen3-8B",
    "meta-llama/Llama-3.2-3B-Instruct",
)
FINISHING = ("compressing", "uploading")
ENDED = ("completed", "error", "cancelled")


class FakeTogether(FakeOpenAI):
    def __init__(self, *, api_key: str = "tg-test", supported: tuple[str, ...] = SUPPORTED):
        super().__init__(api_key=api_key, models=supported)
        self.supported = list(supported)
        self.credit_limit = 100.0  # dollars: a job priced above it is not allowed to proceed
        self.price_per_million = 0.48  # LoRA SFT up to 16B, dollars per million tokens
        self.processed_after = 0  # GET /files/{id} reads before a file is processed

    # ---- test controls -------------------------------------------------------------------

    def _tg_event(self, job_id: str, type_: str, message: str, **extra: Any) -> None:
        self._counter += 1
        self.events[job_id].append(
            {
                "object": "fine-tune-event",
                "created_at": f"2026-12-02T10:{self._counter // 60:02d}:{self._counter % 60:02d}Z",
                "level": extra.pop("level", "info"),
                "message": message,
                "type": type_,
                "param_count": 8_030_000_000,
                "token_count": 0,
                "total_steps": extra.pop("total_steps", 0),
                "wandb_url": "",
                "step": extra.pop("step", 0),
                "checkpoint_path": "",
                "model_path": "",
                "training_offset": 0,
                "hash": f"evt{self._counter:06d}",
            }
        )

    def advance_job(self, job_id: str, steps: int = 1) -> None:
        with self._lock:
            job = self.jobs[job_id]
            for _ in range(steps):
                self._advance(job)

    def _advance(self, job: dict[str, Any]) -> None:
        job_id, status = job["id"], job["status"]
        if status == "pending":
            job["status"] = "queued"
            self._tg_event(job_id, "job_pending", "Job is queued", level="info")
        elif status == "queued":
            job["status"] = "running"
            job["_step"] = 0
            self._tg_event(job_id, "training_start", "Training started", total_steps=10)
        elif status == "running" and job["_step"] < self.total_steps:
            job["_step"] += 1
            step = job["_step"]
            snapshot = {"train/loss": round(2.0 / step, 4), "train/global_step": step}
            if job.get("validation_file") and step % self.checkpoint_every == 0:
                snapshot["eval/loss"] = round(2.2 / step, 4)
            job["_metrics"].append(snapshot)
            if step % self.checkpoint_every == 0:
                self.checkpoints[job_id].append(
                    {
                        "step": step,
                        "path": f"s3://fake/{job_id}/{step}",
                        "created_at": "2026-12-02T10:00:00Z",
                        "checkpoint_type": "Intermediate",
                    }
                )
                self._tg_event(
                    job_id,
                    "checkpoint_save",
                    f"New checkpoint saved at step {step}",
                    step=step,
                    total_steps=self.total_steps,
                )
        elif status == "running":
            job["status"] = "compressing"
            self._tg_event(job_id, "model_compressing", "Compressing output model")
        elif status == "compressing":
            job["status"] = "uploading"
            self._tg_event(job_id, "model_uploading", "Uploading output model")
        elif status == "uploading":
            job["status"] = "completed"
            job["token_count"] = 12345
            self._tg_event(job_id, "job_complete", "Job finished")
            self.models.append(job["model_output_name"])  # chat answers with it now

    def fail_job(self, job_id: str, code: str, message: str) -> None:
        with self._lock:
            self.jobs[job_id]["status"] = "error"
            self._tg_event(job_id, "job_error", message, level="error")

    # ---- routes --------------------------------------------------------------------------

    def _upload(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        from email.parser import BytesParser
        from email.policy import default

        message = BytesParser(policy=default).parsebytes(
            b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + body
        )
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
        if fields.get("purpose") != b"fine-tune" or not fields.get("file_name"):
            return 400, error_body("purpose and file_name are required", "invalid_request_error")
        data = fields.get("file") or b""
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            try:
                assert isinstance(json.loads(line).get("messages"), list)
            except (json.JSONDecodeError, AssertionError, AttributeError):
                return 400, error_body(
                    f"Invalid file: line {number} is not a conversation.", "invalid_request_error"
                )
        file_id = self._id("file")
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "created_at": 1764669600,
            "filename": fields["file_name"].decode(),
            "bytes": len(data),
            "purpose": "fine-tune",
            "Processed": self.processed_after == 0,
            "FileType": "jsonl",
            "_reads": 0,
            "_data": data,
        }
        return 200, self._public(self.files[file_id])

    def _estimate(self, request: dict[str, Any]) -> dict[str, Any]:
        file = self.files[request["training_file"]]
        tokens = len(file["_data"]) // 4 * int(request.get("n_epochs") or 1)
        price = round(tokens * self.price_per_million / 1_000_000, 4)
        return {
            "estimated_total_price": price,
            "allowed_to_proceed": price <= self.credit_limit,
            "user_limit": self.credit_limit,
            "estimated_train_token_count": tokens,
            "estimated_eval_token_count": 0,
        }

    def _create_job(
        self, body: bytes, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = json.loads(body)
        if request.get("training_file") not in self.files:
            return 400, error_body("training_file not found", "invalid_request_error")
        if request.get("model") not in self.supported:
            return 400, error_body(
                f"Model {request.get('model')} is not supported for fine-tuning",
                "invalid_request_error",
            )
        job_id = self._id("ft")
        suffix = request.get("suffix") or "persona"
        job = {
            "id": job_id,
            "status": "pending",
            "created_at": "2026-12-02T10:00:00Z",
            "updated_at": "2026-12-02T10:00:00Z",
            "model": request["model"],
            "model_output_name": f"fake-user/{request['model'].split('/')[-1]}-{suffix}-{job_id}",
            "training_file": request["training_file"],
            "validation_file": request.get("validation_file", ""),
            "suffix": request.get("suffix", ""),
            "n_epochs": request.get("n_epochs", 1),
            "n_evals": request.get("n_evals", 0),
            "batch_size": request.get("batch_size", "max"),
            "learning_rate": request.get("learning_rate", 1e-5),
            "training_type": request.get("training_type"),
            "token_count": 0,
            "progress": {"estimate_available": True, "seconds_remaining": 600},
            "_metrics": [],
            "_request": request,
        }
        self.jobs[job_id] = job
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self._tg_event(job_id, "job_pending", "Fine tune request created")
        return 200, self._public(job)

    def _fine_tuning(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        parts = path.split("/")  # ['', 'v1', 'fine-tunes', id, action]
        if method == "POST" and path == "/v1/files/upload":
            return self._upload(headers, body)
        if method == "GET" and len(parts) == 4 and parts[2] == "files":
            file = self.files.get(parts[3])
            if file is None:
                return 404, error_body("File not found", "invalid_request_error")
            file["_reads"] += 1
            file["Processed"] = file["_reads"] >= self.processed_after
            return 200, self._public(file)
        if not path.startswith("/v1/fine-tunes"):
            return None
        if method == "GET" and path == "/v1/fine-tunes/models/supported":
            return 200, {"models": list(self.supported)}
        if method == "POST" and path == "/v1/fine-tunes/estimate-price":
            request = json.loads(body)
            if request.get("training_file") not in self.files:
                return 400, error_body("training_file not found", "invalid_request_error")
            return 200, self._estimate(request)
        if method == "POST" and len(parts) == 3:
            return self._create_job(body)
        job = self.jobs.get(parts[3]) if len(parts) > 3 else None
        if job is None:
            return 404, error_body("Fine-tune job not found", "invalid_request_error")
        action = parts[4:]
        if method == "GET" and not action:
            if self.auto_advance and job["status"] not in ENDED:
                self._advance(job)
            return 200, self._public(job)
        if method == "POST" and action == ["cancel"]:
            if job["status"] in ENDED:
                return 400, error_body("Job has already ended", "invalid_request_error")
            job["status"] = "cancelled"
            self._tg_event(job["id"], "job_stopped", "Job cancelled by the user")
            return 200, self._public(job)
        if method == "GET" and action == ["events"]:
            return 200, {"data": list(self.events[job["id"]])}
        if method == "GET" and action == ["metrics"]:
            return 200, {"metrics": list(job["_metrics"])}
        if method == "GET" and action == ["checkpoints"]:
            return 200, {"data": list(reversed(self.checkpoints[job["id"]]))}
        return None
