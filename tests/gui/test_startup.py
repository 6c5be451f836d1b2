"""The real entry point, as a user starts it: a process that shows the window on the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from persona_studio.core.config import load_config
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project


def _launch(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PERSONA_STUDIO_EXIT_WHEN_SHOWN": "1"}
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_launch_shows_the_demo_and_remembers_it(isolated_home: Path) -> None:
    result = _launch()
    assert result.returncode == 0, result.stderr
    assert "shown-at" in result.stdout
    demo = isolated_home / "data" / "persona-studio" / "Demo - Coach Rhea.persona"
    assert demo.exists()
    assert load_config().recent_projects == [str(demo)]
    assert (isolated_home / "config" / "persona-studio" / "window.ini").exists()


def test_launch_with_a_project_path_opens_it(isolated_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.persona"
    Project.create(path, Persona(name="Mine")).close()
    result = _launch(str(path))
    assert result.returncode == 0, result.stderr
    assert load_config().last_project == str(path)
    assert not (isolated_home / "data" / "persona-studio").exists()  # no demo needed
