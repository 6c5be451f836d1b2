"""check: does it sound like you? Every candidate answers the same questions; the scoreboard."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from persona_studio.cli.common import EXIT_FAILURE, EXIT_OK, add_command, emit, progress
from persona_studio.core.config import ProviderProfile, load_config
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project

CANDIDATES = ("offline", "finetuned", "persona", "retrieval", "kept")


def cmd_check(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import price_text
    from persona_studio.core.voice_report import questions_kind
    from persona_studio.services import providers
    from persona_studio.services.credentials import CredentialStore
    from persona_studio.services.voice_check import (
        answers_estimate,
        candidates_for,
        judge_check,
        keep_run,
        plan_check,
        planned_judge_estimate,
        run_check,
    )

    keys = [k.strip().replace("fine-tuned", "finetuned") for k in args.candidates.split(",")]
    unknown = [k for k in keys if k not in CANDIDATES]
    if unknown:
        raise UserFacingError(
            f"Unknown candidate: {', '.join(unknown)}.", f"Choose from {', '.join(CANDIDATES)}."
        )
    config = load_config()
    store = CredentialStore()
    needs_profile = any(k in ("finetuned", "persona", "retrieval") for k in keys)
    profile = (
        config.profile(args.profile or config.default_profile or "env") if needs_profile else None
    )

    async def client_for(chosen: ProviderProfile) -> object:
        return await providers.client_for(chosen, store)

    with Project.open(args.path) as project:
        persona, examples = project.persona(), project.examples()
        candidates = candidates_for(keys, persona, project, profile, args.model or "")
        if not candidates:
            raise UserFacingError(
                "There is nothing to compare.",
                "Name candidates with --candidates (kept needs a kept voice: see `rescue`).",
            )
        plan = plan_check(project, persona, examples, candidates, limit=args.limit)
        calls, cost = answers_estimate(plan, persona)
        estimate = {"answers": calls, "answers_usd": cost}
        lines = [f"Your models answer {calls} questions ({price_text(cost)})."]
        if args.judge_model:
            judged, judge_cost = planned_judge_estimate(plan, persona, args.judge_model)
            estimate |= {"judge_calls": judged, "judge_usd": judge_cost}
            lines.append(
                f"The judge {args.judge_model}: {judged} calls ({price_text(judge_cost)})."
            )
        if args.estimate_only:
            emit(args, estimate, "\n".join(lines))
            return EXIT_OK
        progress(args, " ".join(lines))
        result = asyncio.run(
            run_check(
                project,
                persona,
                project.rules(),
                examples,
                candidates,
                client_for,
                config.profile,
                limit=args.limit,
                on_progress=lambda done, total: progress(args, f"{done}/{total} answers"),
                plan=plan,
            )
        )
        if args.judge_model:
            judge_profile = config.profile(args.judge_profile or config.default_profile or "env")

            async def judge() -> None:
                client = await providers.client_for(judge_profile, store)
                async with client:
                    await judge_check(
                        result,
                        persona,
                        client,
                        args.judge_model,
                        on_progress=lambda d, t: progress(args, f"{d}/{t} verdicts"),
                    )

            asyncio.run(judge())
            keep_run(project, result)
        if args.report:
            from persona_studio.core.config import atomic_write_bytes
            from persona_studio.core.voice_report import report_text
            from persona_studio.services.voice_check import earlier_runs

            text = report_text(earlier_runs(project)[0], args.report.suffix)
            try:
                atomic_write_bytes(args.report, text.encode("utf-8"))
            except OSError as exc:
                raise UserFacingError(
                    f"Could not write “{args.report}”: {exc.strerror}.", "Choose another folder."
                ) from exc
    summary = result.summary()
    kind = questions_kind(summary)
    lines = [
        f"Does it sound like you? {len(result.questions)} of your questions ({kind}), "
        "offline score:"
    ]
    for row in summary["candidates"]:
        line = f"  {row['sounds_like_you']:5.1f} % ± {row['margin']:.0f}  {row['candidate']}"
        if row["matches_old_model"] is not None:
            line += f"  (matches your old model: {row['matches_old_model']:.0f} %)"
        if row["keeps_rules"] is not None:
            line += f"  (keeps the rules: {row['keeps_rules'][0]} of {row['keeps_rules'][1]})"
        if row["judge_win_rate"] is not None:
            line += f"  (judge: wins {row['judge_win_rate']:.0f} %)"
        if row["failed"]:
            line += f"  [{row['failed']} answers failed]"
        lines.append(line)
    agreed, compared, from_chat = result.agreement()
    if compared:
        from persona_studio.core.judge import agreement_text

        lines.append(agreement_text(agreed, compared, from_chat))
    emit(args, summary, "\n".join(lines))
    if args.require_better:
        new = next(
            (r for r in summary["candidates"] if r["candidate"].startswith("Your fine")), None
        )
        old = next(
            (r for r in summary["candidates"] if r["candidate"].startswith("Your old")), None
        )
        if new is None or old is None:
            raise UserFacingError(
                "--require-better compares your fine-tuned model with your old model's kept voice.",
                "Add finetuned and kept to --candidates.",
            )
        if new["sounds_like_you"] < old["sounds_like_you"]:
            return EXIT_FAILURE
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    check = add_command(
        commands, "check", cmd_check, "does it sound like you? score every model on your questions"
    )
    check.add_argument("path", help="the .persona file")
    check.add_argument(
        "--candidates",
        default="offline,finetuned,persona,kept",
        help=f"comma-separated, from: {', '.join(CANDIDATES)} (default: %(default)s)",
    )
    check.add_argument("--profile", help="provider profile for the models (default: the default)")
    check.add_argument(
        "--model", help="the base model for persona/retrieval (default: the profile's)"
    )
    check.add_argument("--limit", type=int, default=20, help="questions to ask (default 20)")
    check.add_argument(
        "--judge-model", help="also let this model judge every pair of engines (both orders)"
    )
    check.add_argument("--judge-profile", help="the judge's provider profile (default: default)")
    check.add_argument(
        "--report", type=Path, help="also write the report: FILE.md, FILE.html or FILE.json"
    )
    check.add_argument(
        "--estimate-only",
        action="store_true",
        help="say what the check would ask and cost (models and judge), and ask nothing",
    )
    check.add_argument(
        "--require-better",
        action="store_true",
        help="exit 1 when your fine-tuned model scores below your old model's kept voice",
    )
