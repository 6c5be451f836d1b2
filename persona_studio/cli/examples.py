"""The dataset on the command line: `examples list | show | approve | reject | draft | delete`.
A selection is --all, --ids, --tag, --search (any case, in every message) or --status, and
combinations narrow it. Changes are one transaction; `delete` asks unless --yes."""

from __future__ import annotations

import argparse
import sys

from persona_studio.cli.common import EXIT_FAILURE, EXIT_OK, add_command, emit
from persona_studio.core.dataset import STATUSES, Example
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project

VERBS = {"approve": "approved", "reject": "rejected", "draft": "draft"}


def matches(example: Example, args: argparse.Namespace) -> bool:
    if getattr(args, "ids", None) and example.id not in args.ids:
        return False
    if args.status and example.status != args.status:
        return False
    if args.tag and args.tag not in example.tags:
        return False
    if args.search:
        needle = args.search.casefold()
        text = "\n".join(str(m.get("content") or "") for m in example.messages)
        if needle not in text.casefold():
            return False
    return True


def chosen(examples: list[Example], args: argparse.Namespace) -> list[Example]:
    if not (args.all or args.ids or args.tag or args.search or args.status):
        raise UserFacingError(
            "Say which examples: --all, --ids ID …, --tag TAG, --search TEXT or --status STATUS.",
            "See `persona-studio examples list PATH` for ids, tags and statuses.",
        )
    found = [e for e in examples if matches(e, args)]
    missing = sorted(set(args.ids or []) - {e.id for e in examples})
    if missing:
        raise UserFacingError(
            f"No example has the id {', '.join(missing[:5])}.",
            "See `persona-studio examples list PATH` for the ids.",
        )
    return found


def row(example: Example, number: int) -> dict[str, object]:
    return {
        "number": number,
        "id": example.id,
        "status": example.status,
        "tags": example.tags,
        "question": example.question,
        "answer": example.answer,
        "turns": example.turn_count,
    }


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_list(args: argparse.Namespace) -> int:
    with Project.open_for_reading(args.path) as project:
        examples = project.examples()
    rows = [row(e, n) for n, e in enumerate(examples, start=1) if matches(e, args)]
    text = "\n".join(
        f"{r['number']:>5}  {r['id']:<14} {r['status']:<9} {short(str(r['question']), 44):<44}  "
        f"{short(str(r['answer']), 40)}"
        for r in rows
    )
    emit(args, rows, text or "No examples match.")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with Project.open_for_reading(args.path) as project:
        example = project.example(args.id)
    if example is None:
        raise UserFacingError(f"No example has the id {args.id}.", "See `examples list PATH`.")
    data = {**row(example, 0), "messages": example.messages, "source": example.source}
    data.pop("number")
    lines = [
        f"{example.id} · {example.status}"
        + (f" · {', '.join(example.tags)}" if example.tags else "")
    ]
    lines += [f"{m['role']}: {m.get('content') or ''}" for m in example.messages]
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_set_status(args: argparse.Namespace) -> int:
    status = VERBS[args.verb]
    with Project.open(args.path) as project:
        found = chosen(project.examples(), args)
        changed = [e for e in found if e.status != status]
        for example in changed:
            example.status = status
        project.update_examples(changed)  # one transaction
        approved = project.counts().approved
    emit(
        args,
        {"changed": len(changed), "matched": len(found), "status": status, "approved": approved},
        f"{len(changed)} example{'s' if len(changed) != 1 else ''} marked {status} "
        f"({len(found) - len(changed)} already were); {approved} approved in all.",
    )
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        found = chosen(project.examples(), args)
        if not found:
            emit(args, {"deleted": 0}, "No examples match: nothing deleted.")
            return EXIT_OK
        if not args.yes:
            if not sys.stdin.isatty():
                raise UserFacingError(
                    f"This would delete {len(found)} example{'s' if len(found) != 1 else ''}.",
                    "Add --yes to confirm.",
                )
            answer = input(f"Delete {len(found)} examples? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.", file=sys.stderr)
                return EXIT_FAILURE
        deleted = project.delete_examples([e.id for e in found])
    emit(args, {"deleted": deleted}, f"Deleted {deleted} example{'s' if deleted != 1 else ''}.")
    return EXIT_OK


def selection(sub: argparse.ArgumentParser, *, needed: bool) -> None:
    sub.add_argument("path", help="the .persona file")
    if needed:
        sub.add_argument("--all", action="store_true", help="every example")
        sub.add_argument("--ids", nargs="+", metavar="ID", help="these examples")
    sub.add_argument("--status", choices=STATUSES, help="only examples with this status")
    sub.add_argument("--tag", help="only examples with this tag")
    sub.add_argument("--search", help="only examples whose text contains this (any case)")


def add_parser(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser(
        "examples", help="list, show, approve, reject or delete examples", description=__doc__
    )
    verbs = group.add_subparsers(dest="examples_command", metavar="WHAT", required=True)
    listing = add_command(verbs, "list", cmd_list, "list the examples (filtered)")
    selection(listing, needed=False)
    show = add_command(verbs, "show", cmd_show, "one example in full")
    show.add_argument("path", help="the .persona file")
    show.add_argument("id", help="its id (see `examples list`)")
    for verb, status in VERBS.items():
        sub = add_command(verbs, verb, cmd_set_status, f"mark examples {status}")
        sub.set_defaults(verb=verb)
        selection(sub, needed=True)
    delete = add_command(verbs, "delete", cmd_delete, "delete examples (asks first)")
    selection(delete, needed=True)
    delete.add_argument("--yes", action="store_true", help="do not ask")
