"""Render the app icon (resources/icons/persona-studio.svg) to every size a desktop wants.

Writes resources/icons/hicolor/<N>x<N>/apps/persona-studio.png (Linux icon theme layout, also
used for the window icon), persona-studio.ico (Windows) and persona-studio.icns (macOS).
Run it after changing the SVG: `python packaging/make_icons.py`; the outputs are committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "persona-studio.svg"))
    images = {}
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        images[size] = image
        out = ICONS / "hicolor" / f"{size}x{size}" / "apps" / "persona-studio.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"could not write {out}")
        print(out.relative_to(ROOT))
    for fmt, size in (("ico", 256), ("icns", 512)):
        out = ICONS / f"persona-studio.{fmt}"
        if not images[size].save(str(out), fmt.upper()):
            raise SystemExit(f"could not write {out} (Qt's {fmt} image plugin is missing)")
        print(out.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
