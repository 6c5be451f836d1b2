"""Chat tab: talk to the character in 1 to 3 panes at once, rate replies, keep the good ones."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from persona_studio.core.config import ProviderProfile
from persona_studio.core.dataset import Example, new_id
from persona_studio.core.persona import expand_macros
from persona_studio.core.records import ChatRecord
from persona_studio.gui.context import AppContext
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.dialogs.messages import write_file
from persona_studio.gui.project_session import RETRIEVAL_WARM_AFTER_MS, ProjectSession
from persona_studio.gui.theme import icon
from persona_studio.gui.undo import AddExamples
from persona_studio.gui.widgets.chat_pane import OFFLINE, ChatPane
from persona_studio.gui.widgets.profiles import SetupNotice
from persona_studio.gui.widgets.retirement import RetirementBanner

MAX_PANES = 3


class AddExampleDialog(QDialog):
    """The exchange, editable, before it becomes a draft training example."""

    def __init__(
        self,
        question: str,
        answer: str,
        parent: QWidget | None = None,
        *,
        title: str = "Add to the dataset",
        hint: str = (
            "Fix the reply until it sounds exactly like your character. It is added as a "
            "draft for you to approve."
        ),
    ) -> None:
        super().__init__(parent)
        delete_when_idle(self, lambda: ())
        self.setObjectName("add_example_dialog")
        self.setWindowTitle(title)
        self.resize(620, 420)
        self.question = QPlainTextEdit(question, objectName="add_question")
        self.question.setAccessibleName("Question")
        self.answer = QPlainTextEdit(answer, objectName="add_answer")
        self.answer.setAccessibleName("Answer")
        form = QFormLayout()
        form.addRow("Question", self.question)
        form.addRow("Answer", self.answer)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(hint, wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(buttons)


class ChatTab(QWidget):
    """One to three chat panes side by side, one message to all; saved conversations. Listens
    to the session's persona, rules and examples signals; awaits `services.chat.reply`."""

    status_message = Signal(str)  # a short note for the status bar
    keep_voice_requested = Signal()  # the retirement banner's "Keep its voice…"
    setup_requested = Signal()  # "Set up a service…": the window opens Settings
    conversation_saved = Signal()  # a conversation was written to the project

    def __init__(
        self, context: AppContext, undo_stack: Any = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._undo = undo_stack
        self._session: ProjectSession | None = None
        self.chat_id = new_id()
        self._opening = ""  # the saved conversation asked for last (`open_conversation`)
        self.title = ""

        self.retirement = RetirementBanner()
        self.retirement.keep_voice.connect(self.keep_voice_requested)
        self.conversations = QComboBox(objectName="conversations")
        self.conversations.setAccessibleName("Saved conversations")
        self.conversations.activated.connect(self._open_selected)
        self.new_chat = QPushButton("New chat", objectName="new_chat")
        self.new_chat.clicked.connect(self.start_new)
        self.rename = QPushButton("Rename…", objectName="rename_chat")
        self.rename.clicked.connect(self._rename)
        self.delete = QPushButton("Delete", objectName="delete_chat")
        self.delete.clicked.connect(self._delete)
        self.pane_count = QSpinBox(objectName="pane_count", minimum=1, maximum=MAX_PANES)
        self.pane_count.setAccessibleName("Number of panes")
        self.pane_count.valueChanged.connect(self._set_pane_count)
        self.blind = QCheckBox("Blind comparison", objectName="blind")
        self.blind.setToolTip("Hide which engine wrote which reply, in a random order.")
        self.blind.toggled.connect(self._set_blind)
        top = QHBoxLayout()
        top.addWidget(QLabel("Conversation"))
        top.addWidget(self.conversations, 1)
        for widget in (self.new_chat, self.rename, self.delete):
            top.addWidget(widget)
        top.addSpacing(16)
        top.addWidget(QLabel("Panes"))
        top.addWidget(self.pane_count)
        top.addWidget(self.blind)

        self.panes: list[ChatPane] = []
        self.panes_row = QHBoxLayout()
        self.input = QPlainTextEdit(objectName="chat_input")
        self.input.setAccessibleName("Message")
        self.input.setPlaceholderText("Write as a user would… (Enter sends, Shift+Enter: new line)")
        self.input.setFixedHeight(64)
        self.input.installEventFilter(self)
        self.send = QPushButton("Send", objectName="chat_send")
        self.send.setIcon(icon("send"))
        self.send.clicked.connect(lambda: self.send_message())  # (not `clicked`'s bool)
        self.stop = QPushButton("Stop", objectName="chat_stop")
        self.stop.setIcon(icon("stop"))
        self.stop.clicked.connect(self.stop_all)
        self.regenerate = QPushButton("Regenerate", objectName="chat_regenerate")
        self.regenerate.clicked.connect(self.regenerate_last)
        self.edit_last = QPushButton("Edit last message", objectName="chat_edit_last")
        self.edit_last.clicked.connect(self._edit_last)
        self.clear = QPushButton("Clear", objectName="chat_clear")
        self.clear.clicked.connect(self._clear)
        self.export = QPushButton("Export…", objectName="chat_export")
        self.export.setIcon(icon("save"))
        self.export.setToolTip("Save this conversation as Markdown or JSONL")
        self.export.clicked.connect(self._choose_export)
        buttons = QVBoxLayout()
        for button in (
            self.send,
            self.stop,
            self.regenerate,
            self.edit_last,
            self.clear,
            self.export,
        ):
            buttons.addWidget(button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.retirement)
        self.setup = SetupNotice.placed(
            layout,
            "The offline engine answers from your examples with no account. To chat with an "
            "online model, or with your fine-tuned one, set up the service it runs at.",
            "chat_setup",
            context.config,
        )
        self.setup.requested.connect(self.setup_requested)
        layout.addLayout(top)
        layout.addLayout(self.panes_row, 1)
        layout.addLayout(bottom)
        self._set_pane_count(1)

    def profiles_changed(self) -> None:
        """Settings added, changed or removed a provider profile: every pane lists it now."""
        self.setup.refresh(self.context.config)
        for pane in self.panes:
            pane.fill_engines()

    # ---- session -------------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """The project cannot be written: chats are not kept, replies not added."""
        return self._session is not None and self._session.project.read_only

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(RETRIEVAL_WARM_AFTER_MS, self._index_started)

    def _index_started(self) -> asyncio.Future[Any] | None:
        """The examples' index, built as the tab shows when a pane answers from them (the
        offline engine, "persona prompt + examples"): at 100,000 examples the first message
        waited ~5 s for it. The session keeps it for every answer and the voice check."""
        uses = any(
            pane.engine.currentData() == OFFLINE or pane.mode.currentData() == "retrieval"
            for pane in self.panes
        )
        if self._session is None or not self.isVisible() or not uses:
            return None
        return self._session.warm_retrieval_index()

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.persona_changed.connect(self._persona_changed)
        for widget in (self.rename, self.delete):
            widget.setVisible(not self.read_only)
        for pane in self.panes:
            pane.keep.setVisible(not self.read_only)
        self.retirement.show_for(session.persona.fine_tuned_model)
        self._fill_conversations()
        self.start_new()

    def _persona_changed(self, field: str) -> None:
        if field in ("greeting", "name"):
            self._show_greeting()
        if field == "fine_tuned_model" and self._session is not None:
            self.retirement.show_for(self._session.persona.fine_tuned_model)

    def _show_greeting(self) -> None:
        persona = self._session.persona if self._session else None
        greeting = expand_macros(persona.greeting, persona.name) if persona else ""
        for pane in self.panes:
            pane.character_name = persona.name if persona else ""
            pane.greeting = (
                f"{persona.name or 'Character'}: {greeting}" if persona and greeting else ""
            )
            pane.render()

    async def _client_for(self, profile: ProviderProfile) -> Any:
        from persona_studio.services.providers import client_for

        return await client_for(profile, self.context.store, max_retries=1, timeout=60)

    # ---- panes ---------------------------------------------------------------------------

    def _set_pane_count(self, count: int) -> None:
        while len(self.panes) < count:
            pane = ChatPane(len(self.panes) + 1, self.context.config, self._client_for)
            pane.add_to_dataset.connect(self._add_to_dataset)
            pane.picked_best.connect(self.pick_best)
            pane.changed.connect(self.save)
            pane.keep.setVisible(not self.read_only)
            self.panes.append(pane)
            self.panes_row.addWidget(pane, 1)
        while len(self.panes) > count:
            pane = self.panes.pop()
            pane.discard()
            self.panes_row.removeWidget(pane)  # out of the layout now, not at the next deletion
            pane.hide()
            pane.deleteLater()
        if self.pane_count.value() != count:
            self.pane_count.setValue(count)
        self._show_greeting()
        self._set_blind(self.blind.isChecked())

    def _set_blind(self, blind: bool) -> None:
        """Blind: the panes change places at random and are named Reply A, B, C; what wrote
        each is hidden until the creator picks the best one (then revealed), and hidden and
        shuffled again at the next message."""
        order = list(self.panes)
        if blind:
            random.shuffle(order)
        for pane in self.panes:
            self.panes_row.removeWidget(pane)
        for index, pane in enumerate(order):
            self.panes_row.addWidget(pane, 1)
            pane.set_blind(blind, f"Reply {'ABC'[index]}" if blind else f"Pane {pane.number}")

    # ---- sending -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.input
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.send_message()
            return True
        return super().eventFilter(watched, event)

    def send_message(self, text: str | None = None) -> None:
        if self._session is None:
            return
        text = (text if text is not None else self.input.toPlainText()).strip()
        if not text:
            return
        self.input.clear()
        if not self.title:
            self.title = text[:60]
        if self.blind.isChecked() and not all(pane.blind for pane in self.panes):
            self._set_blind(True)  # revealed after the last pick: hidden and shuffled again
        persona, rules = self._session.persona, self._session.rules
        index = self._session.retrieval_index  # this project's: never a previous one's
        target = self._session.project.chat_target(persona.fine_tuned_model)
        for pane in self.panes:  # each pane streams on its own; one slow engine blocks none
            pane.target = target
            pane.send(text, persona, rules, index)

    def stop_all(self) -> None:
        for pane in self.panes:
            pane.stop()

    def regenerate_last(self) -> None:
        questions = [pane.pop_last_exchange() for pane in self.panes]
        question = next((q for q in questions if q), None)
        if question:
            self.send_message(question)

    def _edit_last(self) -> None:
        questions = [pane.pop_last_exchange() for pane in self.panes]
        question = next((q for q in questions if q), None)
        for pane in self.panes:
            pane.render()
        if question:
            self.input.setPlainText(question)
            self.input.setFocus()

    def _clear(self) -> None:
        for pane in self.panes:
            pane.clear()
        self.save()

    # ---- curation ------------------------------------------------------------------------

    def _add_to_dataset(self, question: str, answer: str) -> AddExampleDialog:
        dialog = AddExampleDialog(question, answer, self)
        dialog.accepted.connect(
            lambda: self.keep_example(dialog.question.toPlainText(), dialog.answer.toPlainText())
        )
        dialog.open()
        return dialog

    def pick_best(self, number: int) -> None:
        """One vote per exchange: the chosen pane's reply is best, the others are not. A pick
        made while the engines were hidden is marked blind: the voice check compares those
        with its judge's verdicts."""
        blind = self.blind.isChecked() and all(pane.blind for pane in self.panes)
        for pane in self.panes:
            pane.mark_best(pane.number == number, blind)
            if self.blind.isChecked():
                pane.reveal()
        self.save()

    def keep_example(self, question: str, answer: str) -> None:
        if self._session is None or not question.strip() or not answer.strip() or self.read_only:
            return
        example = Example.from_qa(question.strip(), answer.strip(), source="chat")
        command = AddExamples(self._session, [example], "Add a chat reply to the dataset")
        if self._undo is not None:
            self._undo.push(command)
        else:
            command.redo()
        self.status_message.emit("Added to the dataset as a draft.")

    # ---- conversations -------------------------------------------------------------------

    def save(self) -> None:
        if self._session is None or not any(p.messages for p in self.panes) or self.read_only:
            return
        panes = [p.state() for p in self.panes]
        # in turn with the project's other writes: never waited for here (a reply ending
        # while an export read 100,000 examples froze the window until the read was done)
        self._session.save_chat(ChatRecord(self.chat_id, self.title or "Conversation", panes))
        self._fill_conversations()
        self.conversation_saved.emit()

    def _fill_conversations(self) -> None:
        assert self._session is not None
        self.conversations.blockSignals(True)
        self.conversations.clear()
        self.conversations.addItem("New conversation", "")
        for chat_id, title in self._session.chat_titles():
            self.conversations.addItem(title, chat_id)
        self.conversations.setCurrentIndex(max(0, self.conversations.findData(self.chat_id)))
        self.conversations.blockSignals(False)
        self.rename.setEnabled(self.conversations.currentData() != "")
        self.delete.setEnabled(self.conversations.currentData() != "")

    def start_new(self) -> None:
        self.stop_all()
        self.chat_id, self.title, self._opening = new_id(), "", ""
        for pane in self.panes:
            pane.messages = []
        self._fill_conversations()
        self._show_greeting()

    def compare_fine_tuned(self, profile: str, model: str, base_model: str) -> None:
        """A new conversation: the fine-tuned model beside its base model with the persona
        prompt, on the same provider profile."""
        self.start_new()
        self._set_pane_count(max(2, len(self.panes)))
        for pane, mode, name in (
            (self.panes[0], "finetuned", model),
            (self.panes[1], "persona", base_model),
        ):
            pane.restore({"engine": profile, "mode": mode, "model": name, "messages": []})
        self.input.setFocus()

    def open_conversation(self, chat_id: str) -> None:
        """Show a saved conversation: at once, unless a worker has the project file (an
        export's read): then as soon as it lets go, if no other was asked for meanwhile."""
        assert self._session is not None
        self._opening = chat_id
        self._session.chat(chat_id, self._show_conversation)

    def _show_conversation(self, chat: ChatRecord | None) -> None:
        if chat is None or chat.id != self._opening or not isValid(self):
            return
        self.stop_all()
        self.chat_id, self.title = chat.id, chat.title
        states = chat.panes
        self._set_pane_count(max(1, min(MAX_PANES, len(states))))
        for pane, state in zip(self.panes, states, strict=False):
            pane.restore(state)
        self._fill_conversations()
        self._show_greeting()

    def _open_selected(self, _index: int) -> None:
        chat_id = self.conversations.currentData()
        if chat_id:
            self.open_conversation(chat_id)
        else:
            self.start_new()

    def _rename(self) -> None:
        title, ok = QInputDialog.getText(self, "Rename conversation", "Name:", text=self.title)
        if ok and title.strip() and self._session is not None:
            self.title = title.strip()
            self.save()

    def _delete(self) -> None:
        if self._session is not None and self.conversations.currentData() and not self.read_only:
            self._session.delete_chat(self.conversations.currentData())
            self.start_new()

    def export_markdown(self) -> str:
        lines = [f"# {self.title or 'Conversation'}", ""]
        for pane in self.panes:
            lines += [f"## Pane {pane.number}: {pane.engine.currentText()}", ""]
            name = pane.character_name or "Character"
            for message in pane.messages:
                who = "**You**" if message["role"] == "user" else f"**{name}**"
                marks = {1: " (good)", -1: " (bad)"}.get(message.get("rating", 0), "")
                marks += " (best)" if message.get("best") else ""
                lines += [f"{who}{marks}: {message['content']}", ""]
        return "\n".join(lines)

    def export_jsonl(self) -> str:
        """One line per pane, in the OpenAI chat format (ratings kept as extra keys)."""
        lines = []
        for pane in self.panes:
            messages = [
                {"role": m["role"], "content": m["content"]}
                for m in pane.messages
                if not m.get("error")
            ]
            votes = [
                {"turn": i, "rating": m.get("rating", 0), "best": bool(m.get("best"))}
                for i, m in enumerate(pane.messages)
                if m["role"] == "assistant"
            ]
            lines.append(
                json.dumps(
                    {"messages": messages, "engine": pane.engine.currentText(), "votes": votes},
                    ensure_ascii=False,
                )
            )
        return "\n".join(lines) + "\n"

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the conversation",
            f"{self.title or 'conversation'}.md",
            "Markdown (*.md);;JSONL (*.jsonl)",
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> bool:
        text = self.export_jsonl() if path.suffix.lower() == ".jsonl" else self.export_markdown()
        return write_file(self, path, text.encode("utf-8"))
