"""The voice check's test set: stable, pinnable, and never in a training file."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from persona_studio.core.dataset import MIN_EXAMPLES, Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.test_set import (
    DEFAULT_SHARE,
    MAX_TRAINED,
    PIN_TAG,
    Trained,
    cut_for,
    in_test_set,
    share_from_meta,
    split_test_set,
    trained_digest,
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
    cut = cut_for(examples, share)
    held = {e.messages[0]["content"] for e in examples if in_test_set(e, cut)}
    usable = [e for e in examples if e.status == "approved" and not in_test_set(e, cut)]
    if not usable:
        return  # nothing to train (training_files refuses, as it should)
    files = training_files(examples, "", split, seed, share)
    lines = files.train.splitlines() + (files.validation or b"").splitlines()
    trained = {json.loads(line)["messages"][0]["content"] for line in lines}
    assert trained.isdisjoint(held)
    assert files.train_count + files.validation_count == len(usable)
    kept = Trained(files.trained)  # what the job keeps: the same examples, by id
    assert [e.id in kept for e in examples] == [e in usable for e in examples]


def test_a_trained_digest_reads_back_small_and_refuses_what_is_not_one() -> None:
    import base64
    import zlib

    from persona_studio.core.dataset import new_ids

    ids, others = new_ids(5_000), new_ids(5_000)
    digest = trained_digest(ids)
    trained = Trained(digest)
    assert len(trained) == 5_000 and all(i in trained for i in ids)
    # ids share a 32-bit place ~1 time in 860,000 here: a stranger reads as trained ~0.6 %
    # of runs at most once, never the reverse
    assert sum(i in trained for i in others) <= 1
    assert len(digest) < 5 * len(ids)  # ~3.3 bytes an id, in base64
    assert len(Trained(trained_digest([]))) == 0 and "x" not in Trained(trained_digest([]))
    bomb = base64.b64encode(zlib.compress(bytes(4 * MAX_TRAINED + 4))).decode()
    odd = base64.b64encode(zlib.compress(b"abc")).decode()
    cut_short = digest[: len(digest) // 2 // 4 * 4]
    for hostile in (None, 17, "", "not base64!", bomb, odd, cut_short, ["a"]):
        assert Trained.read(hostile) is None, hostile
    assert Trained.read(digest) is not None


@settings(max_examples=200, deadline=None)
@given(examples=datasets(), share=st.floats(min_value=0, max_value=0.5))
def test_the_share_never_takes_training_under_the_minimum(examples, share) -> None:
    """A creator who approved the 10 examples fine-tuning needs had ~70 % odds that the share
    kept one or more aside, and the check refused to train. Those whose ids fall highest now
    train instead, as few as make up the minimum; pinned ones stay aside."""
    cut = cut_for(examples, share)
    assert cut <= share
    by_share = [e for e in examples if in_test_set(e, share)]
    by_cut = [e for e in examples if in_test_set(e, cut)]
    assert all(in_test_set(e, share) for e in by_cut)  # only ever fewer aside
    trained = [e for e in examples if e.status == "approved" and not in_test_set(e, cut)]
    pinned = [e for e in examples if e.status == "approved" and PIN_TAG in e.tags]
    approved = sum(e.status == "approved" for e in examples)
    if cut < share:  # as few as make up the minimum, or every one not pinned
        assert len(trained) == min(MIN_EXAMPLES, approved - len(pinned))
    else:
        assert by_cut == by_share
        assert len(trained) >= MIN_EXAMPLES or len(by_share) == len(pinned)
    usable, test = split_test_set(examples, share)  # what training takes: the same
    assert [e for e in usable if e.status == "approved"] == trained and test == by_cut


def test_ten_approved_all_train_and_a_larger_set_keeps_its_share() -> None:
    from persona_studio.core.test_set import bucket
    from tests.conftest import approved_with_ids as approved
    from tests.conftest import ids_by_share

    low, high = ids_by_share(DEFAULT_SHARE, 2, 38)  # low: ids the share keeps aside

    ten = approved(low + high[:8])
    assert sum(in_test_set(e, DEFAULT_SHARE) for e in ten) == 2  # the share alone: 8 to train
    usable, test = split_test_set(ten, DEFAULT_SHARE)
    assert (len(usable), test) == (10, [])
    eleven = approved(low + high[:9])  # one of the two trains: the one whose id falls higher
    usable, test = split_test_set(eleven, DEFAULT_SHARE)
    assert len(usable) == 10 and [e.id for e in test] == [min(low, key=bucket)]
    forty = approved(low + high[:38])
    assert cut_for(forty, DEFAULT_SHARE) == DEFAULT_SHARE
    assert [e.id for e in split_test_set(forty, DEFAULT_SHARE)[1]] == low


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
