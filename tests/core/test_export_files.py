"""Export files made in pieces (a worker thread lets the window run between them) are the
same bytes as the whole file made at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.core import card_files, dataset
from persona_studio.core.card_files import export_bytes, export_chunks
from persona_studio.core.collector import release
from persona_studio.core.config import atomic_write_bytes
from persona_studio.core.dataset import Example
from persona_studio.core.errors import Stopped
from persona_studio.core.exports import examples_csv, examples_csv_parts, openai_jsonl
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.test_set import split_test_set


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
        usable, _kept_aside = split_test_set(project.examples(), project.test_share)
        approved = [ex for ex in usable if ex.status == "approved"]
        whole = openai_jsonl(approved, persona.system_prompt(), "Ada").encode("utf-8")
        chunks = export_chunks(project, "openai-jsonl")
        assert len(chunks) == -(-len(approved) // 7) > 4  # 7 lines at a time
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


def test_an_export_says_how_far_it_is_and_stops_when_its_progress_raises(
    tmp_path: Path, monkeypatch
) -> None:
    """At 1,000,000 examples an export takes 7–19 s: the window shows its percent and a Stop,
    which makes the next word of progress raise."""
    from persona_studio.core.project import examples as stored

    monkeypatch.setattr(card_files, "EXPORT_CHUNK_LINES", 7)
    monkeypatch.setattr(stored, "_FETCHED_AT_ONCE", 9)
    monkeypatch.setattr(stored, "_SLICE", 5)
    monkeypatch.setattr(dataset, "PICKED_AT_ONCE", 8)  # (a card's fingerprint: every 8)
    examples = [
        Example.from_qa(f"Q{i}, “quoted”?", f"A{i}.", status="approved" if i % 4 else "draft")
        for i in range(60)
    ]
    with Project.create(
        tmp_path / "ada.persona", Persona(name="Ada"), examples=examples
    ) as project:
        for fmt in ("openai-jsonl", "csv", "card-v2-json"):
            shares: list[float] = []
            made = export_chunks(project, fmt, shares.append)
            assert b"".join(made) == export_bytes(project, fmt)  # as without a word of progress
            assert shares == sorted(shares) and len(shares) > 10, fmt
            assert shares[0] < 0.05 and 0.85 < shares[-1] <= 1, fmt

        def stop_halfway(share: float) -> None:
            if share > 0.5:
                raise Stopped

        for fmt in ("openai-jsonl", "csv", "card-v2-json"):
            with pytest.raises(Stopped):
                export_chunks(project, fmt, stop_halfway)
            with pytest.raises(Stopped):  # in the read itself
                project.examples(lambda share: stop_halfway(share * 2))


def test_a_csv_made_in_parts_is_the_csv_made_at_once() -> None:
    examples = [
        Example.from_qa(f"=Q{i}\r\nline two?", f"A, {i}.", tags=["a", "b"]) for i in range(23)
    ]
    for rows in (1, 5, 23, 50):
        assert "".join(examples_csv_parts(examples, rows)) == examples_csv(examples)
        assert len(list(examples_csv_parts(examples, rows))) == -(-23 // rows)
    assert list(examples_csv_parts([], 5)) == [examples_csv([])]
    assert examples_csv([]).startswith("id,question,answer")


def test_the_training_export_leaves_out_the_questions_kept_for_the_voice_check(
    tmp_path: Path,
) -> None:
    """The README says every training file leaves them out; the window's JSONL export did not
    (the CLI's and the training services' did): a model trained elsewhere on it was then
    asked, by the voice check, questions it had learnt."""
    examples = [Example.from_qa(f"Question {i}?", f"Answer {i}.") for i in range(80)]
    for example in examples:
        example.status = "approved"
    with Project.create(
        tmp_path / "ada.persona", Persona(name="Ada"), examples=examples
    ) as project:
        usable, kept_aside = split_test_set(project.examples(), project.test_share)
        assert kept_aside  # (the default share keeps some aside)
        lines = export_bytes(project, "openai-jsonl").decode("utf-8").splitlines()
        asked = {json.loads(line)["messages"][-2]["content"] for line in lines}
        assert asked == {ex.question for ex in usable}
        assert asked.isdisjoint(ex.question for ex in kept_aside)
