"""Generated candidates waiting for the creator's decision, kept in the project (one run record
per generation run) so a closed window or an interrupted run loses none."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import Example, new_id, new_ids, now_iso
from persona_studio.core.generation import Candidate
from persona_studio.core.records import dict_rows

if TYPE_CHECKING:
    from persona_studio.core.project import Project


def candidates_data(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    """Each candidate's fields (all texts), as `asdict` gives them, 20 times faster: a run's
    record is written again at each batch and each decision, 5,000 candidates for a rescue.
    `compared` only where it is False (a version before it would refuse a field it does not
    know: only a run stopped in its first seconds writes it)."""
    rows = [vars(c).copy() for c in candidates]
    for row in rows:
        if row["compared"]:
            del row["compared"]
    return rows


_FIELDS = frozenset(field.name for field in dataclasses.fields(Candidate))


_TEXTS = ("question", "answer", "source", "kind")  # (each candidate has them)
_STATUSES = frozenset({"pending", "accepted", "rejected"})


def candidates_from_data(rows: object) -> list[Candidate]:
    """The candidates of a record; fields a later version added are left out, and so is a row
    that is not a candidate (a record may come from anywhere: a text field that is not a text,
    a status of another kind)."""
    return [
        Candidate(**{k: v for k, v in row.items() if k in _FIELDS})
        for row in dict_rows(rows, _is_candidate)
    ]


def _is_candidate(row: dict[str, Any]) -> bool:
    return (
        all(type(row.get(key)) is str for key in _TEXTS)
        and all(type(row.get(key, "")) is str for key in ("id", "duplicate_of"))
        and row.get("status", "pending") in _STATUSES
        and type(row.get("compared", True)) is bool
    )


REVIEW_KIND = "generate"


class ReviewQueue:
    """Generated candidates kept in the project until the creator decides on each one, so a
    closed window or an interrupted run loses none (one run record per generation run)."""

    def __init__(self, project: Project, later: Callable[..., None] | None = None) -> None:
        """`later(write, size=N, whole=KEY)`: how a run's record is written (the window's
        session writes in order with the examples' writes, a large one in a worker thread, so
        the UI thread never waits for the file behind one, and a newer write of the same
        record replaces one still waiting); else at once."""
        self.project, self.later = project, later
        self.runs: dict[str, dict[str, Any]] = {}
        for record in reversed(project.runs(REVIEW_KIND)):  # oldest first
            data = dict(record.data)
            data["candidates"] = candidates_from_data(data.get("candidates"))
            self.runs[record.id] = data

    def start_run(self, **meta: Any) -> str:
        run_id = new_id()
        self.runs[run_id] = {**meta, "candidates": [], "status": "running"}
        self._save(run_id)
        return run_id

    def add(self, run_id: str, candidates: Sequence[Candidate]) -> None:
        self.runs[run_id]["candidates"].extend(candidates)
        self._save(run_id)

    def finish(self, run_id: str, status: str, note: str = "") -> None:
        self.runs[run_id].update(status=status, note=note)
        self._save(run_id)

    def pending(self) -> list[Candidate]:
        return [c for run in self.runs.values() for c in run["candidates"] if c.status == "pending"]

    def decide(
        self,
        ids: Sequence[str],
        status: str,
        edits: dict[str, tuple[str, str]] | None = None,
    ) -> list[Example]:
        """Accept or reject candidates (with the user's edits); returns the examples to add.
        Call `add_examples` with them and this in one go: both are saved at once."""
        edits, wanted, accepted = edits or {}, set(ids), []
        for run_id, run in self.runs.items():
            touched = False
            for candidate in run["candidates"]:
                if candidate.id in wanted and candidate.status == "pending":
                    if candidate.id in edits:
                        candidate.question, candidate.answer = edits[candidate.id]
                    candidate.status = status
                    touched = True
                    if status == "accepted":
                        accepted.append(candidate)
            if touched:
                self._save(run_id)
        now = now_iso()
        return [c.to_example(i, now) for c, i in zip(accepted, new_ids(len(accepted)), strict=True)]

    def changed(self, ids: Sequence[str]) -> None:
        """Save the runs of these candidates, changed in place (compared later)."""
        wanted = set(ids)
        for run_id, run in self.runs.items():
            if any(c.id in wanted for c in run["candidates"]):
                self._save(run_id)

    def reopen(self, ids: Sequence[str]) -> None:
        """Put decided candidates back in the queue (the decision was undone)."""
        wanted = set(ids)
        for run_id, run in self.runs.items():
            touched = False
            for candidate in run["candidates"]:
                if candidate.id in wanted and candidate.status != "pending":
                    candidate.status = "pending"
                    touched = True
            if touched:
                self._save(run_id)

    def write(self, write: Callable[[], object], size: int, whole: Hashable = None) -> None:
        """Write to the project, in order with the queue's own records (`later`, if given).
        `whole`: the key of what it writes whole (see `later`)."""
        if self.later is None:
            write()
        else:
            self.later(write, size=size, whole=whole)

    def _save(self, run_id: str) -> None:
        run = self.runs[run_id]
        data = {**run, "candidates": candidates_data(run["candidates"])}  # as they are now
        status = run.get("status", "running")
        self.write(
            lambda: self.project.save_run(run_id, REVIEW_KIND, status, data),
            len(run["candidates"]),
            whole=(REVIEW_KIND, run_id),
        )
