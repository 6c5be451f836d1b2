"""Issue 15 item 9: the smaller ways untrusted text or names did damage."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from persona_studio.core.config import ConfigError, ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.exports import examples_csv
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project


def test_a_bare_cr_in_a_cell_does_not_split_the_exported_row() -> None:
    text = examples_csv([Example.from_qa('Line one\r=HYPERLINK("http://x")', "Answer\r\nmore")])
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2  # the header and one example
    assert rows[1][1] == 'Line one\n=HYPERLINK("http://x")' and rows[1][2] == "Answer\nmore"


@pytest.mark.parametrize("name", ["Coach #1.persona", "What? Why.persona", "50% off.persona"])
def test_project_names_with_uri_characters_open(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    Project.create(path, Persona(name="Odd name")).close()
    with Project.open(path) as project:
        assert project.persona().name == "Odd name"
    assert sorted(p.name for p in tmp_path.glob("*.persona*") if not p.name.endswith("-wal")) == [
        name
    ]


def test_credentials_inside_a_base_url_are_refused() -> None:
    profile = ProviderProfile(
        name="gw", kind="openai-compatible", base_url="https://user:sk-secret@gateway.example/v1"
    )
    with pytest.raises(ConfigError, match="user name or a key") as info:
        profile.validated()
    assert "password store" in info.value.hint and "sk-secret" not in str(info.value)
    ok = ProviderProfile(name="gw", kind="openai-compatible", base_url="https://gw.example/v1")
    assert ok.validated().base_url == "https://gw.example/v1"


def test_the_cli_shows_escape_codes_from_a_card_instead_of_obeying_them(tmp_path: Path) -> None:
    path = tmp_path / "evil.persona"
    Project.create(path, Persona(name="Evil\x1b[2J\x1b[31mRed", description="bell\x07")).close()
    result = subprocess.run(
        [sys.executable, "-m", "persona_studio", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Evil\\x1b[2J\\x1b[31mRed" in result.stdout
