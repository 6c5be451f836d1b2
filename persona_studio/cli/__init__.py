"""The command line: parse, call a service, print. One module per command group, each with its
`add_parser` beside its handlers; what they share is in `common.py`.

Exit codes: 0 success, 1 failure (one plain line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from persona_studio import __version__
from persona_studio.cli import (
    chat,
    check,
    examples,
    generate,
    local,
    pipeline,
    profiles,
    project,
    sheets,
    training,
)
from persona_studio.cli.common import EXIT_USAGE, Parser, run_command

# In the order `--help` lists them.
GROUPS = (
    project,
    examples,
    chat,
    check,
    sheets,
    training,
    local,
    pipeline,
    generate,
    profiles,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="persona-studio",
        description="Build an AI character. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"Persona Studio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_command(args.handler, args)
