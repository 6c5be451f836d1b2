"""Settings: provider profiles with their keys, and the Google account for Sheets."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot
from shiboken6 import isValid

from persona_studio.core.config import PROFILE_KINDS, ProviderProfile
from persona_studio.core.errors import UserFacingError
from persona_studio.core.trainers import AZURE_TRAINING_TYPES
from persona_studio.gui.context import AppContext
from persona_studio.gui.theme import color
from persona_studio.services import providers
from persona_studio.services.credentials import KeyringUnavailable, cleaned_key
from persona_studio.services.google_account import store_google_credentials

KIND_LABELS = {
    "openai": "OpenAI",
    "together": "Together AI (fine-tunes open models)",
    "nebius": "Nebius Token Factory (fine-tunes open models)",
    "fireworks": "Fireworks AI (fine-tunes open models)",
    "azure": "Azure OpenAI",
    "openai-compatible": "OpenAI-compatible server (Ollama, LM Studio, vLLM, gateways)",
}
_NEW = "New profile"


def _lands(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """For a page's work that must land though the creator closes Settings meanwhile (a key
    being written, a connection tested, a profile removed): the dialog hides at once, and is
    deleted when the last such work ends (`SettingsDialog.done`), so its profile is saved and
    the window's lists are told, into widgets that are still there. Counted from the click,
    not from when the loop starts the work (a close may come between)."""

    async def run(page: Any, *args: Any) -> None:
        try:
            await method(page, *args)
        finally:
            page.working -= 1
            dialog = page.window()
            if isinstance(dialog, SettingsDialog) and dialog.closed and not dialog.working:
                dialog.deleteLater()

    @functools.wraps(method)
    def start(page: Any, *args: Any) -> Awaitable[None]:
        page.working += 1
        return run(page, *args)

    return start


def _status(label: QLabel, text: str, ok: bool | None) -> None:
    shade = {True: color("success"), False: color("danger"), None: "palette(text)"}[ok]
    label.setStyleSheet(f"color: {shade};")
    label.setText(text)


class KeyringBanner(QFrame):
    """Says where secrets go; offers session-only memory when the system store is missing."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.text = QLabel(
            "Checking the system password store…", wordWrap=True, objectName="keyring_status"
        )
        self.use_memory = QPushButton(
            "Keep keys in memory for this session", objectName="use_session_memory"
        )
        self.use_memory.setToolTip("Keys are forgotten when you quit. Nothing is written to disk.")
        self.use_memory.hide()
        self.use_memory.clicked.connect(self._use_memory)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.use_memory)

    @asyncSlot()
    async def refresh(self) -> None:
        status = await self.context.store.status()  # up to 3 s: the dialog may be gone by then
        if not isValid(self):
            return
        if status.available:
            _status(self.text, status.message, True)
            self.use_memory.hide()
        elif self.context.store.session_memory_allowed:
            _status(
                self.text,
                "No system password store: keys are kept in memory until you "
                "quit, and never written to disk.",
                None,
            )
            self.use_memory.hide()
        else:
            _status(self.text, status.message, False)
            self.use_memory.show()

    def _use_memory(self) -> None:
        self.context.store.allow_session_memory()
        self.refresh()


