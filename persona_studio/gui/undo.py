"""Undoable edits. Every command changes the session; widgets follow the session's signals."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from persona_studio.core.dataset import Example, ids_of
from persona_studio.core.rules import Rule
from persona_studio.gui.project_session import ProjectSession, Removed, Replacement

_FIELD_IDS: dict[str, int] = {}


class SetPersonaField(QUndoCommand):
    """Typing in one field merges into one undo step, as in a text editor."""

    def __init__(self, session: ProjectSession, field: str, old: Any, new: Any, label: str) -> None:
        super().__init__(f"Edit {label}")
        self.session, self.field, self.old, self.new = session, field, old, new

    def id(self) -> int:
        return _FIELD_IDS.setdefault(self.field, 1000 + len(_FIELD_IDS))

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetPersonaField) or other.field != self.field:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.set_persona_field(self.field, self.new)

    def undo(self) -> None:
        self.session.set_persona_field(self.field, self.old)


class SetRules(QUndoCommand):
    """The whole ordered rule list before and after; edits to one rule in a row merge."""

    MERGE_ID = 900

    def __init__(
        self,
        session: ProjectSession,
        old: list[Rule],
        new: list[Rule],
        label: str,
        merge_key: str = "",
    ) -> None:
        super().__init__(label)
        self.session, self.old, self.new, self.merge_key = session, old, new, merge_key

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetRules) or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.set_rules(self.new)

    def undo(self) -> None:
        self.session.set_rules(self.old)


class SetAvatar(QUndoCommand):
    def __init__(self, session: ProjectSession, old: bytes | None, new: bytes | None) -> None:
        super().__init__("Change avatar" if new else "Remove avatar")
        self.session, self.old, self.new = session, old, new

    def redo(self) -> None:
        self.session.set_avatar(self.new)

    def undo(self) -> None:
        self.session.set_avatar(self.old)


class EditExamples(QUndoCommand):
    """New contents for some examples (same ids): cell edits, approve, reject, tags."""

    def __init__(
        self,
        session: ProjectSession,
        before: list[Example],
        after: list[Example],
        label: str,
        prepared: Replacement | None = None,
    ) -> None:
        """`prepared`: the session's new lists for `after`, made in a worker thread (the first
        redo takes them if the examples have not changed since)."""
        super().__init__(label)
        self.session = session
        # kept as given: the session never changes an example in place (copy on write), so
        # no copies (deep copies of 100,000 examples took seconds on the UI thread)
        self.before, self.after = list(before), list(after)
        self._prepared = prepared

    def redo(self) -> None:
        prepared, self._prepared = self._prepared, None
        if prepared is None or not self.session.replace_prepared(prepared, undo_with=self.before):
            self.session.replace_example_contents(self.after, undo_with=self.before)

    def undo(self) -> None:
        self.session.replace_example_contents(self.before, undo_with=self.after)


class AddExamples(QUndoCommand):
    def __init__(
        self,
        session: ProjectSession,
        examples: list[Example],
        label: str,
        ids: list[str] | None = None,
    ) -> None:
        """`ids`: the examples' ids, in order, if the caller has them (made once: ~3.5 ms at
        100,000, of an import's stall)."""
        super().__init__(label)
        self.session, self.examples = session, list(examples)  # never changed: no copies
        self.ids = ids_of(self.examples) if ids is None else ids

    def redo(self) -> None:
        self.session.add_examples(list(self.examples), self.ids)

    def undo(self) -> None:
        self.session.remove_examples(self.ids, places=False)


class ReviewCandidates(QUndoCommand):
    """Accept generated candidates into the dataset (as drafts) or reject them. Undo takes the
    accepted examples out again and puts the candidates back in the review queue."""

    def __init__(
        self,
        session: ProjectSession,
        ids: list[str],
        status: str,
        edits: dict[str, tuple[str, str]],
    ) -> None:
        verb = "Accept" if status == "accepted" else "Reject"
        super().__init__(f"{verb} {len(ids)} candidate{'s' if len(ids) != 1 else ''}")
        self.session, self.ids, self.status, self.edits = session, list(ids), status, edits
        self.examples: list[Example] | None = None  # made once: redo adds the same ids again

    def redo(self) -> None:
        added = self.session.review_queue.decide(self.ids, self.status, self.edits)
        if self.examples is None:
            self.examples = added
        if self.examples:
            self.session.add_examples(list(self.examples))
        self.session.review_changed.emit()

    def undo(self) -> None:
        if self.examples:
            self.session.remove_examples({e.id for e in self.examples})
        self.session.review_queue.reopen(self.ids)
        self.session.review_changed.emit()


class DeleteExamples(QUndoCommand):
    def __init__(self, session: ProjectSession, ids: set[str] | list[str]) -> None:
        """`ids`: a list, in the rows' order, where the caller has one (see
        `ProjectSession.remove_examples`)."""
        super().__init__(f"Delete {len(ids)} example{'s' if len(ids) != 1 else ''}")
        self.session = session
        self.ids = list(ids) if isinstance(ids, list) else set(ids)
        self.removed: Removed | None = None

    def redo(self) -> None:
        self.removed = self.session.remove_examples(self.ids)

    def undo(self) -> None:
        assert self.removed is not None  # (a command is done before it is undone)
        self.session.restore_examples(self.removed)


class SwapExamples(QUndoCommand):
    def __init__(self, session: ProjectSession, first: str, second: str) -> None:
        super().__init__("Move example")
        self.session, self.first, self.second = session, first, second

    def redo(self) -> None:
        self.session.swap_examples(self.first, self.second)

    def undo(self) -> None:
        self.session.swap_examples(self.first, self.second)
