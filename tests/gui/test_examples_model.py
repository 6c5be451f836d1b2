"""The grid's model: however the rows were reached (typing on, which looks only among the
shown rows, or a filter applied afresh), they are the rows a fresh model shows."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt

import persona_studio.gui.models.examples_model as examples_model
from persona_studio.core.dataset import Example
from persona_studio.core.validation import Issue
from persona_studio.gui.models.examples_model import (
    COL_ANSWER,
    COL_NUMBER,
    COL_TOKENS,
    ExamplesModel,
    Filters,
)

WORDS = ["pace", "race", "rest", "hill", "tempo", "easy", "long", "run"]


def _examples(rng: random.Random, n: int) -> list[Example]:
    return [
        Example.from_qa(
            " ".join(rng.choices(WORDS, k=4)) + "?",
            " ".join(rng.choices(WORDS, k=6)) + ".",
            status=rng.choice(["draft", "approved", "rejected"]),
            tags=[rng.choice(["a", "b"])],
        )
        for _ in range(n)
    ]


def _shown(model: ExamplesModel) -> list[str]:
    return [ex.id for ex in model.shown_examples()]


def _fresh(examples, filters, sort, tokens, issues) -> list[str]:
    model = ExamplesModel()
    model.set_examples(examples)
    model.set_report(tokens, issues)
    if sort is not None:
        model.sort(*sort)
    model.apply_filters(filters)
    return _shown(model)


@pytest.mark.parametrize("through", ["apply_filters", "search_in_parts"])
def test_typing_on_narrows_to_the_rows_a_fresh_search_finds(qapp, monkeypatch, through) -> None:
    """`search_in_parts` too, as the tab runs a large project's search, a part of the rows at
    a time, with edits, reports, sorts and newer keystrokes coming between parts: the rows
    found so far are the first of those a fresh model shows, and all of them once done."""
    rng = random.Random(7)
    examples = _examples(rng, 400)
    model = ExamplesModel()
    model.set_examples(examples)
    model.apply_filters(Filters(text="x"))  # builds the search texts
    tokens: dict[str, int] = {}
    issues: dict[str, list[Issue]] = {}
    sort = None
    filters = Filters()
    fresh_filters: list[int] = []  # the times the rows were chosen from all of them
    choose_from_all = examples_model._candidates
    monkeypatch.setattr(
        examples_model, "_candidates", lambda *a: fresh_filters.append(1) or choose_from_all(*a)
    )
    monkeypatch.setattr(examples_model, "PART_ROWS", 37)
    monkeypatch.setattr(examples_model, "SHOW_AT_ONCE", 20)  # then rows found wait to show
    monkeypatch.setattr(examples_model, "SHOW_EVERY", 60.0)
    applied = afresh = finished = 0
    stale = False  # a row was edited after the search running looked at it

    def check(step: int) -> None:
        if stale:
            return  # the edited row stays shown as it is until the filters apply again
        fresh, scan = _fresh(examples, filters, sort, tokens, issues), model.searching
        if scan is None:
            assert _shown(model) == fresh, (step, filters)
        elif scan.in_order:
            assert fresh[: model.shown] == _shown(model), (step, filters)

    for step in range(800):
        if through == "search_in_parts" and (scan := model.searching) is not None:
            for _part in range(rng.randint(0, 3)):
                if not model.search_part(scan):
                    finished += 1
                    break
            check(step)
        action = rng.random()
        if action < 0.7:  # type on, delete a character, or start another word
            text, choice = filters.text, rng.random()
            if choice < 0.75 and text and not text.endswith(" "):
                last = text.split()[-1]
                word = next((w for w in WORDS if w.startswith(last) and w != last), None)
                text += word[len(last)] if word else " "
            elif choice < 0.85 and text:
                text += rng.choice(WORDS)[0]
            elif choice < 0.92:
                text = text[:-1]
            else:
                text = rng.choice(WORDS)[:1]
            status = rng.choice(["", "draft"]) if rng.random() < 0.1 else filters.status
            filters = Filters(text, status, filters.tag, filters.issues_only, filters.min_tokens)
        elif action < 0.74:
            filters = Filters(filters.text, rng.choice(["", "draft", "approved"]), filters.tag)
        elif action < 0.78:
            filters = Filters(
                filters.text, filters.status, "", rng.random() < 0.5, rng.choice([0, 20])
            )
        elif action < 0.88:  # an edit: the row may now match the search, or no longer
            at = rng.randrange(len(examples))
            edited = Example.from_qa(" ".join(rng.choices(WORDS, k=3)), "new", id=examples[at].id)
            examples = [*examples[:at], edited, *examples[at + 1 :]]
            model.examples_changed([edited.id], examples)
            stale = stale or model.searching is not None
            continue  # the edited row stays shown as it is until the filters apply again
        elif action < 0.93:  # a new report: rows with issues, and token counts, change
            tokens = {ex.id: rng.randint(1, 40) for ex in examples}
            issues = {
                ex.id: [Issue("empty", "x", blocking=False)] for ex in rng.sample(examples, 50)
            }
            model.set_report(tokens, issues)
            continue
        else:  # (a search running is finished first)
            sort = (
                rng.choice([COL_ANSWER, COL_TOKENS, COL_NUMBER]),
                rng.choice(list(Qt.SortOrder)),
            )
            model.sort(*sort)
            assert model.searching is None
            check(step)
            continue
        applied += 1
        before = len(fresh_filters)
        if through == "apply_filters" or not filters.text.strip():
            model.apply_filters(filters)
            stale = False
        else:
            model.search_in_parts(filters)  # (afresh after an edit: it carries none on)
            stale = False
        afresh += len(fresh_filters) - before
        check(step)
    assert applied - afresh > 100  # typing on narrowed, it did not always start afresh
    assert through == "apply_filters" or finished > 50  # (searches ended between actions)


def test_a_change_that_keeps_the_messages_makes_no_search_text_again(qapp, monkeypatch) -> None:
    """Issue 21: after a search, approving 33,000 of 100,000 rows made each one's search text
    again (~50 ms of that stall), though a change of status or tags shares the messages."""
    import copy

    from persona_studio.gui.models import examples_model

    examples = [Example.from_qa(f"Pace question {n}?", "Easy.") for n in range(20)]
    model = ExamplesModel()
    model.set_examples(examples)
    model.apply_filters(Filters(text="pace"))  # builds the search texts
    made: list[str] = []
    real = examples_model.search_text
    monkeypatch.setattr(
        examples_model, "search_text", lambda ex, **kw: made.append(ex.id) or real(ex, **kw)
    )
    approved = [copy.copy(ex) for ex in examples[:10]]
    for ex in approved:
        ex.status, ex.tags = "approved", ["tempo"]
    examples = approved + examples[10:]
    model.examples_changed([ex.id for ex in approved], examples)
    assert made == []
    model.apply_filters(Filters(text="tempo"))  # their new tag is searched
    assert _shown(model) == [ex.id for ex in approved]
    edited = Example.from_qa("A hill question?", "Slowly.", id=examples[15].id)
    examples = [*examples[:15], edited, *examples[16:]]
    model.examples_changed([edited.id], examples)
    assert made == [edited.id]
    model.apply_filters(Filters(text="hill"))
    assert _shown(model) == [edited.id]


def _searchable(n: int) -> ExamplesModel:
    model = ExamplesModel()
    model.set_examples([Example.from_qa(f"Question {i}?", f"Answer {i % 3}.") for i in range(n)])
    model.apply_filters(Filters(text="x"))  # builds the search texts
    model.apply_filters(Filters())
    return model


def _looked(monkeypatch) -> list[int]:
    """How many rows each call of `SearchTexts.matching` looks among, in order."""
    looked: list[int] = []
    matching = examples_model.SearchTexts.matching
    monkeypatch.setattr(
        examples_model.SearchTexts,
        "matching",
        lambda self, rows, text: looked.append(len(rows)) or matching(self, rows, text),
    )
    return looked


def test_a_search_in_parts_shows_the_rows_as_it_finds_them(qapp, monkeypatch) -> None:
    """Issue 21: at 1,000,000 examples a search reads ~460 MB of text (0.2–0.4 s). A part of
    the rows at a time, the first found show at once, each part's are added below them; sorted
    by another column, they show all at once at the end, in that order."""
    monkeypatch.setattr(examples_model, "PART_ROWS", 10)
    model = _searchable(100)
    looked = _looked(monkeypatch)
    added: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: added.append((first, last)))
    scan = model.search_in_parts(Filters(text="question"))
    assert model.searching is scan and model.shown == 10 and looked == [10]
    assert model.search_part(scan) and model.shown == 20 and added == [(10, 19)]
    while model.search_part(scan):
        pass
    assert scan.done and model.searching is None and model.shown == 100 and looked == [10] * 10
    assert added[-1] == (90, 99) and scan.fresh and scan.approved == 0

    # beyond a screenful, the rows found are added at most every `SHOW_EVERY` s (each
    # addition repaints the grid), and all of them once done
    monkeypatch.setattr(examples_model, "SHOW_AT_ONCE", 15)
    monkeypatch.setattr(examples_model, "SHOW_EVERY", 60.0)
    model.apply_filters(Filters())
    added.clear()
    scan = model.search_in_parts(Filters(text="question"))
    assert model.search_part(scan) and (model.shown, added) == (20, [(10, 19)])  # (10 < 15)
    assert model.search_part(scan) and (model.shown, scan.count) == (20, 30)
    while model.search_part(scan):
        assert model.shown == 20
    assert added == [(10, 19), (20, 99)] and model.shown == 100

    model.sort(COL_ANSWER, Qt.SortOrder.DescendingOrder)
    model.apply_filters(Filters())
    scan = model.search_in_parts(Filters(text="answer 1"))
    assert model.shown == 100  # the rows shown before, until all are found and sorted
    while model.search_part(scan):
        assert model.shown == 100
    assert [ex.answer for ex in model.shown_examples()] == ["Answer 1."] * 33
    assert [ex.question for ex in model.shown_examples()][:2] == ["Question 1?", "Question 4?"]


def test_typing_on_carries_on_the_search_running(qapp, monkeypatch) -> None:
    """A word typed at five keys a second: each key's search began before the last was done,
    and started over. It carries on now: it looks again at the rows found, and at the rest
    with the new text; a sort finishes it, another filter drops it."""
    monkeypatch.setattr(examples_model, "PART_ROWS", 10)
    model = _searchable(100)
    looked = _looked(monkeypatch)
    first = model.search_in_parts(Filters(text="answer"))
    model.search_part(first)  # 20 of 100 rows looked at: all 20 found
    looked.clear()
    second = model.search_in_parts(Filters(text="answer 2"))
    assert not model.search_part(first) and not first.done  # dropped
    assert list(second.among[:20]) == list(range(20)) and len(second.among) == 100
    while model.search_part(second):
        pass
    assert sum(looked) == 100  # the 20 found again, then the 80 not looked at
    assert [ex.question for ex in model.shown_examples()][:3] == [
        "Question 2?",
        "Question 5?",
        "Question 8?",
    ]
    assert model.shown == 33

    looked.clear()
    scan = model.search_in_parts(Filters(text="answer 2."))  # typing on: among the 33 shown
    while model.search_part(scan):
        pass
    assert looked == [10, 10, 10, 3] and model.shown == 33

    scan = model.search_in_parts(Filters(text="question", status="approved"))
    model.sort(COL_TOKENS, Qt.SortOrder.AscendingOrder)  # finishes it first
    assert scan.done and model.shown == 0  # (none approved)
    scan = model.search_in_parts(Filters(text="question"))
    model.apply_filters(Filters(text="answer 0"))  # drops it
    assert not model.search_part(scan) and not scan.done and model.shown == 34


def test_a_row_edited_during_a_search_is_looked_at_again(qapp, monkeypatch) -> None:
    """An edit to a row the search has looked at already: once it is done, typing on looks
    among all the rows again, not only those shown (the edited row may match now)."""
    monkeypatch.setattr(examples_model, "PART_ROWS", 10)
    model = _searchable(100)
    examples = list(model._examples)
    scan = model.search_in_parts(Filters(text="answer 1"))  # row 0 looked at: no match
    edited = Example.from_qa("Question 0?", "Answer 1, now.", id=examples[0].id)
    examples[0] = edited
    model.examples_changed([edited.id], examples)
    while model.search_part(scan):
        pass
    assert model.shown == 33  # as looked at
    scan = model.search_in_parts(Filters(text="answer 1,"))
    while model.search_part(scan):
        pass
    assert [ex.id for ex in model.shown_examples()] == [edited.id]


def test_a_search_carried_on_copies_none_of_the_rows_it_had_not_looked_at(qapp, monkeypatch):
    """At 1,000,000 examples an unfiltered search looks among a `range` of every row: typing
    on while it ran copied the rest of it into an array, 56 ms on the UI thread at a
    keystroke. The rest stays a `range` now, after the rows found, however often carried on."""
    monkeypatch.setattr(examples_model, "PART_ROWS", 10)
    model = _searchable(100)
    scan = model.search_in_parts(Filters(text="answer"))
    for text in ("answer ", "answer 1", "answer 1."):
        model.search_part(scan)
        scan = model.search_in_parts(Filters(text=text))
    assert isinstance(scan.among, examples_model._Rows)
    rest = scan.among.parts[-1]
    assert isinstance(rest, range) and rest == range(20, 100)  # (each looked at the 20 again)
    assert list(scan.among) == [*(i for i in range(20) if i % 3 == 1), *range(20, 100)]
    while model.search_part(scan):
        pass
    assert [ex.answer for ex in model.shown_examples()] == ["Answer 1."] * 33
