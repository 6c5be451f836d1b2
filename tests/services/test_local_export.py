"""A model trained on this computer, taken elsewhere: folder copies, and Ollama through its own
command line (a stand-in `ollama` program on PATH records what it was asked; without one, the
Modelfile is written and the message says the command to run)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from persona_studio.core.errors import UserFacingError
from persona_studio.core.records import JobRecord
from persona_studio.services.local_export import (
    copy_folder,
    modelfile,
    ollama_name,
    send_to_ollama,
)


@pytest.fixture
def record(tmp_path: Path) -> JobRecord:
    job = tmp_path / "local-training" / "local-20261202-230000-a1b2c3"
    for part in ("model", "adapter"):
        (job / part).mkdir(parents=True)
        (job / part / "config.json").write_text("{}")
    return JobRecord(
        id=job.name, profile="local", base_model="Qwen/Qwen3-0.6B", status="succeeded",
        fine_tuned_model=str(job / "model"), suffix="Rhea v2",
    )  # fmt: skip


def test_modelfile_and_name(record: JobRecord, tmp_path: Path) -> None:
    text = modelfile(Path("/m"), 'You are Rhea. Say """hi""".')
    assert text.startswith('FROM /m\nSYSTEM """You are Rhea. Say " " "hi" " "."""\n')
    assert ollama_name(record, "Coach Rhea") == "rhea-v2-a1b2c3"


def test_copy_the_adapter_and_refuse_to_overwrite(record: JobRecord, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    copied = asyncio.run(copy_folder(record, "adapter", out))
    assert (copied / "config.json").is_file() and copied.name.endswith("-adapter")
    with pytest.raises(UserFacingError, match="already exists"):
        asyncio.run(copy_folder(record, "adapter", out))


def test_without_ollama_the_command_to_run_is_said(record, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UserFacingError) as error:
        asyncio.run(send_to_ollama(record, "rhea", "You are Rhea."))
    assert "not installed" in error.value.message
    assert f"ollama create rhea -f {Path(record.fine_tuned_model).parent / 'Modelfile'}" in (
        error.value.hint
    )
    assert (Path(record.fine_tuned_model).parent / "Modelfile").read_text().startswith("FROM ")


def fake_ollama(folder: Path, exit_code: int, says: str) -> Path:
    folder.mkdir()
    program = folder / "ollama"
    program.write_text(f'#!/bin/sh\necho "$@" > "{folder}/args"\necho "{says}"\nexit {exit_code}\n')
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return folder


def test_send_to_ollama_runs_its_create_command(record, tmp_path, monkeypatch) -> None:
    bin_dir = fake_ollama(tmp_path / "bin", 0, "success")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    said = asyncio.run(send_to_ollama(record, "rhea-v2", "You are Rhea."))
    assert said == "Ollama has the model “rhea-v2”: run `ollama run rhea-v2`."
    modelfile_path = Path(record.fine_tuned_model).parent / "Modelfile"
    assert (bin_dir / "args").read_text().split() == [
        "create",
        "rhea-v2",
        "-f",
        str(modelfile_path),
    ]


def test_an_ollama_refusal_is_plain(record, tmp_path, monkeypatch) -> None:
    bin_dir = fake_ollama(tmp_path / "bin", 1, "Error: unsupported architecture")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UserFacingError, match="unsupported architecture"):
        asyncio.run(send_to_ollama(record, "rhea", "You are Rhea."))


def test_a_job_not_trained_here_cannot_be_taken(tmp_path: Path) -> None:
    remote = JobRecord(id="ft-1", profile="together", base_model="x", status="succeeded",
                       fine_tuned_model="user/model")  # fmt: skip
    with pytest.raises(UserFacingError, match="not on this computer"):
        asyncio.run(copy_folder(remote, "model", tmp_path))
