"""`persona-studio` and `python -m persona_studio`: no arguments opens the app, else the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].endswith(".persona"):  # a bare project path comes from the desktop
        from persona_studio.core.collector import pause_for_startup

        pause_for_startup()  # until the window is shown (`gui.app.settle_after_startup`)
        # The Qt-free modules load first: once PySide6 is imported it reads the source of every
        # module imported after it (its __feature__ hook), which costs ~6 ms at startup.
        import persona_studio.core.config
        import persona_studio.core.project
        import persona_studio.core.rules
        import persona_studio.core.tokens
        import persona_studio.services.credentials  # noqa: F401
        from persona_studio.gui.app import run_app

        return run_app(argv)
    from persona_studio.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
