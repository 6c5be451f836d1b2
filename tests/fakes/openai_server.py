"""A local, stateful stand-in for the OpenAI HTTP API, driven by the real `openai` client.

Start it with `FakeOpenAI()` as a context manager; point a client at `server.base_url`.
Routes grow with the features that need them (chat, files, fine-tuning); errors are injected
with `fail_next(status, ...)` and every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
        self.drop_stream_after: int | None = None  # close the connection after N chunks
        self.chunk_delay = 0.0
        self._errors: list[InjectedError] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

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
        return request

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
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
                path = self.path.split("?", 1)[0]
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
                if self.headers.get("authorization") != f"Bearer {fake.api_key}":
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
                self._respond(*fake._route(self.command, path, body))

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
