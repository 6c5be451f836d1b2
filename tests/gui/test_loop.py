"""The window's tasks: an exception that escapes one is a bug, and is reported as it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from persona_studio.gui.loop import spawn


async def _fails() -> None:
    await asyncio.sleep(0)
    raise ValueError("a bug in a task")


async def _waits() -> None:
    await asyncio.sleep(60)


def test_an_exception_escaping_a_kept_task_is_reported_as_it_ends(
    qtbot: QtBot, run_async: Callable
) -> None:
    with qtbot.capture_exceptions() as caught:
        kept = spawn(_fails())  # kept, as a tab keeps `self._task`: Python never collects it
        run_async(asyncio.wait([kept]))
    assert [(kind, str(error)) for kind, error, _tb in caught] == [(ValueError, "a bug in a task")]
    assert kept.done() and isinstance(kept.exception(), ValueError)


def test_a_stopped_task_or_one_that_ends_well_reports_nothing(
    qtbot: QtBot, run_async: Callable
) -> None:
    with qtbot.capture_exceptions() as caught:
        stopped, done = spawn(_waits()), spawn(asyncio.sleep(0, "done"))
        run_async(asyncio.sleep(0.01))
        stopped.cancel()
        run_async(asyncio.wait([stopped, done]))
    assert caught == [] and stopped.cancelled() and done.result() == "done"
