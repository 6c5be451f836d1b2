"""The command line: thin wrappers over core and services.

Exit codes: 0 success, 1 failure (one plain line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from persona_studio import __version__
from persona_studio.core.card_files import EXPORT_FORMATS
from persona_studio.core.config import (
    PROFILE_KINDS,
    AppConfig,
    ProviderProfile,
    env_profile,
    load_config,
    save_config,
)
from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.project import SUFFIX, Project

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code for usage errors is 2
        self.print_usage(sys.stderr)
        print(f"persona-studio: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else text)


def cmd_new(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    with Project.create(path, Persona(name=args.name)) as project:
        counts = project.counts()
    _emit(
        args,
        {"path": str(path.absolute()), "name": args.name, **asdict(counts)},
        f"Created {path} for “{args.name}”.",
    )
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        persona, counts = project.persona(), project.counts()
        prompt = persona.system_prompt()
    data = {
        "path": str(Path(args.path).absolute()),
        "persona": persona.to_dict(),
        "system_prompt": prompt,
        "counts": asdict(counts),
    }
    text = "\n".join(
        [
            f"{persona.name or '(unnamed character)'} — {Path(args.path).name}",
            f"  {persona.description}" if persona.description else "",
            f"  examples: {counts.examples} ({counts.approved} approved)",
            f"  rules: {counts.rules}   jobs: {counts.jobs}   chats: {counts.chats}",
            f"  fine-tuned model: {persona.fine_tuned_model}" if persona.fine_tuned_model else "",
        ]
    )
    _emit(args, data, "\n".join(line for line in text.splitlines() if line))
    return EXIT_OK


def _read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserFacingError(
            f"Could not read “{path}”: {exc.strerror}.", "Check the path."
        ) from exc


def cmd_import(args: argparse.Namespace) -> int:
    from persona_studio.core.importers.files import DATASET_SUFFIXES

    source = Path(args.file)
    if source.suffix.lower() in DATASET_SUFFIXES:
        return _import_dataset(args, source)
    return _import_card(args, source)


def _import_card(args: argparse.Namespace, source: Path) -> int:
    from persona_studio.core.card_files import apply_card, create_from_card
    from persona_studio.core.cards import read_card

    card = read_card(_read_input(source))  # everything is checked before the project is touched
    target = Path(args.path)
    created = not target.exists()
    if created:
        project = create_from_card(target, card)
    else:
        project = Project.open(target)
        apply_card(project, card)
    with project:
        counts = project.counts()
    verb = "Created" if created else "Updated"
    _emit(
        args,
        {
            "path": str(target.absolute()),
            "created": created,
            "spec": card.spec,
            "name": card.persona.name,
            "rules": counts.rules,
        },
        f"{verb} {target} from the {card.spec} card “{card.persona.name}” ({counts.rules} rules).",
    )
    return EXIT_OK


def _import_dataset(args: argparse.Namespace, source: Path) -> int:
    from persona_studio.core.importers.files import import_file

    if not source.exists():
        raise UserFacingError(f"“{source}” does not exist.", "Check the path.")
    result = import_file(source, sheet=args.sheet)  # the whole file, before touching the project
    target = Path(args.path)
    created = not target.exists()
    project = Project.create(target, Persona(name=target.stem)) if created else Project.open(target)
    with project:
        if args.replace:
            project.replace_examples(result.examples)
        else:
            project.add_examples(result.examples)
        total = project.counts().examples
    data = {
        "path": str(target.absolute()),
        "created": created,
        "added": len(result.examples),
        "skipped": [{"row": row, "reason": why} for row, why in result.skipped],
        "notes": result.notes,
        "examples": total,
    }
    lines = [
        f"Added {len(result.examples)} examples from {source.name} to {target} ({total} in all)."
    ]
    lines += [f"  skipped row {row}: {why}" for row, why in result.skipped[:20]]
    if len(result.skipped) > 20:
        lines.append(f"  … and {len(result.skipped) - 20} more skipped")
    lines += [f"  note: {note}" for note in result.notes]
    _emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import model_spec, preflight, price_text

    with Project.open(args.path) as project:
        examples, persona = project.examples(), project.persona()
    report = preflight(examples, persona, model_spec(args.model))
    position = {ex.id: n for n, ex in enumerate(examples, start=1)}
    problems = [
        {
            "example": position.get(i),
            "id": i,
            "code": issue.code,
            "message": issue.message,
            "blocking": issue.blocking,
        }
        for i, issues in report.issues.items()
        for issue in issues
    ] + [
        {"example": None, "id": None, "code": n.code, "message": n.message, "blocking": n.blocking}
        for n in report.notes
    ]
    summary = report.summary()
    by_status = ", ".join(f"{n} {status}" for status, n in summary["by_status"].items())
    lines = [
        f"{summary['examples']} examples" + (f" ({by_status})" if by_status else ""),
        f"trained (approved): {summary['trained_examples']} examples, "
        f"{summary['trained_tokens']:,} tokens",
        f"{args.model}: {summary['epochs']} epochs by default, {summary['billed_tokens']:,} "
        f"billed tokens, {price_text(report.estimated_cost)}",
    ]
    for problem in sorted(problems, key=lambda p: (not p["blocking"], p["example"] or 0)):
        where = f"#{problem['example']}" if problem["example"] else "dataset"
        kind = "ERROR" if problem["blocking"] else "warning"
        lines.append(f"  {kind:7} {where:>7}  {problem['message']}")
    _emit(args, {"summary": summary, "problems": problems}, "\n".join(lines))
    return EXIT_FAILURE if report.blocking else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from persona_studio.core.config import atomic_write_bytes

    out = Path(args.out)
    with Project.open(args.path) as project:
        if args.format in ("openai-jsonl", "csv"):
            files = _dataset_files(project, args, out)
        else:
            from persona_studio.core.card_files import export_bytes

            files = {out: export_bytes(project, args.format)}
    for path, data in files.items():
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise UserFacingError(
                f"Could not write “{path}”: {exc.strerror}.", "Choose a folder you can write to."
            ) from exc
    _emit(
        args,
        {
            "format": args.format,
            "files": [{"path": str(p.absolute()), "bytes": len(d)} for p, d in files.items()],
        },
        "\n".join(f"Wrote {p} ({args.format}, {len(d):,} bytes)." for p, d in files.items()),
    )
    return EXIT_OK


def _dataset_files(project: Project, args: argparse.Namespace, out: Path) -> dict[Path, bytes]:
    from persona_studio.core.exports import examples_csv, openai_jsonl
    from persona_studio.core.validation import train_validation_split

    examples = project.examples()
    if args.format == "csv":
        return {out: examples_csv(examples).encode("utf-8")}
    approved = [ex for ex in examples if ex.status == "approved"]
    if not approved:
        raise UserFacingError(
            "There are no approved examples to export.",
            "Approve examples in the Dataset tab first.",
        )
    prompt = project.persona().system_prompt()
    train, validation = train_validation_split(approved, args.validation_split, args.seed)
    files = {out: openai_jsonl(train, prompt).encode("utf-8")}
    if validation:
        files[out.with_name(f"{out.stem}.validation{out.suffix}")] = openai_jsonl(
            validation, prompt
        ).encode("utf-8")
    return files


def cmd_chat(args: argparse.Namespace) -> int:
    from persona_studio.core.retrieval import RetrievalIndex
    from persona_studio.services import providers
    from persona_studio.services.chat import ChatSettings, reply
    from persona_studio.services.credentials import CredentialStore

    with Project.open(args.path) as project:
        persona, rules, examples = project.persona(), project.rules(), project.examples()
    config = load_config()
    store = CredentialStore()
    offline = args.engine == "offline" or (args.profile is None and args.mode is None)
    settings = ChatSettings(mode="offline")
    if not offline:
        profile = config.profile(args.profile or config.default_profile or "env")
        mode = args.mode or ("finetuned" if persona.fine_tuned_model else "persona")
        settings = ChatSettings(mode=mode, profile=profile, model=args.model or "")

    async def client_for(profile: ProviderProfile) -> object:
        return await providers.client_for(profile, store)

    async def run() -> tuple[str, list[dict]]:
        text, events = "", []
        async for event in reply(
            persona,
            rules,
            [],
            args.message,
            settings,
            RetrievalIndex(examples),
            client_for,
            config.profile,
        ):
            if event.kind == "rule" and event.decision is not None and not args.json:
                fired = [s.label for s in event.decision.trace if s.fired]
                print(f"[rules: {'; '.join(fired)}]", file=sys.stderr)
            elif event.kind == "delta":
                text += event.text
                if not args.json:
                    print(event.text, end="", flush=True)
            events.append(
                {
                    "kind": event.kind,
                    "text": event.text,
                    "model": event.model,
                    "usage": event.usage,
                    "latency": round(event.latency, 3),
                }
            )
        return text, events

    text, events = asyncio.run(run())
    last = events[-1] if events else {"kind": "error", "text": "no reply"}
    if args.json:
        print(
            json.dumps(
                {
                    "reply": text,
                    "ok": last["kind"] == "done",
                    "model": last["model"],
                    "usage": last["usage"],
                    "error": last["text"] if last["kind"] == "error" else None,
                },
                ensure_ascii=False,
            )
        )
    elif last["kind"] == "done":
        print()
    if last["kind"] == "error":
        if not args.json:
            print(("\n" if text else "") + f"persona-studio: {last['text']}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _training_client(profile_name: str | None) -> tuple[ProviderProfile, object]:
    from persona_studio.services import providers
    from persona_studio.services.credentials import CredentialStore

    config = load_config()
    profile = config.profile(profile_name or config.default_profile or "env")
    return profile, asyncio.run(providers.client_for(profile, CredentialStore(), max_retries=2))


def cmd_train(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import model_spec, preflight
    from persona_studio.services import finetune

    with Project.open(args.path) as project:
        examples, persona = project.examples(), project.persona()
    report = preflight(examples, persona, model_spec(args.model))
    if report.blocking:
        reasons = "; ".join(issue.message for _id, issue in report.blocking[:3])
        raise UserFacingError(
            f"The dataset is not ready: {reasons}",
            f"Run `persona-studio validate {args.path}` for the full list.",
        )
    profile, client = _training_client(args.profile)
    settings = finetune.TrainSettings(
        args.model, suffix=args.suffix or "", n_epochs=args.epochs, seed=args.seed
    )

    async def run() -> dict:
        async with client:
            launched = await finetune.launch(
                client,
                examples,
                persona.system_prompt(),
                settings,
                validation_split=args.validation_split,
                on_step=lambda step: None if args.json else print(step + "…", file=sys.stderr),
            )
            job = launched.job
            record = finetune.job_record(job)
            record["estimated_cost_usd"] = round(report.estimated_cost, 2)
            _save_job(args.path, profile.name, job, record)
            if not args.wait:
                return job
            async for update in finetune.monitor(client, job["id"], poll=args.poll):
                record = finetune.job_record(
                    update.job if update.status != "unknown" else job, record, update
                )
                if update.status != "unknown":
                    job = update.job
                    _save_job(args.path, profile.name, job, record)
                if not args.json:
                    line = update.warning or finetune.STATUS_LABELS.get(
                        update.status, update.status
                    )
                    if update.metrics:
                        last = update.metrics[-1]
                        line += (
                            f" — step {last['step']}/{last['total_steps']}, loss "
                            f"{last['train_loss']}"
                        )
                    print(line, file=sys.stderr)
            return job

    job = asyncio.run(run())
    ok = job.get("status") != "failed"
    data = {
        "job": job["id"],
        "status": job["status"],
        "model": job.get("fine_tuned_model"),
        "estimated_cost_usd": round(report.estimated_cost, 2),
    }
    if job.get("status") == "failed":
        data["error"] = finetune.explain_job_error(job)
    _emit(
        args,
        data,
        f"Job {job['id']}: {job['status']}"
        + (
            f" — fine-tuned model {job['fine_tuned_model']} (registered on the persona)"
            if job.get("fine_tuned_model")
            else ""
        )
        + (f" — {data['error']}" if "error" in data else ""),
    )
    return EXIT_OK if ok else EXIT_FAILURE


def _save_job(path: str, profile: str, job: dict, record: dict) -> None:
    """Record the job; on success, register its model on the persona."""
    with Project.open(path) as project:
        project.save_job(
            job["id"],
            profile=profile,
            base_model=job["model"],
            status=job["status"],
            fine_tuned_model=job.get("fine_tuned_model"),
            data=record,
        )
        if job.get("status") == "succeeded" and job.get("fine_tuned_model"):
            project.set_persona_fields(fine_tuned_model=job["fine_tuned_model"])


def cmd_jobs(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        jobs = project.jobs()
    rows = []
    for job in jobs:
        metrics = job["data"].get("metrics") or []
        rows.append(
            {
                "id": job["id"],
                "profile": job["profile"],
                "base_model": job["base_model"],
                "status": job["status"],
                "fine_tuned_model": job["fine_tuned_model"],
                "final_train_loss": metrics[-1]["train_loss"] if metrics else None,
                "created_at": job["created_at"],
            }
        )
    text = (
        "\n".join(
            f"{r['id']}  {r['status']:<10} {r['base_model']:<28} {r['fine_tuned_model'] or ''}"
            for r in rows
        )
        or "No fine-tuning jobs yet."
    )
    _emit(args, rows, text)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    from persona_studio.services import finetune

    with Project.open(args.path) as project:
        record = project.job(args.job)
    if record is None:
        raise UserFacingError(
            f"This project has no job “{args.job}”.", f"See `persona-studio jobs {args.path}`."
        )
    _profile, client = _training_client(record["profile"])

    async def run() -> dict:
        async with client:
            return await finetune.cancel(client, args.job)

    job = asyncio.run(run())
    _save_job(args.path, record["profile"], job, {**record["data"]})
    _emit(args, {"job": job["id"], "status": job["status"]}, f"Job {job['id']}: {job['status']}.")
    return EXIT_OK


def sheets_http_client(config: AppConfig) -> object:
    """The Google client from the keyring (a seam the tests replace with the fake)."""
    from persona_studio.services.credentials import GOOGLE_SERVICE_ACCOUNT, CredentialStore
    from persona_studio.services.sheets import service_account_client

    if config.google.auth != "service_account":
        raise UserFacingError(
            "No Google account is set up for Sheets.",
            "Open Settings → Google Sheets and choose a service-account key.",
        )
    secret = asyncio.run(CredentialStore().get(GOOGLE_SERVICE_ACCOUNT))
    if not secret:
        raise UserFacingError(
            "The Google key is not in the system password store any more.",
            "Choose the service-account key again in Settings.",
        )
    return service_account_client(secret)


def _sheet_link(project: Project, sheet: str | None, worksheet: str | None) -> dict[str, Any]:
    """The project's sheet link, or a new one from --sheet/--worksheet."""
    from persona_studio.services.sheets import spreadsheet_key

    previous = dict(project.sync_value("sheet") or {})
    link = dict(previous)
    if sheet:
        link = {
            "key": spreadsheet_key(sheet),
            "worksheet": worksheet or previous.get("worksheet") or "Sheet1",
        }
    elif worksheet:
        link["worksheet"] = worksheet
    return link


