"""The desktop integration files agree with the app (CI also builds and starts the bundle)."""

from __future__ import annotations

import ast
import configparser
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from persona_studio import APP_NAME, DESKTOP_ID, __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_desktop_entry_opens_project_files() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / f"{DESKTOP_ID}.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Name"] == APP_NAME and desktop["Type"] == "Application"
    assert desktop["Exec"] == "persona-studio %f" and desktop["Icon"] == "persona-studio"
    mime = ET.parse(PACKAGING / "persona-studio-mime.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = mime.find("m:mime-type", ns)
    assert kind is not None and kind.get("type") + ";" == desktop["MimeType"]
    assert kind.find("m:glob", ns).get("pattern") == "*.persona"


def test_appstream_metadata_matches_the_app() -> None:
    component = ET.parse(PACKAGING / f"{DESKTOP_ID}.metainfo.xml").getroot()
    assert component.findtext("id") == DESKTOP_ID
    assert component.findtext("name") == APP_NAME
    assert component.findtext("launchable") == f"{DESKTOP_ID}.desktop"
    assert component.find("releases/release").get("version") == __version__


def test_icons_exist_in_every_size() -> None:
    icons = ROOT / "resources" / "icons"
    for size in SIZES:
        data = (icons / "hicolor" / f"{size}x{size}" / "apps" / "persona-studio.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
    assert (icons / "persona-studio.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "persona-studio.icns").read_bytes()[:4] == b"icns"


def test_pyinstaller_spec_is_valid_python_naming_existing_files() -> None:
    spec = (PACKAGING / "persona-studio.spec").read_text("utf-8")
    ast.parse(spec)
    assert (PACKAGING / "launcher.py").exists()
    assert '"persona-studio"' in spec  # the program's name, as in the .desktop Exec line
    assert '"persona-studio-cli"' in spec and "console=True" in spec  # its console twin
