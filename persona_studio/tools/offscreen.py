"""A main window on the demo project in a private home: for screenshots and benchmarks."""

from __future__ import annotations

from pathlib import Path

from keyring.backend import KeyringBackend

from persona_studio.core.config import AppConfig, ProviderProfile
from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui.context import AppContext
from persona_studio.gui.main_window import MainWindow
from persona_studio.services.credentials import CredentialStore


class FixedKeyring(KeyringBackend):
    """Stands in for the OS store: answers every key with `secret`, stores nothing."""

    priority = 1
    name = "system keyring"

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret

    def get_password(self, service: str, username: str) -> str | None:
        return self.secret

    def set_password(self, service: str, username: str, password: str) -> None:
        pass

    def delete_password(self, service: str, username: str) -> None:
        pass


def demo_window(
    home: Path, profiles: list[ProviderProfile], secret: str | None = None
) -> MainWindow:
    """A window with the given profiles, opened on the demo character kept under `home`."""
    config = AppConfig()
    for profile in profiles:
        config.upsert_profile(profile)
    context = AppContext(
        config=config,
        store=CredentialStore(FixedKeyring(secret)),
        config_file=home / "config" / "settings.toml",
        data_folder=home / "data",
    )
    context.config_file.parent.mkdir(parents=True, exist_ok=True)
    main = MainWindow(context)
    main.resize(1366, 768)  # a common laptop screen: what the layout must fit
    main.open_project(ensure_demo_project(context.data_folder))
    return main
