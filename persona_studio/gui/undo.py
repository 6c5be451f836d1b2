"""Undoable edits. Every command changes the session; widgets follow the session's signals."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from persona_studio.gui.project_session import ProjectSession

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