def cmd_sync(args: argparse.Namespace) -> int:
    from persona_studio.services.sheets import sync_project

    config = load_config()
    with Project.open(args.path) as project:
        link = _sheet_link(project, args.sheet, args.worksheet)
        result = asyncio.run(
            sync_project(
                sheets_http_client(config) if link.get("key") else None,
                project,
                link,
                project.examples(),
                account=config.google.account_email,
            )
        )
    plan = result.plan
    summary = plan.summary()
    conflicts = [{"id": c.id, "mine": c.mine, "theirs": c.theirs} for c in plan.conflicts]
    lines = [
        f"Synced with the sheet: {summary['pulled']} taken from the sheet, "
        f"{summary['appended']} added to it, {summary['cells_written']} cells written, "
        f"{summary['deleted_here']} deleted here; {result.requests} requests."
    ]
    lines += [f"  conflict on {c['id']}: changed differently on both sides" for c in conflicts]
    _emit(
        args,
        {**summary, "requests": result.requests, "conflict_details": conflicts},
        "\n".join(lines),
    )
    return EXIT_FAILURE if conflicts else EXIT_OK


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
        return last
    if last is not None and last.resumable and last.outputs.get("train_file") and not args.restart:
        raise UserFacingError(
            f"The last run already uploaded data and stopped: {last.summary()}",
            "Go on with --resume (nothing is sent twice), or start over with --restart.",
        )
    profile = config.profile(args.profile or config.default_profile or "env")
    model = args.model or profile.finetune_model
    if not model:
        raise UserFacingError(
            "Which base model should be fine-tuned?", "Give one with --model, e.g. gpt-4.1-mini."
        )
    link = _sheet_link(project, args.sheet, args.worksheet)
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
        )
    )


