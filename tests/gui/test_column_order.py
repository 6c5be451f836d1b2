"""A column's order kept up with edits, rows added, deleted and moved: at each use, each row's
place is where a new read of the order would put it, rows of equal values in equal places."""

from __future__ import annotations

import copy
import random

import numpy as np

import persona_studio.gui.models.column_order as column_order
from persona_studio.core.dataset import Example
from persona_studio.gui.models.column_order import ColumnOrder, Reshape

WORDS = ["pace", "race", "rest", "hill"]


def _question(ex: Example) -> str:
    return ex.question.lower()


def _example(rng: random.Random) -> Example:
    return Example.from_qa(" ".join(rng.choices(WORDS, k=2)) + "?", "An answer.")


def _same_order(places: np.ndarray, fresh: np.ndarray) -> bool:
    """Whether both put the rows in the same order, with the same rows equal."""
    return np.array_equal(
        np.unique(places, return_inverse=True)[1], np.unique(fresh, return_inverse=True)[1]
    )


def test_an_order_kept_up_with_changes_is_the_order_read_anew(monkeypatch) -> None:
    monkeypatch.setattr(column_order, "SORT_RUN", 9)  # sorted runs, merged
    monkeypatch.setattr(column_order, "READ_PART", 4)  # read and merged in parts
    rng = random.Random(5)
    rows = [_example(rng) for _ in range(60)]  # 16 questions: many equal
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    used = placed_again = 0
    for _step in range(400):
        change = rng.random()
        if change < 0.4:  # an edit, or a change of status (the same messages)
            at = rng.randrange(len(rows))
            if rng.random() < 0.3:
                rows[at] = copy.copy(rows[at])
                rows[at].status = "approved"
            else:
                rows[at] = Example.from_qa(_example(rng).question, "Edited.", id=rows[at].id)
            assert order.edited([at], rows, _question)
        elif change < 0.7:  # rows added, deleted or moved
            at, to = rng.randrange(len(rows)), rng.randrange(len(rows))
            kind = rng.choice(["add", "delete", "move"])
            if kind == "delete":
                del rows[at]
            else:
                rows.insert(to, _example(rng) if kind == "add" else rows.pop(at))
            assert order.moved(list(rows))
        else:
            placed_again += bool(order.unplaced)
            places = order.places_now(_question)
            assert places is not None
            fresh = ColumnOrder.read(1, list(rows), _question, None, messages=True).places
            assert _same_order(places, fresh)
            used += 1
    assert used > 80 and placed_again > 60


def test_a_change_that_keeps_the_value_places_nothing_again() -> None:
    rng = random.Random(1)
    rows = [_example(rng) for _ in range(20)]
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    read: list[Example] = []

    def question(ex: Example) -> str:
        read.append(ex)
        return _question(ex)

    approved = copy.copy(rows[3])  # shares the messages: not even read
    approved.status = "approved"
    rows[3] = approved
    before = rows[4]
    rows[4] = Example.from_qa(before.question, "Another answer.", id=before.id)
    assert order.edited([3, 4], rows, question)  # other messages, the same question: read,
    assert not order.unplaced and read == [before, rows[4]]  # and kept in its place
    assert order.places_now(question) is not None and order.rows[3] is approved


def test_too_many_changes_or_no_room_left_ask_for_a_new_read(monkeypatch) -> None:
    monkeypatch.setattr(column_order, "PATCHED_AT_MOST", 5)
    rows = [Example.from_qa(f"q{i:03}?", "A.") for i in range(50)]
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    assert not order.moved([Example.from_qa(f"new {i}?", "A.") for i in range(6)] + rows)
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    assert not order.edited(
        range(6), [Example.from_qa(f"e{i}?", "A.") for i in range(6)], _question
    )

    # each new question between the last two placed halves the room between their places,
    # until no place is left between them: a new read, never a wrong order
    low, high = "q000a", "q000z"
    rows = [Example.from_qa(low, "A."), Example.from_qa(high, "A.")]
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    for step in range(200):
        middle = low + "m" * (step + 1)  # between `low` and every question after it
        rows.append(Example.from_qa(middle, "A."))
        assert order.moved(list(rows))
        places = order.places_now(_question)
        if places is None:
            break
        fresh = ColumnOrder.read(1, list(rows), _question, None, messages=True).places
        assert _same_order(places, fresh)
    else:
        raise AssertionError("room between two places never ran out")
    assert step > 20


def test_rows_added_before_and_after_all_others_are_placed_there() -> None:
    rows = [Example.from_qa(q, "A.") for q in ("m?", "n?", "n?")]
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    rows = [Example.from_qa("z?", "A."), *rows, Example.from_qa("a?", "A."), rows[1]]
    assert order.moved(list(rows))
    places = order.places_now(_question)
    assert places is not None
    assert _same_order(places, ColumnOrder.read(1, rows, _question, None, messages=True).places)


