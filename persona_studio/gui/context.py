"""What the whole app shares: settings, the secret store and where files live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_studio.core.config import AppConfig, config_path, data_dir, save_config
from persona_studio.services.credentials import CredentialStore


@dataclass
class AppContext:
    config: AppConfig
    store: CredentialStore = field(default_factory=CredentialStore)
    config_file: Path = field(default_factory=config_path)
    data_folder: Path = field(default_factory=data_dir)
    # builds gspread's client; None: from the Google account in the keyring (tests pass a fake)
    sheets_client: Callable[[], Awaitable[Any]] | None = None

    @property
    def window_state_file(self) -> Path:
        return self.config_file.parent / "window.ini"

    def save_config(self) -> None:
        save_config(self.config, self.config_file)
