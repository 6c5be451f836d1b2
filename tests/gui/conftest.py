from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from persona_studio.core.config import AppConfig, ProviderProfile, config_path, data_dir
from persona_studio.gui.context import AppContext
from persona_studio.gui.main_window import MainWindow
from persona_studio.services.credentials import CredentialStore
from tests.fakes.memory_keyring import MemoryKeyring


def minimum_size(widget: Any) -> Any:
    """`widget`'s minimum size as its layouts have it after a change: Qt answers from the
    hints of before until it has handled the layout requests the change posted."""
    for _ in range(3):  # (posted up the tree, one level a pass)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    return widget.minimumSizeHint().expandedTo(widget.minimumSize())


def add_provider(
    context: AppContext, keyring: MemoryKeyring, name: str, server: Any, **fields: str
) -> None:
    """A provider profile on the fake OpenAI server, with its key in the (memory) keyring."""
    context.config.upsert_profile(
        ProviderProfile(name=name, kind="openai-compatible", base_url=server.base_url, **fields)
    )
    keyring.secrets[("persona-studio", f"provider:{name}")] = server.api_key


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def context(isolated_home: Path, keyring_backend: MemoryKeyring) -> AppContext:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    return AppContext(
        config=AppConfig(),
        store=CredentialStore(keyring_backend),
        config_file=config_path(),
        data_folder=data_dir(),
    )


@pytest.fixture
def make_window(qtbot, run_async, context: AppContext) -> Iterator:
    windows: list[MainWindow] = []

    def make(ctx: AppContext | None = None) -> MainWindow:
        window = MainWindow(ctx or context)
        window.attach_shortcuts()
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.session is not None:
            window.session.close(force=True)
            window.session = None
        window.deleteLater()
    # delete them now: a lingering window's timers would fire in the next test
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
