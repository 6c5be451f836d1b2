"""The provider-profile choice shared by the Train tab, the chat panes and generation."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from persona_studio.core.config import LOCAL_PROFILE, AppConfig


def add_profiles(combo: QComboBox, config: AppConfig, select: str | None) -> None:
    """Append every profile, then the built-in ones, `env` and this computer (`local`) (item
    data: the profile's name), and select `select` when it is there (else the first item)."""
    for profile in config.profiles:
        combo.addItem(f"{profile.name} ({profile.kind})", profile.name)
    combo.addItem("env (OPENAI_API_KEY)", "env")
    if all(p.name != LOCAL_PROFILE for p in config.profiles):
        combo.addItem("This computer (no account)", LOCAL_PROFILE)
    combo.setCurrentIndex(max(0, combo.findData(select)))
