"""The frozen program's entry point (PyInstaller needs a script, not a console_scripts entry)."""

import sys

from persona_studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
