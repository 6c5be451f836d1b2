""" "Does it sound like me?": choose the engines, run the check (progress, stop), read the
scoreboard, and open a question to see every engine's answer beside yours. A view of
`services.voice_check`: it never scores or stores anything itself."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from persona_studio.core.errors import UserFacingError
from persona_studio.gui.context import AppContext
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.dialogs.messages import write_file
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import RETRIEVAL_WARM_AFTER_MS, ProjectSession
from persona_studio.gui.theme import icon
from persona_studio.gui.widgets.profiles import add_profiles
from persona_studio.services.voice_check import CANDIDATE_LABELS, CheckResult

EXPLAIN = (
    "Each engine answers the same questions from your approved examples; the score says how "
    "close its answers are to yours, in wording and in habits (sentence length, questions, "
    "exclamations, emoji). 100 % is your own answer; ± is how sure the number is. It needs no "
    "account and costs nothing for the offline engine and a kept voice."
)


BAR_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell's share, 0–1, drawn as a bar behind its text


class BarDelegate(QStyledItemDelegate):
    """The scoreboard's bar chart: each score cell has a bar as long as its share, in the
    theme's highlight colour, behind its text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        from persona_studio.gui.theme import qcolor

        share = index.data(BAR_ROLE)
        if isinstance(share, float):
            bar = QRect(option.rect.adjusted(4, 6, -4, -6))
            bar.setWidth(int(bar.width() * max(0.0, min(1.0, share))))
            fill = qcolor("highlight")
            fill.setAlpha(70)
            painter.fillRect(bar, fill)
        super().paint(painter, option, index)


