"""Render every tab and the settings dialog to PNG, offscreen, on the demo project.

python -m persona_studio.tools.screenshots OUTDIR
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def render(out_dir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A private home: screenshots never read or change the user's settings or keyring.
    # the same folder every run, so the pictures (which show the project's path) stay stable
    home = Path(tempfile.gettempdir()) / "persona-studio-screenshots"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")

    import qasync
    from PySide6.QtWidgets import QApplication, QTabWidget, QWidget

    from persona_studio.core.config import ProviderProfile
    from persona_studio.gui.app import make_application
    from persona_studio.tools.offscreen import demo_window

    app = make_application([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = demo_window(
        home,
        [
            ProviderProfile(
                name="openai",
                kind="openai",
                chat_model="gpt-4.1-mini-2025-04-14",
                finetune_model="gpt-4.1-mini-2025-04-14",
            ),
            ProviderProfile(name="together", kind="together"),
            ProviderProfile(name="nebius", kind="nebius"),
            ProviderProfile(
                name="azure",
                kind="azure",
                base_url="https://rhea-studio.openai.azure.com",
                training_type="GlobalStandard",
            ),
            ProviderProfile(
                name="ollama",
                kind="openai-compatible",
                base_url="http://localhost:11434/v1",
                chat_model="llama3.1",
            ),
        ],
    )
    window.show()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def settle() -> None:
        loop.run_until_complete(asyncio.sleep(0.2))
        # the checklist follows a report 250 ms after it (shot before, a step showed undone)
        loop.run_until_complete(wait_for(lambda: not window._checklist_timer.isActive()))
        QApplication.processEvents()

    def shoot(widget: QWidget, name: str) -> None:
        settle()
        path = out_dir / name
        widget.grab().save(str(path))
        written.append(path)

    async def token_count_shown() -> None:
        for _ in range(100):  # the first count starts the check's worker process (~0.3 s)
            if " tokens (" in window.persona_tab.prompt_size.text():
                return
            await asyncio.sleep(0.05)

    async def wait_for(condition: Callable[[], bool]) -> None:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.05)

    async def preflight_shown() -> None:
        for _ in range(200):
            if window.dataset_tab.preflight_summary.text():
                return
            await asyncio.sleep(0.05)

    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        if index == 0:
            loop.run_until_complete(token_count_shown())
        if index == 1:
            window.dataset_tab.table.selectRow(7)
            loop.run_until_complete(preflight_shown())
        if index == 2:
            loop.run_until_complete(wait_for(lambda: window.train_tab.report is not None))
        if index == 3:
            chat = window.chat_tab
            chat.pane_count.setValue(2)
            chat.send_message("Which running shoes should I buy?")
            loop.run_until_complete(asyncio.sleep(0.3))
            chat.send_message("Can you send me a link to a training plan?")
            loop.run_until_complete(asyncio.sleep(0.3))
        shoot(window, f"tab-{window.tabs.tabText(index).lower()}.png")

    # training at Together, with every service compared
    window.tabs.setCurrentIndex(2)
    train = window.train_tab
    train.profile.setCurrentIndex(train.profile.findData("together"))
    train.compare.setChecked(True)
    loop.run_until_complete(wait_for(lambda: train.report is not None and not train._runner.stale))
    shoot(window, "train-together.png")
    train.compare.setChecked(False)

    # training on this computer, after the hardware check measured it (a real one: a few
    # seconds; without the `local` extra the panel says how to install it)
    train.profile.setCurrentIndex(train.profile.findData("local"))
    train.local.check()
    loop.run_until_complete(wait_for(lambda: not train.local.busy))
    loop.run_until_complete(wait_for(lambda: not train.local.busy))  # up to 20 s in all
    shoot(window, "train-local.png")
    train.profile.setCurrentIndex(train.profile.findData("openai"))

    # a job Nebius trained whose deploy call then failed: said, with Deploy again
    from persona_studio.core.records import JobRecord

    steps = [
        {"step": s, "total_steps": 40, "train_loss": round(2.4 * 0.93**s, 3)} for s in range(1, 41)
    ]
    window.session.project.save_job(
        JobRecord(
            "ftjob-7f3a9c",
            "nebius",
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "succeeded",
            created_at="2026-12-03T10:12:00",
            metrics=steps,
            events=[
                {"id": "e1", "message": "Training started"},
                {"id": "e2", "message": "Training finished"},
                {
                    "id": "local-deploy-2",
                    "level": "error",
                    "message": "Deploying failed: The provider answered with an error (503) "
                    "to the deployment. Try again later.",
                },
            ],
        )
    )
    train._fill_history(select="ftjob-7f3a9c")
    train.show_job("ftjob-7f3a9c")
    shoot(window, "train-deploy-failed.png")

    # the voice check with no account: the offline engine against an old model's kept voice
    from persona_studio.services.voice import keep_voice
    from persona_studio.services.voice_check import check_questions

    asked = check_questions(window.session.project.examples(), 12)
    old_answers = [  # the old model said it shorter than the creator does
        (e.question, e.answer.split(". ")[0].rstrip(".") + ".") for e in asked[::2]
    ]
    keep_voice(window.session.project, "ft:gpt-4o-mini-2024-07-18:coach:rhea:v1", "openai",
               old_answers)  # fmt: skip
    check = window.check_voice()
    for key in ("finetuned", "persona", "retrieval"):
        check.boxes[key].setChecked(False)
    check.limit.setValue(12)
    check.run()
    loop.run_until_complete(wait_for(lambda: check.outcome is not None and not check.running))
    check.questions.setCurrentRow(1)
    settle()
    path = out_dir / "voice-check.png"
    check.grab().save(str(path))
    written.append(path)
    questions = check.open_test_set()
    assert questions.reading is not None
    loop.run_until_complete(questions.reading)  # the set is read in a thread
    questions.table.selectRow(0)
    settle()
    path = out_dir / "voice-check-questions.png"
    questions.grab().save(str(path))
    written.append(path)
    questions.close()
    check.close()

    window.tabs.setCurrentIndex(0)
    persona_tab = window.persona_tab
    persona_tab.side_tabs.setCurrentIndex(1)
    persona_tab.rules_editor.list.setCurrentRow(0)
    persona_tab.rules_editor.try_input.setText("My knee hurts, is there a link to a plan?")
    shoot(window, "persona-rules.png")
    dialog = window.open_settings()
    dialog.providers.list.setCurrentRow(1)
    settle()
    path = out_dir / "settings-providers.png"
    dialog.grab().save(str(path))
    written.append(path)
    dialog.providers.list.setCurrentRow(2)  # Azure: where it trains
    settle()
    path = out_dir / "settings-azure.png"
    dialog.grab().save(str(path))
    written.append(path)
    dialog.findChild(QTabWidget).setCurrentWidget(dialog.google)
    settle()
    path = out_dir / "settings-google.png"
    dialog.grab().save(str(path))
    written.append(path)
    dialog.close()
    # the pipeline with no API key saved: what a creator sees, and what Resume would redo
    window.tabs.setCurrentIndex(2)
    pipeline = window.run_pipeline()
    pipeline.start_new()
    loop.run_until_complete(wait_for(lambda: pipeline.warnings_box is not None))
    if pipeline.warnings_box is not None:  # the demo's one warning, accepted as a creator would
        train_anyway = next(b for b in pipeline.warnings_box.buttons() if "anyway" in b.text())
        train_anyway.click()
    loop.run_until_complete(wait_for(lambda: not pipeline.running))
    shoot(pipeline, "pipeline.png")
    pipeline.close()
    generating = window.generate_examples("linkedin", [_sample_linkedin_export(home)])
    loop.run_until_complete(wait_for(lambda: generating.found.text().startswith("Found")))
    shoot(generating, "generate.png")
    generating.close()
    # a project in a place that cannot be written: opened to read, under its banner
    from persona_studio.core.project import Project

    demo = window.session.project.path
    read_only = demo.with_name("Coach Rhea on a shared drive.persona")
    window.session.project.save_copy(read_only)
    window._set_project(Project.open(read_only, read_only=True))
    window.tabs.setCurrentIndex(1)
    loop.run_until_complete(preflight_shown())
    shoot(window, "read-only.png")
    window.open_project(demo)
    # dark mode, as on a desktop set to dark where Qt's style does not follow by itself
    from PySide6.QtCore import Qt

    from persona_studio.gui.theme import follow_color_scheme

    follow_color_scheme(app).apply(Qt.ColorScheme.Dark)
    window.tabs.setCurrentIndex(3)
    shoot(window, "dark-chat.png")
    window.tabs.setCurrentIndex(2)
    shoot(window, "dark-train.png")
    app.color_scheme.apply(Qt.ColorScheme.Light)
    window.close()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    asyncio.set_event_loop(None)
    shutil.rmtree(home, ignore_errors=True)
    return written


def _sample_linkedin_export(folder: Path) -> Path:
    """A small LinkedIn data export, shaped like the real one, for the Generate screenshot."""
    import zipfile

    posts = [
        (
            "2024-03-01 08:12:45",
            "Most beginners run too fast. Slow down until you can talk in "
            "full sentences: that is the pace that builds a habit.",
        ),
        (
            "2024-03-05 09:00:00",
            "Rest days are training days. Your legs get stronger while you "
            "sleep, not while you push through.",
        ),
        ("2024-03-09 07:30:00", "A 20-minute run you do beats the 10 km you keep planning."),
    ]
    shares = "Date,ShareLink,ShareCommentary\n" + "".join(
        f'{date},https://www.linkedin.com/feed/update/urn:li:share:{n},"{text}"\n'
        for n, (date, text) in enumerate(posts, 1)
    )
    profile = (
        "First Name,Last Name,Headline,Summary\n"
        'Rhea,Okafor,Running coach for busy beginners,"I help people who hate running find a '
        'pace they love."\n'
    )
    path = folder / "Basic_LinkedInDataExport.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Shares.csv", shares)
        archive.writestr("Profile.csv", profile)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--guide",
        action="store_true",
        help="also refresh the in-app guide's pictures (resources/guide) from these",
    )
    args = parser.parse_args(argv)
    written = render(args.out_dir)
    for path in written:
        print(path)
    if args.guide:
        for path in guide_pictures(args.out_dir):
            print(path)
    return 0


GUIDE_PICTURES = {"tab-persona.png": "persona.png", "tab-dataset.png": "dataset.png",
                  "tab-train.png": "train.png", "tab-chat.png": "chat.png"}  # fmt: skip
GUIDE_WIDTH = 760  # the guide's pictures: readable in its window, small in the app


def guide_pictures(shots: Path) -> list[Path]:
    """Scaled copies of the tab screenshots for the in-app guide."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    from persona_studio.resources_path import resource_path

    written = []
    for source, name in GUIDE_PICTURES.items():
        image = QImage(str(shots / source))
        scaled = image.scaledToWidth(GUIDE_WIDTH, Qt.TransformationMode.SmoothTransformation)
        target = resource_path("guide") / name
        scaled.save(str(target), "PNG", 9)
        written.append(target)
    return written


if __name__ == "__main__":
    sys.exit(main())
