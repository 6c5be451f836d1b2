"""The app's log file: warnings and errors with their time, cut at its size, never a reason for
the app not to start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona_studio.core import app_log
from persona_studio.core.app_log import LOG_FILE, MAX_BYTES


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    before = list(root.handlers)
    handler = app_log.start(tmp_path / "data")
    assert handler is not None
    yield tmp_path / "data" / LOG_FILE
    for added in [h for h in root.handlers if h not in before]:
        root.removeHandler(added)
        added.close()


def test_warnings_and_errors_are_kept_with_their_time(started: Path) -> None:
    assert not started.exists()  # made at the first warning, not at start
    logging.getLogger("persona_studio.x").info("only said in the console's debugging")
    logging.getLogger("persona_studio.x").warning("the store was damaged: made afresh")
    try:
        raise ValueError("a bug")
    except ValueError:
        logging.getLogger("persona_studio").exception("Unexpected error")
    text = started.read_text(encoding="utf-8")
    assert "only said" not in text
    assert " WARNING persona_studio.x: the store was damaged: made afresh" in text
    assert "ERROR persona_studio: Unexpected error" in text and "ValueError: a bug" in text
    assert text[:4].isdigit()  # each line begins with its time


def test_the_file_is_cut_at_its_size(started: Path) -> None:
    for _ in range(MAX_BYTES // 1000 + 10):
        logging.getLogger("persona_studio.x").warning("x" * 1000)
    assert started.stat().st_size <= MAX_BYTES
    assert started.with_name(f"{LOG_FILE}.1").exists()  # the one before, kept once


def test_a_folder_that_cannot_be_written_leaves_the_console(tmp_path: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder", encoding="utf-8")
    before = list(logging.getLogger().handlers)
    assert app_log.start(blocked / "data") is None
    assert logging.getLogger().handlers == before
