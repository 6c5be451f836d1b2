"""The screenshot tool, run as a user runs it (its own process and event loop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

SCREENS = {
    "tab-persona.png",
    "persona-rules.png",
    "tab-dataset.png",
    "tab-train.png",
    "tab-chat.png",
    "settings-providers.png",
    "settings-azure.png",
    "settings-google.png",
    "pipeline.png",
    "generate.png",
    "dark-chat.png",
    "dark-train.png",
    "train-together.png",
    "train-local.png",
    "train-deploy-failed.png",
    "voice-check.png",
    "voice-check-questions.png",
    "read-only.png",
}


def test_every_screen_renders_to_a_real_picture(tmp_path: Path, qapp) -> None:
    out = tmp_path / "shots"
    result = subprocess.run(
        [sys.executable, "-m", "persona_studio.tools.screenshots", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.split()]
    assert {p.name for p in written} == SCREENS
    for path in written:
        image = QImage(str(path))
        assert image.width() > 600 and image.height() > 400, path
        colors = {
            image.pixel(x, y)
            for x in range(0, image.width(), 37)
            for y in range(0, image.height(), 37)
        }
        assert len(colors) > 5, f"{path} looks blank"
