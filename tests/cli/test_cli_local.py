"""The command line trains on this computer with no GUI and no account: `models local`, then
`train --profile local --wait`, then `chat --profile local --mode fine-tuned`, then `jobs`.
Needs the `local` extra (CI installs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.cli import main
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from tests.fakes.llama_cpp import FAKE_LLAMA_CPP
from tests.fakes.tiny_model import QA, build, require_local_extra

require_local_extra()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_local_train_chat_and_jobs_headless(tmp_path: Path, capsys) -> None:
    from persona_studio.services.local_server import stop_local_server

    path = tmp_path / "rhea.persona"
    with Project.create(path, Persona(name="Rhea")) as project:
        project.set_test_share(0.0)
        project.add_examples([Example.from_qa(q, a, status="approved") for q, a in QA])
    tiny = build(tmp_path / "tiny")

    code, out, _ = run(capsys, "models", "local", str(path), "--quick", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["hardware"]["kind"] in ("cpu", "cuda", "mps")
    assert report["summary"].startswith("This computer has")
    assert report["models"][0]["model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert all(isinstance(m["fits"], bool) and m["licence"] for m in report["models"])

    code, out, err = run(
        capsys, "train", str(path), "--profile", "local", "--model", str(tiny),
        "--epochs", "3", "--batch-size", "2", "--lora-rank", "8", "--wait", "--poll", "0.2",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["model"].endswith("/model")
    with Project.open(path) as project:
        assert project.persona().fine_tuned_model == job["model"]
        record = project.job(job["job"])
        assert record is not None and record.metrics[-1]["step"] == 15

    try:
        code, out, err = run(
            capsys, "chat", str(path), "--profile", "local", "--mode", "fine-tuned",
            "How do I breathe?", "--json",
        )  # fmt: skip
    finally:
        stop_local_server()
    assert code == 0, err
    reply = json.loads(out)
    assert reply["model"] == job["model"] and reply["reply"]

    code, out, _ = run(capsys, "jobs", str(path))
    assert job["job"] in out and "succeeded" in out

    code, out, _ = run(capsys, "take", str(path), job["job"], "--model-to", str(tmp_path), "--json")
    assert code == 0 and (Path(json.loads(out)["model"]) / "config.json").is_file()
    code, out, err = run(capsys, "take", str(path), job["job"], "--adapter-to", str(tmp_path))
    assert code == 0 and "Copied to" in out
    assert "Copying the adapter folder… 100 %" in err.splitlines()[-1]  # each percent, on stderr
    code, _, err = run(capsys, "take", str(path), job["job"])
    assert code == 1 and "--model-to FOLDER" in err
    gguf = ("take", str(path), job["job"], "--gguf-to", str(tmp_path / "rhea"), "--json")
    code, out, err = run(capsys, *gguf, "--gguf-type", "f16", "--llama-cpp", str(FAKE_LLAMA_CPP))
    assert code == 0, err
    assert Path(json.loads(out)["gguf"]).read_bytes().startswith(b"GGUF")
    code, _, err = run(capsys, *gguf[:-1], "--llama-cpp", str(tmp_path / "no-llama"))
    assert code == 1 and "converter, which was not found" in err
