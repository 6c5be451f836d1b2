"""The Train tab's "This computer" panel: what this computer can train and how long it takes,
the chosen model's licence and whether it is here, the hardware check, the model download and
"a model folder on this computer". The work runs in worker processes (services.training.local);
this only shows it, with progress and a Stop button."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.config import data_dir
from persona_studio.core.errors import UserFacingError
from persona_studio.core.local_training import (
    GATED_HELP,
    Hardware,
    fit,
    model_named,
    summary,
)
from persona_studio.gui.context import AppContext
from persona_studio.gui.loop import spawn
from persona_studio.gui.theme import color

if TYPE_CHECKING:
    from persona_studio.core.persona import Persona
    from persona_studio.core.records import JobRecord


def local_root() -> Path:
    return data_dir() / "local-training"


class LocalPanel(QWidget):
    """Shown under "Train with" when the choice is this computer."""

    model_chosen = Signal(str)  # a model folder picked, or a model just downloaded
    hardware_changed = Signal()  # a hardware check ended: the estimates changed

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from persona_studio.services.training.local import saved_hardware

        self.context = context
        self.hardware: Hardware | None = saved_hardware(local_root())
        self.model = ""
        self.tokens = 0
        self.examples = 0
        self._task: asyncio.Task[Any] | None = None
        self._token_task: asyncio.Task[None] | None = None
        self.text = QLabel(objectName="local_hardware", wordWrap=True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.model_text = QLabel(objectName="local_model", wordWrap=True)
        self.model_text.setTextFormat(Qt.TextFormat.RichText)
        self.check_button = QPushButton("Check this computer", objectName="local_check")
        self.check_button.setToolTip(
            "Finds the graphics card or processor and measures its speed by training a small "
            "model for a few seconds, so the time estimates are this computer's."
        )
        self.check_button.clicked.connect(self.check)
        self.download_button = QPushButton("Download model", objectName="local_download")
        self.download_button.setToolTip("Download the chosen model once (it is kept for later).")
        self.download_button.clicked.connect(lambda: self.download())
        self.folder_button = QPushButton("Use a model folder…", objectName="local_folder")
        self.folder_button.setToolTip("A model already on this computer (a Hugging Face folder).")
        self.folder_button.clicked.connect(self.choose_folder)
        self.progress = QProgressBar(objectName="local_progress")
        self.progress.setAccessibleName("Download or check progress")
        self.stop_button = QPushButton("Stop", objectName="local_stop")
        self.stop_button.clicked.connect(self.stop)
        self.progress.hide()
        self.stop_button.hide()
        buttons = QHBoxLayout()
        for button in (self.check_button, self.download_button, self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.model_text)
        layout.addLayout(buttons)
        layout.addLayout(busy)
        self.refresh()

    # ---- what is shown -------------------------------------------------------------------

    def set_model(self, model: str, tokens: int, examples: int) -> None:
        self.model, self.tokens, self.examples = model, tokens, examples
        self.refresh()

    def refresh(self) -> None:
        from persona_studio.services.training.local import (
            install_hint,
            missing_packages,
            model_is_here,
        )

        missing = missing_packages()
        if missing:
            self.text.setText(
                f'<span style="color:{color("attention")}">Training on this computer needs '
                f"the optional local part (missing: {escape(', '.join(missing))}). "
                f"{escape(install_hint(), quote=False)} (about 1 GB without an NVIDIA "
                "card), then restart the app.</span>"
            )
        elif self.hardware is None:
            self.text.setText(
                "Press <b>Check this computer</b> to see which models it can train and how "
                "long it takes (a few seconds)."
            )
        else:
            self.text.setText(escape(summary(self.hardware, self.tokens, self.examples)))
        for button in (self.check_button, self.download_button):
            button.setEnabled(not missing and self._task is None)
        known = model_named(self.model)
        here = bool(self.model) and model_is_here(self.model)
        parts = []
        if known is not None:
            parts.append(
                f"<b>{escape(known.name)}</b>: {known.params_b:g}B parameters, licence "
                f"{escape(known.licence)}"
                + (" (accept it on huggingface.co first)" if known.gated else "")
            )
            if known.note:
                parts.append(escape(known.note))
        elif self.model:
            parts.append(f"<b>{escape(self.model)}</b>")
        if self.model:
            parts.append("✓ on this computer" if here else "Not downloaded yet.")
        if known is not None and self.hardware is not None:
            verdict = fit(known.params_b, self.tokens, self.hardware)
            tone = "success" if verdict.fits else "danger"
            parts.append(f'<span style="color:{color(tone)}">{escape(verdict.reason)}</span>')
        self.model_text.setText(" · ".join(parts))
        self.download_button.setVisible(known is not None and not here)

    # ---- long work -----------------------------------------------------------------------

    def _run(self, work: Callable[[], Coroutine[Any, Any, None]], busy: str) -> None:
        if self._task is not None:
            return
        self.progress.setFormat(busy)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.stop_button.show()
        self._task = spawn(self._guard(work))
        self.refresh()

    async def _guard(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            self.model_text.setText("Stopped. A download carries on where it stopped next time.")
        except Exception as exc:  # phrased for people (TrainingError) or shown as is
            self.model_text.setText(
                f'<span style="color:{color("danger")}">{escape(str(exc))}</span>'
            )
            self._task = None
            self._idle()
            return
        self._task = None
        self._idle()
        self.refresh()

    def _idle(self) -> None:
        self.progress.hide()
        self.stop_button.hide()
        for button in (self.check_button, self.download_button):
            button.setEnabled(True)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def busy(self) -> bool:
        return self._task is not None

    def check(self) -> None:
        async def work() -> None:
            from persona_studio.services.training.local import check_hardware

            self.hardware = await check_hardware(local_root())
            self.hardware_changed.emit()

        self._run(work, "Measuring this computer…")

    def download(self, token: str | None = None) -> None:
        model = self.model

        async def work() -> None:
            from persona_studio.services.credentials import cleaned_key
            from persona_studio.services.training import TrainingError
            from persona_studio.services.training.local import HF_TOKEN_ACCOUNT, download_model

            # (one kept before tokens were cleaned as they are saved: said, never sent)
            saved = token or cleaned_key(
                await self.context.store.get(HF_TOKEN_ACCOUNT) or "", "token"
            )

            def on_progress(done: int, total: int) -> None:
                if total:
                    self.progress.setRange(0, 1000)
                    self.progress.setValue(int(1000 * done / total))
                    self.progress.setFormat(f"{done / 2**20:,.0f} of {total / 2**20:,.0f} MB (%p%)")

            try:
                await download_model(model, on_progress, token=saved)
            except TrainingError as exc:
                if exc.hint == GATED_HELP:
                    self.ask_token()
                raise
            self.model_chosen.emit(model)

        self._run(work, f"Downloading {model}…")

    def ask_token(self) -> QInputDialog:
        dialog = QInputDialog(self, objectName="local_token_dialog")
        dialog.setWindowTitle("Hugging Face token")
        dialog.setLabelText(GATED_HELP)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.textValueSelected.connect(self._save_token)
        dialog.open()
        return dialog

    def _save_token(self, token: str) -> None:
        from persona_studio.services.credentials import cleaned_key

        try:
            token = cleaned_key(token, "token")
        except UserFacingError as exc:
            QMessageBox.warning(self, "Hugging Face token", str(exc))
            return
        if not token:
            return

        async def save() -> None:
            from persona_studio.services.training.local import HF_TOKEN_ACCOUNT

            await self.context.store.set(HF_TOKEN_ACCOUNT, token)
            self.download(token)

        self._token_task = spawn(save())

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A model folder on this computer")
        if not folder:
            return
        if not (Path(folder) / "config.json").is_file():
            self.model_text.setText(
                f'<span style="color:{color("danger")}">That folder has no model in it (no '
                "config.json). Choose the folder that holds config.json and the "
                "*.safetensors files.</span>"
            )
            return
        self.model_chosen.emit(folder)


class TakeElsewhere(QPushButton):
    """ "Take it elsewhere" beside a finished job trained here: copies of the model or adapter
    folder, Ollama, a GGUF file (llama.cpp's converter), the folder itself. Each runs in the
    background; its outcome in a box. Reads and saves the llama.cpp folder in the settings."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Take it elsewhere", parent, objectName="job_take")
        self.setToolTip("Copy the model or its adapter, give it to Ollama, or save a GGUF file.")
        self.record: JobRecord | None = None
        self.persona: Persona | None = None
        self.context: AppContext | None = None  # where the llama.cpp folder is remembered
        self._task: asyncio.Task[None] | None = None
        menu = QMenu(self)
        menu.addAction("Save a copy of the model folder…", lambda: self.copy("model"))
        menu.addAction("Save a copy of the adapter (LoRA) folder…", lambda: self.copy("adapter"))
        menu.addAction("Send to Ollama", self.send_to_ollama)
        menu.addAction("Save as a GGUF file (llama.cpp, LM Studio)…", self.save_gguf)
        menu.addAction("Show the folder", self.show_folder)
        self.setMenu(menu)

    def _run(self, work: Coroutine[Any, Any, str], title: str) -> asyncio.Task[None] | None:
        """Run `work` in the background, its outcome in a box. Meanwhile the button's menu
        holds only "Stop" (what was half done is removed)."""
        if self._task is not None:
            work.close()
            return None
        menu = self.menu()

        async def run() -> None:
            stop = QMenu(self)
            stop.addAction(f"Stop: {title}", self.stop)
            self.setMenu(stop)
            try:
                said, icon = await work, QMessageBox.Icon.Information
            except UserFacingError as exc:
                said, icon = str(exc), QMessageBox.Icon.Warning
            except asyncio.CancelledError:
                said, icon = "Stopped before it finished.", QMessageBox.Icon.Information
            finally:
                self._task = None
                self.setMenu(menu)
                self.setText("Take it elsewhere")
            box = QMessageBox(icon, title, said, QMessageBox.StandardButton.Ok, self)
            box.setObjectName("take_result")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

        self._task = spawn(run())
        return self._task

    def stop(self) -> None:
        """Stop what runs (its program is ended; nothing half written is left)."""
        if self._task is not None:
            self._task.cancel()

    def copy(self, what: str, folder: str | None = None) -> asyncio.Task[None] | None:
        from persona_studio.services.local_export import copy_folder

        record = self.record
        if record is None:
            return None
        folder = folder or QFileDialog.getExistingDirectory(self, "Where should the copy go?")
        if not folder:
            return None

        def progress(percent: int) -> None:
            self.setText(f"Copying… {percent} %")

        async def work() -> str:
            self.setText("Copying…")
            return f"Copied to {await copy_folder(record, what, Path(folder), progress)}."

        return self._run(work(), "Save a copy")

    def send_to_ollama(self) -> asyncio.Task[None] | None:
        from persona_studio.services.local_export import ollama_name, send_to_ollama

        if self.record is None or self.persona is None:
            return None
        name = ollama_name(self.record, self.persona.name)
        return self._run(
            send_to_ollama(self.record, name, self.persona.system_prompt()),
            "Send to Ollama",
        )

    def save_gguf(
        self, path: str | None = None, outtype: str | None = None
    ) -> asyncio.Task[None] | None:
        """One GGUF file of the trained model, written by llama.cpp's converter: asks for the
        llama.cpp folder when the converter is nowhere to be found, then the size, then where."""
        from persona_studio.services.local_export import (
            GGUF_TYPES,
            export_gguf,
            find_gguf_converter,
        )

        record = self.record
        if record is None:
            return None
        converter = find_gguf_converter(self.context.config.llama_cpp_dir if self.context else "")
        if converter is None:
            self._ask_for_llama_cpp(lambda: self.save_gguf(path, outtype))
            return None
        if outtype is None:
            labels = list(GGUF_TYPES.values())
            label, chosen = QInputDialog.getItem(
                self, "Save as a GGUF file", "Size and quality:", labels, 0, False
            )
            if not chosen:
                return None
            outtype = list(GGUF_TYPES)[labels.index(label)]
        if path is None:
            name = f"{(self.persona.name if self.persona else '') or 'persona'}-{outtype}.gguf"
            path, _ = QFileDialog.getSaveFileName(
                self, "Save the GGUF file as", str(Path.home() / name), "GGUF files (*.gguf)"
            )
            if not path:
                return None
        target = Path(path) if path.endswith(".gguf") else Path(f"{path}.gguf")

        def progress(percent: int) -> None:
            self.setText(f"Writing GGUF… {percent} %")

        async def work() -> str:
            self.setText("Writing GGUF…")
            written = await export_gguf(
                record, target, outtype=outtype, converter=converter, progress=progress
            )
            return f"Saved {written} ({GGUF_TYPES[outtype].split(':')[0]})."

        return self._run(work(), "Save as a GGUF file")

    def _ask_for_llama_cpp(self, then: Callable[[], object]) -> QMessageBox:
        """Why GGUF needs llama.cpp, and a button to choose its folder (remembered)."""
        from persona_studio.services.local_export import NO_CONVERTER

        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Save as a GGUF file",
            f"{NO_CONVERTER[0]}\n\n{NO_CONVERTER[1]}",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("gguf_needs_llama_cpp")
        choose = box.addButton("Choose the llama.cpp folder…", QMessageBox.ButtonRole.AcceptRole)

        def chosen() -> None:
            from persona_studio.services.local_export import find_gguf_converter

            folder = QFileDialog.getExistingDirectory(self, "Where is llama.cpp?")
            if not folder:
                return
            if find_gguf_converter(folder) != Path(folder) / "convert_hf_to_gguf.py":
                QMessageBox.warning(
                    self,
                    "Save as a GGUF file",
                    f"There is no convert_hf_to_gguf.py in {folder}. Choose the llama.cpp "
                    "folder itself (the one with its README and the convert scripts).",
                )
                return
            if self.context is not None:
                self.context.config.llama_cpp_dir = folder
                self.context.save_config()
            then()

        choose.clicked.connect(chosen)
        box.open()
        return box

    def show_folder(self) -> None:
        from persona_studio.services.local_export import job_folder

        if self.record is None:
            return
        try:
            folder = job_folder(self.record)
        except UserFacingError as exc:
            QMessageBox.warning(self, "Show the folder", str(exc))
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))  # asked for; never a web address
