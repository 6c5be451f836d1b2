"""Training on this computer: LoRA fine-tuning of a small open model in a worker process.

Each job is a folder under the app's data folder (`local-training/JOB_ID`): `job.json` (what
to train), the training files, `progress.jsonl` (the worker's lines, read by
`core.local_training.read_progress`), `worker.log`, the checkpoints, and at the end `adapter/`
(the LoRA weights) and `model/` (the adapter merged into its base: what the chat serves and what
other tools can run). The worker is started in its own session, so it goes on when the app
closes; the next look reattaches to it by its folder. A worker that died without its last line
is a failed job with a plain message, and `resume` carries on from the newest checkpoint.

Torch and friends are never imported here: the worker (`persona_studio.worker.train`) does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_studio.core.local_training import (
    AUTO_LEARNING_RATE,
    Hardware,
    auto_rank,
    fit,
    model_named,
    read_progress,
)
from persona_studio.core.records import ChatTarget
from persona_studio.core.validation import default_epochs
from persona_studio.services.training.backend import (
    BackendCheck,
    Capabilities,
    JobSpec,
    JobUpdate,
    TrainingError,
    UploadedFiles,
)

if TYPE_CHECKING:
    from persona_studio.core.records import JobRecord
    from persona_studio.core.validation import PreflightReport

LOCAL_PROFILE = "local"
NEEDED = ("torch", "transformers", "peft", "trl", "datasets")
INSTALL_HINT = "Install it with: pip install 'persona-studio[local]'"
CANCEL_WAIT = 60.0  # seconds the worker gets to save a checkpoint before it is stopped
# where a failed job's details are (the Train tab's "Show the folder" beside it opens it; the
# CLI has no such button: a service names none)
LOG_HINT = "Its log (worker.log, in the job's folder) says more."


FROZEN_HINT = (
    "The desktop build does not include it yet: install Persona Studio with pip, as the README "
    "says under “Train on this computer”."
)


def missing_packages() -> list[str]:
    """The `local` extra's packages that are not installed (found without importing them).
    The packaged app has none of them, and no Python to start a worker with."""
    if getattr(sys, "frozen", False):
        return list(NEEDED)
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def install_hint() -> str:
    return FROZEN_HINT if getattr(sys, "frozen", False) else INSTALL_HINT


def worker_env() -> dict[str, str]:
    """The worker never downloads: a model comes from a folder or the Hub cache. A hard crash
    of it (torch's or a driver's C code) writes every thread's stack to its log
    (`PYTHONFAULTHANDLER`: stderr is `worker.log`)."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONFAULTHANDLER": "1",
    }


