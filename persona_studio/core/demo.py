"""The bundled demo character, materialised as an editable project in the user's data folder."""

from __future__ import annotations

import json
from pathlib import Path

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.rules import Rule
from persona_studio.resources_path import resource_path

DEMO_FILENAME = "Demo - Coach Rhea.persona"


def demo_data() -> dict:
    return json.loads(resource_path("demo/demo.json").read_text("utf-8"))


def create_demo_project(path: Path) -> Project:
    data = demo_data()
    return Project.create(
        path,
        Persona.from_dict(data["persona"]),
        examples=[Example(**raw) for raw in data["examples"]],
        rules=[Rule(**raw) for raw in data["rules"]],
    )


def ensure_demo_project(folder: Path) -> Path:
    """The user's own copy of the demo; made on first use, never overwritten afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_FILENAME
    if not path.exists():
        create_demo_project(path).close()
    return path
