"""The conversational rules editor: an ordered list, a form for one rule, and "try a message"."""

from __future__ import annotations

import copy
import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.rules import (
    ACTION_KINDS,
    ACTION_LABELS,
    TRIGGER_KINDS,
    TRIGGER_LABELS,
    Rule,
    evaluate,
    keywords,
    rule_errors,
    trigger_words,
    turn_system_prompt,
)
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import color, style
from persona_studio.gui.undo import SetRules


def _split_words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _set_text(line: QLineEdit, text: str) -> None:
    if line.text() != text:  # leave the cursor alone in the field being typed in
        line.setText(text)


class RulesEditor(QWidget):
    """The ordered rules list, a form for one rule, and "Try a message". Listens to the
    session's rules, character and persona signals."""

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._undo = undo_stack
        self._session: ProjectSession | None = None
        self._filling = False

        intro = QLabel(
            "Rules run before the model, top to bottom: a fixed reply or a refusal answers "
            "without calling the model; added context goes into that one reply.",
            wordWrap=True,
        )
        self.list = QListWidget(objectName="rules_list")
        self.list.setMinimumHeight(56)  # (Qt gives it 70: the Persona tab then took 667 px of 660)
        self.list.setAccessibleName("Conversational rules")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.model().rowsMoved.connect(self._reordered)
        self.list.currentRowChanged.connect(self._show_rule)
        self.list.itemChanged.connect(self._toggled)
        self.add = QPushButton("Add rule", objectName="add_rule")
        self.add.clicked.connect(self._add_rule)
        self.delete = QPushButton("Delete", objectName="delete_rule")
        self.delete.clicked.connect(self._delete_rule)
        self.up = QPushButton("Move up", objectName="rule_up")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down = QPushButton("Move down", objectName="rule_down")
        self.down.clicked.connect(lambda: self._move(1))
        buttons = QHBoxLayout()
        for button in (self.add, self.delete, self.up, self.down):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.name = QLineEdit(objectName="rule_name", placeholderText="Optional: a short label")
        self.trigger = QComboBox(objectName="rule_trigger")
        for kind in TRIGGER_KINDS:
            self.trigger.addItem(TRIGGER_LABELS[kind], kind)
        self.words = QLineEdit(
            objectName="rule_words", placeholderText="Comma-separated, e.g. pain, injury, hurts"
        )
        self.match = QComboBox(objectName="rule_match")
        self.match.addItem("any of them", "any")
        self.match.addItem("all of them", "all")
        self.pattern = QLineEdit(
            objectName="rule_pattern", placeholderText=r"e.g. (?i)\b(link|url)\b"
        )
        self.action = QComboBox(objectName="rule_action")
        for kind in ACTION_KINDS:
            self.action.addItem(ACTION_LABELS[kind], kind)
        self.text = QPlainTextEdit(objectName="rule_text")
        self.text.setTabChangesFocus(True)
        self.text.setFixedHeight(70)
        self.route_profile = QLineEdit(
            objectName="rule_route_profile",
            placeholderText="Optional: a provider profile from Settings, e.g. ollama",
        )
        self.route_model = QLineEdit(
            objectName="rule_route_model", placeholderText="Model name, e.g. gpt-4.1"
        )
        self.error = QLabel(objectName="rule_error", wordWrap=True)
        style(self.error, "color: {danger};")
        for widget, label in (
            (self.name, "Rule name"),
            (self.trigger, "When"),
            (self.words, "Keywords"),
            (self.match, "Match"),
            (self.pattern, "Pattern"),
            (self.action, "Then"),
            (self.text, "Rule text"),
            (self.route_model, "Route to model"),
            (self.route_profile, "Route to provider profile"),
        ):
            widget.setAccessibleName(label)
        form_box = QGroupBox("Selected rule")
        self.form = QFormLayout(form_box)
        self.form.addRow("Name", self.name)
        self.form.addRow("When", self.trigger)
        self.form.addRow("Keywords", self.words)
        self.form.addRow("Match", self.match)
        self.form.addRow("Pattern", self.pattern)
        self.form.addRow("Then", self.action)
        self.form.addRow("Text", self.text)
        self.form.addRow("Model", self.route_model)
        self.form.addRow("Profile", self.route_profile)
        self.form.addRow(self.error)
        self._form_box = form_box
        for line in (self.name, self.words, self.pattern, self.route_model, self.route_profile):
            line.textEdited.connect(self._edited)
        for combo in (self.trigger, self.match, self.action):
            combo.activated.connect(self._edited)
        self.text.textChanged.connect(self._edited)

        try_box = QGroupBox("Try a message")
        self.try_input = QLineEdit(
            objectName="try_message", placeholderText="Type what a user might say…"
        )
        self.try_input.setAccessibleName("Try a message")
        self.try_first = QCheckBox("First message of the chat", objectName="try_first")
        self.try_output = QLabel(objectName="try_output", wordWrap=True)
        self.try_output.setTextFormat(Qt.TextFormat.RichText)
        self.try_output.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.try_input.textChanged.connect(self._try)
        self.try_first.toggled.connect(self._try)
        try_layout = QVBoxLayout(try_box)
        row = QHBoxLayout()
        row.addWidget(self.try_input, 1)
        row.addWidget(self.try_first)
        try_layout.addLayout(row)
        # a long prompt scrolls inside the box; it never makes the window taller
        scroll = QScrollArea(objectName="try_scroll", widgetResizable=True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.try_output)
        scroll.setMinimumHeight(48)
        try_layout.addWidget(scroll, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(form_box)
        layout.addWidget(try_box, 2)  # (its answer wants the room more than a few rules)

    # ---- session -------------------------------------------------------------------------

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.rules_changed.connect(self._show_rules)
        session.character_replaced.connect(self._show_rules)
        session.persona_changed.connect(self._try)
        self._show_rules()

    @property
    def rules(self) -> list[Rule]:
        return self._session.rules if self._session else []

    def _push(self, new: list[Rule], label: str, merge_key: str = "") -> None:
        assert self._session is not None
        old = [copy.deepcopy(r) for r in self._session.rules]
        self._undo.push(SetRules(self._session, old, new, label, merge_key))

    # ---- list ----------------------------------------------------------------------------

    def _show_rules(self) -> None:
        row = max(self.list.currentRow(), 0)
        shown = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
        self._filling = True
        try:
            if shown != [r.id for r in self.rules]:  # else update the items in place
                self.list.clear()
                for rule in self.rules:
                    item = QListWidgetItem()
                    item.setFlags(
                        item.flags()
                        | Qt.ItemFlag.ItemIsUserCheckable
                        | Qt.ItemFlag.ItemIsDragEnabled
                    )
                    item.setData(Qt.ItemDataRole.UserRole, rule.id)
                    self.list.addItem(item)
            for i, rule in enumerate(self.rules):
                item = self.list.item(i)
                item.setText(self._item_text(rule))
                item.setCheckState(
                    Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked
                )
                item.setForeground(
                    Qt.GlobalColor.red if rule_errors(rule) else self.list.palette().text()
                )
        finally:
            self._filling = False
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        self._show_rule(self.list.currentRow())
        self._try()

    def _item_text(self, rule: Rule) -> str:
        errors = rule_errors(rule)
        return f"⚠ {rule.describe()} — inactive: {errors[0]}" if errors else rule.describe()

    def _current_index(self) -> int:
        return self.list.currentRow() if 0 <= self.list.currentRow() < len(self.rules) else -1

    def _add_rule(self) -> None:
        rule = Rule(
            trigger=keywords([]), action={"kind": "inject_context", "text": ""}, name="New rule"
        )
        self._push([*copy.deepcopy(self.rules), rule], "Add rule")
        self.list.setCurrentRow(len(self.rules) - 1)
        self.words.setFocus()

    def _delete_rule(self) -> None:
        index = self._current_index()
        if index >= 0:
            rules = copy.deepcopy(self.rules)
            removed = rules.pop(index)
            self._push(rules, f"Delete rule “{removed.describe()}”")

    def _move(self, step: int) -> None:
        index = self._current_index()
        target = index + step
        if index < 0 or not 0 <= target < len(self.rules):
            return
        rules = copy.deepcopy(self.rules)
        rules[index], rules[target] = rules[target], rules[index]
        self._push(rules, "Reorder rules")
        self.list.setCurrentRow(target)

    def _reordered(self, *_: object) -> None:
        """After a drag: the list's order (by rule id) becomes the rules' order."""
        if self._filling:
            return
        by_id = {r.id: r for r in self.rules}
        ids = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
        if ids != [r.id for r in self.rules]:
            self._push([copy.deepcopy(by_id[i]) for i in ids], "Reorder rules")

    def _toggled(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        index = self.list.row(item)
        enabled = item.checkState() == Qt.CheckState.Checked
        if 0 <= index < len(self.rules) and self.rules[index].enabled != enabled:
            rules = copy.deepcopy(self.rules)
            rules[index].enabled = enabled
            self._push(rules, "Enable rule" if enabled else "Disable rule")

    # ---- form ----------------------------------------------------------------------------

    def _show_rule(self, row: int) -> None:
        index = row if 0 <= row < len(self.rules) else -1
        self._form_box.setEnabled(index >= 0)
        self.delete.setEnabled(index >= 0)
        self.up.setEnabled(index > 0)
        self.down.setEnabled(0 <= index < len(self.rules) - 1)
        rule = (
            self.rules[index]
            if index >= 0
            else Rule(trigger=keywords([]), action={"kind": "inject_context"})
        )
        self._filling = True
        try:
            _set_text(self.name, rule.name)
            self.trigger.setCurrentIndex(max(0, self.trigger.findData(rule.trigger.get("kind"))))
            words = trigger_words(rule.trigger)
            if _split_words(self.words.text()) != words:
                self.words.setText(", ".join(words))
            self.match.setCurrentIndex(
                max(0, self.match.findData(rule.trigger.get("match", "any")))
            )
            _set_text(self.pattern, str(rule.trigger.get("pattern", "")))
            self.action.setCurrentIndex(max(0, self.action.findData(rule.action.get("kind"))))
            if self.text.toPlainText() != str(rule.action.get("text", "")):
                self.text.setPlainText(str(rule.action.get("text", "")))
            _set_text(self.route_model, str(rule.action.get("model", "")))
            _set_text(self.route_profile, str(rule.action.get("profile", "")))
        finally:
            self._filling = False
        self._show_kind_rows()
        errors = rule_errors(rule) if index >= 0 else []
        self.error.setText(
            "This rule is inactive until fixed: " + " ".join(errors) if errors else ""
        )

    def _show_kind_rows(self) -> None:
        trigger, action = self.trigger.currentData(), self.action.currentData()
        self.form.setRowVisible(self.words, trigger == "keywords")
        self.form.setRowVisible(self.match, trigger == "keywords")
        self.form.setRowVisible(self.pattern, trigger == "regex")
        self.form.setRowVisible(self.text, action != "route")
        self.form.setRowVisible(self.route_model, action == "route")
        self.form.setRowVisible(self.route_profile, action == "route")

    def _rule_from_form(self, base: Rule) -> Rule:
        kind = self.trigger.currentData()
        trigger: dict = {"kind": kind}
        if kind == "keywords":
            trigger = keywords(_split_words(self.words.text()), self.match.currentData())
        elif kind == "regex":
            trigger["pattern"] = self.pattern.text()
        action_kind = self.action.currentData()
        action: dict = {"kind": action_kind}
        if action_kind == "route":
            action["model"] = self.route_model.text().strip()
            if self.route_profile.text().strip():
                action["profile"] = self.route_profile.text().strip()
        else:
            action["text"] = self.text.toPlainText()
        rule = copy.deepcopy(base)
        rule.name, rule.trigger, rule.action = self.name.text(), trigger, action
        return rule

    def _edited(self) -> None:
        if self._filling:
            return
        index = self._current_index()
        if index < 0:
            return
        self._show_kind_rows()
        rules = copy.deepcopy(self.rules)
        rules[index] = self._rule_from_form(rules[index])
        if rules[index] != self.rules[index]:
            self._push(rules, "Edit rule", merge_key=rules[index].id)

    # ---- try a message -------------------------------------------------------------------

    def _try(self, *_: object) -> None:
        message = self.try_input.text()
        if not message.strip() or self._session is None:
            self.try_output.setText("<i>Type a message above to see which rules fire.</i>")
            return
        decision = evaluate(
            self.rules,
            message,
            is_first=self.try_first.isChecked(),
            char=self._session.persona.name,
        )
        lines = []
        for step in decision.trace:
            mark = "✔" if step.fired else "·"
            shade = color("success" if step.fired else "muted")
            lines.append(
                f'<span style="color:{shade}">{mark} <b>{html.escape(step.label)}</b>'
                f" — {html.escape(step.why)}</span>"
            )
        if not decision.trace:
            lines.append("<i>No rules yet.</i>")
        if decision.reply is not None:
            what = "Refuses" if decision.refused else "Replies"
            lines.append(
                f"<br><b>{what} without calling the model:</b><br>{html.escape(decision.reply)}"
            )
        else:
            model = decision.model or "the chosen model"
            if decision.profile:
                model += f" (profile “{decision.profile}”)"
            prompt = turn_system_prompt(self._session.persona.system_prompt(), decision)
            tail = html.escape(prompt[-600:]).replace("\n", "<br>")
            lines.append(
                f"<br><b>Calls {html.escape(model)} with this system prompt</b> "
                f"(end shown):<br><span style='font-family:monospace'>"
                f"{'…' if len(prompt) > 600 else ''}{tail}</span>"
            )
        self.try_output.setText("<br>".join(lines))
