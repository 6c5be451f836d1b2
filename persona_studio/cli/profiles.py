"""profile: list, add and remove provider profiles (keys go to the system password store)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from dataclasses import asdict
from typing import Any

from persona_studio.cli.common import EXIT_OK, Parser, add_command, emit
from persona_studio.core.config import (
    PROFILE_KINDS,
    AppConfig,
    ProviderProfile,
    env_profile,
    load_config,
    save_config,
)
from persona_studio.core.trainers import AZURE_TRAINING_CHOICES


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
    emit(args, rows, "\n".join(lines))
    return EXIT_OK


def _read_key(args: argparse.Namespace) -> str | None:
    from persona_studio.services.credentials import cleaned_key

    if args.key_stdin:
        return cleaned_key(sys.stdin.readline())
    if args.ask_key:
        return cleaned_key(getpass.getpass("API key (input hidden): "))
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
        account=args.account or "",
        training_type=AZURE_TRAINING_CHOICES.get(args.training_type or "", ""),
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
    emit(
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
    emit(args, {"removed": args.name}, f"Removed profile “{args.name}” and its key.")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser("profile", help="manage provider profiles")
    actions = profile.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )

    add_command(actions, "list", cmd_profile_list, "list provider profiles")
    add = add_command(actions, "add", cmd_profile_add, "add or update a provider profile")
    add.add_argument("name")
    add.add_argument("--kind", choices=PROFILE_KINDS, default="openai")
    add.add_argument("--base-url", help="API address, e.g. http://localhost:11434/v1")
    add.add_argument("--chat-model", help="default model for the test chat")
    add.add_argument("--finetune-model", help="default base model for fine-tuning")
    add.add_argument("--api-version", help="Azure OpenAI API version")
    add.add_argument("--account", help="Fireworks account ID")
    add.add_argument(
        "--training-type",
        choices=AZURE_TRAINING_CHOICES,
        help="where Azure OpenAI trains: global (cheaper; data leaves your region), standard "
        "(stays in your region) or developer (cheapest, preview); default: Azure decides",
    )
    add.add_argument("--key-env", help="read the API key from this environment variable")
    add.add_argument("--default", action="store_true", help="make it the default profile")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the API key from standard input into the system password store",
    )
    keys.add_argument("--ask-key", action="store_true", help="prompt for the API key")
    remove = add_command(
        actions, "remove", cmd_profile_remove, "remove a profile and its stored key"
    )
    remove.add_argument("name")