class VoiceCheckDialog(QDialog):
    def __init__(
        self,
        context: AppContext,
        session: ProjectSession,
        parent: QWidget | None = None,
        undo_stack: Any = None,
    ) -> None:
        super().__init__(parent, objectName="voice_check_dialog")
        self.undo_stack = undo_stack
        self.setWindowTitle("Does it sound like me?")
        self.context, self.session = context, session
        self.task: asyncio.Task[None] | None = None
        self.outcome: CheckResult | None = None
        self.runs: list[dict[str, Any]] = []  # the kept checks, newest first
        delete_when_idle(self, lambda: (self.task,))

        self.boxes: dict[str, QCheckBox] = {}
        choices = QGridLayout()  # in columns, not one row: the dialog fits a laptop screen
        labels = (*CANDIDATE_LABELS.items(), ("kept", "Your old model's kept voice"))
        for index, (key, label) in enumerate(labels):
            box = QCheckBox(label, objectName=f"check_{key}")
            box.setChecked(key in ("offline", "finetuned", "kept"))
            self.boxes[key] = box
            choices.addWidget(box, index // 3, index % 3)
        self.profile = QComboBox(objectName="check_profile")
        self.profile.setAccessibleName("Provider for the models")
        add_profiles(self.profile, context.config, context.config.default_profile)
        self.limit = QSpinBox(objectName="check_limit", minimum=3, maximum=200, value=20)
        self.limit.setToolTip("How many of your approved questions every engine answers.")
        self.test_set = QPushButton("Questions…", objectName="check_test_set")
        self.test_set.setToolTip(
            "The questions the check asks: kept aside from training, pinned by you, and the "
            "rule probes. Add, edit or pin them."
        )
        self.test_set.clicked.connect(self.open_test_set)
        self.judge_model = QLineEdit(
            objectName="check_judge_model", placeholderText="None: the offline score only"
        )
        self.judge_model.setToolTip(
            "A model that reads both replies to each question beside yours and says which "
            "sounds more like you (every pair twice, in both orders). It is billed by its "
            "provider: the number of calls is shown before the check starts."
        )
        self.judge_profile = QComboBox(objectName="check_judge_profile")
        add_profiles(self.judge_profile, context.config, context.config.default_profile)
        judge_row = QHBoxLayout()
        judge_row.addWidget(self.judge_model, 2)
        judge_row.addWidget(QLabel("through"))
        judge_row.addWidget(self.judge_profile, 1)
        form = QFormLayout()
        form.addRow("Compare", choices)
        form.addRow("Models through", self.profile)
        limit_row = QHBoxLayout()
        limit_row.addWidget(self.limit)
        limit_row.addWidget(self.test_set)
        limit_row.addStretch(1)
        form.addRow("Questions", limit_row)
        form.addRow("Judge model", judge_row)
        self.start = QPushButton("Run the check", objectName="check_start", default=True)
        self.start.setIcon(icon("play"))
        self.start.clicked.connect(self.run)
        self.stop = QPushButton("Stop", objectName="check_stop")
        self.stop.clicked.connect(self.cancel)
        self.stop.hide()
        self.progress = QProgressBar(objectName="check_progress")
        self.progress.hide()
        self.status = QLabel(EXPLAIN, objectName="check_status", wordWrap=True)
        self.board = QTableWidget(0, 5, objectName="check_board")
        self.board.setHorizontalHeaderLabels(
            ["Engine", "Sounds like you", "Matches old model", "Keeps the rules", "Judge: wins"]
        )
        header = self.board.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.board.verticalHeader().hide()
        self.board.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.board.setAccessibleName("Scoreboard")
        self.bars = BarDelegate(self.board)
        for column in (1, 2, 4):
            self.board.setItemDelegateForColumn(column, self.bars)
        header.setMinimumSectionSize(120)
        self.questions = QListWidget(objectName="check_questions")
        self.questions.setAccessibleName("Questions")
        self.questions.currentRowChanged.connect(lambda _row: self._show_question())
        self.show_only = QComboBox(objectName="check_filter")
        self.show_only.setAccessibleName("Show")
        self.show_only.setToolTip(
            "Only the questions an engine lost (another engine was closer to you, by the "
            "judge where it judged, else by the score), or the rule probes some engine broke."
        )
        self.show_only.currentIndexChanged.connect(lambda _index: self._fill_questions())
        self.answers = QPlainTextEdit(objectName="check_answers", readOnly=True)
        self.answers.setAccessibleName("Answers to the chosen question")
        self.keep_best = QPushButton(
            "Add the closest reply to the dataset", objectName="check_keep_best"
        )
        self.keep_best.setToolTip(
            "The engine's reply that scored closest to yours on this question joins the "
            "dataset as a draft to review (Edit → Undo takes it back)."
        )
        self.keep_best.clicked.connect(self.keep_closest)
        self.keep_best.setEnabled(False)
        answers_box = QWidget()
        answers_layout = QVBoxLayout(answers_box)
        answers_layout.setContentsMargins(0, 0, 0, 0)
        answers_layout.addWidget(self.answers, 1)
        answers_layout.addWidget(self.keep_best)
        questions_box = QWidget()
        questions_layout = QVBoxLayout(questions_box)
        questions_layout.setContentsMargins(0, 0, 0, 0)
        questions_layout.addWidget(self.show_only)
        questions_layout.addWidget(self.questions, 1)
        detail = QSplitter()
        detail.addWidget(questions_box)
        detail.addWidget(answers_box)
        detail.setStretchFactor(1, 2)
        self.history = QComboBox(objectName="check_history")
        self.history.setAccessibleName("Earlier checks")
        self.history.activated.connect(self._show_earlier)
        self.history_note = QLabel(objectName="check_history_note", wordWrap=True)
        self.export = QPushButton("Export report…", objectName="check_export")
        self.export.setToolTip("The scoreboard and every answer, as Markdown, a web page or JSON.")
        self.export.clicked.connect(self._choose_export)
        self.round = QPushButton("Which sounds more like you?…", objectName="check_round")
        self.round.setToolTip(
            "Pick between two replies, blind, for a few questions: the app then says how often "
            "the judge agrees with you, and whether to trust its scores."
        )
        self.round.clicked.connect(self.open_round)
        self.round.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.start)
        buttons.addWidget(self.stop)
        history_row = QHBoxLayout()
        history_row.addWidget(QLabel("Earlier checks"))
        history_row.addWidget(self.history, 1)
        history_row.addWidget(self.round)
        history_row.addWidget(self.export)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addLayout(history_row)
        layout.addWidget(self.history_note)
        layout.addWidget(self.board, 1)
        layout.addWidget(detail, 1)
        self.resize(980, 640)
        self._fill_history()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        QTimer.singleShot(RETRIEVAL_WARM_AFTER_MS, self._index_started)

    def _index_started(self) -> asyncio.Future[Any] | None:
        """The chat's retrieval index, built as the dialog opens if no chat message built it
        yet (~5 s at 100,000 examples, which a first check spent before asking): the session
        keeps it for the chat and every check."""
        return self.session.warm_retrieval_index() if self.isVisible() else None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def run(self) -> asyncio.Task[None] | None:
        if self.running:
            return None
        self.task = spawn(self._run())
        return self.task

    def cancel(self) -> None:
        if self.running:
            assert self.task is not None
            self.task.cancel()

    async def _run(self) -> None:
        from persona_studio.services.providers import client_for
        from persona_studio.services.voice_check import candidates_for, plan_check, run_check

        session, config = self.session, self.context.config
        keys = [key for key, box in self.boxes.items() if box.isChecked()]
        profile = config.profile(self.profile.currentData() or "env")
        candidates = candidates_for(keys, session.persona, session.project, profile)
        if not candidates:
            self.status.setText(
                "Choose at least one engine to check (a kept voice needs a rescue)."
            )
            return
        # the questions are chosen in a thread: at 100,000 examples reading every approved
        # one's question and answer stalled the window ~0.3 s
        self.status.setText("Choosing the questions…")
        examples = list(session.examples)
        plan = await asyncio.to_thread(
            plan_check,
            session.project,
            session.persona,
            examples,
            candidates,
            limit=self.limit.value(),
        )
        if not await self.confirm_cost(plan):
            self.status.setText("Not started: nothing was asked.")
            return
        self.start.hide()
        self.stop.show()
        self.progress.show()
        self.status.setText("Asking…")
        try:
            self.outcome = await run_check(
                session.project,
                session.persona,
                session.rules,
                examples,
                candidates,
                lambda chosen: client_for(chosen, self.context.store),
                config.profile,
                limit=self.limit.value(),
                on_progress=self._show_progress,
                plan=plan,
                index=session.retrieval_index,  # the chat's, built once (seconds at 100,000)
                save=session.save_record,  # (never waiting here for a worker's read)
            )
        except asyncio.CancelledError:
            self.status.setText("Stopped. The answers already given are kept for the next run.")
            raise
        except UserFacingError as exc:
            self.status.setText(str(exc))
        else:
            await self._judge(self.outcome)
            self._show_result(self.outcome)
            self._fill_history()
            self.round.setEnabled(bool(self.outcome.pair_outcomes))
        finally:
            self.start.show()
            self.stop.hide()
            self.progress.hide()

    async def confirm_cost(self, plan: Any) -> bool:
        """What the check will cost, asked before anything is (only when something is billed
        or a judge is named). Answered without a nested event loop."""
        from persona_studio.core.validation import price_text
        from persona_studio.core.words import counted
        from persona_studio.gui.dialogs.messages import ask
        from persona_studio.services.voice_check import answers_estimate, planned_judge_estimate

        calls, cost = answers_estimate(plan, self.session.persona)
        judge = self.judge_model.text().strip()
        judged, judge_cost = (
            planned_judge_estimate(plan, self.session.persona, judge) if judge else (0, 0.0)
        )
        if not calls and not judged:
            return True  # the offline engine, kept voices and this computer: free
        lines = []
        if calls:
            lines.append(f"Your models answer {counted(calls, 'question')} ({price_text(cost)}).")
        if judged:
            lines.append(
                f"The judge {judge} is asked {counted(judged, 'time')} ({price_text(judge_cost)})."
            )

        def shown(box: QMessageBox) -> None:
            self.cost_box = box

        return await ask(
            self,
            "Run the voice check?",
            "\n".join(lines)
            + "\n\nEach provider bills its own calls; answers kept from earlier checks are not "
            "asked again.",
            "Run the check",
            name="confirm_check_cost",
            shown=shown,
        )

    async def _judge(self, result: CheckResult) -> None:
        """Let the judge model compare every pair (when one is named)."""
        from persona_studio.services.providers import client_for
        from persona_studio.services.voice_check import judge_check, judge_estimate

        model = self.judge_model.text().strip()
        if not model:
            return
        config = self.context.config
        profile = config.profile(self.judge_profile.currentData() or "env")
        calls, cost = judge_estimate(result, self.session.persona, model)
        money = f"about ${cost:.2f}" if cost is not None else "price unknown"
        self.status.setText(f"The judge {model}: {calls} calls, {money}…")
        self.progress.setRange(0, 100)
        try:
            client = await client_for(profile, self.context.store, max_retries=0)
            async with client:
                await judge_check(
                    result,
                    self.session.persona,
                    client,
                    model,
                    on_progress=lambda done, total: self.progress.setValue(
                        int(100 * done / max(1, total))
                    ),
                )
        except UserFacingError as exc:
            result.judge = ""
            self.status.setText(f"The judge could not be asked: {exc}")
            return
        self._keep(result)

    def _keep(self, result: CheckResult) -> None:
        from persona_studio.services.voice_check import keeping

        write, whole = keeping(self.session.project, result)
        self.session.save_record(write, whole=whole)

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(
            f"{done} of {total} answers (answers kept from earlier runs are reused)."
        )

    def open_test_set(self) -> QDialog:
        from persona_studio.gui.dialogs.test_set_dialog import TestSetDialog

        dialog = TestSetDialog(self.session, self, self.undo_stack)
        dialog.open()
        return dialog

    # ---- the creator's own round ----------------------------------------------------------

    def open_round(self) -> PairRound | None:
        from persona_studio.services.voice_check import round_pairs

        if self.outcome is None or not self.outcome.pair_outcomes:
            return None
        dialog = PairRound(self.outcome, round_pairs(self.outcome), self._round_done, self)
        dialog.open()
        return dialog

    def _round_done(self) -> None:
        from persona_studio.core.judge import agreement_text

        assert self.outcome is not None
        self.status.setText(agreement_text(*self.outcome.agreement()))
        self._keep(self.outcome)
        self._fill_history()

    # ---- history and report ----------------------------------------------------------------

    def _fill_history(self) -> None:
        """The kept checks: at once, or once a worker that has the project file (an export)
        lets go and the check just kept is written (opening this waited 0.3 s at 100,000)."""
        from persona_studio.services.voice_check import earlier_runs

        self.history_note.setText("Reading the earlier checks…")  # (at once, as a rule)
        self.export.setEnabled(False)
        self.session.read_soon(partial(earlier_runs, self.session.project), self._show_history)

    def _show_history(self, runs: list[dict[str, Any]]) -> None:
        if not isValid(self):
            return
        self.runs = runs
        self.history.clear()
        for run in self.runs:
            rows = run.get("candidates") or [{}]
            best = rows[0].get("candidate", "nothing")
            self.history.addItem(
                f"{str(run.get('when', ''))[:16].replace('T', ' ')} — {len(rows)} engines, "
                f"closest: {best}",
                run["id"],
            )
        self.export.setEnabled(bool(self.runs))
        self.history_note.setText("" if self.runs else "No earlier checks yet.")

    def _show_earlier(self, index: int) -> None:
        """An earlier check's scoreboard, and how the newest compares with it."""
        from persona_studio.core.voice_report import compare

        if not 0 <= index < len(self.runs):
            return
        run = self.runs[index]
        lines = [
            f"{row['candidate']}: sounds like you {row['sounds_like_you']:.0f} %"
            for row in run.get("candidates", [])
        ]
        newest = self.runs[0]
        mine = [
            r["candidate"] for r in newest.get("candidates", []) if "fine-tuned" in r["candidate"]
        ]
        theirs = [
            r["candidate"] for r in run.get("candidates", []) if "fine-tuned" in r["candidate"]
        ]
        if index > 0 and mine and theirs:
            lines.append(compare(newest, run, mine[0], theirs[0]))
        self.history_note.setText("\n".join(lines))

    def _choose_export(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the voice check",
            str(self.session.project.path.with_name("voice check.md")),
            "Markdown (*.md);;Web page (*.html);;JSON (*.json)",
        )
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> bool:
        """The chosen earlier check (the newest by default) as Markdown, HTML or JSON by suffix."""
        from persona_studio.core.voice_report import report_text

        if not self.runs:
            return False
        text = report_text(self.runs[max(0, self.history.currentIndex())], path.suffix)
        written = write_file(self, path, text.encode("utf-8"))
        if written:
            self.status.setText(f"Exported to {path}.")
        return written

    def _show_result(self, result: CheckResult) -> None:
        from persona_studio.core.voice_report import questions_kind

        ranking = result.ranking()
        self.board.setRowCount(len(ranking))
        for row, label in enumerate(ranking):
            you = result.sounds_like_you[label]
            old = result.matches_old.get(label)
            failed = len(result.errors.get(label, []))
            judged = result.judged.get(label)
            rules = result.keeps_rules.get(label)
            cells = [
                label + (f"  ({failed} answers failed)" if failed else ""),
                you.text(),
                old.text() if old is not None else "",
                f"{rules[0]} of {rules[1]}" if rules else "",
                judged.text() if judged is not None else "",
            ]
            shares = {
                1: you.mean / 100,
                2: old.mean / 100 if old is not None else None,
                4: judged.rate if judged is not None and judged.judged else None,
            }
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if shares.get(column) is not None:
                    item.setData(BAR_ROLE, float(shares[column]))  # type: ignore[arg-type]
                self.board.setItem(row, column, item)
        best = ranking[0] if ranking else ""
        kind = questions_kind(result.summary(), " (Train tab → Advanced)")
        text = f"{len(result.questions)} questions ({kind}). Closest to you: {best}."
        if result.judge and result.chat_outcomes:  # the Chat tab's blind picks, judged
            from persona_studio.core.judge import agreement_text

            text += " " + agreement_text(*result.agreement())
        self.status.setText(text if best else EXPLAIN)
        self.show_only.blockSignals(True)
        self.show_only.clear()
        self.show_only.addItem("All questions and rule probes", None)
        self.show_only.addItem("Rule probes an engine broke", "broken")
        for label in ranking:
            self.show_only.addItem(f"Questions lost by {label}", label)
        self.show_only.blockSignals(False)
        self._fill_questions()

    def _fill_questions(self) -> None:
        """The questions and probes the filter lets through; each item knows which it is."""
        from PySide6.QtWidgets import QListWidgetItem

        result = self.outcome
        if result is None:
            return
        chosen = self.show_only.currentData()
        questions = list(range(len(result.questions)))
        probes = list(range(len(result.probes)))
        if chosen == "broken":
            questions, probes = [], result.broken(self.session.persona)
        elif chosen:
            lost = set(result.lost(chosen))
            questions = [i for i in questions if result.questions[i] in lost]
            probes = []
        self.questions.clear()
        for index in questions:
            item = QListWidgetItem(result.questions[index])
            item.setData(Qt.ItemDataRole.UserRole, ("question", index))
            self.questions.addItem(item)
        for index in probes:
            item = QListWidgetItem(f"Rule probe: {result.probes[index].question}")
            item.setData(Qt.ItemDataRole.UserRole, ("probe", index))
            self.questions.addItem(item)
        if self.questions.count():
            self.questions.setCurrentRow(0)
        else:
            self.answers.setPlainText("Nothing to show here: every engine did well.")
            self.keep_best.setEnabled(False)

    def _current(self) -> tuple[str, int] | None:
        """("question" | "probe", its position) of the chosen item."""
        item = self.questions.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _closest(self, index: int) -> tuple[str, str] | None:
        """(engine, reply) that scored closest to the creator on this question; kept voices and
        the offline engine (which repeats the dataset) are not offered."""
        assert self.outcome is not None
        question = self.outcome.questions[index]
        scored = [
            (score.per_question[question], label)
            for label, score in self.outcome.sounds_like_you.items()
            if question in score.per_question
            and question in self.outcome.answers.get(label, {})
            and label != self.outcome.old_model
            and not label.startswith("Offline")
        ]
        if not scored:
            return None
        _points, label = max(scored)
        return label, self.outcome.answers[label][question]

    def keep_closest(self) -> None:
        from persona_studio.core.dataset import Example
        from persona_studio.gui.undo import AddExamples

        current = self._current()
        if self.outcome is None or current is None or current[0] != "question":
            return
        closest = self._closest(current[1])
        if closest is None:
            return
        label, reply = closest
        question = self.outcome.questions[current[1]]
        example = Example.from_qa(question, reply.strip(), source=f"voice check: {label}")
        command = AddExamples(self.session, [example], "Add a reply from the voice check")
        if self.undo_stack is not None:
            self.undo_stack.push(command)
        else:
            command.redo()
        self.status.setText(f"Added {label}'s reply to the dataset as a draft.")

    def _show_probe(self, index: int) -> None:
        """A probe: what it tempts, and whether each engine kept the rule (and why not)."""
        assert self.outcome is not None
        probe = self.outcome.probes[index]
        parts = [f"This probe tempts: {probe.target}"]
        for label in self.outcome.ranking():
            answer = self.outcome.answers.get(label, {}).get(probe.question)
            if answer is None or label == self.outcome.old_model:
                continue
            kept, why = self.outcome.keeps(label, probe, self.session.persona)
            verdict = "kept" if kept else f"BROKE the rule ({why})"
            parts.append(f"{label} — {verdict}:\n{answer}")
        self.answers.setPlainText("\n\n".join(parts))

    def _show_question(self) -> None:
        current = self._current()
        if self.outcome is None or current is None:
            return
        kind, index = current
        self.keep_best.setEnabled(kind == "question" and bool(self._closest(index)))
        if kind == "probe":
            self._show_probe(index)
            return
        question = self.outcome.questions[index]
        parts = [f"You:\n{self.outcome.references[question]}"]
        for label in self.outcome.ranking():
            answer = self.outcome.answers.get(label, {}).get(question)
            points = self.outcome.sounds_like_you[label].per_question.get(question, 0.0)
            if answer is None:
                kept = label == self.outcome.old_model
                parts.append(
                    f"{label}:\n({'not asked when its voice was kept' if kept else 'no answer'})"
                )
            else:
                parts.append(f"{label} — {points:.0f} %:\n{answer}")
                reason = self.outcome.judged.get(label)
                if reason is not None and question in reason.reasons:
                    parts[-1] += f"\n(The judge preferred it: {reason.reasons[question]})"
        self.answers.setPlainText("\n\n".join(parts))


