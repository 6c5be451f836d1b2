"""Training commands: train (--wait follows the job), jobs, cancel — views of
`services.training.TrainingJobs`, the one owner of job records."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from persona_studio.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_command,
    chosen_profile,
    emit,
    progress,
)
from persona_studio.core.config import load_config
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project

if TYPE_CHECKING:
    from persona_studio.core.records import JobRecord
    from persona_studio.services.training import TrainingBackend, TrainingJobs


def training_jobs(project: Project, poll: float | None = None) -> TrainingJobs:
    """The project's jobs, with backends made from the saved profiles and the keyring."""
    from persona_studio.services.credentials import CredentialStore
    from persona_studio.services.training import TrainingJobs, backend_for

    config, store = load_config(), CredentialStore()

    async def backend(profile: str) -> TrainingBackend:
        return await backend_for(config.profile(profile), store)

    return TrainingJobs(project, backend, poll=poll)


def progress_line(jobs: TrainingJobs, record: JobRecord) -> str:
    line = jobs.warning(record.id) or record.status_label
    if record.metrics:
        last = record.metrics[-1]
        line += f" — step {last['step']}/{last['total_steps']}"
        if last.get("train_loss") is not None:
            line += f", loss {last['train_loss']}"
    return line


def cmd_train(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import model_spec, preflight, rounded_cost
    from persona_studio.services.training import JobSpec, deploy_failure, needs_deploy
    from persona_studio.services.training.openai_api import explain_job_error

    profile = chosen_profile(load_config(), args.profile)
    with Project.open(args.path) as project:
        examples, persona = project.examples(), project.persona()
        report = preflight(examples, persona, model_spec(args.model), test_share=project.test_share)
        if report.blocking:
            reasons = "; ".join(issue.message for _id, issue in report.blocking[:3])
            raise UserFacingError(
                f"The dataset is not ready: {reasons}",
                f"Run `persona-studio validate {args.path}` for the full list.",
            )
        jobs = training_jobs(project, poll=args.poll)
        spec = JobSpec(
            args.model,
            suffix=args.suffix or "",
            n_epochs=args.epochs,
            seed=args.seed,
            lora_rank=args.lora_rank,
            batch_size=args.batch_size,
        )

        async def run() -> JobRecord:
            launched = await jobs.launch_job(
                profile.name,
                spec,
                examples,
                persona.system_prompt(),
                validation_split=args.validation_split,
                estimated_cost=report.estimated_cost,
                on_step=lambda step: progress(args, step + "…"),
                char=persona.name,
            )
            record = launched
            if args.wait:
                async for record in jobs.follow_job(launched.id):
                    progress(args, progress_line(jobs, record))
            return record

        record = asyncio.run(run())
    data = {
        "job": record.id,
        "status": record.status,
        "model": record.fine_tuned_model,
        "estimated_cost_usd": rounded_cost(report.estimated_cost),
    }
    if record.status == "failed":
        data["error"] = explain_job_error(record.error)
    elif needs_deploy(record):
        data["error"] = (
            f"Trained, but deploying it failed: {deploy_failure(record) or 'no model came back'}"
            f" Deploy it again with `persona-studio deployment {args.path} {record.id}`."
        )
    note = record.chat_target.note if record.chat_target is not None else ""
    if note:
        data["next_step"] = note.replace(
            "with “Enter deployment name…”",
            f"with `persona-studio deployment {args.path} {record.id} NAME`",
        )
    registered = " (registered on the persona)" if record.status == "succeeded" else ""
    emit(
        args,
        data,
        f"Job {record.id}: {record.status}"
        + (
            f" — fine-tuned model {record.fine_tuned_model}{registered}"
            if record.fine_tuned_model
            else ""
        )
        + (f" — {data['error']}" if "error" in data else "")
        + (f"\n{data['next_step']}" if note else ""),
    )
    return EXIT_FAILURE if "error" in data else EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        jobs = project.jobs()
    rows = [
        {
            "id": job.id,
            "profile": job.profile,
            "base_model": job.base_model,
            "status": job.status,
            "fine_tuned_model": job.fine_tuned_model,
            "final_train_loss": job.final_train_loss,
            "created_at": job.created_at,
        }
        for job in jobs
    ]
    text = (
        "\n".join(
            f"{r['id']}  {r['status']:<10} {r['base_model']:<28} {r['fine_tuned_model'] or ''}"
            for r in rows
        )
        or "No fine-tuning jobs yet."
    )
    emit(args, rows, text)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        if project.job(args.job) is None:
            raise UserFacingError(
                f"This project has no job “{args.job}”.", f"See `persona-studio jobs {args.path}`."
            )
        record = asyncio.run(training_jobs(project).cancel_job(args.job))
    emit(args, {"job": record.id, "status": record.status}, f"Job {record.id}: {record.status}.")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        jobs = training_jobs(project, poll=args.poll)

        async def run() -> JobRecord:
            record = await jobs.resume_job(args.job)
            if args.wait:
                async for record in jobs.follow_job(args.job):
                    progress(args, progress_line(jobs, record))
            return record

        record = asyncio.run(run())
    emit(args, {"job": record.id, "status": record.status}, f"Job {record.id}: {record.status}.")
    return EXIT_FAILURE if record.status == "failed" else EXIT_OK


def cmd_deployment(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        jobs = training_jobs(project)
        if args.name is None:
            record = asyncio.run(jobs.deploy_job(args.job))
        else:
            record = jobs.set_deployment(args.job, args.name)
    emit(
        args,
        {"job": record.id, "deployment": record.chat_model},
        f"Job {record.id}: chats now ask for the deployment {record.chat_model} "
        "(registered on the persona).",
    )
    return EXIT_OK


def training_arguments(
    sub: argparse.ArgumentParser,
    *,
    model_required: bool,
    seed: int | None,
    validation: float,
    poll: float,
) -> None:
    """What `train` and `pipeline` both take."""
    sub.add_argument("path", help="the .persona file")
    sub.add_argument("--profile", help="provider profile (default: the default profile)")
    sub.add_argument(
        "--model",
        required=model_required,
        help="base model, e.g. gpt-4.1-mini-2025-04-14"
        + ("" if model_required else " (default: the profile's fine-tune model)"),
    )
    sub.add_argument("--epochs", type=int, help="number of epochs (default: auto)")
    sub.add_argument("--suffix", help="a name tag for the model (≤ 64 characters)")
    sub.add_argument("--seed", type=int, default=seed, help="split and training seed")
    sub.add_argument(
        "--validation-split",
        type=float,
        default=validation,
        help=f"share of approved examples kept for validation (default {validation})",
    )
    sub.add_argument("--poll", type=float, default=poll, help=argparse.SUPPRESS)


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = add_command(commands, "train", cmd_train, "fine-tune a model on the approved examples")
    training_arguments(train, model_required=True, seed=None, validation=0.0, poll=2.0)
    train.add_argument("--wait", action="store_true", help="follow the job until it ends")
    train.add_argument("--lora-rank", type=int, help="LoRA rank (default: auto)")
    train.add_argument("--batch-size", type=int, help="examples a step (default: auto)")

    resume = add_command(
        commands, "resume", cmd_resume, "carry on with a stopped training on this computer"
    )
    resume.add_argument("path", help="the .persona file")
    resume.add_argument("job", help="the job id (see `jobs`)")
    resume.add_argument("--wait", action="store_true", help="follow the job until it ends")
    resume.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)

    jobs = add_command(commands, "jobs", cmd_jobs, "list the project's fine-tuning jobs")
    jobs.add_argument("path", help="the .persona file")

    cancel = add_command(commands, "cancel", cmd_cancel, "cancel a fine-tuning job")
    cancel.add_argument("path", help="the .persona file")
    cancel.add_argument("job", help="the job id (see `jobs`)")

    deployment = add_command(
        commands,
        "deployment",
        cmd_deployment,
        "name the deployment a trained model answers under (Azure OpenAI), or deploy a "
        "trained model again after deploying it failed (Nebius)",
    )
    deployment.add_argument("path", help="the .persona file")
    deployment.add_argument("job", help="the job id (see `jobs`)")
    deployment.add_argument(
        "name", nargs="?", help="the deployment's name in Azure AI Foundry (none: deploy again)"
    )
