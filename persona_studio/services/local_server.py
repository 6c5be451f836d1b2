"""The chat server for models on this computer: `transformers serve`, started by the app on
127.0.0.1 the first time a local model is asked, stopped when the app ends.

Why `transformers serve`: it comes with the `local` extra that trains (no second install), it
runs on CUDA, Apple silicon and plain CPUs, it speaks OpenAI's chat API with streaming (so the
chat, the voice check and generation use the same `openai` client as for every provider), and
it loads any model folder on demand: the base model and the trained (merged) model answer from
one server, side by side. llama.cpp, Ollama or LM Studio can run the exported folder too
(an openai-compatible profile), but they are not always installed.

Only this process's server is used: one per app, on a port the OS picks, never reachable from
another machine.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from persona_studio.core.errors import UserFacingError
from persona_studio.services.training.local import install_hint, missing_packages, worker_env

START_TIMEOUT = 120.0  # seconds: the first start imports torch and transformers


class LocalServerError(UserFacingError):
    """The local chat server could not start."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_model_of(model: str) -> str:
    """The base model a model trained here started from (its job folder says), else ""."""
    job = Path(model).parent / "job.json"
    try:
        return str(json.loads(job.read_text(encoding="utf-8"))["base_model"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class LocalServer:
    """One `transformers serve` process; `address()` starts it when needed."""

    def __init__(self, python: str = sys.executable, log: Path | None = None) -> None:
        self.python = python
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def address(self) -> str:
        """The server's /v1 address, started (and waited for) if it is not running."""
        async with self._lock:
            if not self.running:
                await self._start()
            return f"http://127.0.0.1:{self.port}/v1"

    async def _start(self) -> None:
        missing = missing_packages() + [n for n in ("fastapi", "uvicorn") if not _installed(n)]
        if missing:
            raise LocalServerError(
                f"Chatting with a model on this computer needs {', '.join(missing)}.",
                install_hint(),
            )
        self.port = free_port()
        args = [
            self.python, "-m", "transformers.cli.transformers", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--model-timeout", "600",
        ]  # fmt: skip
        log = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=worker_env(),
            )  # fmt: skip
        finally:
            if self.log:
                log.close()  # type: ignore[union-attr]
        atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalServerError(
                    "The local chat server stopped as it started.",
                    f"See {self.log} for why." if self.log else "Try again.",
                )
            if await asyncio.to_thread(_healthy, self.port):
                return
            await asyncio.sleep(0.3)
        self.stop()
        raise LocalServerError(
            "The local chat server did not start within two minutes.", "Try again."
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
        self.process = None


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


_server: LocalServer | None = None


def local_server() -> LocalServer:
    """This process's server (created on first use; it starts on the first `address()`)."""
    global _server
    if _server is None:
        from persona_studio.core.config import data_dir

        folder = data_dir() / "local-training"
        folder.mkdir(parents=True, exist_ok=True)
        _server = LocalServer(log=folder / "chat-server.log")
    return _server


def stop_local_server() -> None:
    if _server is not None:
        _server.stop()