class PairRound(QDialog):
    """The creator's own round, blind: a question and two replies in a random order; which
    sounds more like you? At the end, how often the judge agreed with you."""

    def __init__(
        self,
        result: CheckResult,
        pairs: list[tuple[str, str, str]],
        on_done: Any,
        parent: QWidget | None = None,
    ) -> None:
        import random

        super().__init__(parent, objectName="pair_round")
        self.setWindowTitle("Which sounds more like you?")
        self.check, self.pairs, self.on_done = result, pairs, on_done
        self.flips = [random.random() < 0.5 for _ in pairs]  # which reply is shown first
        self.index = 0
        self.counter = QLabel(objectName="round_counter")
        self.question = QLabel(objectName="round_question", wordWrap=True)
        self.first = QPlainTextEdit(objectName="round_first", readOnly=True)
        self.second = QPlainTextEdit(objectName="round_second", readOnly=True)
        self.pick_first = QPushButton("The first sounds like me", objectName="round_pick_first")
        self.pick_second = QPushButton("The second sounds like me", objectName="round_pick_second")
        self.pick_same = QPushButton("About the same", objectName="round_pick_same")
        self.pick_first.clicked.connect(lambda: self.pick(0))
        self.pick_second.clicked.connect(lambda: self.pick(1))
        self.pick_same.clicked.connect(lambda: self.pick(None))
        replies = QHBoxLayout()
        replies.addWidget(self.first)
        replies.addWidget(self.second)
        buttons = QHBoxLayout()
        for button in (self.pick_first, self.pick_same, self.pick_second):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counter)
        layout.addWidget(self.question)
        layout.addLayout(replies, 1)
        layout.addLayout(buttons)
        self.resize(820, 420)
        self._show()

    def shown(self) -> tuple[str, str]:
        """The labels of the replies shown first and second now."""
        x, y, _question = self.pairs[self.index]
        return (y, x) if self.flips[self.index] else (x, y)

    def _show(self) -> None:
        question = self.pairs[self.index][2]
        first, second = self.shown()
        self.counter.setText(
            f"Pair {self.index + 1} of {len(self.pairs)} — the engines are hidden."
        )
        self.question.setText(f"Question: {question}")
        self.first.setPlainText(self.check.answers[first][question])
        self.second.setPlainText(self.check.answers[second][question])

    def pick(self, which: int | None) -> None:
        key = self.pairs[self.index]
        if which is None:
            self.check.creator_picks[key] = "tie"
        else:
            chosen = self.shown()[which]
            self.check.creator_picks[key] = "x" if chosen == key[0] else "y"
        self.index += 1
        if self.index < len(self.pairs):
            self._show()
            return
        self.on_done()
        self.accept()
