"""This computer as a trainer: `models local` (what fits, how long), `models download NAME`,
`models token` (a Hugging Face read token for gated models, into the keyring), and `take` (a
trained model's folders copied, or given to Ollama). Training itself is `train --profile local
--model NAME` and chatting `chat --profile local`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from persona_studio.cli.common import EXIT_OK, add_command, emit, progress
from persona_studio.core.errors import UserFacingError


def cmd_models_local(args: argparse.Namespace) -> int:
    from persona_studio.core.config import data_dir
    from persona_studio.core.local_training import MODELS, fit, summary
    from persona_studio.services.training.local import check_hardware, model_is_here

    tokens, examples = 0, 0
    if args.path:
        from persona_studio.core.project import Project
        from persona_studio.core.validation import model_spec, preflight

        with Project.open(args.path) as project:
            report = preflight(
                project.examples(),
                project.persona(),
                model_spec("gpt-4.1-mini-2025-04-14"),
                test_share=project.test_share,
            )
        tokens, examples = report.billed_tokens, len(report.trained_ids)
    progress(args, "Checking this computer" + ("" if args.quick else " (a few seconds)…"))
    hardware = asyncio.run(check_hardware(data_dir() / "local-training", measure=not args.quick))
    rows = []
    for model in MODELS:
        verdict = fit(model.params_b, tokens, hardware)
        rows.append(
            {
                "model": model.repo,
                "name": model.name,
                "parameters_billion": model.params_b,
                "licence": model.licence,
                "gated": model.gated,
                "fits": verdict.fits,
                "estimate": verdict.reason,
                "seconds": round(verdict.seconds) if verdict.seconds is not None else None,
                "downloaded": model_is_here(model.repo),
            }
        )
    line = summary(hardware, tokens, examples)
    table = "\n".join(
        f"{'✓' if r['fits'] else '✗'} {r['model']:<38} {r['licence']:<28} "
        f"{'downloaded' if r['downloaded'] else '':<11}"
        + (str(r["estimate"]) if args.path or not r["fits"] else "")
        for r in rows
    )
    data = {"hardware": hardware.__dict__, "summary": line, "models": rows}
    emit(args, data, f"{line}\n\n{table}")
    return EXIT_OK


def cmd_models_download(args: argparse.Namespace) -> int:
    from persona_studio.services.credentials import CredentialStore
    from persona_studio.services.training.local import HF_TOKEN_ACCOUNT, download_model

    async def run() -> str:
        token = await CredentialStore().get(HF_TOKEN_ACCOUNT) or ""
        shown = {"at": -1}

        def on_progress(done: int, total: int) -> None:
            percent = int(done * 100 / total) if total else 0
            if percent != shown["at"]:
                shown["at"] = percent
                progress(args, f"{done / 2**20:,.0f} of {total / 2**20:,.0f} MB ({percent} %)")

        return await download_model(args.model, on_progress, token=token)

    path = asyncio.run(run())
    emit(args, {"model": args.model, "path": path}, f"Downloaded {args.model} to {path}.")
    return EXIT_OK


def cmd_models_token(args: argparse.Namespace) -> int:
    from persona_studio.services.credentials import CredentialStore, cleaned_key
    from persona_studio.services.training.local import HF_TOKEN_ACCOUNT

    token = cleaned_key(
        sys.stdin.readline()
        if not sys.stdin.isatty()
        else getpass.getpass("Hugging Face read token (input hidden): "),
        "token",
    )
    if not token:
        raise UserFacingError("No token was given.", "Paste the token from huggingface.co.")
    asyncio.run(CredentialStore().set(HF_TOKEN_ACCOUNT, token))
    emit(args, {"saved": True}, "The token is saved in the system password store.")
    return EXIT_OK


def cmd_take(args: argparse.Namespace) -> int:
    from pathlib import Path

    from persona_studio.core.project import Project
    from persona_studio.services.local_export import (
        copy_folder,
        export_gguf,
        find_gguf_converter,
        ollama_name,
        send_to_ollama,
    )

    with Project.open(args.path) as project:
        record, persona = project.job(args.job), project.persona()
    if record is None:
        raise UserFacingError(
            f"This project has no job “{args.job}”.", f"See `persona-studio jobs {args.path}`."
        )
    if args.ollama is not None:
        name = args.ollama or ollama_name(record, persona.name)
        said = asyncio.run(send_to_ollama(record, name, persona.system_prompt()))
        emit(args, {"job": record.id, "ollama": name}, said)
        return EXIT_OK
    if args.gguf_to:
        from persona_studio.core.config import load_config

        folder = args.llama_cpp or load_config().llama_cpp_dir
        target = Path(args.gguf_to)
        target = target if target.suffix == ".gguf" else target.with_name(f"{target.name}.gguf")
        written = asyncio.run(
            export_gguf(
                record, target, outtype=args.gguf_type, converter=find_gguf_converter(folder)
            )
        )
        emit(args, {"job": record.id, "gguf": str(written)}, f"Saved {written}.")
        return EXIT_OK
    what, folder = ("adapter", args.adapter_to) if args.adapter_to else ("model", args.model_to)
    if not folder:
        raise UserFacingError(
            "Say where to: --model-to FOLDER, --adapter-to FOLDER, --gguf-to FILE or "
            "--ollama [NAME].",
            "See `persona-studio take --help`.",
        )

    def copied(percent: int) -> None:  # each new percent (a merged model: minutes to a stick)
        progress(args, f"Copying the {what} folder… {percent} %")

    target = asyncio.run(copy_folder(record, what, Path(folder), copied))
    emit(args, {"job": record.id, what: str(target)}, f"Copied to {target}.")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser(
        "models", help="models on this computer: what fits, download", description=__doc__
    )
    verbs = models.add_subparsers(dest="models_command", metavar="WHAT", required=True)
    local = add_command(verbs, "local", cmd_models_local, "what this computer can train, how fast")
    local.add_argument("path", nargs="?", help="a .persona file: estimate for its examples")
    local.add_argument("--quick", action="store_true", help="skip the speed measurement")
    download = add_command(
        verbs, "download", cmd_models_download, "download a model from the Hugging Face Hub"
    )
    download.add_argument("model", help="e.g. Qwen/Qwen2.5-0.5B-Instruct")
    add_command(
        verbs, "token", cmd_models_token, "save a Hugging Face read token (for gated models)"
    )
    take = add_command(
        commands, "take", cmd_take, "take a model trained on this computer elsewhere"
    )
    take.add_argument("path", help="the .persona file")
    take.add_argument("job", help="the job id (see `jobs`)")
    where = take.add_mutually_exclusive_group()
    where.add_argument("--model-to", metavar="FOLDER", help="copy the merged model folder there")
    where.add_argument("--adapter-to", metavar="FOLDER", help="copy the LoRA adapter there")
    where.add_argument(
        "--ollama", nargs="?", const="", metavar="NAME", help="create an Ollama model from it"
    )
    where.add_argument(
        "--gguf-to", metavar="FILE", help="write one GGUF file (needs llama.cpp's converter)"
    )
    take.add_argument(
        "--gguf-type", choices=("q8_0", "f16"), default="q8_0",
        help="q8_0: about half the size, nearly the same replies (default); f16: as trained",
    )  # fmt: skip
    take.add_argument(
        "--llama-cpp", metavar="FOLDER",
        help="the llama.cpp folder (else the settings', $LLAMA_CPP_DIR, ~/llama.cpp or PATH)",
    )  # fmt: skip
