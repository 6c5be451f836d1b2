"""The offline engine's retrieval quality on the demo dataset, with paraphrased questions."""

from __future__ import annotations

from persona_studio.core.dataset import Example
from persona_studio.core.demo import demo_data
from persona_studio.core.retrieval import MIN_CONFIDENCE, RetrievalIndex

# (a paraphrase a user might type, words of the demo question it should find)
LABELLED = [
    ("I have never run, how do I begin?", "never run before"),
    ("out of breath after half a minute, normal?", "out of breath"),
    ("how many running days per week for a beginner", "days a week"),
    ("which running shoes are best to buy", "shoes"),
    ("I skipped a week of training, should I quit?", "missed a whole week"),
    ("morning or evening runs?", "morning or in the evening"),
    ("plan for my first 5K race", "first 5K"),
    ("my knee hurts when running", "knees hurt"),
    ("do I need stretching before I run", "stretch"),
    ("what should I eat before running", "eat before"),
    ("how to keep motivated to run", "motivated"),
    ("is it ok to walk during my run", "walking during a run"),
    ("breathing technique while running", "breathe"),
    ("running when it rains", "rain"),
    ("I'm 55, too old to start running?", "too old"),
    ("back to running after a long break", "long break"),
    ("can I take my dog running", "dog"),
    ("treadmill is boring, tips?", "treadmill"),
    ("how long should a run be for a beginner", "beginner's run be"),
    ("do I need a watch for running", "watch"),
]


def test_top1_hit_rate_on_paraphrases() -> None:
    examples = [Example(**raw) for raw in demo_data()["examples"]]
    index = RetrievalIndex(examples)
    hits = 0
    for query, expected in LABELLED:
        found = index.search(query, k=1)
        if found and expected.lower() in found[0].example.question.lower():
            hits += 1
    rate = hits / len(LABELLED)
    print(f"offline engine top-1 hit rate: {rate:.0%} ({hits}/{len(LABELLED)})")
    assert rate >= 0.8


def test_confidence_separates_covered_from_unknown_questions() -> None:
    index = RetrievalIndex([Example(**raw) for raw in demo_data()["examples"]])
    assert index.search("what shoes should I buy", k=1)[0].confidence > 0.6
    unknown = index.search("explain quantum chromodynamics to me", k=1)
    assert not unknown or unknown[0].confidence < MIN_CONFIDENCE
    assert index.search("", k=3) == [] and RetrievalIndex([]).search("shoes") == []


def test_rejected_examples_are_never_answers() -> None:
    index = RetrievalIndex(
        [
            Example.from_qa("Shoes?", "Bad advice", status="rejected"),
            Example.from_qa("Which shoes?", "Comfortable ones"),
        ]
    )
    assert [h.example.answer for h in index.search("shoes", k=5)] == ["Comfortable ones"]


