"""Choose a starting point: a blank character or one of the templates in resources/."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.persona import PersonaTemplate, persona_templates
from persona_studio.gui.dialogs.lifetime import delete_when_idle


class TemplateDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, *, ask_name: bool) -> None:
        super().__init__(parent)
        delete_when_idle(self, lambda: ())  # nothing runs in the background
        self.setObjectName("template_dialog")
        self.setWindowTitle("New character" if ask_name else "Start from a template")
        self.resize(560, 440)
        self._templates = persona_templates()
        self.name = QLineEdit(objectName="new_character_name", placeholderText="e.g. Coach Rhea")
        self.name.setAccessibleName("Character name")
        self.list = QListWidget(objectName="template_list")
        self.list.setAccessibleName("Templates")
        self.list.setWordWrap(True)
        if ask_name:
            blank = QListWidgetItem("Blank character\nStart from empty fields.")
            blank.setData(Qt.ItemDataRole.UserRole, None)
            self.list.addItem(blank)
        for template in self._templates:
            item = QListWidgetItem(f"{template.title}\n{template.summary}")
            item.setData(Qt.ItemDataRole.UserRole, template.key)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self._accept())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if ask_name:
            form = QFormLayout()
            form.addRow("Name", self.name)
            layout.addLayout(form)
            self.name.textChanged.connect(self._update_ok)
        else:
            layout.addWidget(
                QLabel(
                    "The fields are filled from the template (your character's "
                    "name is kept). Edit → Undo takes it back.",
                    wordWrap=True,
                )
            )
            self.name.hide()
        layout.addWidget(QLabel("Start from:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self._ask_name = ask_name
        self._update_ok()

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not self._ask_name or bool(self.name.text().strip()))

    def _accept(self) -> None:
        if not self._ask_name or self.name.text().strip():
            self.accept()

    def chosen_template(self) -> PersonaTemplate | None:
        item = self.list.currentItem()
        key = item.data(Qt.ItemDataRole.UserRole) if item else None
        return next((t for t in self._templates if t.key == key), None)
