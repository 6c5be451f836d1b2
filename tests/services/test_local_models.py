"""Models on this computer: found in a folder or in the Hugging Face cache without importing
huggingface_hub, the launch refused in plain words when the model is not here or the extra is
missing, and a download that cannot reach the Hub says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from persona_studio.services.training import JobSpec, TrainingError, local
from persona_studio.services.training.local import LocalBackend, download_model, model_is_here


def test_a_model_is_here_in_a_folder_or_complete_in_the_hub_cache(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert not model_is_here(str(folder))
    (folder / "config.json").write_text("{}")
    assert model_is_here(str(folder))

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snapshot = tmp_path / "hf" / "hub" / "models--Qwen--Qwen3-0.6B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert not model_is_here("Qwen/Qwen3-0.6B")  # the weights are still downloading
    (snapshot / "model.safetensors").write_bytes(b"")
    assert model_is_here("Qwen/Qwen3-0.6B")
    assert not model_is_here("Qwen/Qwen3-1.7B") and not model_is_here("no-slash")


def test_the_launch_is_refused_before_anything_starts(tmp_path, monkeypatch) -> None:
    backend = LocalBackend(tmp_path / "jobs")
    monkeypatch.setattr(local, "missing_packages", lambda: [])
    problems = backend.check(JobSpec("Qwen/Qwen3-0.6B"), None).problems
    assert problems and "is not on this computer yet" in problems[0]
    assert "models download" in problems[0]
    monkeypatch.setattr(local, "missing_packages", lambda: ["torch"])
    problems = backend.check(JobSpec(str(tmp_path)), None).problems
    assert problems == [
        "Training on this computer needs torch. Install it with: pip install "
        "'persona-studio[local]'"
    ]
    with pytest.raises(TrainingError, match="is gone from this computer"):
        asyncio.run(backend.status("local-20260101-000000-abcdef", None))


def test_a_download_that_cannot_reach_the_hub_says_so(monkeypatch) -> None:
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    seen: list[tuple[int, int]] = []
    with pytest.raises(TrainingError) as error:
        asyncio.run(download_model("Qwen/Qwen3-0.6B", lambda d, t: seen.append((d, t))))
    assert "The download stopped" in error.value.message
    assert "resumes where it stopped" in error.value.hint
    assert seen == []


def test_cancelling_a_download_stops_its_process(monkeypatch, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    started = tmp_path / "started"
    script = tmp_path / "slow.py"  # stands in for the worker: says it started, then waits
    script.write_text(
        "import os, time, pathlib\n"
        f"pathlib.Path({str(started)!r}).write_text(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )

    async def run() -> None:
        original = asyncio.create_subprocess_exec

        async def fake_exec(*args, **kwargs):
            return await original(args[0], str(script), **kwargs)

        monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
        task = asyncio.ensure_future(download_model("Qwen/Qwen3-0.6B"))
        for _ in range(200):
            if started.exists():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert not local.pid_alive(int(started.read_text()))  # stopped at once, not in 60 s
