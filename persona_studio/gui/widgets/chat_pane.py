"""One column of the test chat: an engine, its transcript, and the latest reply's actions."""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.config import AppConfig, ProviderProfile
from persona_studio.core.persona import Persona
from persona_studio.core.records import ChatTarget
from persona_studio.core.rules import Rule
from persona_studio.gui.loop import spawn
from persona_studio.gui.theme import color
from persona_studio.gui.widgets.profiles import add_profiles
from persona_studio.gui.widgets.reply_html import WEB_SCHEMES, InertBrowser, reply_html
from persona_studio.services.chat import MODE_LABELS, ChatSettings, IndexSource, reply

OFFLINE = "__offline__"
REPAINT_MS = 50  # streamed text is shown at most every 50 ms: the window stays responsive


class ChatPane(QWidget):
    """One chat column: its engine and mode, the transcript (Markdown), and the
    latest reply's actions. Awaits `services.chat.reply`."""

    add_to_dataset = Signal(str, str)  # question, reply
    picked_best = Signal(int)  # this pane's number: its latest reply is the best one
    changed = Signal()  # the transcript changed (save the conversation)

    def __init__(
        self,
        number: int,
        config: AppConfig,
        client_for: Callable[[ProviderProfile], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.number = number
        self.config = config
        self.client_for = client_for
        self.messages: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None
        self.target: ChatTarget | None = None  # where the fine-tuned model answers
        self.blind = False
        self.greeting = ""
        self.character_name = ""
        self._repaint = QTimer(self, singleShot=True, interval=REPAINT_MS)
        self._repaint.timeout.connect(self._append_streamed)
        self._shown_chars = 0  # how much of the streaming reply the transcript already shows

        self.title = QLabel(f"<b>Pane {number}</b>")
        self.engine = QComboBox(objectName=f"pane{number}_engine")
        self.engine.setAccessibleName(f"Pane {number} engine")
        self.mode = QComboBox(objectName=f"pane{number}_mode")
        self.mode.setAccessibleName(f"Pane {number} mode")
        for mode in ("persona", "retrieval", "finetuned"):
            self.mode.addItem(MODE_LABELS[mode], mode)
        self.model = QLineEdit(objectName=f"pane{number}_model")
        self.model.setAccessibleName(f"Pane {number} model")
        self.engine.currentIndexChanged.connect(self._engine_changed)
        self.fill_engines()
        self.transcript = InertBrowser(objectName=f"pane{number}_transcript")
        self.transcript.setAccessibleName(f"Pane {number} conversation")
        self.transcript.anchorClicked.connect(self.confirm_link)
        self.meta = QLabel(objectName=f"pane{number}_meta", wordWrap=True)
        self.meta.setStyleSheet("color: palette(mid);")
        self.good = QPushButton("Good reply", objectName=f"pane{number}_good")
        self.good.setToolTip("A good reply")
        self.good.setAccessibleName("Good reply")
        self.good.clicked.connect(lambda: self.rate(1))
        self.bad = QPushButton("Bad reply", objectName=f"pane{number}_bad")
        self.bad.setToolTip("A bad reply")
        self.bad.setAccessibleName("Bad reply")
        self.bad.clicked.connect(lambda: self.rate(-1))
        self.best = QPushButton("Best", objectName=f"pane{number}_best")
        self.best.setToolTip("Of the panes, this reply is the best one.")
        self.best.clicked.connect(lambda: self.picked_best.emit(self.number))
        self.copy = QPushButton("Copy", objectName=f"pane{number}_copy")
        self.copy.setToolTip("Copy this reply")
        self.copy.clicked.connect(self._copy)
        self.keep = QPushButton("Add to dataset…", objectName=f"pane{number}_add")
        self.keep.setToolTip("Turn this exchange into a training example you can edit first.")
        self.keep.clicked.connect(self._add_to_dataset)
        # two rows of actions and a combo that may shrink: three panes fit a laptop screen
        rate = QHBoxLayout()
        for button in (self.good, self.bad, self.best):
            rate.addWidget(button)
        rate.addStretch(1)
        keep = QHBoxLayout()
        for button in (self.copy, self.keep):
            keep.addWidget(button)
        keep.addStretch(1)
        actions = QVBoxLayout()
        actions.setSpacing(4)
        actions.addLayout(rate)
        actions.addLayout(keep)
        self.engine.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.engine.setMinimumContentsLength(14)
        self.mode.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.mode.setMinimumContentsLength(14)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.engine, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.mode)
        layout.addWidget(self.model)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.meta)
        layout.addLayout(actions)
        self._update_actions()

    # ---- engine --------------------------------------------------------------------------

    def fill_engines(self) -> None:
        current = self.engine.currentData()
        self.engine.blockSignals(True)
        self.engine.clear()
        self.engine.addItem("Offline: answers from the dataset", OFFLINE)
        add_profiles(self.engine, self.config, current)
        self.engine.blockSignals(False)
        self._engine_changed()

    def _engine_changed(self, *_: object) -> None:
        offline = self.engine.currentData() == OFFLINE
        self.mode.setVisible(not offline)
        self.model.setVisible(not offline)
        if not offline:
            profile = self.config.profile(self.engine.currentData())
            self.model.setPlaceholderText(profile.chat_model or "Model name, e.g. llama3.1")

    def settings(self) -> ChatSettings:
        if self.engine.currentData() == OFFLINE:
            return ChatSettings(mode="offline")
        return ChatSettings(
            mode=self.mode.currentData(),
            profile=self.config.profile(self.engine.currentData()),
            model=self.model.text().strip(),
            target=self.target,
        )

    def state(self) -> dict[str, Any]:
        return {
            "engine": self.engine.currentData(),
            "mode": self.mode.currentData(),
            "model": self.model.text(),
            "messages": self.messages,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.engine.setCurrentIndex(max(0, self.engine.findData(state.get("engine"))))
        self.mode.setCurrentIndex(max(0, self.mode.findData(state.get("mode"))))
        self.model.setText(state.get("model", ""))
        self.messages = list(state.get("messages", []))
        self.render()

    # ---- talking -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def history(self) -> list[dict[str, str]]:
        return [
            {"role": m["role"], "content": m["content"]}
            for m in self.messages
            if m["role"] in ("user", "assistant") and not m.get("error")
        ]

    def send(self, text: str, persona: Persona, rules: list[Rule], index: IndexSource) -> None:
        self.stop()
        history = self.history()
        self.messages.append({"role": "user", "content": text})
        answer: dict[str, Any] = {"role": "assistant", "content": "", "meta": {}}
        self.messages.append(answer)
        self.task = spawn(self._stream(text, history, answer, persona, rules, index))
        self.task.add_done_callback(self._finished)
        self.render()

    def _finished(self, _task: asyncio.Task[None]) -> None:
        """Runs once the task is done, so the pane no longer counts as busy."""
        self.render()
        self.changed.emit()

    async def _stream(
        self,
        text: str,
        history: list[dict[str, str]],
        answer: dict[str, Any],
        persona: Persona,
        rules: list[Rule],
        index: IndexSource,
    ) -> None:
        started = time.monotonic()
        events = reply(
            persona,
            rules,
            history,
            text,
            self.settings(),
            index,
            self.client_for,
            self.config.profile,
        )
        try:
            # aclosing: a stopped reply closes its stream here, in this task, not later in
            # the garbage collector (which qasync's loop does not handle)
            async with contextlib.aclosing(events):
                await self._consume(events, answer)
        except asyncio.CancelledError:
            answer["error"] = "Stopped."
            answer["meta"]["latency"] = round(time.monotonic() - started, 2)
            raise

    async def _consume(self, events: Any, answer: dict[str, Any]) -> None:
        async for event in events:
            if event.kind == "rule" and event.decision is not None:
                answer["meta"]["rules"] = [s.label for s in event.decision.trace if s.fired]
            elif event.kind == "delta":
                answer["content"] += event.text
                if not self._repaint.isActive():
                    self._repaint.start()
            elif event.kind == "error":
                answer["error"] = event.text
            elif event.kind == "done":
                answer["meta"].update(
                    {
                        "model": event.model,
                        "latency": round(event.latency, 2),
                        "usage": event.usage,
                        "matched": [h.example.question for h in event.hits[:1]],
                        "confidence": round(event.hits[0].confidence, 2) if event.hits else None,
                    }
                )

    def stop(self) -> None:
        if self.busy:
            assert self.task is not None
            self.task.cancel()

    def discard(self) -> None:
        """Stop for good: the pane is going. Its reply ends a loop turn or more after the
        cancel, when the widget is deleted: that end must not draw in it."""
        if self.task is not None:
            self.task.remove_done_callback(self._finished)
        self.stop()

    def clear(self) -> None:
        self.stop()
        self.messages = []
        self.render()

    def pop_last_exchange(self) -> str | None:
        """Remove the last question and its reply (for regenerate / edit); returns the question."""
        self.stop()
        while self.messages and self.messages[-1]["role"] == "assistant":
            self.messages.pop()
        if self.messages and self.messages[-1]["role"] == "user":
            return str(self.messages.pop()["content"])
        return None

    def rate(self, value: int) -> None:
        last = self._last_reply()
        if last is not None:
            last["rating"] = 0 if last.get("rating") == value else value
            self.render()
            self.changed.emit()

    def _copy(self) -> None:
        from PySide6.QtGui import QGuiApplication

        last = self._last_reply()
        if last is not None:
            QGuiApplication.clipboard().setText(str(last["content"]))

    def mark_best(self, best: bool, blind: bool = False) -> None:
        last = self._last_reply()
        if last is not None:
            last["best"] = best
            last["blind"] = blind
            self.render()

    def _last_reply(self) -> dict[str, Any] | None:
        if self.messages and self.messages[-1]["role"] == "assistant" and not self.busy:
            return self.messages[-1]
        return None

    def _add_to_dataset(self) -> None:
        last = self._last_reply()
        if last is not None and len(self.messages) >= 2:
            self.add_to_dataset.emit(str(self.messages[-2]["content"]), str(last["content"]))

    # ---- showing -------------------------------------------------------------------------

    def _append_streamed(self) -> None:
        """Add only the newly arrived text at the end: cost ∝ the new text, not the reply."""
        if not self.busy or not self.messages:
            self.render()
            return
        text = str(self.messages[-1]["content"])
        new = text[self._shown_chars :]
        if new:
            cursor = self.transcript.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(new)
            self._shown_chars = len(text)
            bar = self.transcript.verticalScrollBar()
            bar.setValue(bar.maximum())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light ↔ dark: our colours follow
            self.render()

    def render(self) -> None:
        parts = []
        if self.greeting:
            parts.append(
                f"<p style='color:{color('muted')}'><i>{html.escape(self.greeting)}</i></p>"
            )
        for message in self.messages:
            if message["role"] == "user":
                parts.append(
                    f"<p style='margin-top:10px'><b>You:</b> {html.escape(message['content'])}</p>"
                )
                continue
            streaming = self.busy and message is self.messages[-1]
            if not message["content"]:
                body = ""
            elif streaming:  # plain text while it grows: Markdown once, when it is complete
                body = "<p>" + html.escape(message["content"]).replace("\n", "<br>") + "</p>"
                self._shown_chars = len(message["content"])
            else:
                body = reply_html(message["content"], color("muted"))
            if message.get("error"):
                body += f"<p style='color:{color('danger')}'>⚠ {html.escape(message['error'])}</p>"
            rules = message.get("meta", {}).get("rules")
            why = (
                (
                    f" <span style='color:{color('done')}' title='{html.escape('; '.join(rules))}'>"
                    f"[rule: {html.escape(rules[0])}]</span>"
                )
                if rules
                else ""
            )
            rating = {
                1: f" <span style='color:{color('success')}'>✓ good</span>",
                -1: f" <span style='color:{color('danger')}'>✗ bad</span>",
            }.get(message.get("rating", 0), "")
            if message.get("best"):
                rating += f" <span style='color:{color('done')}'>★ best</span>"
            who = html.escape(self.character_name or "Character")
            if not body and self.busy and message is self.messages[-1]:
                self._shown_chars = 0
                body = "<p></p>"  # streamed text is appended here
            # the reply in a block of its own: a "You:" or a warning it writes reads as its text
            block = (
                "<table width='100%' cellspacing='0' cellpadding='6' "
                f"bgcolor='{color('reply_bg')}'><tr><td>{body or '…'}</td></tr></table>"
            )
            parts.append(f"<div><b>{who}</b>{why}{rating}</div>{block}")
        self.transcript.setHtml("".join(parts))
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())
        self._show_meta()
        self._update_actions()

    def _show_meta(self) -> None:
        last = self.messages[-1] if self.messages else None
        if not last or last["role"] != "assistant":
            self.meta.clear()
            return
        meta = last.get("meta", {})
        if self.blind:  # speed, tokens, the nearest example: each would tell the engine
            self.meta.setText("Replying…" if self.busy else "")
            return
        bits = []
        model = meta.get("model")
        if model == "rule":
            bits.append("answered by a rule, no model called")
        elif model == "offline":
            bits.append("offline engine")
        elif model:
            bits.append(str(model))
        if meta.get("latency") is not None:
            bits.append(f"{meta['latency']:.1f} s")
        if meta.get("usage"):
            bits.append(f"{meta['usage']['prompt']}+{meta['usage']['completion']} tokens")
        if meta.get("matched"):
            bits.append(
                f"nearest example: “{meta['matched'][0][:60]}” "
                f"(match {meta.get('confidence', 0):.0%})"
            )
        self.meta.setText(" · ".join(bits) if not self.busy else "Replying…")

    def _update_actions(self) -> None:
        ready = self._last_reply() is not None and not self._last_reply().get("error")
        for button in (self.good, self.bad, self.best, self.copy, self.keep):
            button.setEnabled(ready)

    def confirm_link(self, url: QUrl) -> QMessageBox | None:
        """A web link in a reply opens in the browser only after the creator says so."""
        if url.scheme().lower() not in WEB_SCHEMES:
            return None  # shown as text only; nothing to open
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Open this link?",
            "The reply links to a web page. Open it in your browser?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirm_link")
        box.setInformativeText(url.toString())
        opened = box.addButton("Open in browser", QMessageBox.ButtonRole.AcceptRole)
        box.buttonClicked.connect(
            lambda button: QDesktopServices.openUrl(url) if button is opened else None
        )
        box.open()
        return box

    def set_blind(self, blind: bool, label: str) -> None:
        """Blind: the engine, mode, model and the footer are hidden (not only greyed: their
        text would tell) until `reveal`."""
        self.blind = blind
        self.title.setText(f"<b>{label}</b>")
        for widget in (self.engine, self.mode, self.model):
            widget.setVisible(not blind)
        if not blind:
            self._engine_changed()  # mode and model only where the engine has them
        self.render()

    def reveal(self) -> None:
        """After the creator picked the best reply: say who wrote this one."""
        label = self.title.text().removeprefix("<b>").removesuffix("</b>").split(" · ")[0]
        self.set_blind(False, f"{label} · {self.engine.currentText()}")
