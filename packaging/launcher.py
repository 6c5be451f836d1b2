"""The frozen program's entry point (PyInstaller needs a script, not a console_scripts entry)."""

import sys

if __name__ == "__main__":
    if getattr(sys, "frozen", False):  # the check's worker process starts this program again
        import multiprocessing

        multiprocessing.freeze_support()
    from persona_studio.__main__ import main

    sys.exit(main())
