"""Spreadsheet clipboard rows, without Qt: what a paste makes, and that a copy pastes back."""

from __future__ import annotations

from persona_studio.core.clipboard import examples_from_tsv, examples_tsv
from persona_studio.core.dataset import Example


def test_pasted_rows_become_examples_and_bad_rows_are_skipped() -> None:
    text = "Q1?\tA1.\tApproved\tpace, knees\nonly a question\n\n\tno question\nQ2?\tA2.\tmaybe\n"
    (first, second), left_out = examples_from_tsv(text)
    assert left_out == 2  # (the blank line is no row)
    assert (first.question, first.answer, first.status, first.tags) == (
        "Q1?",
        "A1.",
        "approved",
        ["pace", "knees"],
    )
    assert first.source == "pasted"
    assert (second.question, second.status, second.tags) == ("Q2?", "draft", [])


def test_a_copy_pastes_back_as_the_same_rows() -> None:
    examples = [
        Example.from_qa("Two\nlines?", "A\ttab.", status="rejected", tags=["x", "y"]),
        Example.from_qa("Q", "A"),
    ]
    text = examples_tsv(examples)
    assert text == "Two lines?\tA tab.\trejected\tx, y\nQ\tA\tdraft\t"
    back, left_out = examples_from_tsv(text)
    assert left_out == 0
    assert [(e.question, e.answer, e.status, e.tags) for e in back] == [
        ("Two lines?", "A tab.", "rejected", ["x", "y"]),
        ("Q", "A", "draft", []),
    ]
