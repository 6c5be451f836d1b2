"""A local, stateful stand-in for the OpenAI HTTP API, driven by the real `openai` client.

Start it with `FakeOpenAI()` as a context manager; point a client at `server.base_url`. Routes
grow with the features that need them (chat, files, fine-tuning); errors are injected with
`fail_next(status, ...)` and every request is recorded in `requests`. Follows OpenAI's published
API reference (platform.openai.com/docs/api-reference: files, fine_tuning.jobs and their events
and checkpoints, chat.completions with SSE; read 2025-06), and the tests check what was sent
against OpenAI's OpenAPI document (specs/openai-openapi.json.gz). It also answers Azure OpenAI's
data-plane paths (`/openai/...?api-version=`, the `api-key` header, a deployment's chat at
`/openai/deployments/NAME/chat/completions`; azure-rest-api-specs, AzureOpenAI authoring
2025-03-01-preview) when `AsyncAzureOpenAI` is given `azure_endpoint`, and a job's Azure-only
`trainingType` as Microsoft Learn's fine-tuning guide gives it (REST and SDK tabs, 2025:
GlobalStandard / globalstandard, Standard, developerTier; api-version 2025-04-01-preview).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

AZURE_TRAINING_TYPES = ("globalstandard", "standard", "developertier")  # any case


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class InjectedError:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeOpenAI:
    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        models: tuple[str, ...] = ("gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18"),
    ) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.requests: list[RecordedRequest] = []
        # chat: the reply for a list of messages (default: echo the last user message)
        self.reply_for = lambda messages: f"Echo: {messages[-1]['content']}"
        self.json_mode = True  # False: refuse `response_format`, as some servers do
        # False: no files or fine-tuning routes at all, as Ollama's OpenAI compatibility
        # (docs.ollama.com/api/openai-compatibility, 2026): those paths answer 404
        self.fine_tuning = True
        self.response_formats: list[Any] = []  # every response_format a request asked for
        self.drop_stream_after: int | None = None  # close the connection after N chunks
        self.malformed_stream_after: int | None = None  # send a broken chunk after N chunks
        self.chunk_delay = 0.0
        # fine-tuning state: advanced by the test with advance_job / fail_job
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}  # oldest first
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.total_steps = 10
        self.checkpoint_every = 5  # a checkpoint (and a validation loss) every N steps
        self.auto_advance = False  # each job status read moves the job one step on
        self._counter = 0
        self._errors: list[InjectedError] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = self._handle_error  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def _handle_error(request: Any, client_address: Any) -> None:
        """A client that hangs up (a stopped stream, a closed keep-alive) is normal here."""
        import sys
        import traceback

        if not isinstance(sys.exc_info()[1], ConnectionError):
            traceback.print_exc()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def client(self, api_key: str | None = None) -> Any:
        """A real `openai.AsyncOpenAI` on this server (its key unless told), no SDK retries."""
        import openai

        return openai.AsyncOpenAI(
            api_key=api_key or self.api_key, base_url=self.base_url, max_retries=0
        )

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self,
        status: int,
        message: str = "injected",
        *,
        type_: str = "server_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            self._errors.append(
                InjectedError(status, error_body(message, type_, code), headers or {})
            )

    # ---- routing -------------------------------------------------------------------------

    # ---- fine-tuning -----------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:06d}"

    def _event(
        self,
        job_id: str,
        message: str,
        type_: str = "message",
        data: dict[str, Any] | None = None,
        level: str = "info",
    ) -> None:
        self.events[job_id].append(
            {
                "id": self._id("ftevent"),
                "object": "fine_tuning.job.event",
                "created_at": 1700000000 + self._counter,
                "level": level,
                "message": message,
                "type": type_,
                "data": data or {},
            }
        )

    def advance_job(self, job_id: str, steps: int = 1) -> None:
        """Move a job along: validating_files → queued → running (metrics) → succeeded."""
        with self._lock:
            job = self.jobs[job_id]
            for _ in range(steps):
                status = job["status"]
                if status == "validating_files":
                    job["status"] = "queued"
                    self._event(job_id, "Files validated, moving job to queued state")
                elif status == "queued":
                    job["status"] = "running"
                    job["_step"] = 0
                    self._event(job_id, "Fine-tuning job started")
                elif status == "running" and job["_step"] < self.total_steps:
                    job["_step"] += 1
                    step = job["_step"]
                    data = {
                        "step": step,
                        "total_steps": self.total_steps,
                        "train_loss": round(2.0 / step, 4),
                        "train_mean_token_accuracy": 0.5,
                    }
                    if step % self.checkpoint_every == 0:
                        data["valid_loss"] = round(2.2 / step, 4)
                    self._event(
                        job_id,
                        f"Step {step}/{self.total_steps}: training loss={data['train_loss']}",
                        "metrics",
                        data,
                    )
                    if step % self.checkpoint_every == 0:
                        self.checkpoints[job_id].append(
                            {
                                "id": self._id("ftckpt"),
                                "object": "fine_tuning.job.checkpoint",
                                "created_at": 1700000000,
                                "step_number": step,
                                "fine_tuned_model_checkpoint": f"ft:{job['model']}:ckpt-{step}",
                                "fine_tuning_job_id": job_id,
                                "metrics": data,
                            }
                        )
                elif status == "running":
                    job["status"] = "succeeded"
                    suffix = job.get("user_provided_suffix") or "persona"
                    job["fine_tuned_model"] = f"ft:{job['model']}:fake-org:{suffix}:abc123"
                    job["trained_tokens"] = 12345
                    job["finished_at"] = 1700009999
                    self._event(job_id, "The job has successfully completed")

    def fail_job(self, job_id: str, code: str, message: str) -> None:
        with self._lock:
            job = self.jobs[job_id]
            job["status"] = "failed"
            job["error"] = {"code": code, "message": message, "param": None}
            self._event(job_id, message, level="error")

    def _upload(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        from email.parser import BytesParser
        from email.policy import default

        message = BytesParser(policy=default).parsebytes(
            b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        purpose = (fields.get("purpose") or (None, b""))[1].decode()
        filename, data = fields.get("file") or (None, None)
        if purpose != "fine-tune" or data is None:
            return 400, error_body(
                "purpose must be fine-tune and a file is required", "invalid_request_error"
            )
        text = data.decode("utf-8-sig", "replace")  # Azure's files carry a byte-order mark
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                parsed = json.loads(line)
                assert isinstance(parsed, dict) and isinstance(parsed.get("messages"), list)
            except (json.JSONDecodeError, AssertionError):
                return 400, error_body(
                    f"Invalid file format for Fine-Tuning API. Line {number} "
                    "is not a JSON object with messages.",
                    "invalid_request_error",
                    "invalid_file_format",
                )
        file_id = self._id("file")
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": 1700000000,
            "filename": filename,
            "purpose": "fine-tune",
            "status": "processed",
            "_data": data,
        }
        return 200, {k: v for k, v in self.files[file_id].items() if not k.startswith("_")}

    def _create_job(
        self, body: bytes, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = json.loads(body)
        if request.get("training_file") not in self.files:
            return 400, error_body("invalid training_file", "invalid_request_error")
        training_type = request.get("trainingType")
        if training_type is not None and (
            str(training_type).lower() not in AZURE_TRAINING_TYPES
            or (query or {}).get("api-version", "") < "2025-04-01-preview"
        ):
            return 400, error_body(f"Invalid trainingType {training_type!r}", "invalid_request")
        job_id = self._id("ftjob")
        method = request.get("method") or {"type": "supervised", "supervised": {}}
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": 1700000000,
            "model": request["model"],
            "status": "validating_files",
            "fine_tuned_model": None,
            "training_file": request["training_file"],
            "validation_file": request.get("validation_file"),
            "hyperparameters": (method.get("supervised") or {}).get("hyperparameters", {}),
            "method": method,
            "trained_tokens": None,
            "error": None,
            "seed": request.get("seed", 42),
            "user_provided_suffix": request.get("suffix"),
            "estimated_finish": 1700005000,
            "finished_at": None,
            "result_files": [],
            "organization_id": "org-fake",
            "_training_type": training_type,
        }
        self.jobs[job_id] = job
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return 200, self._public(job)

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _fine_tuning(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        parts = path.split("/")  # ['', 'v1', 'fine_tuning', 'jobs', id, action]
        if not self.fine_tuning and parts[2:3] in (["files"], ["fine_tuning"]):
            return 404, error_body("404 page not found", "not_found")
        if method == "POST" and path == "/v1/files":
            return self._upload(headers, body)
        if method == "GET" and len(parts) == 4 and parts[2] == "files":
            file = self.files.get(parts[3])
            return (
                (200, {k: v for k, v in file.items() if not k.startswith("_")})
                if file
                else (404, error_body("No such File object", "invalid_request_error"))
            )
        if not path.startswith("/v1/fine_tuning/jobs"):
            return None
        if method == "POST" and len(parts) == 4:
            return self._create_job(body, query)
        if method == "GET" and len(parts) == 4:
            data = [self._public(j) for j in reversed(list(self.jobs.values()))]
            return 200, {"object": "list", "data": data, "has_more": False}
        job = self.jobs.get(parts[4]) if len(parts) > 4 else None
        if job is None:
            return 404, error_body("No such fine-tuning job", "invalid_request_error")
        if method == "GET" and len(parts) == 5:
            if self.auto_advance and job["status"] not in ("succeeded", "failed", "cancelled"):
                self._lock.release()  # advance_job takes the lock itself
                try:
                    self.advance_job(job["id"])
                finally:
                    self._lock.acquire()
            return 200, self._public(job)
        if method == "POST" and parts[5:] == ["cancel"]:
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return 400, error_body("Job has already completed", "invalid_request_error")
            job["status"] = "cancelled"
            self._event(job["id"], "Fine-tuning job cancelled")
            return 200, self._public(job)
        if method == "GET" and parts[5:] == ["events"]:
            newest_first = list(reversed(self.events[job["id"]]))
            if "after" in query:
                ids = [e["id"] for e in newest_first]
                start = ids.index(query["after"]) + 1 if query["after"] in ids else len(ids)
                newest_first = newest_first[start:]
            limit = int(query.get("limit", 20))
            return 200, {
                "object": "list",
                "data": newest_first[:limit],
                "has_more": len(newest_first) > limit,
            }
        if method == "GET" and parts[5:] == ["checkpoints"]:
            data = list(reversed(self.checkpoints[job["id"]]))
            return 200, {
                "object": "list",
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        return None

    def alias_path(self, path: str) -> str:
        """Another provider's paths onto these routes (subclasses add theirs)."""
        return self.azure_path(path)

    @staticmethod
    def azure_path(path: str) -> str:
        """Azure OpenAI's paths (`AsyncAzureOpenAI` on this server as the endpoint) onto the
        same routes: `/openai/files` is `/v1/files`, and a deployment's chat is the chat."""
        if not path.startswith("/openai/"):
            return path
        rest = path.removeprefix("/openai/")
        if rest.startswith("deployments/") and rest.endswith("/chat/completions"):
            return "/v1/chat/completions"
        return "/v1/" + rest

    @property
    def azure_endpoint(self) -> str:
        return self.base_url.removesuffix("/v1")

    def chat_request(self, body: bytes) -> tuple[int, dict[str, Any]] | dict[str, Any]:
        try:
            request = json.loads(body)
        except json.JSONDecodeError:
            return 400, error_body("We could not parse the JSON body.", "invalid_request_error")
        if request.get("model") not in self.models:
            return 404, error_body(
                f"The model `{request.get('model')}` does not exist or you do "
                "not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, error_body("messages is required", "invalid_request_error")
        if "response_format" in request:
            self.response_formats.append(request["response_format"])
            if not self.json_mode:  # a server without it (older local servers) refuses it
                return 400, error_body(
                    "Unrecognized request argument supplied: response_format",
                    "invalid_request_error",
                )
            # OpenAI's rule for JSON mode (API reference, Chat → response_format, read
            # 2026-12-02): the messages must ask for JSON
            if "json" not in json.dumps(messages).lower():
                return 400, error_body(
                    "'messages' must contain the word 'json' in some form, to use "
                    "'response_format' of type 'json_object'.",
                    "invalid_request_error",
                )
        return request

    def _route(
        self,
        method: str,
        path: str,
        body: bytes,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            answer = self._fine_tuning(method, path, query or {}, body, headers or {})
        if answer is not None:
            return answer
        if method == "POST" and path == "/v1/chat/completions":
            request = self.chat_request(body)
            if isinstance(request, tuple):
                return request
            text = self.reply_for(request["messages"])
            words = len(text.split())
            return 200, {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1700000000,
                "model": request["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": words,
                    "total_tokens": 10 + words,
                },
            }
        if method == "GET" and path == "/v1/models":
            return 200, {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                    for m in self.models
                ],
            }
        return 404, error_body(
            f"Unknown request URL: {method} {path}", "invalid_request_error", "unknown_url"
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _respond(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, raw_query = self.path.partition("?")
                from urllib.parse import parse_qsl

                path = fake.alias_path(path)
                query = dict(parse_qsl(raw_query))
                with fake._lock:
                    fake.requests.append(
                        RecordedRequest(
                            self.command,
                            path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    injected = fake._errors.pop(0) if fake._errors else None
                if injected is not None:
                    self._respond(injected.status, injected.body, injected.headers)
                    return
                if fake.api_key not in (
                    (self.headers.get("authorization") or "").removeprefix("Bearer "),
                    self.headers.get("api-key"),  # Azure OpenAI's header
                ):
                    self._respond(
                        401,
                        error_body(
                            "Incorrect API key provided.",
                            "invalid_request_error",
                            "invalid_api_key",
                        ),
                    )
                    return
                if self.command == "POST" and path == "/v1/chat/completions":
                    request = fake.chat_request(body)
                    if isinstance(request, dict) and request.get("stream"):
                        self._stream(request)
                        return
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._respond(*fake._route(self.command, path, body, query, headers))

            def _stream(self, request: dict[str, Any]) -> None:
                try:
                    self._send_events(request)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading: fine

            def _send_events(self, request: dict[str, Any]) -> None:
                """Server-Sent Events: a chunk per word, the finish, usage, then [DONE]."""
                import time

                text = fake.reply_for(request["messages"])
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip(" ")
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": request["model"],
                }

                def send(payload: dict[str, Any] | str) -> None:
                    data = payload if isinstance(payload, str) else json.dumps(payload)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()

                send(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None,
                            }
                        ],
                    }
                )
                for n, piece in enumerate(pieces):
                    if fake.malformed_stream_after is not None and n >= fake.malformed_stream_after:
                        send('{"id": "broken", "choices": [{"delta": {"content": "x"')
                        return  # a chunk that is not JSON, then nothing
                    if fake.drop_stream_after is not None and n >= fake.drop_stream_after:
                        self.close_connection = True
                        self.connection.shutdown(2)  # the server goes away mid-reply
                        return
                    if fake.chunk_delay:
                        time.sleep(fake.chunk_delay)
                    send(
                        {
                            **base,
                            "choices": [
                                {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                            ],
                        }
                    )
                send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (request.get("stream_options") or {}).get("include_usage"):
                    send(
                        {
                            **base,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": 10,
                                "completion_tokens": len(pieces),
                                "total_tokens": 10 + len(pieces),
                            },
                        }
                    )
                send("[DONE]")
                self.close_connection = True

            do_GET = do_POST = do_DELETE = _serve

        return Handler
