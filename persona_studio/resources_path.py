"""Where the bundled resources/ folder is, in a checkout, a wheel install or a frozen app."""

from __future__ import annotations

from pathlib import Path

import persona_studio.resources as _resources  # the top-level resources/ folder, as a package


def resource_path(relative: str) -> Path:
    # A plain path (not importlib.resources): we never run from a zip, and it is 5 ms cheaper
    # at startup. Qt needs real file paths for icons anyway.
    return Path(_resources.__file__).resolve().parent / relative
