"""Chat tab: how the character opens a conversation, and the saved conversations."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from persona_studio.gui.project_session import ProjectSession


class ChatTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QGroupBox("Opening message")
        self.greeting = QLabel(objectName="chat_greeting", wordWrap=True)
        self.greeting.setAccessibleName("Greeting")
        self.greeting.setStyleSheet(
            "QLabel { background: palette(alternate-base); border-radius: 10px; padding: 12px; }"
        )
        inner = QVBoxLayout(box)
        inner.addWidget(self.greeting)
        self.saved = QLabel(objectName="chat_saved", wordWrap=True)
        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addWidget(self.saved)
        layout.addStretch(1)
        self._session: ProjectSession | None = None

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.persona_changed.connect(self._persona_changed)
        self._show(session)

    def _persona_changed(self, field: str) -> None:
        if field in ("greeting", "name") and self._session is not None:
            self._show(self._session)

    def _show(self, session: ProjectSession) -> None:
        persona = session.persona
        name = persona.name or "Your character"
        self.greeting.setText(
            f"<b>{_escape(name)}</b><br>{_escape(persona.greeting)}"
            if persona.greeting
            else f"{_escape(name)} has no greeting yet: add one in the Persona tab."
        )
        chats = session.project.counts().chats
        self.saved.setText(f"{chats} saved conversation{'s' if chats != 1 else ''}.")


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )
