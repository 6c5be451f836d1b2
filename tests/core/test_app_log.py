"""The app's log file: warnings and errors with their time, cut at its size, never a reason for
the app not to start."""

from __future__ import annotations

import logging
from collections import deque
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


def test_a_folder_that_cannot_be_written_leaves_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_log.recent, "lines", deque(maxlen=app_log.RECENT_AT_MOST))
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder", encoding="utf-8")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        assert app_log.start(blocked / "data") is None
        added = [h for h in root.handlers if h not in before]
        assert all(not isinstance(h, logging.FileHandler) for h in added)
        assert app_log.recent in added  # the report still has the session's warnings
        assert "no log file this session" in app_log.recent.lines[-1]
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def test_what_is_said_before_the_file_opens_goes_into_it_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app listens from its first line; the file opens after the first paint (a crash
    record that could not be kept, a project's store made afresh as it opened: said before)."""
    monkeypatch.setattr(app_log.recent, "lines", deque(maxlen=app_log.RECENT_AT_MOST))
    monkeypatch.setattr(app_log.recent, "early", [])
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        app_log.listen()
        logging.getLogger("persona_studio.core.crash_log").warning("no record of crashes: full")
        assert "no record of crashes: full" in app_log.recent.lines[-1]  # for the report
        assert app_log.start(tmp_path / "data") is not None
        assert app_log.recent.early is None  # kept no longer
        logging.getLogger("persona_studio.x").warning("after the first paint")
        lines = (tmp_path / "data" / LOG_FILE).read_text(encoding="utf-8").splitlines()
        assert [line.split(" ", 2)[2] for line in lines] == [
            "WARNING persona_studio.core.crash_log: no record of crashes: full",
            "WARNING persona_studio.x: after the first paint",
        ]
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()


def test_the_report_keeps_the_last_warnings_a_line_each_without_their_folders(
    started: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_log.recent, "lines", deque(maxlen=app_log.RECENT_AT_MOST))
    folder = Path.home() / "Clients" / "Rhea Smith"
    logger = logging.getLogger("persona_studio.x")
    logger.warning("reading %s for import failed", folder / "rhea.csv")
    logger.warning("the check failed in its worker process:\nTraceback…\n  a second line")
    logger.warning("x" * 5000)
    try:
        {}["What did Rhea say about her knees?"]
    except KeyError:
        logger.exception("the sheet sync failed")
    lines = list(app_log.recent.lines)
    assert lines[0].endswith("WARNING persona_studio.x: reading …/rhea.csv for import failed")
    assert "Clients" not in "".join(lines) and "Smith" not in "".join(lines)
    assert lines[1].endswith("the check failed in its worker process:")  # its first line
    assert len(lines[2]) < app_log.LINE_AT_MOST + 60 and lines[2].endswith("…")
    assert "ERROR persona_studio.x: the sheet sync failed (KeyError at test_app_log.py:" in lines[3]
    assert "Rhea" not in lines[3]  # an exception's message may quote a creator's text
    for _ in range(app_log.RECENT_AT_MOST + 5):
        logger.warning("again")
    assert len(app_log.recent.lines) == app_log.RECENT_AT_MOST
    assert "again" in started.read_text(encoding="utf-8")  # the file has them all
