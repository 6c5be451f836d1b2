"""Table model over the project's examples: `data()` is a list lookup, no per-cell items."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from persona_studio.core.dataset import Example

COLUMNS = ("#", "Question", "Answer", "Status", "Tags")
_Index = QModelIndex | QPersistentModelIndex


class ExamplesModel(QAbstractTableModel):
    def __init__(self, examples: list[Example] | None = None) -> None:
        super().__init__()
        self._examples: list[Example] = examples or []

    def set_examples(self, examples: list[Example]) -> None:
        self.beginResetModel()
        self._examples = examples
        self.endResetModel()

    def example(self, row: int) -> Example:
        return self._examples[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._examples)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        example = self._examples[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return index.row() + 1
            if column in (1, 2):
                text = example.question if column == 1 else example.answer
                return text.replace("\n", " ⏎ ")
            if column == 3:
                return example.status.capitalize()
            if column == 4:
                return ", ".join(example.tags)
        if role == Qt.ItemDataRole.ToolTipRole and column in (1, 2):
            return example.question if column == 1 else example.answer
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
