"""Project commands: new, info, import (cards and dataset files), export, validate."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from persona_studio.cli.common import EXIT_FAILURE, EXIT_OK, add_command, emit, read_input
from persona_studio.core.card_files import EXPORT_FORMATS
from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.project import SUFFIX, Project


def cmd_new(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    with Project.create(path, Persona(name=args.name)) as project:
        counts = project.counts()
    emit(
        args,
        {"path": str(path.absolute()), "name": args.name, **asdict(counts)},
        f"Created {path} for “{args.name}”.",
    )
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    with Project.open_for_reading(args.path) as project:
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
    emit(args, data, "\n".join(line for line in text.splitlines() if line))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from persona_studio.core.importers.files import DATASET_SUFFIXES, is_dataset_json

    source = Path(args.file)
    if source.suffix.lower() in DATASET_SUFFIXES or is_dataset_json(source):
        return _import_dataset(args, source)
    return _import_card(args, source)


def _import_card(args: argparse.Namespace, source: Path) -> int:
    from persona_studio.core.card_files import apply_card, create_from_card
    from persona_studio.core.cards import read_card

    card = read_card(read_input(source))  # everything is checked before the project is touched
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
    emit(
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
    mapping = {}
    for pair in args.map or []:
        role, _, column = pair.partition("=")
        if role not in ("question", "answer", "tags", "status", "id") or not column:
            raise UserFacingError(
                f"“{pair}” is not a column mapping.",
                "Write --map question=COLUMN (roles: question, answer, tags, status, id).",
            )
        mapping[role] = column
    # the whole file, before touching the project
    result = import_file(
        source,
        sheet=args.sheet,
        mapping=mapping,
        default_status=args.status,
        keep_system_prompts=args.keep_system_prompts,
    )
    target = Path(args.path)
    created = not target.exists()
    project = Project.create(target, Persona(name=target.stem)) if created else Project.open(target)
    with project:
        if args.replace:
            project.replace_examples(result.examples)
        else:
            result = result.without_ids({e.id for e in project.examples()})
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
    approved = sum(1 for e in result.examples if e.status == "approved")
    lines = [
        f"Added {len(result.examples)} examples from {source.name} to {target} ({total} in all); "
        f"{approved} ready to train, {len(result.examples) - approved} to review."
    ]
    lines += [f"  skipped row {row}: {why}" for row, why in result.skipped[:20]]
    if len(result.skipped) > 20:
        lines.append(f"  … and {len(result.skipped) - 20} more skipped")
    lines += [f"  note: {note}" for note in result.notes]
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from persona_studio.core.validation import model_spec, preflight, price_text

    with Project.open_for_reading(args.path) as project:
        examples, persona, share = project.examples(), project.persona(), project.test_share
    report = preflight(examples, persona, model_spec(args.model), test_share=share)
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
        f"{summary['trained_tokens']:,} tokens"
        + (
            f" ({summary['held_out_examples']} more kept aside for the voice check)"
            if summary["held_out_examples"]
            else ""
        ),
        f"{args.model}: {summary['epochs']} epochs by default, {summary['billed_tokens']:,} "
        f"billed tokens, {price_text(report.estimated_cost)}",
    ]
    for problem in sorted(problems, key=lambda p: (not p["blocking"], p["example"] or 0)):
        where = f"#{problem['example']}" if problem["example"] else "dataset"
        kind = "ERROR" if problem["blocking"] else "warning"
        lines.append(f"  {kind:7} {where:>7}  {problem['message']}")
    emit(args, {"summary": summary, "problems": problems}, "\n".join(lines))
    return EXIT_FAILURE if report.blocking else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from persona_studio.core.config import atomic_write_bytes

    out = Path(args.out)
    with Project.open_for_reading(args.path) as project:
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
    emit(
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
    from persona_studio.core.test_set import split_test_set

    usable, _test = split_test_set(examples, project.test_share)  # never trained: not exported
    approved = [ex for ex in usable if ex.status == "approved"]
    if not approved:
        raise UserFacingError(
            "There are no approved examples to export.",
            "Approve examples in the Dataset tab first.",
        )
    persona = project.persona()
    prompt, char = persona.system_prompt(), persona.name
    train, validation = train_validation_split(approved, args.validation_split, args.seed)
    files = {out: openai_jsonl(train, prompt, char).encode("utf-8")}
    if validation:
        files[out.with_name(f"{out.stem}.validation{out.suffix}")] = openai_jsonl(
            validation, prompt, char
        ).encode("utf-8")
    return files


def add_parser(commands: argparse._SubParsersAction) -> None:
    new = add_command(commands, "new", cmd_new, "create a new project file")
    new.add_argument("path", help="where to create the .persona file")
    new.add_argument("--name", required=True, help="the character's name")

    info = add_command(commands, "info", cmd_info, "show a project's character and counts")
    info.add_argument("path", help="a .persona file")

    imp = add_command(
        commands,
        "import",
        cmd_import,
        "import a Character Card or a dataset file into a project (created if new)",
    )
    imp.add_argument("path", help="the .persona file")
    imp.add_argument("file", help="a card (.png/.json/.charx) or examples (.csv/.tsv/.xlsx/.jsonl)")
    imp.add_argument("--sheet", help="the XLSX sheet to read (default: the first)")
    imp.add_argument(
        "--replace", action="store_true", help="replace all examples instead of adding to them"
    )
    imp.add_argument(
        "--status",
        choices=("approved", "draft"),
        default="approved",
        help="for rows with no status of their own: approved (ready to train, the default: "
        "your own data) or draft (to review first)",
    )
    prompts = imp.add_mutually_exclusive_group()
    prompts.add_argument(
        "--keep-system-prompts",
        dest="keep_system_prompts",
        action="store_true",
        default=True,
        help="keep each example's own system prompt (the default)",
    )
    prompts.add_argument(
        "--use-persona-prompt",
        dest="keep_system_prompts",
        action="store_false",
        help="train every example with the persona's system prompt instead",
    )
    imp.add_argument(
        "--map",
        action="append",
        metavar="ROLE=COLUMN",
        help="which column holds what, when the headers are not recognised "
        "(e.g. --map question=Frage --map answer=Antwort; roles: question, answer, tags)",
    )

    val = add_command(
        commands,
        "validate",
        cmd_validate,
        "check the dataset against the fine-tuning rules (exit 1 on errors)",
    )
    val.add_argument("path", help="the .persona file")
    val.add_argument("--model", default="gpt-4.1-mini-2025-04-14", help="the base model")

    exp = add_command(commands, "export", cmd_export, "export the character")
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
