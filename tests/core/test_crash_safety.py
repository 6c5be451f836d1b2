"""A writer killed with SIGKILL at random points loses no edit it had acknowledged."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona_studio.core.persona import Persona
from persona_studio.core.project import Project

WRITER = """
import sys
from persona_studio.core.dataset import Example
from persona_studio.core.project import Project

project = Project.open(sys.argv[1])
for i in range(100):
    if i % 2:
        project.set_persona_fields(name=f"edit {i}", traits=[f"t{i}"])
    else:
        project.add_examples([Example.from_qa(f"q{i}", "a" * (i * 50), id=f"e{i}")])
    print(i, flush=True)  # acknowledged: the edit is committed
"""


def kill_the_writer(path: Path, seed: int) -> tuple[int, int]:
    """Start WRITER on a new project at `path`, SIGKILL it at a random moment; returns (the
    last edit it acknowledged, its return code). `benchmarks/faults.py` runs it at scale."""
    rng = random.Random(seed)
    Project.create(path, Persona(name="start")).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    kill_after = rng.randrange(0, 100)
    acked = -1
    assert writer.stdout is not None
    for line in writer.stdout:
        acked = int(line)
        if acked >= kill_after:
            time.sleep(rng.random() * 0.003)  # land the kill somewhere inside later edits
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    return acked, writer.returncode


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("seed", range(6))
def test_sigkill_during_edits_keeps_every_acknowledged_edit(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "crash.persona"
    acked, returncode = kill_the_writer(path, seed)
    assert returncode in (-signal.SIGKILL, 0)

    with Project.open(path) as project:
        ids = {e.id for e in project.examples()}
        expected_examples = {f"e{i}" for i in range(0, acked + 1, 2)}
        assert expected_examples <= ids
        last_name_edit = max((i for i in range(1, acked + 1, 2)), default=None)
        name = project.persona().name
        if last_name_edit is None:
            assert name in {"start", "edit 1"}
        else:
            assert int(name.split()[1]) >= last_name_edit
        assert project._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
