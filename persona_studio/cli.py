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


def cmd_import(args: argparse.Namespace) -> int:
    from persona_studio.core.card_files import apply_card, create_from_card
    from persona_studio.core.cards import read_card

    source = Path(args.file)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise UserFacingError(
            f"Could not read “{source}”: {exc.strerror}.", "Check the path."
        ) from exc
    card = read_card(data)  # everything is checked before the project is touched
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


def cmd_export(args: argparse.Namespace) -> int:
    from persona_studio.core.card_files import export_bytes
    from persona_studio.core.config import atomic_write_bytes

    with Project.open(args.path) as project:
        data = export_bytes(project, args.format)
    out = Path(args.out)
    try:
        atomic_write_bytes(out, data)
    except OSError as exc:
        raise UserFacingError(
            f"Could not write “{out}”: {exc.strerror}.", "Choose a folder you can write to."
        ) from exc
    _emit(
        args,
        {"path": str(out.absolute()), "format": args.format, "bytes": len(data)},
        f"Wrote {out} ({args.format}, {len(data):,} bytes).",
    )
    return EXIT_OK


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
        "import a Character Card (PNG or JSON) into a project (created if new)",
    )
    imp.add_argument("path", help="the .persona file")
    imp.add_argument("file", help="a card: .png or .json (V1, V2 or V3)")

    exp = _add_command(commands, "export", cmd_export, "export the character")
    exp.add_argument("path", help="the .persona file")
    exp.add_argument(
        "--format",
        required=True,
        choices=["card-v2-png", "card-v2-json", "card-v3-json", "naas-plugin"],
    )
    exp.add_argument("--out", required=True, help="the file to write")

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
