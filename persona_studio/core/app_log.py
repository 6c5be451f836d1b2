"""The app's log: what went wrong that a creator would never see otherwise (a bug's traceback,
the check's worker process that stopped, a damaged store made afresh, a sheet sync that
failed), kept in the app's data folder beside `crash.log` so that it can go with a problem
report. Warnings and errors only, each with its time; the console still shows them. It is cut
at `MAX_BYTES`, the file before kept as `persona-studio.log.1`.

What goes in is what the app's warnings say: file names and error messages, never a key (no
warning names one); a traceback names the app's code, not the creator's text.

The session's last warnings are also kept in memory (`recent`) for the problem report, each cut
to a line: a path's folders left out, an exception named by its kind and place only (its
message might quote a creator's text). Both hear the app from its first line (`listen`): the
file opens after the first paint, and what was said before it is written then."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import deque
from pathlib import Path
from types import TracebackType

LOG_FILE = "persona-studio.log"
MAX_BYTES = 512 * 1024
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RECENT_AT_MOST = 10  # the report's warnings: the session's last ones
EARLY_AT_MOST = 100  # warnings before the file opens, kept for it
LINE_AT_MOST = 300
# the folders of a file's path, which may name a client or a person ("/home/rhea/Clients/x.csv",
# "C:\Users\rhea\x.csv"), spaces and all (up to a bracket, a comma or a quote); not a web
# address's ("https://host/v1/files" is kept)
_FOLDERS = re.compile(r"(?<![\w:/.])(?:~|[A-Za-z]:)?[\\/][^\n\"'“”<>|():;,]*[\\/]")


def raised_at(tb: TracebackType | None) -> str:
    """ " at file.py:line" of the innermost frame of an exception's traceback ("" if none)."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""


def one_line(record: logging.LogRecord) -> str:
    """A warning as the problem report says it: its time, level and logger, its message's
    first line cut at `LINE_AT_MOST` with a path's folders left out ("…/x.csv"), and an
    exception's kind and where it was raised."""
    lines = record.getMessage().strip().splitlines()
    said = lines[0] if lines else ""
    if record.exc_info and record.exc_info[0] is not None:
        said += f" ({record.exc_info[0].__name__}{raised_at(record.exc_info[2])})"
    said = _FOLDERS.sub("…/", said)
    if len(said) > LINE_AT_MOST:
        said = said[: LINE_AT_MOST - 1] + "…"
    at = time.strftime("%H:%M:%S", time.localtime(record.created))
    return f"{at} {record.levelname} {record.name}: {said}"


class Recent(logging.Handler):
    """The session's last warnings and errors, each as `one_line` (for the problem report),
    and those said before the log file opens (`early`, for the file; None once it has)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: deque[str] = deque(maxlen=RECENT_AT_MOST)
        self.early: list[logging.LogRecord] | None = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.early is not None and len(self.early) < EARLY_AT_MOST:
            self.early.append(record)
        try:
            self.lines.append(one_line(record))
        except Exception:  # a warning's own arguments that cannot be formatted
            self.handleError(record)


recent = Recent()


def listen() -> None:
    """From the app's first line: warnings go to the console (as Python's own output did) and
    to `recent`, which keeps those said before `start` opens the file for it."""
    root = logging.getLogger()
    # Python's console output stops once the root has a handler: kept (a windowed program
    # may have no console at all)
    if not root.handlers and sys.stderr is not None:
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        root.addHandler(console)
    if recent not in root.handlers:
        root.addHandler(recent)


def start(folder: Path) -> logging.Handler | None:
    """Send the warnings and errors of every logger to `folder`'s log from now on (the file is
    made at the first one; those said since `listen` go first), and to `recent`. Returns the
    file's handler (None where the folder cannot be written: the console and `recent` alone
    then)."""
    from logging.handlers import RotatingFileHandler

    listen()
    early, recent.early = recent.early or [], None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            folder / LOG_FILE, maxBytes=MAX_BYTES, backupCount=1, encoding="utf-8", delay=True
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file this session: %s", exc)
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(FORMAT))
    for record in early:  # said before the file opened, each in its place and time
        handler.handle(record)
    logging.getLogger().addHandler(handler)
    return handler
