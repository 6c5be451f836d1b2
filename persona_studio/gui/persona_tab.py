"""Persona tab: who the character is, the system prompt composed from it, and its rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# No `Qt` at module level: the first use of PySide's Qt namespace builds all its enums (12 ms),
# which must not delay the first paint; this tab is built before it.
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, QStringListModel, QTimer
from PySide6.QtGui import QFont, QImage, QImageReader, QPixmap, QUndoStack
from PySide6.QtWidgets import (
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import TONE_AXES, TRAIT_SUGGESTIONS, PersonaTemplate
from persona_studio.core.tokens import (
    PROMPT_TOKENS_NOTE,
    TOKENS_EXPLAINED,
    prompt_length_warning,
)
from persona_studio.gui.dialogs.messages import show_error
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import style
from persona_studio.gui.undo import SetAvatar, SetPersonaField
from persona_studio.gui.widgets.lazy_tab import LazyTab

if TYPE_CHECKING:
    import asyncio

    from persona_studio.gui.widgets.rules_editor import RulesEditor

AVATAR_SIZE = 512
TOKEN_COUNT_DELAY_MS = 250


def _commas(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    multiline: bool
    parse: Callable[[str], Any]
    show: Callable[[Any], str]
    placeholder: str
    height: int = 64
    help: str = ""  # what the field is, in plain words (its tooltip)


_TEXT = (str, str)
_COMMAS = (_commas, ", ".join)
_LINES = (_lines, "\n".join)
_PARAGRAPHS = (_paragraphs, "\n\n".join)

SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    (
        "Who is your character?",
        (
            FieldSpec("name", "Name", False, *_TEXT, "e.g. Coach Rhea"),
            FieldSpec(
                "description",
                "Short description",
                True,
                *_TEXT,
                "One or two sentences: who is this character and whom do they help?",
            ),
            FieldSpec(
                "traits",
                "Personality traits",
                False,
                *_COMMAS,
                "Comma-separated, e.g. encouraging, practical, honest",
            ),
        ),
    ),
    (
        "How they speak",
        (
            FieldSpec("style_do", "Always…", True, *_LINES, "One habit per line"),
            FieldSpec("style_dont", "Never…", True, *_LINES, "One rule per line"),
            FieldSpec("avoid_topics", "Topics to avoid", True, *_LINES, "One topic per line"),
        ),
    ),
    (
        "What they know",
        (
            FieldSpec(
                "background",
                "Background facts",
                True,
                *_TEXT,
                "History, expertise, beliefs: what the character knows about itself",
                80,
            ),
            FieldSpec(
                "scenario", "Scenario", True, *_TEXT, "Where and why the conversation happens"
            ),
        ),
    ),
    (
        "How they open a chat",
        (
            FieldSpec(
                "greeting", "Greeting", True, *_TEXT, "The first thing the character says in a chat"
            ),
            FieldSpec(
                "alternate_greetings",
                "Other greetings",
                True,
                *_PARAGRAPHS,
                "Leave an empty line between greetings",
            ),
            FieldSpec(
                "example_dialogue",
                "Example dialogue",
                True,
                *_TEXT,
                "<START>\n{{user}}: …\n{{char}}: …",
                80,
                "Sample exchanges that show how the character talks. Character-card apps "
                "write them this way: <START> begins an exchange, {{user}} stands for the "
                "person chatting and {{char}} for your character; both are replaced by the "
                "real names when the card is used.",
            ),
        ),
    ),
    (
        "Notes",
        (
            FieldSpec(
                "creator_notes",
                "Creator notes",
                True,
                *_TEXT,
                "For you and people you share the card with; not sent to the model",
            ),
        ),
    ),
)
FIELDS = {spec.name: spec for _title, specs in SECTIONS for spec in specs}


def square_png(image: QImage, size: int = AVATAR_SIZE) -> bytes:
    """Centre-crop to a square, scale, encode as PNG (cards embed their data in a PNG)."""
    from PySide6.QtCore import Qt

    side = min(image.width(), image.height())
    square = image.copy((image.width() - side) // 2, (image.height() - side) // 2, side, side)
    scaled = square.scaled(
        size, size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    scaled.save(buffer, "PNG")
    return bytes(data.data())


def _preview(png: bytes, box: int) -> QPixmap | None:
    """The image scaled smoothly to fit `box`, keeping its shape (QImageReader scales while
    decoding, and takes no Qt enum: this runs before the first paint)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(png))
    reader = QImageReader(buffer)
    size = reader.size()
    if not size.isValid() or size.isEmpty():
        return None
    scale = box / max(size.width(), size.height())
    reader.setScaledSize(
        QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
    )
    image = reader.read()
    return None if image.isNull() else QPixmap.fromImage(image)


