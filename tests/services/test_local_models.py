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
    # what a creator may type in the model box: a name no file system takes is no model
    assert not model_is_here("x" * 5000) and not model_is_here("a\0b")


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
    assert "the next try fetches only the rest" in error.value.hint
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


TINY_FILES = {
    "config.json": b'{"model_type": "llama"}',
    "model.safetensors": bytes(range(256)) * 2000,  # 512,000 bytes
    "tokenizer.json": b'{"version": "1.0"}',
    "README.md": b"# not a chat model's file: never downloaded",
}


def _hub_env(monkeypatch, tmp_path: Path, hub) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def test_a_model_downloads_into_the_hub_cache_with_its_progress(monkeypatch, tmp_path) -> None:
    """Through the real huggingface_hub client, against a local Hub: a download the network
    keeps breaking stops with a plain message and keeps the files that arrived whole; the next
    one fetches only the rest, the chat model's files land in the standard cache, progress
    ends at the total, and a third download asks for no file again."""
    pytest.importorskip("huggingface_hub")
    from tests.fakes.hub_server import FakeHub

    with FakeHub() as hub:
        hub.add("tiny/rhea-chat", TINY_FILES)
        hub.fail_file = {"model.safetensors": 50}  # more drops than the client retries
        _hub_env(monkeypatch, tmp_path, hub)
        assert not model_is_here("tiny/rhea-chat")
        with pytest.raises(TrainingError, match="The download stopped") as stopped:
            asyncio.run(download_model("tiny/rhea-chat"))
        assert "the next try fetches only the rest" in stopped.value.hint
        assert not model_is_here("tiny/rhea-chat")
        hub.fail_file = {}
        hub.requests.clear()
        seen: list[tuple[int, int]] = []
        folder = Path(asyncio.run(download_model("tiny/rhea-chat", lambda *p: seen.append(p))))
        assert sorted(p.name for p in folder.iterdir()) == [
            "config.json", "model.safetensors", "tokenizer.json"
        ]  # fmt: skip
        assert (folder / "model.safetensors").read_bytes() == TINY_FILES["model.safetensors"]
        total = sum(len(v) for k, v in TINY_FILES.items() if k != "README.md")
        assert seen[0][1] == total and seen[-1] == (total, total)
        assert [d for d, _t in seen] == sorted(d for d, _t in seen)  # never goes back
        fetched = [p.rsplit("/", 1)[1] for m, p in hub.requests if m == "GET" and "/resolve/" in p]
        assert fetched == ["model.safetensors"]  # the two small files had arrived whole
        assert model_is_here("tiny/rhea-chat")
        fetched = [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
        asyncio.run(download_model("tiny/rhea-chat"))
        assert [p for m, p in hub.requests if m == "GET" and "/resolve/" in p] == fetched


def test_a_gated_model_needs_its_token_and_a_missing_one_says_so(monkeypatch, tmp_path) -> None:
    pytest.importorskip("huggingface_hub")
    from persona_studio.core.local_training import GATED_HELP
    from tests.fakes.hub_server import FakeHub

    with FakeHub() as hub:
        hub.add("meta/gated-chat", TINY_FILES, token="hf_accepted")
        _hub_env(monkeypatch, tmp_path, hub)
        with pytest.raises(TrainingError) as refused:
            asyncio.run(download_model("meta/gated-chat"))
        assert "accept its licence first" in refused.value.message
        assert refused.value.hint == GATED_HELP
        folder = asyncio.run(download_model("meta/gated-chat", token="hf_accepted"))
        assert (Path(folder) / "config.json").exists()
        with pytest.raises(TrainingError, match="There is no model “nobody/nothing”"):
            asyncio.run(download_model("nobody/nothing"))


def test_a_job_that_failed_here_says_why_and_what_next_without_a_provider(tmp_path) -> None:
    """The worker's end line (its own plain words and next step, as `plain_failure` writes
    them) reaches the creator whole, with where its log is; "the provider" is not named."""
    import json

    from persona_studio.services.training.openai_api import explain_job_error
    from persona_studio.worker.train import Reporter, plain_failure

    folder = tmp_path / "jobs" / "local-1"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"base_model": "Qwen/Qwen3-0.6B"}))
    report = Reporter(folder)
    report("status", status="running", message="Starting", pid=0)
    report("end", status="failed", **plain_failure(MemoryError()))
    report.close()
    update = LocalBackend(tmp_path / "jobs")._status("local-1", None)
    assert update.status == "failed"
    said = explain_job_error(update.error)
    assert said == (
        "This computer ran out of memory while training. Choose a smaller model, or lower the "
        f"batch size, then resume. {local.LOG_HINT}"
    )
    # a worker that ended without its end line (killed, or a crash in C): resume, and the log
    (folder / "progress.jsonl").write_text('{"type": "status", "status": "running"}\n')
    said = explain_job_error(LocalBackend(tmp_path / "jobs")._status("local-1", None).error)
    assert said.startswith("Training stopped unexpectedly: the training process ended")
    assert "Resume it to carry on from the last checkpoint" in said and "worker.log" in said
    assert "provider" not in said
