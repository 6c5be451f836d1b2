"""chat: one message to the character, its reply streamed (offline engine or a profile)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from persona_studio.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_command,
    chosen_profile,
    printable,
)
from persona_studio.core.config import ProviderProfile, load_config
from persona_studio.core.project import Project


def cmd_chat(args: argparse.Namespace) -> int:
    from persona_studio.core.retrieval import RetrievalIndex
    from persona_studio.services import providers
    from persona_studio.services.chat import ChatSettings, reply
    from persona_studio.services.credentials import CredentialStore

    with Project.open(args.path) as project:
        persona, rules, examples = project.persona(), project.rules(), project.examples()
        target = project.chat_target(persona.fine_tuned_model)
    config = load_config()
    store = CredentialStore()
    offline = args.engine == "offline" or (args.profile is None and args.mode is None)
    settings = ChatSettings(mode="offline")
    if not offline:
        profile = chosen_profile(config, args.profile)
        mode = (args.mode or ("finetuned" if persona.fine_tuned_model else "persona")).replace(
            "fine-tuned", "finetuned"
        )
        settings = ChatSettings(mode=mode, profile=profile, model=args.model or "", target=target)

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
                print(printable(f"[rules: {'; '.join(fired)}]"), file=sys.stderr)
            elif event.kind == "delta":
                text += event.text
                if not args.json:
                    print(printable(event.text), end="", flush=True)
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
            print(
                ("\n" if text else "") + printable(f"persona-studio: {last['text']}"),
                file=sys.stderr,
            )
        return EXIT_FAILURE
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    chat = add_command(
        commands, "chat", cmd_chat, "send one message to the character and stream its reply"
    )
    chat.add_argument("path", help="the .persona file")
    chat.add_argument("message")
    chat.add_argument("--profile", help="provider profile (default: the offline engine)")
    chat.add_argument("--model", help="model name (default: the profile's chat model)")
    chat.add_argument("--engine", choices=["offline"], help="answer from the dataset, no model")
    chat.add_argument(
        "--mode",
        choices=["finetuned", "fine-tuned", "persona", "retrieval"],
        help="how to prompt the model (fine-tuned: the character's trained model, asked "
        "through the profile it was trained with)",
    )
