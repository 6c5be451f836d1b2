from __future__ import annotations

from pathlib import Path

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.project import Project


def test_demo_is_a_ready_character_copied_once(tmp_path: Path) -> None:
    path = ensure_demo_project(tmp_path / "data")
    with Project.open(path) as project:
        counts = project.counts()
        assert 25 <= counts.examples <= 40 and counts.rules == 3
        persona = project.persona()
        assert persona.name and persona.greeting and persona.style_dont
        assert all(e.question and e.answer for e in project.examples())
        project.set_persona_fields(name="Edited by the user")
    assert ensure_demo_project(tmp_path / "data") == path
    with Project.open(path) as project:  # never overwritten once the user has it
        assert project.persona().name == "Edited by the user"
