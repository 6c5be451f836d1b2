"""The voice check's test set: stable, pinnable, and never in a training file."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.test_set import (
    DEFAULT_SHARE,
    PIN_TAG,
    in_test_set,
    share_from_meta,
    split_test_set,
)
from persona_studio.services.training import training_files

STATUSES = st.sampled_from(["approved", "approved", "draft", "rejected"])


@st.composite
def datasets(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    examples = []
    for i in range(n):
        tags = [PIN_TAG] if draw(st.booleans()) and draw(st.booleans()) else []
        examples.append(
            Example.from_qa(f"Question {i}?", f"Answer {i}.", status=draw(STATUSES), tags=tags)
        )
    return examples


@settings(max_examples=150, deadline=None)
@given(
    examples=datasets(),
    share=st.floats(min_value=0, max_value=0.5),
    split=st.floats(min_value=0, max_value=0.5),
    seed=st.integers(min_value=0, max_value=10_000),
    edits=st.lists(st.tuples(st.integers(min_value=0), STATUSES, st.text(max_size=20)), max_size=8),
)
def test_the_test_set_never_reaches_a_training_file(examples, share, split, seed, edits) -> None:
    for index, status, text in edits:  # edits keep an example's id: its place stays the same
        example = examples[index % len(examples)]
        example.status = status
        example.messages[-1]["content"] = text or "edited"
    held = {e.messages[0]["content"] for e in examples if in_test_set(e, share)}
    usable = [e for e in examples if e.status == "approved" and not in_test_set(e, share)]
    if not usable:
        return  # nothing to train (training_files refuses, as it should)
    files = training_files(examples, "", split, seed, share)
    lines = files.train.splitlines() + (files.validation or b"").splitlines()
    trained = {json.loads(line)["messages"][0]["content"] for line in lines}
    assert trained.isdisjoint(held)
    assert files.train_count + files.validation_count == len(usable)


def test_it_is_stable_pinnable_and_only_approved() -> None:
    examples = [Example.from_qa(f"Q{i}?", "A.", status="approved") for i in range(400)]
    _, test = split_test_set(examples, DEFAULT_SHARE)
    assert 0.07 < len(test) / 400 < 0.17  # about 12 %
    more = examples + [Example.from_qa(f"New {i}?", "A.", status="approved") for i in range(50)]
    _, again = split_test_set(more, DEFAULT_SHARE)
    assert {e.id for e in test} <= {e.id for e in again}  # adding examples moves none out
    pinned = Example.from_qa("Always ask me this?", "A.", status="approved", tags=[PIN_TAG])
    assert in_test_set(pinned, 0.0)
    pinned.status = "draft"
    assert not in_test_set(pinned, 1.0)


def test_the_share_is_the_projects(tmp_path: Path) -> None:
    assert share_from_meta(None) == DEFAULT_SHARE and share_from_meta("x") == DEFAULT_SHARE
    assert share_from_meta("-1") == 0.0 and share_from_meta("0.9") == 0.5
    with Project.create(tmp_path / "s.persona", Persona(name="S")) as project:
        assert project.test_share == DEFAULT_SHARE
        project.set_test_share(0.2)
    with Project.open(tmp_path / "s.persona") as project:
        assert project.test_share == 0.2
