"""The open project as the GUI sees it: edits go in, are saved within a second, signals go out."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project

AUTOSAVE_DELAY_MS = 400  # typing is batched; a field is on disk ≤ 1 s after the last keystroke


class ProjectSession(QObject):
    """Owns the open `Project`. Runs on the UI thread; each save is one small SQLite commit."""

    persona_changed = Signal(str)  # field name
    save_state_changed = Signal(str, bool)  # message, ok
    examples_changed = Signal()

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.persona: Persona = project.persona()
        self._pending: dict[str, Any] = {}
        self._timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)

    @property
    def has_unsaved_changes(self) -> bool:
        return bool(self._pending)

    def set_persona_field(self, name: str, value: Any) -> None:
        if getattr(self.persona, name) == value:
            return
        setattr(self.persona, name, value)
        self._pending[name] = value
        self.save_state_changed.emit("Saving…", True)
        self._timer.start()
        self.persona_changed.emit(name)

    def flush(self) -> bool:
        """Write pending edits now. Returns False (and says why) if the disk refused them."""
        self._timer.stop()
        if not self._pending:
            return True
        try:
            self.project.set_persona_fields(**self._pending)
        except UserFacingError as exc:
            self.save_state_changed.emit(f"Not saved: {exc}", False)
            self._timer.start(2000)  # keep the edits and retry; nothing is dropped
            return False
        self._pending.clear()
        self.save_state_changed.emit("All changes saved", True)
        return True

    def close(self, *, force: bool = False) -> bool:
        """Save and close. If saving fails the project stays open, unless `force`."""
        if not self.flush() and not force:
            return False
        self.project.close()
        return True
