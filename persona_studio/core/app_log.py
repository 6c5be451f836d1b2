"""The app's log: what went wrong that a creator would never see otherwise (a bug's traceback,
the check's worker process that stopped, a damaged store made afresh, a sheet sync that
failed), kept in the app's data folder beside `crash.log` so that it can go with a problem
report. Warnings and errors only, each with its time; the console still shows them. It is cut
at `MAX_BYTES`, the file before kept as `persona-studio.log.1`.

What goes in is what the app's warnings say: file names and error messages, never a key (no
warning names one); a traceback names the app's code, not the creator's text."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FILE = "persona-studio.log"
MAX_BYTES = 512 * 1024
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start(folder: Path) -> logging.Handler | None:
    """Send the warnings and errors of every logger to `folder`'s log from now on (the file is
    made at the first one). Returns the handler (None where the folder cannot be written: the
    console alone then, as before)."""
    from logging.handlers import RotatingFileHandler

    root = logging.getLogger()
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
    # Python's console output stops once the root has a handler: kept (a windowed program
    # may have no console at all)
    if not root.handlers and sys.stderr is not None:
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        root.addHandler(console)
    root.addHandler(handler)
    return handler
