"""The provider-profile choice shared by the Train tab, the chat panes and generation, and
the notice that says what to set up when there is none."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from persona_studio.core.config import ENV_PROFILE, LOCAL_PROFILE, AppConfig
from persona_studio.gui.theme import style


def add_profiles(combo: QComboBox, config: AppConfig, select: str | None) -> None:
    """Append every profile, then the built-in ones: only where OPENAI_API_KEY is set
    (automation, CI) `env`, and this computer (`local`) (item data: the profile's name). Select
    `select` when it is there, else the first item: a creator never lands on a hidden
    environment profile they did not set up."""
    for profile in config.profiles:
        combo.addItem(f"{profile.name} ({profile.kind})", profile.name)
    if os.environ.get("OPENAI_API_KEY") or select == ENV_PROFILE:
        combo.addItem("From the environment (OPENAI_API_KEY)", ENV_PROFILE)
    if all(p.name != LOCAL_PROFILE for p in config.profiles):
        combo.addItem("This computer (no account)", LOCAL_PROFILE)
    combo.setCurrentIndex(max(0, combo.findData(select)))


class SetupNotice(QFrame):
    """Shown while no provider profile exists: what one is for, and the button that opens
    Settings to add it."""

    requested = Signal()

    def __init__(self, text: str, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName=object_name)
        self.label = QLabel(text, wordWrap=True)
        self.button = QPushButton("Set up a service…", objectName=f"{object_name}_button")
        self.button.setToolTip("Opens Settings → AI providers, where you add a key once.")
        self.button.clicked.connect(self.requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)  # on the 4 px grid, as every notice
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        style(self, "#" + object_name + " {{ background: {notice_bg}; border-radius: 4px; }}")
        style(self.label, "color: {notice_fg};")

    def refresh(self, config: AppConfig) -> None:
        self.setVisible(not config.profiles)

    @classmethod
    def placed(
        cls, layout: QBoxLayout, text: str, object_name: str, config: AppConfig
    ) -> SetupNotice:
        """A notice added to `layout`, shown or not for `config` (after it has a parent: shown
        before, it would open as a window of its own)."""
        notice = cls(text, object_name)
        layout.addWidget(notice)
        notice.refresh(config)
        return notice
