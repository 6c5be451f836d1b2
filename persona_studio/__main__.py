"""`persona-studio` and `python -m persona_studio`: no arguments opens the app, else the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].endswith(".persona"):  # a bare project path comes from the desktop
        from persona_studio.gui.app import run_app

        return run_app(argv)
    from persona_studio.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
