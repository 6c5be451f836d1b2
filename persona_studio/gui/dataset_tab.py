"""Dataset tab: the character's training examples."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from persona_studio.gui.models.examples_model import ExamplesModel
from persona_studio.gui.project_session import ProjectSession


class DatasetTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ExamplesModel()
        self.summary = QLabel(objectName="dataset_summary")
        self.table = QTableView(objectName="examples_table")
        self.table.setAccessibleName("Training examples")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)

    def set_session(self, session: ProjectSession) -> None:
        examples = session.project.examples()
        self.model.set_examples(examples)
        approved = sum(1 for e in examples if e.status == "approved")
        self.summary.setText(
            f"{len(examples)} examples · {approved} approved · {len(examples) - approved} to review"
            if examples
            else "No examples yet. Each example is a question and the answer your character "
            "would give."
        )
        self.table.setColumnWidth(0, 48)
        self.table.setColumnWidth(1, 320)
        self.table.setColumnWidth(2, 460)
        self.table.setColumnWidth(3, 90)
