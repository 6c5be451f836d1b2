"""sync: the examples with a Google Sheet (exit 1 while conflicts remain)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from persona_studio.cli.common import EXIT_FAILURE, EXIT_OK, add_command, emit
from persona_studio.core.config import AppConfig, load_config
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project import Project


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


def sheet_link(project: Project, sheet: str | None, worksheet: str | None) -> dict[str, Any]:
    """The project's sheet link, or a new one from --sheet/--worksheet."""
    from persona_studio.services.sheets import spreadsheet_key

    previous = project.sheet_link()
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
        link = sheet_link(project, args.sheet, args.worksheet)
        if args.new_rows:
            link["new_rows"] = args.new_rows
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
    lines += [f"  note: {note}" for note in result.notes]
    emit(
        args,
        {
            **summary,
            "requests": result.requests,
            "conflict_details": conflicts,
            "notes": result.notes,
        },
        "\n".join(lines),
    )
    return EXIT_FAILURE if conflicts else EXIT_OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    sync = add_command(
        commands,
        "sync",
        cmd_sync,
        "sync the examples with a Google Sheet (exit 1 while conflicts remain)",
    )
    sync.add_argument("path", help="the .persona file")
    sync.add_argument("--sheet", help="the sheet's address (links the project to it)")
    sync.add_argument("--worksheet", help="the worksheet (tab) name, default Sheet1")
    sync.add_argument(
        "--new-rows",
        choices=("approved", "draft"),
        help="rows the sheet gives no status: approved (ready to train; the default) or draft "
        "(to review); remembered with the link",
    )