def hub_cache() -> Path:
    """The Hugging Face cache folder, found as huggingface_hub finds it (without importing it:
    the Train tab asks on the UI thread)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(home).expanduser() / "hub"


def model_is_here(name: str) -> bool:
    """A folder with a model, or a Hub model already downloaded into the cache. `name` is
    what the creator typed: a name no file system takes (too long, a NUL) is no model here."""
    try:
        folder = Path(name).expanduser()
        if folder.is_dir():
            return (folder / "config.json").is_file()
        if name.count("/") != 1:
            return False
        snapshots = hub_cache() / f"models--{name.replace('/', '--')}" / "snapshots"
        # a file appears in a snapshot only once it is complete (partial ones wait in blobs/)
        return any(snapshots.glob("*/config.json")) and any(snapshots.glob("*/*.safetensors"))
    except (OSError, ValueError):
        return False


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a finished child of this process stays a zombie until it is reaped
    with contextlib.suppress(ChildProcessError, OSError):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


class LocalBackend:
    """Jobs are folders; the worker writes, this reads."""

    kind = "local"
    capabilities = Capabilities(
        lora_rank=True,
        price_estimate=False,
        auto_epochs=False,
        checkpoints=True,
        resume=True,
    )

    def __init__(
        self,
        root: Path,
        *,
        profile: str = LOCAL_PROFILE,
        python: str = sys.executable,
        hardware: Hardware | None = None,
    ) -> None:
        self.root = root
        self.profile = profile
        self.python = python
        self.hardware = hardware

    # ---- before a launch -----------------------------------------------------------------

    def check(self, spec: JobSpec, report: PreflightReport | None) -> BackendCheck:
        missing = missing_packages()
        if missing:
            return BackendCheck(
                [f"Training on this computer needs {', '.join(missing)}. {install_hint()}"]
            )
        if not model_is_here(spec.base_model):
            return BackendCheck(
                [
                    f"The model “{spec.base_model}” is not on this computer yet. Download it "
                    "first (Train tab → Download, or `persona-studio models download NAME`), "
                    "or choose a model folder."
                ]
            )
        problems = []
        known = model_named(spec.base_model)
        if known is not None and self.hardware is not None and report is not None:
            tokens = report.billed_tokens or report.trained_tokens
            verdict = fit(known.params_b, tokens, self.hardware)
            if not verdict.fits:
                problems.append(verdict.reason)
        return BackendCheck(problems, estimated_cost=0.0)

    async def models(self) -> list[str]:
        return []

    # ---- a job ---------------------------------------------------------------------------

    async def upload(self, name: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self.root / "files" / f"{digest}-{name}"

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                partial = path.with_suffix(".partial")
                partial.write_bytes(data)
                partial.replace(path)

        await asyncio.to_thread(write)
        return str(path)

    async def create(self, spec: JobSpec, files: UploadedFiles) -> JobUpdate:
        job_id = f"local-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        folder = self.root / job_id
        train = Path(files.training_file)
        count = sum(1 for line in train.read_bytes().splitlines() if line.strip())
        job = {
            "base_model": str(Path(spec.base_model).expanduser())
            if Path(spec.base_model).expanduser().is_dir()
            else spec.base_model,
            "train_file": "train.jsonl",
            "validation_file": "validation.jsonl" if files.validation_file else None,
            "epochs": spec.n_epochs or default_epochs(count),
            "batch_size": spec.batch_size or "auto",  # the worker decides (`auto_batch`)
            "learning_rate": AUTO_LEARNING_RATE * (spec.learning_rate_multiplier or 1.0),
            "lora_rank": spec.lora_rank or auto_rank(count),
            "seed": spec.seed if spec.seed is not None else 42,
            "suffix": spec.suffix,
            "examples": count,
        }

        def prepare() -> None:
            folder.mkdir(parents=True)
            (folder / "train.jsonl").write_bytes(train.read_bytes())
            if files.validation_file:
                (folder / "validation.jsonl").write_bytes(Path(files.validation_file).read_bytes())
            (folder / "job.json").write_text(json.dumps(job, indent=2), encoding="utf-8")

        await asyncio.to_thread(prepare)
        await self._start(folder, resume=False)
        return JobUpdate(
            id=job_id,
            status="queued",
            base_model=spec.base_model,
            details={
                "hyperparameters": hyperparameters(job),
                "training_file": files.training_file,
                "user_provided_suffix": spec.suffix or None,
            },
        )

    async def _start(self, folder: Path, *, resume: bool) -> None:
        args = [self.python, "-m", "persona_studio.worker.train", str(folder)]
        if resume:
            args.append("--resume")

        def start() -> int:
            with (folder / "worker.log").open("ab") as log:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=worker_env(),
                    start_new_session=True,  # goes on when the app closes; stopped as a group
                )
            (folder / "worker.pid").write_text(str(process.pid), encoding="utf-8")
            return process.pid

        await asyncio.to_thread(start)

    def _folder(self, job_id: str) -> Path:
        folder = self.root / job_id
        if "/" in job_id or "\\" in job_id or not (folder / "job.json").is_file():
            raise TrainingError(
                f"The training folder of job “{job_id}” is gone from this computer.",
                f"It was in {self.root}. Start a new training.",
            )
        return folder

    def _pid(self, folder: Path) -> int | None:
        try:
            return int((folder / "worker.pid").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    async def status(self, job_id: str, last_event: str | None) -> JobUpdate:
        return await asyncio.to_thread(self._status, job_id, last_event)

    def _status(self, job_id: str, last_event: str | None) -> JobUpdate:
        folder = self._folder(job_id)
        start = 0
        if last_event and last_event.startswith("line-") and last_event[5:].isdigit():
            start = int(last_event[5:])
        try:
            text = (folder / "progress.jsonl").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        progress = read_progress(text, start)
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        update = JobUpdate(
            id=job_id,
            status=progress.status if text else "queued",
            base_model=job["base_model"],
            metrics=progress.metrics,
            events=progress.events,
            details={"hyperparameters": hyperparameters(job)},  # the batch, once decided
        )
        if progress.end is None and not pid_alive(self._pid(folder)):
            whole = read_progress(text)  # the end line may be before `start`
            if whole.end is None:
                update.status = "failed"
                update.error = {
                    "code": "worker_stopped",
                    "message": "Training stopped unexpectedly: the training process ended "
                    "without finishing.",
                    "next_step": "Resume it to carry on from the last checkpoint. " + LOG_HINT,
                }
                update.events.append(
                    {
                        "id": f"stopped-{len(text)}",
                        "message": update.error["message"],
                        "level": "error",
                    }
                )
            else:
                update.status = whole.status
        end = progress.end
        if end is not None and end["status"] == "failed":
            # the worker's own next step ("Choose a smaller model…"), and where its log is
            next_step = str(end.get("next_step") or "")
            update.error = {
                "code": "training_failed",
                "message": str(end.get("message") or ""),
                "next_step": f"{next_step} {LOG_HINT}".strip(),
            }
        if end is not None and end["status"] == "succeeded":
            update.fine_tuned_model = end.get("model") or None
            update.details["trained_tokens"] = end.get("trained_tokens")
        return update

    async def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        folder = self._folder(job_id)
        found = sorted(
            (p for p in (folder / "checkpoints").glob("checkpoint-*") if p.name[11:].isdigit()),
            key=lambda p: -int(p.name[11:]),
        )
        return [{"step": int(p.name[11:]), "model": str(p)} for p in found]

    async def cancel(self, job_id: str) -> JobUpdate:
        """Ask the worker to stop after saving a checkpoint; stop it if it does not."""
        folder = self._folder(job_id)
        (folder / "cancel").touch()
        pid = self._pid(folder)
        deadline = time.monotonic() + CANCEL_WAIT
        while pid_alive(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if pid_alive(pid):
            assert pid is not None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        update = await self.status(job_id, None)
        if update.status != "succeeded":  # finished before it saw the flag: keep the model
            update.status = "cancelled"
            update.error = None
        update.metrics, update.events = [], []
        return update

    async def resume(self, job_id: str) -> JobUpdate:
        """Start the worker again on this job; it carries on from the newest checkpoint."""
        folder = self._folder(job_id)
        if pid_alive(self._pid(folder)):
            raise TrainingError("This training is still running.", "Wait for it, or cancel it.")
        with contextlib.suppress(FileNotFoundError):
            (folder / "cancel").unlink()
        with (folder / "progress.jsonl").open("a", encoding="utf-8") as progress:
            progress.write(json.dumps({"type": "resume", "t": round(time.time(), 3)}) + "\n")
        await self._start(folder, resume=True)
        return JobUpdate(id=job_id, status="queued")

    async def deploy(self, record: JobRecord) -> ChatTarget:
        """The merged model folder answers through the local chat server."""
        model = record.fine_tuned_model or ""
        if not model or not (Path(model) / "config.json").is_file():
            raise TrainingError(
                "The trained model folder is missing.",
                "Train again, or use the adapter folder from the job's folder.",
            )
        return ChatTarget(self.profile, model)

    async def aclose(self) -> None:
        return None


def hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job.get(k) for k in ("epochs", "batch_size", "learning_rate", "lora_rank")}


HARDWARE_FILE = "hardware.json"


def saved_hardware(root: Path) -> Hardware | None:
    """The last hardware check's findings, if one ran on this computer."""
    try:
        data = json.loads((root / HARDWARE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Hardware.from_json(data) if isinstance(data, dict) else None


async def check_hardware(
    root: Path, *, measure: bool = True, python: str = sys.executable
) -> Hardware:
    """Run the hardware check in a worker process (it imports torch, and with `measure` it
    trains a small random model for a few seconds); the result is kept for the next time."""
    missing = missing_packages()
    if missing:
        return Hardware(
            kind="cpu",
            name="",
            memory_gb=0.0,
            ram_gb=0.0,
            missing=f"Training on this computer needs {', '.join(missing)}. {install_hint()}",
        )
    args = [python, "-m", "persona_studio.worker.probe", *(["--measure"] if measure else [])]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=worker_env(),
    )
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    try:
        data = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise TrainingError(
            f"The hardware check failed: {tail[0]}", "Try again; if it fails again, report it."
        ) from exc
    earlier = saved_hardware(root)
    if not measure and earlier is not None and earlier.kind == data.get("kind"):
        data.setdefault("flops", earlier.flops)  # a quick look keeps the last measurement
    root.mkdir(parents=True, exist_ok=True)
    from persona_studio.core.config import atomic_write_bytes

    atomic_write_bytes(root / HARDWARE_FILE, json.dumps(data).encode("utf-8"))
    return Hardware.from_json(data)


HF_TOKEN_ACCOUNT = "huggingface"  # the keyring entry of the creator's Hugging Face read token


async def download_model(
    repo: str,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    *,
    token: str = "",
    python: str = sys.executable,
) -> str:
    """Download a model into the Hugging Face cache in a worker process; returns its folder.
    Cancelling the task stops the download at once (the files that arrived whole are kept)."""
    if importlib.util.find_spec("huggingface_hub") is None:
        raise TrainingError("Downloading models needs huggingface_hub.", install_hint())
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    if token:
        env["HF_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "persona_studio.worker.download",
        repo,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    end: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if "end" in line:
                end = line
            elif isinstance(line.get("done"), int):
                on_progress(line["done"], int(line.get("total") or 0))
        await process.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if end.get("end") == "succeeded":
        return str(end["path"])
    message = str(end.get("message") or "The download stopped unexpectedly.")
    if end.get("gated"):
        from persona_studio.core.local_training import GATED_HELP

        raise TrainingError(message, GATED_HELP)
    raise TrainingError(
        message,
        "Check the connection and try again: the files that arrived whole are kept, and the "
        "next try fetches only the rest.",
    )