def test_edits_taken_in_give_what_an_index_built_afresh_gives(monkeypatch) -> None:
    """Random edits (new words, rejected and back, an emptied answer, the same example twice)
    taken in by `update`, and rows added, deleted and moved taken in by `sync`: every search
    ranks as an index built from the dataset as it now is does, equal scores in the dataset's
    order, through the rebuilds that drop the dead slots; searched without some examples, as
    one built without them."""
    import copy
    import random

    rng = random.Random(4)
    vocabulary = [f"w{n}" for n in range(30)]

    def text(k: int) -> str:
        return " ".join(rng.choices(vocabulary, k=k))

    def example(old: Example | None = None) -> Example:
        if old is not None and rng.random() < 0.3:  # approved, say: the same messages
            changed = copy.copy(old)
            changed.status = rng.choice(["draft", "approved", "rejected"])
            return changed
        made = Example.from_qa(
            text(rng.randint(1, 6)),
            rng.choice(["", " ", text(rng.randint(1, 12))]) if rng.random() < 0.2 else text(8),
            status=rng.choice(["draft", "approved", "rejected"]) if rng.random() < 0.3 else "draft",
        )
        if old is not None:
            made.id = old.id
        return made

    examples = [example() for _ in range(120)]
    examples += [Example.from_qa(e.question, e.answer) for e in examples[:10]]  # equal scores
    index = RetrievalIndex(examples)
    rebuilt = 0
    real = RetrievalIndex._build

    def counted(self, placed) -> None:
        nonlocal rebuilt
        rebuilt += 1
        real(self, placed)

    monkeypatch.setattr(RetrievalIndex, "_build", counted)
    monkeypatch.setattr(RetrievalIndex, "DEAD_AT_MOST", 20)
    for round_ in range(80):
        if round_ % 3 == 2:  # rows added, deleted and moved: the whole list, as it now is
            examples = list(examples)
            for _ in range(rng.randint(1, 6)):
                examples.insert(rng.randrange(len(examples) + 1), example())
            for _ in range(rng.randint(0, 5)):
                del examples[rng.randrange(len(examples))]
            a, b = rng.sample(range(len(examples)), 2)
            examples[a], examples[b] = examples[b], examples[a]
            if round_ % 4 == 0:  # and an edit in the same list
                examples[a] = example(examples[a])
            if round_ % 10 == 5:  # and many: built anew
                for at in rng.sample(range(len(examples)), 60):
                    examples[at] = example(examples[at])
            index.sync(examples)
        else:
            edited = []
            for at in rng.sample(range(len(examples)), rng.randint(1, 8)):
                examples[at] = example(examples[at])
                edited.append((at, examples[at]))
            if round_ % 7 == 0:
                edited.append(edited[0])  # told twice
            index.update(edited)
        fresh = RetrievalIndex(examples)
        # the voice check's way: some examples left out (rejected ones, an id never seen)
        left_out = {e.id for e in rng.sample(examples, rng.randint(1, 12))} | {"not-an-id"}
        fresh_without = RetrievalIndex([e for e in examples if e.id not in left_out])
        for _ in range(5):
            query = text(rng.randint(1, 4))
            for ours, theirs in (
                (index.search(query, k=6), fresh.search(query, k=6)),
                (index.without(left_out).search(query, 6), fresh_without.search(query, k=6)),
            ):
                assert [h.example for h in ours] == [h.example for h in theirs]
                assert [h.score for h in ours] == [h.score for h in theirs]
                assert [h.confidence for h in ours] == [h.confidence for h in theirs]
        assert len(index) == len(fresh)
    assert rebuilt - 80 >= 1  # (each fresh index is one build) the dead slots were dropped


def test_a_change_of_status_counts_no_word_again(monkeypatch) -> None:
    """Approving thousands of examples shares their messages (`Example.__copy__`): the index
    swaps the examples in without reading their words, unless one is now rejected."""
    import copy

    from persona_studio.core import retrieval

    examples = [Example.from_qa(f"Question {n} about pace?", f"Answer {n}.") for n in range(50)]
    index = RetrievalIndex(examples)
    read: list[str] = []
    real = retrieval._terms
    monkeypatch.setattr(retrieval, "_terms", lambda e: read.append(e.id) or real(e))
    approved = [copy.copy(e) for e in examples]
    for e in approved:
        e.status = "approved"
    approved[3].status = "rejected"
    index.update(list(enumerate(approved[:25])))
    assert len(index.search("question pace", k=50)) == 49
    index.sync(approved)  # the rest, as the list
    hits = index.search("question pace", k=50)
    assert read == [approved[3].id]  # taken out: its words leave the figures
    assert {h.example.id for h in hits} == {e.id for e in approved} - {approved[3].id}
    assert all(h.example.status == "approved" for h in hits)


def test_rejected_rows_cost_a_sync_nothing(monkeypatch) -> None:
    """Rejected examples are never in the index: a row added to a dataset of mostly rejected
    ones is taken in alone, not built anew."""
    examples = [
        Example.from_qa(f"Q {n}?", f"A {n}.", status="rejected" if n % 4 else "draft")
        for n in range(4_000)
    ]
    index = RetrievalIndex(examples)
    built: list[int] = []
    real = RetrievalIndex._build
    monkeypatch.setattr(RetrievalIndex, "_build", lambda self, p: built.append(1) or real(self, p))
    index.sync([*examples, Example.from_qa("Q new?", "A new.")])
    assert index.search("new")[0].example.answer == "A new." and built == []
