"""The loss chart: training and validation loss by step, shared by the Train tab and the
pipeline dialog."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from persona_studio.gui.theme import qcolor


class LossChart(QWidget):
    """Train and validation loss by step, from the `data` of metrics events (drawn with
    QPainter: a plotting library is not worth its weight for two lines)."""

    COLORS: ClassVar[dict[str, str]] = {  # theme colour names
        "training": "accent",
        "validation": "validation",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loss_chart")
        self.setAccessibleName("Loss chart")
        self.setMinimumHeight(180)
        self.series: dict[str, list[tuple[float, float]]] = {"training": [], "validation": []}

    def show_metrics(self, metrics: list[dict[str, Any]]) -> None:
        self.series = {
            "training": [
                (m["step"], m["train_loss"]) for m in metrics if m.get("train_loss") is not None
            ],
            "validation": [
                (m["step"], m["valid_loss"]) for m in metrics if m.get("valid_loss") is not None
            ],
        }
        self.update()

    def points(self) -> tuple[int, int]:
        return len(self.series["training"]), len(self.series["validation"])

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.rect().adjusted(48, 12, -12, -28)
        painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRect(area)
        points = [p for series in self.series.values() for p in series]
        text = self.palette().color(QPalette.ColorRole.Text)
        if not points:
            painter.setPen(text)
            painter.drawText(
                area,
                Qt.AlignmentFlag.AlignCenter,
                "The loss curve appears here while the model trains.",
            )
            return
        max_step = max(p[0] for p in points) or 1
        top = max(p[1] for p in points) * 1.05 or 1.0

        def at(step: float, loss: float) -> QPointF:
            return QPointF(
                area.left() + area.width() * step / max_step,
                area.bottom() - area.height() * loss / top,
            )

        painter.setPen(text)
        painter.drawText(4, area.top() + 10, f"{top:.2f}")
        painter.drawText(4, area.bottom(), "0")
        painter.drawText(area.left(), self.height() - 8, "step 0")
        painter.drawText(area.right() - 60, self.height() - 8, f"step {max_step:g}")
        for n, (name, series) in enumerate(self.series.items()):
            pen = QPen(qcolor(self.COLORS[name]), 2)
            painter.setPen(pen)
            if len(series) > 1:
                painter.drawPolyline(QPolygonF([at(s, v) for s, v in series]))
            for s, v in series:
                painter.drawEllipse(at(s, v), 2.5, 2.5)
            painter.drawText(
                area.right() - 110,
                area.top() + 16 + 16 * n,
                f"— {name}" + (f" {series[-1][1]:.3f}" if series else ""),
            )
        painter.end()
