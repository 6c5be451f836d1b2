"""A model trained on this computer, taken elsewhere: folder copies, and Ollama through its own
command line (a stand-in `ollama` program on PATH records what it was asked; without one, the
Modelfile is written and the message says the command to run)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from persona_studio.core.errors import UserFacingError
from persona_studio.core.records import JobRecord
from persona_studio.services import local_export
from persona_studio.services.local_export import (
    CONVERTER,
    converter_command,
    copy_folder,
    export_gguf,
    find_gguf_converter,
    modelfile,
    ollama_name,
    send_to_ollama,
)
from tests.conftest import copy_held_at
from tests.fakes.llama_cpp import FAKE_LLAMA_CPP


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


def _a_big_model(record: JobRecord, chunks: int) -> bytes:
    """The model folder holds weights of `chunks` copy chunks (made small) and a subfolder."""
    weights = os.urandom(chunks * local_export.COPY_CHUNK)
    model = Path(record.fine_tuned_model)
    (model / "model.safetensors").write_bytes(weights)
    (model / "sub").mkdir()
    (model / "sub" / "tokenizer.json").write_text("{}")
    return weights


def test_a_copy_says_its_progress_and_is_whole_when_named(record, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(local_export, "COPY_CHUNK", 4096)
    weights = _a_big_model(record, 50)
    out = tmp_path / "out"
    out.mkdir()
    said: list[int] = []
    copied = asyncio.run(copy_folder(record, "model", out, said.append))
    assert (copied / "model.safetensors").read_bytes() == weights
    assert (copied / "sub" / "tokenizer.json").read_text() == "{}"
    assert said == sorted(set(said)) and said[-1] == 100 and len(said) > 10
    assert copied.stat().st_mode == Path(record.fine_tuned_model).stat().st_mode
    assert [p.name for p in out.iterdir()] == [copied.name]  # nothing hidden left beside it


def test_a_copy_stopped_half_way_leaves_nothing(record, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(local_export, "COPY_CHUNK", 4096)
    _a_big_model(record, 2000)
    out = tmp_path / "out"
    out.mkdir()

    gate = copy_held_at(monkeypatch, 10)

    async def stop_at_ten_percent() -> list[int]:
        said: list[int] = []
        task = asyncio.ensure_future(copy_folder(record, "model", out, said.append))
        while not said or said[-1] < 10:
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.sleep(0.01)  # (the copy's thread is told to stop before it goes on)
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return said

    said = asyncio.run(stop_at_ten_percent())
    assert said[-1] == 10
    assert list(out.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="a full drive: Linux's /dev/full")
def test_a_full_drive_is_said_and_leaves_nothing(record, tmp_path, monkeypatch) -> None:
    _a_big_model(record, 2)
    out = tmp_path / "out"
    out.mkdir()
    opened = Path.open

    def full(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return opened(Path("/dev/full") if "w" in mode else self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full)  # every write: "No space left on device"
    with pytest.raises(UserFacingError) as error:
        asyncio.run(copy_folder(record, "model", out))
    assert "No space left on device" in error.value.message and "room" in error.value.hint
    assert list(out.iterdir()) == []
    monkeypatch.setattr(local_export.shutil, "disk_usage", lambda _p: SimpleNamespace(free=10))
    monkeypatch.setattr(Path, "open", opened)
    with pytest.raises(UserFacingError, match=r"needs 1\d\.\d MB and only 0\.0 MB is free"):
        asyncio.run(copy_folder(record, "model", out))
    assert list(out.iterdir()) == []


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


def test_an_ollama_that_cannot_start_is_said(record, tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "ollama"
    broken.write_bytes(b"\x00\x01 not a program")  # (a broken download)
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(UserFacingError) as error:
        asyncio.run(send_to_ollama(record, "rhea", "You are Rhea."))
    assert error.value.message.startswith("Ollama could not be started")
    assert "Exec format error" in error.value.message and "ollama create rhea" in error.value.hint


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


# ---- GGUF through llama.cpp's converter (a stand-in with its command line) ----------------


def _family(record: JobRecord, architecture: str) -> None:
    config = Path(record.fine_tuned_model) / "config.json"
    config.write_text(json.dumps({"architectures": [architecture]}))


def test_the_converter_is_found_where_llama_cpp_lives(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    assert find_gguf_converter() is None
    assert find_gguf_converter(str(FAKE_LLAMA_CPP)) == FAKE_LLAMA_CPP / CONVERTER
    monkeypatch.setenv("LLAMA_CPP_DIR", str(FAKE_LLAMA_CPP))
    assert find_gguf_converter() == FAKE_LLAMA_CPP / CONVERTER
    monkeypatch.delenv("LLAMA_CPP_DIR")
    (tmp_path / "bin").mkdir()
    installed = tmp_path / "bin" / "convert_hf_to_gguf"  # e.g. Homebrew's, with its own Python
    installed.write_text("#!/bin/sh\n")
    installed.chmod(installed.stat().st_mode | stat.S_IEXEC)
    assert find_gguf_converter() == installed
    assert converter_command(installed) == [str(installed)]
    checkout = converter_command(FAKE_LLAMA_CPP / CONVERTER)  # a llama.cpp folder: our Python
    assert checkout == [sys.executable, str(FAKE_LLAMA_CPP / CONVERTER)]


def test_a_gguf_file_is_written_with_progress(record: JobRecord, tmp_path: Path) -> None:
    _family(record, "Qwen3ForCausalLM")
    target = tmp_path / "out" / "rhea.gguf"
    target.parent.mkdir()
    seen: list[int] = []
    written = asyncio.run(
        export_gguf(
            record, target, outtype="f16", converter=FAKE_LLAMA_CPP / CONVERTER,
            progress=seen.append,
        )
    )  # fmt: skip
    assert written == target and target.read_bytes().startswith(b"GGUF")
    assert b"Qwen3ForCausalLM" in target.read_bytes()
    asked = json.loads((target.parent / "asked.json").read_text())
    assert asked["outtype"] == "f16" and asked["model"] == record.fine_tuned_model
    assert seen and seen[-1] == 100 and seen == sorted(seen)
    assert not list(target.parent.glob("*.part"))
    with pytest.raises(UserFacingError, match="already exists"):
        asyncio.run(export_gguf(record, target, converter=FAKE_LLAMA_CPP / CONVERTER))


def test_a_gguf_file_that_cannot_take_its_name_is_said(record, tmp_path, monkeypatch) -> None:
    _family(record, "Qwen3ForCausalLM")

    def refused(*_a: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(local_export.os, "replace", refused)
    with pytest.raises(UserFacingError, match=r"rhea\.gguf: Permission denied"):
        asyncio.run(
            export_gguf(record, tmp_path / "rhea.gguf", converter=FAKE_LLAMA_CPP / CONVERTER)
        )
    assert not list(tmp_path.glob("*.gguf*"))


def test_a_family_llama_cpp_does_not_know_is_said_plainly(record, tmp_path) -> None:
    _family(record, "MysteryForCausalLM")
    target = tmp_path / "m.gguf"
    with pytest.raises(UserFacingError) as error:
        asyncio.run(export_gguf(record, target, converter=FAKE_LLAMA_CPP / CONVERTER))
    assert "Architecture 'MysteryForCausalLM' not supported" in error.value.message
    assert "update llama.cpp" in error.value.hint
    assert not target.exists() and not list(tmp_path.glob("*.part"))


def test_without_llama_cpp_the_app_says_where_to_get_it(record, tmp_path) -> None:
    with pytest.raises(UserFacingError) as error:
        asyncio.run(export_gguf(record, tmp_path / "m.gguf", converter=None))
    assert "llama.cpp" in error.value.message and "Send to Ollama" in error.value.hint


def test_cancelling_stops_the_converter_and_leaves_nothing(record, tmp_path, monkeypatch):
    _family(record, "LlamaForCausalLM")
    monkeypatch.setenv("FAKE_CONVERTER_SLOW", "1")
    target = tmp_path / "slow.gguf"
    seen: list[int] = []

    async def start_then_cancel() -> None:
        task = asyncio.ensure_future(
            export_gguf(record, target, converter=FAKE_LLAMA_CPP / CONVERTER, progress=seen.append)
        )
        while not seen:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(start_then_cancel(), 30))
    assert seen[0] < 100 and not target.exists() and not list(tmp_path.glob("*.part"))