class PersonaTab(QWidget):
    """The persona's fields, templates, the composed system prompt with its token counts, and
    the rules editor. Listens to the session's persona, avatar and character signals."""

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._undo = undo_stack
        self._session: ProjectSession | None = None
        self._widgets: dict[str, QLineEdit | QPlainTextEdit] = {}
        self._sliders: dict[str, QSlider] = {}
        self._updating = False
        self._count_task: asyncio.Task[None] | None = None  # started after the loop exists
        self._count_timer = QTimer(self, singleShot=True, interval=TOKEN_COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._start_token_count)

        self.template_button = QPushButton("Start from a template…", objectName="use_template")
        self.template_button.clicked.connect(self.choose_template)
        fields = QWidget()
        fields_layout = QVBoxLayout(fields)
        top = QHBoxLayout()
        top.addWidget(self._avatar_box(), 1)
        template_column = QVBoxLayout()  # the button at the top of the row
        template_column.addWidget(self.template_button)
        template_column.addStretch(1)
        top.addLayout(template_column)
        fields_layout.addLayout(top)
        for title, specs in SECTIONS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for spec in specs:
                form.addRow(spec.label, self._field_widget(spec))
            if title == "Who is your character?":
                fields_layout.addWidget(box)
                fields_layout.addWidget(self._tone_box())
            else:
                fields_layout.addWidget(box)
        fields_layout.addStretch(1)
        self.fields_scroll = scroll = QScrollArea(objectName="persona_fields")
        scroll.setWidgetResizable(True)
        scroll.setWidget(fields)

        self._rules_page = LazyTab(self._make_rules_editor)
        side = QTabWidget(objectName="persona_side_tabs")
        side.addTab(self._prompt_page(), "System prompt")
        side.addTab(self._rules_page, "Conversational rules")
        side.currentChanged.connect(lambda _i: self._build_rules_if_shown())
        self.side_tabs = side
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

    # ---- building ------------------------------------------------------------------------

    def _field_widget(self, spec: FieldSpec) -> QWidget:
        widget: QLineEdit | QPlainTextEdit
        if spec.multiline:
            widget = QPlainTextEdit()
            widget.setTabChangesFocus(True)
            widget.setFixedHeight(spec.height)
            widget.textChanged.connect(
                lambda s=spec, w=widget: self._edited(s.name, s.parse(w.toPlainText()))
            )
        else:
            widget = QLineEdit()
            widget.textEdited.connect(lambda text, s=spec: self._edited(s.name, s.parse(text)))
        widget.setPlaceholderText(spec.placeholder)
        if spec.help:
            widget.setToolTip(spec.help)
        widget.setObjectName(f"persona_{spec.name}")
        widget.setAccessibleName(spec.label)
        if spec.name == "traits":
            self._add_trait_completer(widget)  # type: ignore[arg-type]
        self._widgets[spec.name] = widget
        return widget

    def _add_trait_completer(self, line: QLineEdit) -> None:
        """Suggest a trait for the word being typed after the last comma."""
        model = QStringListModel(list(TRAIT_SUGGESTIONS), self)
        completer = QCompleter(model, self)
        completer.setWidget(line)
        case_set = False

        def update(text: str) -> None:
            nonlocal case_set
            if not case_set:  # on the first keystroke: Qt's enums are not built before paint
                from PySide6.QtCore import Qt

                completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
                case_set = True
            prefix = text.split(",")[-1].strip()
            if len(prefix) < 2:
                completer.popup().hide()
                return
            completer.setCompletionPrefix(prefix)
            completer.complete()

        def insert(choice: str) -> None:
            head = line.text().rsplit(",", 1)[0] if "," in line.text() else ""
            text = f"{head}, {choice}, " if head else f"{choice}, "
            line.setText(text)
            self._edited("traits", _commas(text))

        line.textEdited.connect(update)
        completer.activated.connect(insert)
        self.trait_completer = completer

    def _avatar_box(self) -> QWidget:
        self.avatar = QLabel(objectName="avatar_preview")
        self.avatar.setFixedSize(96, 96)
        self.avatar.setAccessibleName("Avatar")
        self.avatar.setStyleSheet(
            "border: 1px solid palette(mid); border-radius: 6px; qproperty-alignment: AlignCenter;"
        )
        choose = QPushButton("Choose image…", objectName="choose_avatar")
        choose.clicked.connect(self._choose_avatar)
        self.remove_avatar = QPushButton("Remove", objectName="remove_avatar")
        self.remove_avatar.clicked.connect(lambda: self.set_avatar_png(None))
        buttons = QVBoxLayout()
        buttons.addWidget(QLabel("Avatar (PNG or JPG; cropped to a square)"))
        buttons.addWidget(choose)
        buttons.addWidget(self.remove_avatar)
        buttons.addStretch(1)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.avatar)
        row.addLayout(buttons)
        row.addStretch(1)
        return box

    def _tone_box(self) -> QGroupBox:
        box = QGroupBox("Tone")
        box.setStyleSheet("QSlider { qproperty-orientation: Horizontal; }")  # no Qt enum (12 ms)
        grid = QGridLayout(box)
        for row, (axis, (low, high)) in enumerate(TONE_AXES.items()):
            slider = QSlider(objectName=f"tone_{axis}")
            slider.setRange(0, 100)
            slider.setPageStep(10)
            slider.setAccessibleName(f"Tone: {low} to {high}")
            slider.valueChanged.connect(lambda value, a=axis: self._tone_moved(a, value))
            low_label = QHBoxLayout()  # right-aligned, by a stretch before it
            low_label.addStretch(1)
            low_label.addWidget(QLabel(low.capitalize()))
            grid.addLayout(low_label, row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(QLabel(high.capitalize()), row, 2)
            self._sliders[axis] = slider
        grid.setColumnStretch(1, 1)
        return box

    def _prompt_page(self) -> QWidget:
        page = QWidget()
        self.prompt_preview = QPlainTextEdit(objectName="system_prompt_preview")
        self.prompt_preview.setAccessibleName("System prompt")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.prompt_preview.setFont(mono)
        self.prompt_preview.textChanged.connect(self._prompt_typed)
        self.prompt_state = QLabel(objectName="system_prompt_state", wordWrap=True)
        self.detach = QPushButton("Edit by hand", objectName="detach_prompt")
        self.detach.setToolTip("Write the system prompt yourself; it stops following the fields.")
        self.detach.clicked.connect(self._detach)
        self.reattach = QPushButton("Use the composed prompt", objectName="reattach_prompt")
        self.reattach.clicked.connect(self._reattach)
        self.prompt_size = QLabel(objectName="system_prompt_size", wordWrap=True)
        self.prompt_size.setToolTip(TOKENS_EXPLAINED)
        self.prompt_warning = QLabel(objectName="system_prompt_warning", wordWrap=True)
        style(self.prompt_warning, "color: {attention};")
        row = QHBoxLayout()
        row.addWidget(self.prompt_state, 1)
        row.addWidget(self.detach)
        row.addWidget(self.reattach)
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.prompt_preview, 1)
        layout.addWidget(self.prompt_size)
        layout.addWidget(self.prompt_warning)
        return page

    # ---- session -------------------------------------------------------------------------

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.persona_changed.connect(self._show_field)
        session.avatar_changed.connect(self._show_avatar)
        session.character_replaced.connect(self._show_all)
        self._rules_page.set_session(session)
        self._build_rules_if_shown()
        self._show_all()
        self.fields_scroll.verticalScrollBar().setValue(0)  # a new character starts at the top

    def _make_rules_editor(self) -> QWidget:
        from persona_studio.gui.widgets.rules_editor import RulesEditor

        return RulesEditor(self._undo)

    @property
    def rules_editor(self) -> RulesEditor:
        return self._rules_page.page  # type: ignore[return-value]

    def _build_rules_if_shown(self) -> None:
        if self.side_tabs.currentWidget() is self._rules_page and self._session is not None:
            self._rules_page.page  # noqa: B018 - building it is the point

    def _show_all(self) -> None:
        for name in (*FIELDS, "tone", "system_prompt_override"):
            self._show_field(name, refresh=False)
        self._refresh_prompt()
        self._show_avatar()

    def _edited(self, field: str, value: Any) -> None:
        if self._updating or self._session is None:
            return
        old = getattr(self._session.persona, field)
        if old != value:
            label = FIELDS[field].label if field in FIELDS else field.replace("_", " ")
            self._undo.push(SetPersonaField(self._session, field, old, value, label))

    def _tone_moved(self, axis: str, value: int) -> None:
        if self._updating or self._session is None:
            return
        self._edited("tone", {**self._session.persona.tone, axis: value})

    def _show_field(self, field: str, refresh: bool = True) -> None:
        """Session → widget; a widget already showing the value (being typed in) is left alone.
        `refresh`: recompose the system prompt (once is enough when showing every field)."""
        assert self._session is not None
        persona = self._session.persona
        self._updating = True
        try:
            if field in FIELDS:
                spec, widget = FIELDS[field], self._widgets[field]
                current = widget.text() if isinstance(widget, QLineEdit) else widget.toPlainText()
                value = getattr(persona, field)
                if spec.parse(current) != value:
                    text = spec.show(value)
                    widget.setText(text) if isinstance(widget, QLineEdit) else (
                        widget.setPlainText(text)
                    )
            elif field == "tone":
                for axis, slider in self._sliders.items():
                    slider.setValue(persona.tone.get(axis, 50))
        finally:
            self._updating = False
        if refresh:
            self._refresh_prompt()

    # ---- avatar --------------------------------------------------------------------------

    def _show_avatar(self) -> None:
        png = self._session.avatar_png if self._session else None
        pixmap = _preview(png, 96) if png else None
        if pixmap is not None:
            self.avatar.setPixmap(pixmap)
        else:
            self.avatar.clear()
            self.avatar.setText("No avatar")
        self.remove_avatar.setEnabled(bool(png))

    def _choose_avatar(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an avatar image", str(Path.home()), "Images (*.png *.jpg *.jpeg *.webp)"
        )
        if path:
            self.load_avatar(Path(path))

    def load_avatar(self, path: Path) -> bool:
        image = QImage(str(path))
        if image.isNull() or image.width() < 16 or image.height() < 16:
            show_error(
                self,
                "Not an image we can use",
                UserFacingError(
                    f"“{path.name}” could not be read as a PNG or JPG image.",
                    "Choose another picture (at least 16×16 pixels).",
                ),
            )
            return False
        self.set_avatar_png(square_png(image))
        return True

    def set_avatar_png(self, png: bytes | None) -> None:
        if self._session is not None and png != self._session.avatar_png:
            self._undo.push(SetAvatar(self._session, self._session.avatar_png, png))

    # ---- system prompt -------------------------------------------------------------------

    def _refresh_prompt(self) -> None:
        assert self._session is not None
        persona = self._session.persona
        prompt = persona.system_prompt()
        detached = persona.prompt_is_detached
        self._updating = True
        try:
            if self.prompt_preview.toPlainText() != prompt:
                self.prompt_preview.setPlainText(prompt)
        finally:
            self._updating = False
        self.prompt_preview.setReadOnly(not detached)
        self.detach.setVisible(not detached)
        self.reattach.setVisible(detached)
        self.prompt_state.setText(
            "<b>Edited by hand.</b> It no longer follows the fields on the left."
            if detached
            else "Composed from the fields on the left; it updates as you type."
        )
        self.prompt_size.setText("Counting tokens…")
        self._count_timer.start()

    def _prompt_typed(self) -> None:
        if self._updating or self._session is None or not self._session.persona.prompt_is_detached:
            return
        self._edited("system_prompt_override", self.prompt_preview.toPlainText())

    def _detach(self) -> None:
        assert self._session is not None
        self._edited("system_prompt_override", self._session.persona.system_prompt())
        self.prompt_preview.setFocus()

    def _reattach(self) -> None:
        self._edited("system_prompt_override", None)

    def _start_token_count(self) -> None:
        if self._session is None:
            return
        if self._count_task is not None:
            self._count_task.cancel()
        self._count_task = spawn(self._count_tokens(self._session.persona.system_prompt()))

    async def _count_tokens(self, prompt: str) -> None:
        """Off the UI thread, in the check's worker process (`prompt_tokens`): the first
        count starts it."""
        import asyncio

        def count() -> int:
            # imported here, in the worker thread: it imports the checks, and numpy (~70 ms);
            # on the UI thread, 250 ms after the first paint, that stalled the window 85–150 ms
            # (waiting for the warm-up thread importing them, or importing them itself). A
            # module of the services: one of the window's, importing PySide's types in this
            # thread while the window made others, could crash the app (CONTRIBUTING)
            from persona_studio.services.check_process import prompt_tokens

            return prompt_tokens(prompt)

        tokens = await asyncio.to_thread(count)
        if self._session is None or self._session.persona.system_prompt() != prompt:
            return  # the prompt changed meanwhile; a newer count is on its way
        self.prompt_size.setText(
            f"{tokens:,} tokens ({PROMPT_TOKENS_NOTE}) · {len(prompt):,} characters"
        )
        warning = prompt_length_warning(tokens)
        self.prompt_warning.setText(warning or "")
        self.prompt_warning.setVisible(bool(warning))

    # ---- templates -----------------------------------------------------------------------

    def choose_template(self) -> None:
        from persona_studio.gui.dialogs.template_dialog import TemplateDialog

        dialog = TemplateDialog(self, ask_name=False)
        dialog.accepted.connect(lambda: self.apply_template(dialog.chosen_template()))
        dialog.open()

    def fill_empty_fields(self, values: dict[str, Any], label: str) -> list[str]:
        """Fill the persona's empty fields from `values` as one undoable step; fields the
        creator already wrote are left alone. Returns the labels of the fields filled."""
        if self._session is None:
            return []
        persona = self._session.persona
        empty = {
            field: value
            for field, value in values.items()
            if field in FIELDS and not FIELDS[field].show(getattr(persona, field)).strip()
        }
        if empty:
            self._undo.beginMacro(label)
            for field, value in empty.items():
                old = getattr(persona, field)
                self._undo.push(
                    SetPersonaField(self._session, field, old, value, FIELDS[field].label)
                )
            self._undo.endMacro()
        return [FIELDS[field].label for field in empty]

    def apply_template(self, template: PersonaTemplate | None) -> None:
        """Fill the fields from a template (keeping the name), as one undoable step."""
        if template is None or self._session is None:
            return
        persona = self._session.persona
        self._undo.beginMacro(f"Use the “{template.title}” template")
        for field in (*FIELDS, "tone"):
            if field == "name" and persona.name:
                continue
            old, new = getattr(persona, field), getattr(template.persona, field)
            if old != new:
                label = FIELDS[field].label if field in FIELDS else "tone"
                self._undo.push(SetPersonaField(self._session, field, old, new, label))
        self._undo.endMacro()
