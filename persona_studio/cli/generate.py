"""generate: candidate examples written by a model, kept for review (or added as drafts)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_studio.cli.common import EXIT_FAILURE, EXIT_OK, add_command, chosen_profile, emit
from persona_studio.cli.common import progress as progress_line
from persona_studio.core.config import ProviderProfile, load_config
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project

if TYPE_CHECKING:
    from persona_studio.core.generation import Estimate, Task


def cmd_generate(args: argparse.Namespace) -> int:
    from persona_studio.core import generation
    from persona_studio.core.validation import chat_price

    config = load_config()
    profile = chosen_profile(config, args.profile)
    model = args.model or profile.chat_model or generation.DEFAULT_MODEL
    with Project.open(args.path) as project:
        persona = project.persona()
        prompts = generation.load_prompts()
        source = Path(args.source)
        kind = (
            "persona"
            if args.source == "persona"
            else "linkedin"
            if source.suffix.lower() == ".zip"
            else "documents"
        )
        styles = [s.strip() for s in (args.styles or "").split(",") if s.strip()]
        read = generation.read_source(
            kind,
            persona,
            prompts,
            paths=[source],
            limit=args.limit,
            styles=styles,
            comments=args.comments,
        )
        tasks = read.tasks
        progress_line(args, f"From {args.source}: {read.summary}.")
        if not tasks:
            raise UserFacingError(
                "There is nothing to generate from in this source.",
                "Check that the export has posts, or the document has text.",
            )
        cost = generation.estimate(
            tasks, persona, prompts, model, args.language or "", chat_price(model)
        )
        progress_line(args, f"Estimate with {model}: {cost.text()}.")
        return run_and_report(args, project, tasks, cost, profile, model, prompts)


def run_and_report(
    args: argparse.Namespace,
    project: Project,
    tasks: list[Task],
    cost: Estimate,
    profile: ProviderProfile,
    model: str,
    prompts: dict[str, Any],
) -> int:
    """Run the tasks as one generation run kept for review; print what came of it."""
    from persona_studio.services import generate, providers
    from persona_studio.services.credentials import CredentialStore
    from persona_studio.services.review_queue import ReviewQueue

    run = generate.GenerationRun(
        ReviewQueue(project),
        lambda: providers.client_for(profile, CredentialStore(), max_retries=0),
        source=args.source,
        profile=profile.name,
        model=model,
        persona=project.persona(),
        prompts=prompts,
        existing=project.examples(),
        language=getattr(args, "language", None) or "",
        concurrency=args.concurrency,
    )

    def show(progress: generate.Progress) -> None:
        progress_line(
            args,
            f"{progress.done}/{progress.total} calls, {progress.candidates} "
            f"candidates {progress.note}".rstrip(),
        )

    try:
        progress = asyncio.run(run.execute(tasks, on_progress=show))
    except KeyboardInterrupt:  # the run was cancelled and its record says so
        print(
            f"persona-studio: stopped; {len(run.candidates)} candidates kept for review.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    added = run.accept_new() if args.accept_all else []
    if added:
        project.add_examples(added)
    got = run.candidates
    duplicates = sum(1 for c in got if c.duplicate_of)
    left = len(got) - len(added)
    data = {
        "candidates": len(got),
        "added": len(added),
        "to_review": left,
        "duplicates": duplicates,
        "failed_calls": progress.failed,
        "failures": progress.failures,
        "estimate": {
            "input_tokens": cost.input_tokens,
            "output_tokens": cost.output_tokens,
            "cost_usd": cost.cost,
        },
    }
    text = (
        f"{len(got)} candidates: {len(added)} added as drafts, {left} waiting for review in "
        f"the app (Dataset → Generate examples…)"
        + (f"; {duplicates} look like examples you already have" if duplicates else "")
        + (f"; {progress.failed} calls failed" if progress.failed else "")
        + "."
    )
    if args.source == "rescue":
        data["voice_kept"] = len(got)
        text = f"Kept {len(got)} answers of {model} as its voice in the project. " + text
    emit(args, data, text)
    return EXIT_OK if got or not tasks else EXIT_FAILURE


def cmd_rescue(args: argparse.Namespace) -> int:
    from persona_studio.core import generation
    from persona_studio.core.validation import chat_price

    config = load_config()
    with Project.open(args.path) as project:
        persona = project.persona()
        model = args.model or persona.fine_tuned_model
        if not model:
            raise UserFacingError(
                "This character has no fine-tuned model to rescue.",
                "Name it with --model ft:… (OpenAI shows it under Fine-tuning).",
            )
        target = project.chat_target(model)
        profile = chosen_profile(config, args.profile or (target.profile if target else None))
        questions = [e.question for e in project.examples() if e.status == "approved"]
        read = generation.read_source(
            "rescue", persona, {}, questions=questions, model=model, limit=args.limit
        )
        if not read.tasks:
            raise UserFacingError(
                "There are no approved questions to ask the model.",
                "Approve examples first (their questions are what the model answers).",
            )
        cost = generation.estimate(read.tasks, persona, {}, model, "", chat_price(model))
        progress_line(args, f"Asking {model} through “{profile.name}”: {read.summary}.")
        progress_line(args, f"Estimate: {cost.text()}.")
        if args.estimate_only:
            emit(
                args,
                {"calls": cost.calls, "cost_usd": cost.cost, "model": model},
                f"Estimate only: {cost.text()}.",
            )
            return EXIT_OK
        args.source = "rescue"
        return run_and_report(args, project, read.tasks, cost, profile, model, {})


def add_parser(commands: argparse._SubParsersAction) -> None:
    gen = add_command(
        commands,
        "generate",
        cmd_generate,
        "write candidate examples with a model from a LinkedIn export, a document or the persona",
    )
    gen.add_argument("path", help="the .persona file")
    gen.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SOURCE",
        help="a LinkedIn export .zip, a document (.txt .md .pdf .docx), or the word: persona",
    )
    gen.add_argument("--profile", help="provider profile (default: the default profile)")
    gen.add_argument("--model", help="model (default: the profile's chat model)")
    gen.add_argument("--limit", type=int, help="at most N posts/passages (persona: N pairs)")
    gen.add_argument("--language", help="write in this language (default: the source's)")
    gen.add_argument("--styles", help="persona: styles, e.g. short,casual,off_topic")
    gen.add_argument("--comments", action="store_true", help="LinkedIn: use comments too")
    gen.add_argument("--concurrency", type=int, default=4, help="calls at once (default 4)")
    gen.add_argument(
        "--accept-all",
        action="store_true",
        help="add every new candidate as a draft (likely duplicates stay for review)",
    )

    rescue = add_command(
        commands,
        "rescue",
        cmd_rescue,
        "keep a fine-tuned model's voice: ask it your questions before it is retired",
    )
    rescue.add_argument("path", help="the .persona file")
    rescue.add_argument("--model", help="the fine-tuned model (default: the character's)")
    rescue.add_argument(
        "--profile", help="provider profile (default: the one that trained the model)"
    )
    rescue.add_argument("--limit", type=int, help="ask at most N questions")
    rescue.add_argument("--concurrency", type=int, default=4, help="calls at once (default 4)")
    rescue.add_argument(
        "--estimate-only", action="store_true", help="print the price and stop (nothing is sent)"
    )
    rescue.add_argument(
        "--accept-all",
        action="store_true",
        help="also add every answer as a draft example to review",
    )