def test_told_where_rows_went_it_follows_them_without_looking_each_up(monkeypatch) -> None:
    """The session says where a delete or an undo put its rows (`Reshape`): checked in C
    loops, no row looked up by identity (~25 ms at 100,000 rows deleted from a sorted grid);
    told wrong (a change it did not say), it looks them up."""
    rng = random.Random(2)
    rows = [_example(rng) for _ in range(40)]
    order = ColumnOrder.read(1, list(rows), _question, None, messages=True)
    told: list[bool] = []
    as_told = column_order._as_told
    monkeypatch.setattr(
        column_order, "_as_told", lambda *a: told.append(as_told(*a) is not None) or as_told(*a)
    )

    def follows(reshape: Reshape) -> bool:
        was = column_order.where_each_was(order.rows, rows, reshape)
        fresh = ColumnOrder.read(1, list(rows), _question, None, messages=True).places
        return order.follow(list(rows), was) and _same_order(order.places_now(_question), fresh)

    gone = [3, 17, 18, 39]
    removed = [rows[at] for at in gone]
    rows = [row for at, row in enumerate(rows) if at not in gone]
    assert follows(Reshape(removed=gone))
    for at, row in zip(gone, removed, strict=True):  # undone: back where they were
        rows.insert(at, row)
    assert follows(Reshape(added=gone)) and told == [True, True]
    rows.insert(5, _example(rng))  # added at 5, said at 6: looked up
    assert follows(Reshape(added=[6]))
    del rows[:2]  # deleted 0 and 1, said 2 and 3: looked up
    assert follows(Reshape(removed=[2, 3]))
    del rows[0]  # said of a longer list: looked up
    assert follows(Reshape(removed=[len(rows) + 1]))
    rows.append(_example(rng))
    assert follows(Reshape(added=[len(rows)]))
    assert told == [True, True, False, False, False, False]


def test_every_row_in_order_either_way_as_a_stable_sort_puts_them() -> None:
    """`in_order`: every row by place, rows of equal places in the file's order, ascending or
    descending (the other way made from the one kept: its runs of equal places turned round),
    and made again once the places change."""
    rng = random.Random(9)
    examples = [_example(rng) for _ in range(300)]
    order = ColumnOrder.read(0, examples, _question, None, messages=True)

    def stable(places: np.ndarray, descending: bool) -> list[int]:
        return np.argsort(-places if descending else places, kind="stable").tolist()

    for _ in range(40):
        if rng.random() < 0.3:  # an edit, placed at the next use: the order made again
            at = rng.randrange(len(examples))
            examples[at] = _example(rng)
            assert order.edited([at], examples, _question)
        places = order.places_now(_question)
        assert places is not None
        descending = rng.random() < 0.5
        assert order.in_order(descending=descending).tolist() == stable(places, descending)
    for n, kinds in ((0, 1), (1, 1), (7, 1), (50, 50), (2_000, 30)):
        places = np.array([rng.randrange(kinds) for _ in range(n)], np.float64)
        up = np.array(stable(places, False), np.int32)
        down = column_order._runs_reversed(up, places)
        assert down.tolist() == stable(places, True)
        assert column_order._runs_reversed(down, places).tolist() == up.tolist()


def test_texts_sorted_on_their_first_characters_come_in_their_whole_order(monkeypatch) -> None:
    """A text's key is sorted on its first `KEY_PREFIX` characters while read: rows whose
    first characters are equal are then told apart by their whole texts, so that the order
    is a stable sort on the whole keys, rows of equal keys (and only those) in equal places.
    Texts around the cut's length, sharing long beginnings, in other scripts."""
    monkeypatch.setattr(column_order, "KEY_PREFIX", 4)
    monkeypatch.setattr(column_order, "SORT_RUN", 7)
    monkeypatch.setattr(column_order, "READ_PART", 5)
    rng = random.Random(3)
    pieces = ["ab", "abcd", "abcde", "Σ", "ς", "İ", "x", "", " ", "é"]
    texts = ["".join(rng.choices(pieces, k=rng.randrange(0, 5))) for _ in range(400)]
    rows = [Example.from_qa(text or "?", "An answer.") for text in texts]
    keys = [_question(row) for row in rows]
    order = ColumnOrder.read(0, rows, _question, None, messages=True)
    expected = sorted(range(len(rows)), key=keys.__getitem__)
    assert order.by_place.tolist() == expected
    assert _same_order(order.places, np.unique(keys, return_inverse=True)[1].astype(float))
    assert sum(len(key) > 4 for key in keys) > 100  # (many cut, many not)
    assert len(set(keys)) < len(keys) - 50  # (many equal)
