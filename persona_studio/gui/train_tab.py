"""Train tab: the project's fine-tuning jobs."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from persona_studio.gui.project_session import ProjectSession


class TrainTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(objectName="train_summary", wordWrap=True)
        self.jobs = QTreeWidget(objectName="jobs_list")
        self.jobs.setAccessibleName("Fine-tuning jobs")
        self.jobs.setHeaderLabels(["Created", "Base model", "Status", "Fine-tuned model"])
        self.jobs.setRootIsDecorated(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.jobs)

    def set_session(self, session: ProjectSession) -> None:
        jobs = session.project.jobs()
        counts = session.project.counts()
        self.jobs.clear()
        for job in jobs:
            self.jobs.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        job["created_at"][:16].replace("T", " "),
                        job["base_model"],
                        job["status"],
                        job["fine_tuned_model"] or "",
                    ]
                )
            )
        model = session.persona.fine_tuned_model
        self.summary.setText(
            (f"Current fine-tuned model: {model}. " if model else "No fine-tuned model yet. ")
            + f"{counts.approved} approved examples are ready for training."
            + ("" if jobs else " Past and running jobs will be listed here.")
        )
