"""The three-way merge: every case by hand, then random interleavings (hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from persona_studio.core.dataset import Example
from persona_studio.core.sheet_sync import (
    COLUMNS,
    SheetRow,
    example_to_row,
    normalise,
    plan_sync,
    row_to_example,
)


def row(row_id: str, question: str, answer: str = "a") -> dict[str, str]:
    return normalise({"id": row_id, "question": question, "answer": answer, "status": "draft"})


def ids(counter=itertools.count()):  # noqa: B008 - one counter per test module is fine
    return lambda: f"new{next(counter)}"


def test_each_case() -> None:
    base = {i: row(i, f"q{i}") for i in "abcdefg"}
    local = {**base, "b": row("b", "edited here"), "x": row("x", "new here")}
    del local["c"]  # deleted here, untouched there
    del local["f"]  # deleted here, edited there → conflict
    local["g"] = row("g", "g here")  # edited both → conflict
    sheet = {
        **base,
        "d": row("d", "edited there"),
        "f": row("f", "f there"),
        "g": row("g", "g there"),
    }
    del sheet["e"]  # deleted there, untouched here
    remote = [SheetRow(n, r) for n, r in enumerate(sheet.values())]
    remote.append(SheetRow(len(remote), normalise({"question": "typed", "answer": "by Ann"})))
    remote.append(SheetRow(len(remote), normalise({})))  # blank row: ignored
    plan = plan_sync(base, local.values(), remote, make_id=ids())
    pulled = {r["id"]: r["question"] for r in plan.local_upserts}
    assert pulled == {"d": "edited there", "new0": "typed"}
    assert plan.local_deletes == ["e"]
    assert [r["id"] for r in plan.appends] == ["x"]
    writes = set(plan.cell_writes)
    position = {r["id"]: n for n, r in enumerate(sheet.values())}
    assert (position["b"], "question", "edited here") in writes
    assert {(position["c"], c, "") for c in COLUMNS} <= writes  # c cleared in the sheet
    assert (len(sheet), "id", "new0") in writes  # the typed row gets its id written back
    assert sorted(c.id for c in plan.conflicts) == ["f", "g"]
    assert plan.snapshot["g"] == base["g"] and plan.snapshot["f"] == base["f"]
    assert len(plan.cell_writes) == 1 + len(COLUMNS) + 1  # only changed cells are written
    counts = plan.summary()
    plan.slim()  # after it is applied: the counts and conflicts stay, the rows go
    assert plan.summary() == counts and not plan.empty
    assert sorted(c.id for c in plan.conflicts) == ["f", "g"] and plan.conflicts[1].base
    assert not (plan.local_upserts or plan.appends or plan.cell_writes or plan.snapshot)


def test_nothing_changed_means_no_writes() -> None:
    base = {i: row(i, f"q{i}") for i in "abc"}
    plan = plan_sync(base, base.values(), [SheetRow(n, r) for n, r in enumerate(base.values())])
    assert plan.empty and not plan.conflicts and plan.snapshot == base


def test_seed_layout_without_ids_imports_everything_once() -> None:
    remote = [
        SheetRow(0, normalise({"question": "q1", "answer": "a1"})),
        SheetRow(1, normalise({"question": "q2", "answer": "a2"})),
    ]
    plan = plan_sync({}, [], remote, make_id=ids())
    assert [r["question"] for r in plan.local_upserts] == ["q1", "q2"]
    assert [w[:2] for w in plan.cell_writes] == [(0, "id"), (1, "id")]


def test_example_rows_round_trip() -> None:
    single = Example.from_qa("Q?", "A!", status="approved", tags=["x", "y"], source="demo")
    multi = Example(
        messages=[
            {"role": "user", "content": "1"},
            {"role": "assistant", "content": "2"},
            {"role": "user", "content": "3"},
            {"role": "assistant", "content": "4"},
        ]
    )
    for example in (single, multi):
        back = row_to_example(example_to_row(example), base=example)
        assert (back.id, back.messages, back.status, back.tags, back.source) == (
            example.id,
            example.messages,
            example.status,
            example.tags,
            example.source,
        )


TEXT = st.sampled_from(["alpha", "beta", "gamma", "delta", "=1+1", "007", "ünï"])


class SyncMachine(RuleBasedStateMachine):
    """Random edits on both sides and syncs: no edit lost unless reported, no duplicate rows."""

    def __init__(self) -> None:
        super().__init__()
        self.local: dict[str, dict[str, str]] = {}
        self.sheet: list[dict[str, str]] = []  # the sheet's data rows, blank = deleted
        self.snapshot: dict[str, dict[str, str]] = {}
        self.counter = itertools.count()

    def _sheet_ids(self) -> list[str]:
        return [r["id"] for r in self.sheet if r["id"] and any(r[c] for c in COLUMNS[1:])]

    @rule(question=TEXT)
    def add_here(self, question: str) -> None:
        row_id = f"L{next(self.counter)}"
        self.local[row_id] = row(row_id, question)

    @precondition(lambda self: self.local)
    @rule(data=st.data(), question=TEXT)
    def edit_here(self, data, question: str) -> None:
        row_id = data.draw(st.sampled_from(sorted(self.local)))
        self.local[row_id] = {**self.local[row_id], "question": question}

    @precondition(lambda self: self.local)
    @rule(data=st.data())
    def delete_here(self, data) -> None:
        row_id = data.draw(st.sampled_from(sorted(self.local)))
        del self.local[row_id]

    @rule(question=TEXT)
    def type_in_sheet(self, question: str) -> None:
        self.sheet.append(normalise({"question": question, "answer": "typed"}))

    @precondition(lambda self: self._sheet_ids())
    @rule(data=st.data(), answer=TEXT)
    def edit_there(self, data, answer: str) -> None:
        row_id = data.draw(st.sampled_from(sorted(self._sheet_ids())))
        target = next(r for r in self.sheet if r["id"] == row_id)
        target["answer"] = answer

    @precondition(lambda self: self._sheet_ids())
    @rule(data=st.data())
    def delete_there(self, data) -> None:
        row_id = data.draw(st.sampled_from(sorted(self._sheet_ids())))
        target = next(r for r in self.sheet if r["id"] == row_id)
        for column in COLUMNS:
            target[column] = ""

    def _there(self) -> dict[str, dict[str, str]]:
        return {r["id"]: dict(r) for r in self.sheet if r["id"] and any(r[c] for c in COLUMNS[1:])}

    @rule()
    def sync(self) -> None:
        # what each side changed since the last sync (None: deleted), as three-way merge sees it
        before_there = self._there()
        keys = set(self.snapshot) | set(self.local) | set(before_there)
        here_changed = {
            k: self.local.get(k) for k in keys if self.local.get(k) != self.snapshot.get(k)
        }
        there_changed = {
            k: before_there.get(k) for k in keys if before_there.get(k) != self.snapshot.get(k)
        }

        remote = [SheetRow(n, dict(r)) for n, r in enumerate(self.sheet)]
        plan = plan_sync(
            self.snapshot, self.local.values(), remote, make_id=lambda: f"S{next(self.counter)}"
        )
        for upsert in plan.local_upserts:
            self.local[upsert["id"]] = upsert
        for row_id in plan.local_deletes:
            self.local.pop(row_id, None)
        for index, column, value in plan.cell_writes:
            self.sheet[index][column] = value
        self.sheet += [dict(r) for r in plan.appends]
        self.snapshot = plan.snapshot

        conflicted = {c.id for c in plan.conflicts}
        there = self._there()
        for row_id in set(self.local) | set(there):
            if row_id not in conflicted:  # both sides agree
                assert self.local.get(row_id) == there.get(row_id), row_id
        for row_id, value in here_changed.items():  # a one-sided change survives
            if row_id not in there_changed:
                assert row_id not in conflicted
                assert self.local.get(row_id) == value and there.get(row_id) == value, row_id
        for row_id, value in there_changed.items():
            if row_id not in here_changed:
                assert row_id not in conflicted
                assert there.get(row_id) == value and self.local.get(row_id) == value, row_id
        for row_id in set(here_changed) & set(there_changed):  # changed on both sides
            if here_changed[row_id] != there_changed[row_id]:
                assert row_id in conflicted, f"{row_id}: an edit was dropped without a conflict"

    @invariant()
    def no_duplicate_rows_in_the_sheet(self) -> None:
        sheet_ids = self._sheet_ids()
        assert len(sheet_ids) == len(set(sheet_ids))


SyncMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestSync = SyncMachine.TestCase
