"""Counts over every example, a slice at a time: the same as in one pass."""

from __future__ import annotations

import pytest

from persona_studio.core import dataset
from persona_studio.core.dataset import Example, approved_count, ids_and_approved, ids_of


@pytest.mark.parametrize("n", [0, 1, 3, 4, 10])
def test_ids_and_approved_a_slice_at_a_time_are_those_of_one_pass(monkeypatch, n: int) -> None:
    monkeypatch.setattr(dataset, "PICKED_AT_ONCE", 3)  # slices of 3: ends in a whole one or not
    examples = [
        Example.from_qa(f"Q{i}?", f"A{i}.", status=("approved", "draft", "rejected")[i % 3])
        for i in range(n)
    ]
    assert ids_and_approved(examples) == (ids_of(examples), approved_count(examples))
    assert ids_and_approved(examples)[1] == (n + 2) // 3
