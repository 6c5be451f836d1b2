"""Export files made in pieces (a worker thread lets the window run between them) are the
same bytes as the whole file made at once."""

from __future__ import annotations

from pathlib import Path

from persona_studio.core import card_files
from persona_studio.core.card_files import export_bytes, export_chunks
from persona_studio.core.collector import release
from persona_studio.core.config import atomic_write_bytes
from persona_studio.core.dataset import Example
from persona_studio.core.exports import examples_csv, openai_jsonl
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project


def test_an_export_in_pieces_is_the_whole_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(card_files, "EXPORT_CHUNK_LINES", 7)
    examples = [
        Example.from_qa(
            f"Question {i} for {{{{char}}}}?",
            f"Answer {i}, café.",
            status="draft" if i % 4 == 0 else "approved",
        )
        for i in range(50)
    ]
    persona = Persona(name="Ada", description="A patient tutor")
    with Project.create(tmp_path / "ada.persona", persona, examples=examples) as project:
        approved = [ex for ex in project.examples() if ex.status == "approved"]
        whole = openai_jsonl(approved, persona.system_prompt(), "Ada").encode("utf-8")
        chunks = export_chunks(project, "openai-jsonl")
        assert len(chunks) == 6  # 37 approved lines, 7 at a time
        assert b"".join(chunks) == whole and b"{{char}}" not in whole
        atomic_write_bytes(tmp_path / "train.jsonl", chunks)
        assert (tmp_path / "train.jsonl").read_bytes() == whole
        assert export_bytes(project, "openai-jsonl") == whole
        assert export_bytes(project, "csv") == examples_csv(project.examples()).encode("utf-8")


def test_release_empties_a_list_a_slice_at_a_time() -> None:
    items = [object() for _ in range(5_000)]
    release(items)
    assert items == []
    mapping = {n: [n] for n in range(5_000)}
    release(mapping)
    assert mapping == {}
