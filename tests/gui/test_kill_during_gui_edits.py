"""The real window, killed with SIGKILL while a creator edits, loses no edit the status bar had
called saved: a persona field (autosaved a moment later), a new example, an edited answer and
a deletion, each through the window's own undo commands and session. `benchmarks/faults.py`
runs the same trial many times; the suite runs a few."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona_studio.core.project import Project

# The child: the demo window in a private home, making one edit after another; after each, once
# the status bar says "All changes saved", it prints what was acknowledged.
CHILD = r"""
import asyncio, sys
from pathlib import Path
from persona_studio.gui.app import make_application
import qasync
from persona_studio.core.dataset import Example
from persona_studio.gui.undo import AddExamples, DeleteExamples, EditExamples
from persona_studio.tools.offscreen import demo_window

app = make_application([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
window = demo_window(Path(sys.argv[1]), [])
session = window.session

def say(*words):  # one write: with PYTHONUNBUFFERED, print writes each word on its own
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()

say("PATH", session.project.path)

async def saved():
    while session.unsaved or window.save_label.text() != "All changes saved":
        await asyncio.sleep(0.005)

async def edit():
    for n in range(1, 10_000):
        say("START", n)
        kind = n % 4
        if kind == 0:
            session.set_persona_field("description", f"described {n}")
        elif kind == 1:
            new = Example.from_qa(f"Added {n}?", f"Answer {n}.", id=f"added-{n}")
            window.undo_stack.push(AddExamples(session, [new], "Add"))
        elif kind == 2:
            first = session.examples[0]
            after = Example.from_qa(first.question, f"edited {n}", id=first.id,
                                    status=first.status, tags=list(first.tags))
            window.undo_stack.push(EditExamples(session, [first], [after], "Edit"))
        else:
            victim = f"added-{n - 2}"
            window.undo_stack.push(DeleteExamples(session, {victim}))
        await saved()
        say("ACK", n)

loop.run_until_complete(edit())
"""


def run_trial(home: Path, seed: int) -> dict[str, int]:
    """One trial: start the window, let it make a random number of edits, SIGKILL it at a
    random moment, then check every acknowledged edit is in the file. Returns figures."""
    rng = random.Random(seed)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    path = Path(child.stdout.readline().split(" ", 1)[1].strip())
    kill_after = rng.randrange(1, 40)
    said: dict[str, int] = {"START": 0, "ACK": 0}
    for line in child.stdout:
        word, n = line.split()
        said[word] = int(n)
        if said["ACK"] >= kill_after:
            time.sleep(rng.random() * 0.02)  # somewhere inside the next edits
            break
    child.send_signal(signal.SIGKILL)
    child.wait(20)
    for line in child.stdout:  # what it said before it died is still in the pipe
        if not line.endswith("\n"):  # cut short by the kill: not said
            break
        word, n = line.split()
        said[word] = int(n)
    check_acknowledged(path, said["ACK"], said["START"])
    return {"acked": said["ACK"], "started": said["START"]}


def check_acknowledged(path: Path, acked: int, started: int) -> None:
    """Every edit up to `acked` is in the file; the ones after it, up to `started`, may be."""
    with Project.open(path) as project:
        assert project._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        examples = {e.id: e for e in project.examples()}
        for n in range(1, acked + 1):
            if n % 4 == 1:  # added; deleted two edits later
                if n + 2 <= acked:
                    assert f"added-{n}" not in examples, (n, acked)
                elif n + 2 > started:  # its deletion never began
                    assert f"added-{n}" in examples, (n, acked)
        last = {kind: max((n for n in range(1, acked + 1) if n % 4 == kind), default=0)
                for kind in (0, 2)}  # fmt: skip
        if last[0]:  # the newest acknowledged description, or a later one
            assert int(project.persona().description.split()[1]) >= last[0]
        if last[2]:
            first = project.examples()[0]
            assert int(first.answer.split()[1]) >= last[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("seed", range(3))
def test_sigkill_of_the_window_keeps_every_edit_it_called_saved(tmp_path: Path, seed) -> None:
    figures = run_trial(tmp_path, seed)
    assert figures["acked"] >= 1
