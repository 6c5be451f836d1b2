"""pipeline: sheet → check → upload → fine-tune → register → export, resumable."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from persona_studio.cli import sheets as sheets_cli
from persona_studio.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_command,
    chosen_profile,
    emit,
    printable,
)
from persona_studio.cli.training import training_arguments, training_jobs
from persona_studio.core.config import AppConfig, ProviderProfile, load_config
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project


def _pipeline_run(args: argparse.Namespace, project: Project, config: AppConfig) -> Any:
    """The run to go on with (--resume) or a new one from the arguments."""
    from persona_studio.services.pipeline import PipelineOptions, PipelineRun, latest_run

    last = latest_run(project)
    if args.resume:
        if last is None or not last.resumable:
            raise UserFacingError(
                "There is no unfinished pipeline run to resume.",
                "Start one without --resume.",
            )
        if args.out:  # the files not written yet go there (those written stay where they are)
            last.options.out_dir = str(Path(args.out).resolve())
        return last
    if last is not None and last.resumable and last.outputs.get("train_file") and not args.restart:
        raise UserFacingError(
            f"The last run already uploaded data and stopped: {last.summary()}",
            "Go on with --resume (nothing is sent twice), or start over with --restart.",
        )
    profile = chosen_profile(config, args.profile)
    model = args.model or profile.finetune_model
    if not model:
        raise UserFacingError(
            "Which base model should be fine-tuned?", "Give one with --model, e.g. gpt-4.1-mini."
        )
    link = sheets_cli.sheet_link(project, args.sheet, args.worksheet)
    out = (
        Path(args.out) if args.out else Path(args.path).with_name(f"{Path(args.path).stem} exports")
    )
    return PipelineRun.new(
        PipelineOptions(
            profile=profile.name,
            base_model=model,
            out_dir=str(out.resolve()),
            sheet=link or None,
            suffix=args.suffix or "",
            validation_split=args.validation_split,
            seed=args.seed,
            n_epochs=args.epochs,
            wait=not args.no_wait,
            check=args.check,
        )
    )


def cmd_pipeline(args: argparse.Namespace) -> int:
    from persona_studio.services.pipeline import Pipeline, PipelineRun
    from persona_studio.services.sheets import sync_project

    config = load_config()
    shown: dict[str, str] = {}

    def show(run: PipelineRun) -> None:
        if args.json:
            return
        for step in run.steps:
            line = f"{step.status:<9} {step.label}" + (f" — {step.detail}" if step.detail else "")
            if shown.get(step.name) != line and step.status != "pending":
                shown[step.name] = line
                print(printable(line), file=sys.stderr)

    with Project.open(args.path) as project:
        run = _pipeline_run(args, project, config)
        if args.resume:
            run.options.wait = not args.no_wait

        async def sync_sheet(link: dict[str, Any]) -> Any:
            return await sync_project(
                sheets_cli.sheets_http_client(config),
                project,
                link,
                project.examples(),
                account=config.google.account_email,
            )

        async def chat_client(profile: ProviderProfile) -> Any:
            from persona_studio.services import providers
            from persona_studio.services.credentials import CredentialStore

            return await providers.client_for(profile, CredentialStore())

        pipeline = Pipeline(
            project,
            run,
            jobs=training_jobs(project, poll=args.poll),
            sync_sheet=sync_sheet,
            on_change=show,
            chat_client=chat_client,
            profiles=config.profile,
        )
        try:
            asyncio.run(pipeline.execute())
        except KeyboardInterrupt:
            print(
                f"persona-studio: stopped; go on with `persona-studio pipeline {args.path} "
                "--resume`.",
                file=sys.stderr,
            )
            return EXIT_FAILURE
    data = {
        "run": run.id,
        "status": run.status,
        "summary": run.summary(),
        "steps": [
            {"name": s.name, "status": s.status, "detail": s.detail, "error": s.error}
            for s in run.steps
        ],
        # which examples trained, as the job keeps them: ~3 bytes each, of no use to a script
        "outputs": {key: v for key, v in run.outputs.items() if key != "trained_examples"},
    }
    emit(args, data, run.summary())
    return EXIT_OK if run.status in ("succeeded", "waiting") else EXIT_FAILURE


def add_parser(commands: argparse._SubParsersAction) -> None:
    pipe = add_command(
        commands,
        "pipeline",
        cmd_pipeline,
        "sheet → check → upload → fine-tune → register → export plugin and card, resumable",
    )
    training_arguments(pipe, model_required=False, seed=42, validation=0.1, poll=5.0)
    pipe.add_argument("--sheet", help="sync with this Google Sheet first (and link it)")
    pipe.add_argument("--worksheet", help="the worksheet (tab) name, default Sheet1")
    pipe.add_argument(
        "--out",
        help="folder for the training files, plugin and card (with --resume: those left to write)",
    )
    pipe.add_argument(
        "--no-wait", action="store_true", help="stop once the job is started (resume later)"
    )
    pipe.add_argument("--resume", action="store_true", help="go on with the last unfinished run")
    pipe.add_argument(
        "--check",
        action="store_true",
        help="last, compare the new model with the previous one (asks both your questions)",
    )
    pipe.add_argument(
        "--restart", action="store_true", help="start a new run even if one is unfinished"
    )