class ProvidersPage(QWidget):
    """Provider profiles with their keys (in the keyring) and Test connection. Awaits the
    credential store and `providers.test_connection`."""

    profiles_changed = Signal()  # saved or removed: every list in the window shows it now

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.working = 0  # its work under way (`_lands`)
        self.context = context
        self.list = QListWidget(objectName="profiles_list")
        self.list.setAccessibleName("Provider profiles")
        self.list.currentTextChanged.connect(self._show_profile)
        add = QPushButton("Add", objectName="add_profile")
        add.clicked.connect(self._new_profile)
        self.remove = QPushButton("Remove", objectName="remove_profile")
        self.remove.clicked.connect(self._remove_profile)
        left = QVBoxLayout()
        left.addWidget(self.list)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove)
        left.addLayout(buttons)

        self.name = QLineEdit(
            objectName="profile_name", placeholderText="e.g. openai, work, ollama"
        )
        self.kind = QComboBox(objectName="profile_kind")
        for kind in PROFILE_KINDS:
            if kind in KIND_LABELS:  # not "local": this computer is built in, with no settings
                self.kind.addItem(KIND_LABELS[kind], kind)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.base_url = QLineEdit(objectName="profile_base_url")
        self.api_version = QLineEdit(
            objectName="profile_api_version", placeholderText=providers.DEFAULT_AZURE_API_VERSION
        )
        self.account = QLineEdit(
            objectName="profile_account", placeholderText="Your Fireworks account ID"
        )
        self.training_type = QComboBox(objectName="profile_training_type")
        for value, (label, explained) in AZURE_TRAINING_TYPES.items():
            self.training_type.addItem(label, value)
            self.training_type.setItemData(
                self.training_type.count() - 1, explained, Qt.ItemDataRole.ToolTipRole
            )
        self.training_type.setToolTip(
            "Where Azure trains your model: Global is cheaper but copies your examples out of "
            "your resource's region; Standard keeps them there; Developer is the cheapest, "
            "with no promise when it finishes."
        )
        self.chat_model = QLineEdit(
            objectName="profile_chat_model", placeholderText="e.g. gpt-4.1-mini or llama3.1"
        )
        self.finetune_model = QLineEdit(
            objectName="profile_finetune_model", placeholderText="e.g. gpt-4.1-mini-2025-04-14"
        )
        self.api_key = QLineEdit(objectName="profile_api_key", echoMode=QLineEdit.EchoMode.Password)
        self.api_key.setAccessibleName("API key")
        self.save = QPushButton("Save profile", objectName="save_profile")
        self.save.clicked.connect(self._save)
        self.test = QPushButton("Test connection", objectName="test_connection")
        self.test.clicked.connect(self._test)
        self.result = QLabel(objectName="profile_result", wordWrap=True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Base URL", self.base_url)
        form.addRow("API version", self.api_version)
        form.addRow("Account ID", self.account)
        form.addRow("Where it trains", self.training_type)
        form.addRow("API key", self.api_key)
        form.addRow("Chat model", self.chat_model)
        form.addRow("Fine-tuning base model", self.finetune_model)
        for widget, label in (
            (self.name, "Profile name"),
            (self.kind, "Provider kind"),
            (self.base_url, "Base URL"),
            (self.api_version, "API version"),
            (self.training_type, "Where Azure trains"),
            (self.chat_model, "Default chat model"),
            (self.finetune_model, "Default fine-tuning base model"),
        ):
            widget.setAccessibleName(label)
        self._form = form
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.test)
        actions.addWidget(self.save)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(actions)
        right.addWidget(self.result)
        right.addStretch(1)

        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 2)
        self._reload_list()

    def _reload_list(self, select: str | None = None) -> None:
        self.list.clear()
        names = [p.name for p in self.context.config.profiles]
        self.list.addItems(names)
        if select in names or names:
            self.list.setCurrentRow(names.index(select) if select in names else 0)
        else:
            self._new_profile()

    def _new_profile(self) -> None:
        self.list.clearSelection()
        self._fill(ProviderProfile(name=""))
        self.name.setFocus()

    def _show_profile(self, name: str) -> None:
        if name:
            self._fill(self.context.config.profile(name))

    def _fill(self, profile: ProviderProfile) -> None:
        self.name.setText(profile.name)
        self.kind.setCurrentIndex(max(0, self.kind.findData(profile.kind)))
        self.base_url.setText(profile.base_url)
        self.api_version.setText(profile.api_version)
        self.account.setText(profile.account)
        self.training_type.setCurrentIndex(
            max(0, self.training_type.findData(profile.training_type))
        )
        self.chat_model.setText(profile.chat_model)
        self.finetune_model.setText(profile.finetune_model)
        self.api_key.clear()
        self.api_key.setPlaceholderText(
            f"Read from ${profile.key_env}"
            if profile.key_env
            else "Paste the key; it is stored in the system password store"
            if not profile.name
            else "Leave empty to keep the saved key; paste a new one to replace it"
        )
        self.result.clear()
        self.remove.setEnabled(bool(profile.name))
        self._kind_changed()

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.base_url.setPlaceholderText(
            {
                "openai": "Leave empty for api.openai.com",
                "together": "Leave empty for api.together.ai",
                "nebius": "Leave empty for api.tokenfactory.nebius.com",
                "fireworks": "Leave empty for api.fireworks.ai/inference/v1",
                "azure": "https://YOUR-RESOURCE.openai.azure.com",
                "openai-compatible": "e.g. http://localhost:11434/v1",
            }[kind]
        )
        self._form.setRowVisible(self.api_version, kind == "azure")
        self._form.setRowVisible(self.account, kind == "fireworks")
        self._form.setRowVisible(self.training_type, kind == "azure")

    def _profile_from_form(self) -> ProviderProfile:
        current = self.list.currentItem()
        previous = (
            self.context.config.profile(current.text())
            if current and current.isSelected()
            else ProviderProfile(name="")
        )
        return ProviderProfile(
            name=self.name.text(),
            kind=self.kind.currentData(),
            base_url=self.base_url.text(),
            chat_model=self.chat_model.text().strip(),
            finetune_model=self.finetune_model.text().strip(),
            api_version=self.api_version.text().strip(),
            account=self.account.text().strip(),
            training_type=self.training_type.currentData() or "",
            key_env=previous.key_env,
            base_url_env=previous.base_url_env,
        ).validated()

    async def _save_profile(self) -> ProviderProfile | None:
        try:
            profile = self._profile_from_form()
            key = cleaned_key(self.api_key.text())  # (what a copy brings: spaces, U+200B)
            where = await self.context.store.set(profile.keyring_account, key) if key else None
        except KeyringUnavailable as exc:
            _status(self.result, f"{exc} The profile was not saved.", False)
            return None
        except UserFacingError as exc:
            _status(self.result, str(exc), False)
            return None
        self.context.config.upsert_profile(profile)
        self.context.save_config()
        self.api_key.clear()
        self._reload_list(profile.name)
        self.profiles_changed.emit()
        note = {
            "keyring": " Key stored in the system password store.",
            "session": " Key kept in memory until you quit.",
            None: "",
        }[where]
        _status(self.result, f"Saved “{profile.name}”.{note}", True)
        return profile

    @asyncSlot()
    @_lands
    async def _save(self) -> None:
        self.save.setEnabled(False)
        try:
            await self._save_profile()
        finally:
            self.save.setEnabled(True)

    @asyncSlot()
    @_lands
    async def _test(self) -> None:
        self.test.setEnabled(False)
        self.save.setEnabled(False)
        try:
            profile = await self._save_profile()
            if profile is None:
                return
            _status(
                self.result, f"Contacting {providers.base_url(profile) or 'api.openai.com'}…", None
            )
            report = await providers.test_connection(profile, self.context.store)
            _status(self.result, report.message, report.ok)
        finally:
            self.test.setEnabled(True)
            self.save.setEnabled(True)

    @asyncSlot()
    @_lands
    async def _remove_profile(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        profile = self.context.config.profile(item.text())
        try:
            await self.context.store.delete(profile.keyring_account)
        except KeyringUnavailable as exc:
            _status(self.result, f"{exc} The profile was kept.", False)
            return
        self.context.config.remove_profile(profile.name)
        self.context.save_config()
        self._reload_list()
        self.profiles_changed.emit()
        _status(self.result, f"Removed “{profile.name}” and its key.", True)


class GooglePage(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.working = 0  # its work under way (`_lands`)
        self.context = context
        intro = QLabel(
            "Persona Studio can keep your dataset in a Google Sheet so collaborators can edit it. "
            "Choose how it signs in to Google:",
            wordWrap=True,
        )
        self.service_account = QRadioButton(
            "Service account (a JSON key file; share your sheet with its e-mail address)",
            objectName="google_sa",
        )
        self.oauth = QRadioButton(
            "My Google account (an OAuth client file for a desktop app; "
            "you approve access in your browser)",
            objectName="google_oauth",
        )
        self.kind = QButtonGroup(self)
        self.kind.addButton(self.service_account)
        self.kind.addButton(self.oauth)
        self.service_account.setChecked(context.config.google.auth != "oauth")
        self.choose = QPushButton("Choose JSON file…", objectName="google_choose")
        self.choose.clicked.connect(self._choose)
        self.account = QLabel(objectName="google_account", wordWrap=True)
        self.account.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.service_account)
        layout.addWidget(self.oauth)
        row = QHBoxLayout()
        row.addWidget(self.choose)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.account)
        layout.addStretch(1)
        self._show_current()

    def _show_current(self) -> None:
        google = self.context.config.google
        if google.auth == "service_account":
            _status(
                self.account,
                f"Signed in as the service account {google.account_email}. "
                "Share your sheet with this address (as Editor).",
                True,
            )
        elif google.auth == "oauth":
            _status(
                self.account,
                "OAuth client saved. You will approve access in your browser "
                "the first time you connect a sheet.",
                True,
            )
        else:
            _status(self.account, "No Google account set up yet.", None)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the JSON file from Google", str(Path.home()), "JSON files (*.json)"
        )
        if path:
            self.load_file(Path(path))

    @asyncSlot(object)
    @_lands
    async def load_file(self, path: Path) -> None:
        auth = "oauth" if self.oauth.isChecked() else "service_account"
        self.choose.setEnabled(False)
        try:
            text = path.read_text("utf-8")
            identity = await store_google_credentials(self.context.store, auth, text)
        except (OSError, UnicodeDecodeError) as exc:
            _status(self.account, f"Could not read {path.name}: {exc}", False)
            return
        except UserFacingError as exc:
            _status(self.account, str(exc), False)
            return
        finally:
            self.choose.setEnabled(True)
        self.context.config.google.auth = identity.auth
        self.context.config.google.account_email = (
            identity.label if identity.auth == "service_account" else ""
        )
        self.context.save_config()
        self._show_current()


class SettingsDialog(QDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settings_dialog")
        self.resize(820, 480)
        self.banner = KeyringBanner(context)
        self.providers = ProvidersPage(context)
        self.google = GooglePage(context)
        self.tabs = tabs = QTabWidget()
        tabs.addTab(self.providers, "AI providers")
        tabs.addTab(self.google, "Google Sheets")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(tabs)
        layout.addWidget(close)
        self.banner.refresh()
        self.closed = False  # closed while work was under way: deleted when it ends

    @property
    def working(self) -> int:
        return self.providers.working + self.google.working

    def done(self, result: int) -> None:
        """Closed while a key is written or a connection tested: hidden now, deleted once that
        work has landed (`_lands`)."""
        if self.working and self.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose):
            self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
            self.closed = True
        super().done(result)