def cmd_pipeline(args: argparse.Namespace) -> int:
    from persona_studio.services import providers
    from persona_studio.services.credentials import CredentialStore
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
                print(line, file=sys.stderr)

    with Project.open(args.path) as project:
        run = _pipeline_run(args, project, config)
        if args.resume:
            run.options.wait = not args.no_wait
        profile = config.profile(run.options.profile)

        async def client() -> object:
            return await providers.client_for(profile, CredentialStore(), max_retries=2)

        async def sync_sheet(link: dict[str, Any]) -> Any:
            return await sync_project(
                sheets_http_client(config),
                project,
                link,
                project.examples(),
                account=config.google.account_email,
            )

        pipeline = Pipeline(
            project,
            run,
            client_factory=client,
            sync_sheet=sync_sheet,
            on_change=show,
            poll=args.poll,
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
        "outputs": run.outputs,
    }
    _emit(args, data, run.summary())
    return EXIT_OK if run.status in ("succeeded", "waiting") else EXIT_FAILURE


def cmd_generate(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import chat_price
    from persona_studio.services import generate, providers
    from persona_studio.services.credentials import CredentialStore

    config = load_config()
    profile = config.profile(args.profile or config.default_profile or "env")
    model = args.model or profile.chat_model or generate.DEFAULT_MODEL
    with Project.open(args.path) as project:
        persona, examples = project.persona(), project.examples()
        prompts = generate.load_prompts()
        source = Path(args.source)
        kind = (
            "persona"
            if args.source == "persona"
            else "linkedin"
            if source.suffix.lower() == ".zip"
            else "documents"
        )
        styles = [s.strip() for s in (args.styles or "").split(",") if s.strip()]
        read = generate.read_source(
            kind,
            persona,
            prompts,
            paths=[source],
            limit=args.limit,
            styles=styles,
            comments=args.comments,
        )
        tasks = read.tasks
        if not args.json:
            print(f"From {args.source}: {read.summary}.", file=sys.stderr)
        if not tasks:
            raise UserFacingError(
                "There is nothing to generate from in this source.",
                "Check that the export has posts, or the document has text.",
            )
        cost = generate.estimate(
            tasks, persona, prompts, model, args.language or "", chat_price(model)
        )
        if not args.json:
            print(f"Estimate with {model}: {cost.text()}.", file=sys.stderr)
        queue = generate.ReviewQueue(project)
        run_id = queue.start_run(source=args.source, model=model, profile=profile.name)
        got: list[Any] = []

        def keep(batch: list[Any]) -> None:
            got.extend(batch)
            queue.add(run_id, batch)

        def show(progress: Any) -> None:
            if not args.json:
                print(
                    f"{progress.done}/{progress.total} calls, {progress.candidates} "
                    f"candidates {progress.note}".rstrip(),
                    file=sys.stderr,
                )

        async def run() -> Any:
            client = await providers.client_for(profile, CredentialStore(), max_retries=0)
            async with client:
                generator = generate.Generator(
                    client,
                    model,
                    persona,
                    prompts,
                    existing=examples,
                    language=args.language or "",
                    concurrency=args.concurrency,
                )
                return await generator.run(tasks, keep, show)

        try:
            progress = asyncio.run(run())
        except KeyboardInterrupt:
            queue.finish(run_id, "cancelled")
            print(
                f"persona-studio: stopped; {len(got)} candidates kept for review.", file=sys.stderr
            )
            return EXIT_FAILURE
        except UserFacingError:
            queue.finish(run_id, "failed")
            raise
        queue.finish(run_id, "done")
        added: list[Any] = []
        if args.accept_all:
            fresh = [c.id for c in got if not c.duplicate_of]
            added = queue.decide(fresh, "accepted")
            project.add_examples(added)
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
    _emit(args, data, text)
    return EXIT_OK if got or not tasks else EXIT_FAILURE


def _profile_row(profile: ProviderProfile, default: str) -> dict[str, Any]:
    return {**asdict(profile), "default": profile.name == default}


def cmd_profile_list(args: argparse.Namespace) -> int:
    config = load_config()
    rows = [_profile_row(p, config.default_profile) for p in config.profiles]
    rows.append({**_profile_row(env_profile(), config.default_profile), "builtin": True})
    lines = []
    for row in rows:
        where = row["base_url"] or (f"${row['base_url_env']}" if row["base_url_env"] else "")
        mark = "*" if row["default"] else " "
        lines.append(f"{mark} {row['name']:<16} {row['kind']:<18} {where or 'api.openai.com'}")
    _emit(args, rows, "\n".join(lines))
    return EXIT_OK


def _read_key(args: argparse.Namespace) -> str | None:
    if args.key_stdin:
        return sys.stdin.readline().strip()
    if args.ask_key:
        return getpass.getpass("API key (input hidden): ").strip()
    return None


def cmd_profile_add(args: argparse.Namespace) -> int:
    from persona_studio.services.credentials import CredentialStore

    config = load_config()
    profile = ProviderProfile(
        name=args.name,
        kind=args.kind,
        base_url=args.base_url or "",
        chat_model=args.chat_model or "",
        finetune_model=args.finetune_model or "",
        api_version=args.api_version or "",
        key_env=args.key_env or "",
    ).validated()
    key = _read_key(args)
    if key is not None:
        asyncio.run(CredentialStore().set(profile.keyring_account, key))
    config.upsert_profile(profile)
    if args.default:
        config.default_profile = profile.name
    save_config(config)
    stored = " Its key is in the system password store." if key else ""
    _emit(
        args,
        _profile_row(profile, config.default_profile),
        f"Saved profile “{profile.name}”.{stored}",
    )
    return EXIT_OK


def cmd_profile_remove(args: argparse.Namespace) -> int:
    from persona_studio.services.credentials import CredentialStore

    config: AppConfig = load_config()
    profile = config.profile(args.name)
    config.remove_profile(args.name)
    save_config(config)
    asyncio.run(CredentialStore().delete(profile.keyring_account))
    _emit(args, {"removed": args.name}, f"Removed profile “{args.name}” and its key.")
    return EXIT_OK


Handler = Callable[[argparse.Namespace], int]


def _add_command(
    subparsers: argparse._SubParsersAction, name: str, handler: Handler, help_: str
) -> argparse.ArgumentParser:
    sub = subparsers.add_parser(name, help=help_, description=help_)
    sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub.set_defaults(handler=handler)
    return sub


def _training_arguments(
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="persona-studio",
        description="Build an AI character. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"Persona Studio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    new = _add_command(commands, "new", cmd_new, "create a new project file")
    new.add_argument("path", help="where to create the .persona file")
    new.add_argument("--name", required=True, help="the character's name")

    info = _add_command(commands, "info", cmd_info, "show a project's character and counts")
    info.add_argument("path", help="a .persona file")

    imp = _add_command(
        commands,
        "import",
        cmd_import,
        "import a Character Card or a dataset file into a project (created if new)",
    )
    imp.add_argument("path", help="the .persona file")
    imp.add_argument("file", help="a card (.png/.json) or examples (.csv/.tsv/.xlsx/.jsonl)")
    imp.add_argument("--sheet", help="the XLSX sheet to read (default: the first)")
    imp.add_argument(
        "--replace", action="store_true", help="replace all examples instead of adding to them"
    )

    val = _add_command(
        commands,
        "validate",
        cmd_validate,
        "check the dataset against the fine-tuning rules (exit 1 on errors)",
    )
    val.add_argument("path", help="the .persona file")
    val.add_argument("--model", default="gpt-4.1-mini-2025-04-14", help="the base model")

    chat = _add_command(
        commands, "chat", cmd_chat, "send one message to the character and stream its reply"
    )
    chat.add_argument("path", help="the .persona file")
    chat.add_argument("message")
    chat.add_argument("--profile", help="provider profile (default: the offline engine)")
    chat.add_argument("--model", help="model name (default: the profile's chat model)")
    chat.add_argument("--engine", choices=["offline"], help="answer from the dataset, no model")
    chat.add_argument(
        "--mode", choices=["finetuned", "persona", "retrieval"], help="how to prompt the model"
    )

    sync = _add_command(
        commands,
        "sync",
        cmd_sync,
        "sync the examples with a Google Sheet (exit 1 while conflicts remain)",
    )
    sync.add_argument("path", help="the .persona file")
    sync.add_argument("--sheet", help="the sheet's address (links the project to it)")
    sync.add_argument("--worksheet", help="the worksheet (tab) name, default Sheet1")

    train = _add_command(commands, "train", cmd_train, "fine-tune a model on the approved examples")
    _training_arguments(train, model_required=True, seed=None, validation=0.0, poll=2.0)
    train.add_argument("--wait", action="store_true", help="follow the job until it ends")

    pipe = _add_command(
        commands,
        "pipeline",
        cmd_pipeline,
        "sheet → check → upload → fine-tune → register → export plugin and card, resumable",
    )
    _training_arguments(pipe, model_required=False, seed=42, validation=0.1, poll=5.0)
    pipe.add_argument("--sheet", help="sync with this Google Sheet first (and link it)")
    pipe.add_argument("--worksheet", help="the worksheet (tab) name, default Sheet1")
    pipe.add_argument("--out", help="folder for the training files, plugin and card")
    pipe.add_argument(
        "--no-wait", action="store_true", help="stop once the job is started (resume later)"
    )
    pipe.add_argument("--resume", action="store_true", help="go on with the last unfinished run")
    pipe.add_argument(
        "--restart", action="store_true", help="start a new run even if one is unfinished"
    )

    gen = _add_command(
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

    jobs = _add_command(commands, "jobs", cmd_jobs, "list the project's fine-tuning jobs")
    jobs.add_argument("path", help="the .persona file")

    cancel = _add_command(commands, "cancel", cmd_cancel, "cancel a fine-tuning job")
    cancel.add_argument("path", help="the .persona file")
    cancel.add_argument("job", help="the job id (see `jobs`)")

    exp = _add_command(commands, "export", cmd_export, "export the character")
    exp.add_argument("path", help="the .persona file")
    exp.add_argument(
        "--format",
        required=True,
        choices=list(EXPORT_FORMATS),
    )
    exp.add_argument("--out", required=True, help="the file to write")
    exp.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        help="openai-jsonl: share of approved examples for a validation file",
    )
    exp.add_argument("--seed", type=int, default=42, help="seed of the train/validation split")

    profile = commands.add_parser("profile", help="manage provider profiles")
    actions = profile.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )

    _add_command(actions, "list", cmd_profile_list, "list provider profiles")
    add = _add_command(actions, "add", cmd_profile_add, "add or update a provider profile")
    add.add_argument("name")
    add.add_argument("--kind", choices=PROFILE_KINDS, default="openai")
    add.add_argument("--base-url", help="API address, e.g. http://localhost:11434/v1")
    add.add_argument("--chat-model", help="default model for the test chat")
    add.add_argument("--finetune-model", help="default base model for fine-tuning")
    add.add_argument("--api-version", help="Azure OpenAI API version")
    add.add_argument("--key-env", help="read the API key from this environment variable")
    add.add_argument("--default", action="store_true", help="make it the default profile")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the API key from standard input into the system password store",
    )
    keys.add_argument("--ask-key", action="store_true", help="prompt for the API key")
    remove = _add_command(
        actions, "remove", cmd_profile_remove, "remove a profile and its stored key"
    )
    remove.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UserFacingError as exc:
        print(f"persona-studio: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("persona-studio: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `persona-studio info X | head`: the reader has seen enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_FAILURE
