from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from persona_studio.tools.screenshots import render


def test_every_screen_renders_to_a_real_picture(tmp_path: Path, qapp) -> None:
    written = render(tmp_path / "shots")
    assert {p.name for p in written} == {
        "tab-persona.png",
        "tab-dataset.png",
        "tab-train.png",
        "tab-chat.png",
        "settings-providers.png",
        "settings-google.png",
    }
    for path in written:
        image = QImage(str(path))
        assert image.width() > 600 and image.height() > 400, path
        colors = {
            image.pixel(x, y)
            for x in range(0, image.width(), 37)
            for y in range(0, image.height(), 37)
        }
        assert len(colors) > 5, f"{path} looks blank"
