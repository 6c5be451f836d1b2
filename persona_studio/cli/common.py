"""What every command shares: the parser class, how a command is registered, printing (--json),
opening projects and profiles, and turning failures into exit codes.

Exit codes: 0 success, 1 failure (one plain line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from persona_studio.core.config import AppConfig, ProviderProfile
from persona_studio.core.errors import UserFacingError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # usage errors exit 2
        self.print_usage(sys.stderr)
        print(f"persona-studio: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, handler: Handler, help_: str
) -> argparse.ArgumentParser:
    sub = subparsers.add_parser(name, help=help_, description=help_)
    sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub.set_defaults(handler=handler)
    return sub


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from cards, files and models with its control characters shown, not obeyed: an
    escape sequence in a character's name must not recolour, move or clear the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """JSON with --json (escaped by JSON itself), else the text for people."""
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else printable(text))


def progress(args: argparse.Namespace, line: str) -> None:
    """A progress line on stderr (nothing with --json)."""
    if not args.json:
        print(printable(line), file=sys.stderr)


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserFacingError(
            f"Could not read “{path}”: {exc.strerror}.", "Check the path."
        ) from exc


def chosen_profile(config: AppConfig, name: str | None) -> ProviderProfile:
    """--profile, else the default profile, else the built-in `env` one."""
    return config.profile(name or config.default_profile or "env")


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command; expected failures become one plain line and exit 1."""
    try:
        return handler(args)
    except UserFacingError as exc:
        print(printable(f"persona-studio: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("persona-studio: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `persona-studio info X | head`: the reader has seen enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_FAILURE
