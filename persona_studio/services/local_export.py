"""Take a model trained on this computer elsewhere: a copy of its LoRA adapter or of the merged
model folder, an Ollama model made from the merged folder (`ollama create`, when Ollama is
installed; otherwise the Modelfile and the command to run), and a GGUF file.

The merged folder is a normal Hugging Face model folder: Ollama imports it for the Llama, Gemma,
Qwen and Mistral families it supports. GGUF (llama.cpp, LM Studio, Jan…) is written by
llama.cpp's own converter, `convert_hf_to_gguf.py`, when it is on this computer: a llama.cpp
folder (its `gguf-py` beside it; run with this app's Python, which has torch and transformers
with the `local` extra), or the converter installed on the PATH (e.g. by Homebrew, run as it
is). The converter knows each model family's tensor names and tokenizer, which a copy here
would not keep up with; without it the app says where to get it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from persona_studio.core.errors import UserFacingError
from persona_studio.core.records import JobRecord

OLLAMA_TIMEOUT = 1800.0  # seconds: importing a few GB of weights takes minutes
GGUF_TIMEOUT = 3600.0  # seconds: converting a 4B model on a slow disk takes minutes
GGUF_TYPES = {  # the converter's --outtype values we offer, in plain words
    "q8_0": "8-bit (Q8_0): about half the size of 16-bit, nearly the same replies",
    "f16": "16-bit (F16): the model as trained, twice the size",
}
CONVERTER = "convert_hf_to_gguf.py"
CONVERTER_ON_PATH = (CONVERTER, "convert-hf-to-gguf", "convert_hf_to_gguf")
COPY_CHUNK = 8 * 1024 * 1024  # bytes a folder's copy writes between its progress and Stop checks
COPY_HINT = "Check that the drive is plugged in, has room, and can be written to; then try again."
TAIL_BYTES = 8192  # what is kept of the converter's output (for its error): bounded
_PERCENT = re.compile(rb"(\d{1,3})%\|")  # tqdm's bar, as the converter writes tensors
NO_CONVERTER = (
    "Writing GGUF needs llama.cpp's converter, which was not found on this computer.",
    "Get llama.cpp (github.com/ggml-org/llama.cpp: download or clone it, or "
    "`brew install llama.cpp`) and choose its folder; or use “Send to Ollama”, which "
    "converts the model itself.",
)


def job_folder(record: JobRecord) -> Path:
    """The job's folder on this computer (the merged model is its `model/`)."""
    model = Path(record.fine_tuned_model or "")
    if not record.fine_tuned_model or not (model / "config.json").is_file():
        raise UserFacingError(
            "This job's trained model is not on this computer.",
            "Only a finished training on this computer can be taken elsewhere.",
        )
    return model.parent


def ollama_name(record: JobRecord, persona_name: str) -> str:
    """A name Ollama accepts: lower case letters, digits, dashes ("coach-rhea-ab12cd")."""
    base = re.sub(r"[^a-z0-9]+", "-", (record.suffix or persona_name or "persona").lower())
    return f"{base.strip('-') or 'persona'}-{record.id[-6:].lower()}"


def modelfile(model: Path, system_prompt: str) -> str:
    """An Ollama Modelfile: the merged folder, the persona's system prompt."""
    system = system_prompt.replace('"""', '" " "')  # the Modelfile's own quoting cannot nest
    return f'FROM {model}\nSYSTEM """{system}"""\nPARAMETER temperature 0.7\n'


async def copy_folder(
    record: JobRecord,
    what: str,
    destination: Path,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Copy the job's `adapter` or `model` folder into `destination` (a new folder), its
    progress in percent to `progress`. A merged model is gigabytes (~8 GB for a 4B model:
    minutes to a USB stick), so the copy is written under a name ending ".part" and takes its
    own only once whole; cancelling it (Stop) or a failure (a full drive) removes what was
    written, and a failure says why in plain words."""
    source = job_folder(record) / what
    target = destination / f"{source.parent.name}-{what}"
    cannot = f"Could not copy the {what} folder to {destination}"
    try:
        files, partial = await asyncio.to_thread(_ready_to_copy, source, target, cannot)
    except OSError as exc:
        raise UserFacingError(f"{cannot}: {exc.strerror or exc}.", COPY_HINT) from exc
    stop, loop = threading.Event(), asyncio.get_running_loop()

    def said(percent: int) -> None:  # (from the copy's thread)
        if progress is not None:
            loop.call_soon_threadsafe(progress, percent)

    copying = loop.run_in_executor(None, _copy_files, files, source, partial, stop, said)
    try:
        await asyncio.shield(copying)
        await asyncio.to_thread(_take_its_name, partial, target)
    except BaseException as exc:
        stop.set()
        with contextlib.suppress(BaseException):
            await copying  # (it stops at its next chunk)
        await asyncio.to_thread(shutil.rmtree, partial, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UserFacingError(f"{cannot}: {exc.strerror or exc}.", COPY_HINT) from exc
        raise
    return target


def _ready_to_copy(source: Path, target: Path, cannot: str) -> tuple[list[tuple[Path, int]], Path]:
    """The files to copy and the folder they go into first, once `target` is free and its
    drive has room for them. In a worker thread: a drive asleep takes seconds to answer."""
    if not source.is_dir():
        raise UserFacingError(f"The job has no {source.name} folder.", "Train again.")
    if target.exists():
        raise UserFacingError(f"{target} already exists.", "Choose another folder.")
    files = _files_under(source)
    total, free = sum(size for _, size in files), shutil.disk_usage(target.parent).free
    if free < total:
        raise UserFacingError(
            f"{cannot}: it needs {_size(total)} and only {_size(free)} is free there.",
            "Free some space, or choose another folder or drive.",
        )
    # (in sight: a copy a crash cut short is seen, not gigabytes hidden)
    partial = tempfile.mkdtemp(prefix=f"{target.name}-", suffix=".part", dir=target.parent)
    return files, Path(partial)


def _take_its_name(partial: Path, target: Path) -> None:
    if target.exists():  # (made meanwhile, by someone else)
        raise UserFacingError(f"{target} already exists.", "Choose another folder.")
    partial.rename(target)


def _files_under(folder: Path) -> list[tuple[Path, int]]:
    """Every file under `folder`, with its size (a link's, its target's)."""
    return [
        (path, path.stat().st_size)
        for root, _dirs, names in os.walk(folder)
        for path in (Path(root) / name for name in sorted(names))
    ]


def _copy_files(
    files: list[tuple[Path, int]],
    source: Path,
    into: Path,
    stop: threading.Event,
    said: Callable[[int], None],
) -> None:
    """Copy `files` from under `source` to under `into`, a chunk at a time: between chunks it
    says each new percent and stops when `stop` is set."""
    total, done, shown = sum(size for _, size in files) or 1, 0, -1
    for path, _size_then in files:
        copy = into / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as read, copy.open("wb") as write:
            while chunk := read.read(COPY_CHUNK):
                if stop.is_set():
                    return
                write.write(chunk)
                done += len(chunk)
                if (percent := min(100, done * 100 // total)) != shown:
                    said(shown := percent)
        shutil.copymode(path, copy)
    shutil.copymode(source, into)  # (made private, as a temporary folder is)


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"


async def send_to_ollama(record: JobRecord, name: str, system_prompt: str) -> str:
    """Create the Ollama model `name` from the merged folder; returns what Ollama said.
    Without Ollama, the Modelfile is still written and the error says the command to run."""
    folder = job_folder(record)
    path = folder / "Modelfile"
    try:
        await asyncio.to_thread(
            path.write_text, modelfile(folder / "model", system_prompt), encoding="utf-8"
        )
    except OSError as exc:
        raise UserFacingError(
            f"Could not write Ollama's Modelfile in {folder}: {exc.strerror or exc}.",
            "Check that the training's folder is still there and can be written to.",
        ) from exc
    command = ["ollama", "create", name, "-f", str(path)]
    program = shutil.which("ollama")
    if program is None:
        raise UserFacingError(
            "Ollama is not installed on this computer.",
            f"Install it from ollama.com, then run: {' '.join(command)}",
        )
    try:
        process = await asyncio.create_subprocess_exec(
            program, *command[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:  # (a broken install: not a program this computer can run)
        raise UserFacingError(
            f"Ollama could not be started ({program}): {exc.strerror or exc}.",
            f"Reinstall it from ollama.com, then try again or run: {' '.join(command)}",
        ) from exc
    try:
        out, _ = await asyncio.wait_for(process.communicate(), OLLAMA_TIMEOUT)
    except (asyncio.CancelledError, TimeoutError):
        process.kill()
        await process.wait()
        raise
    said = out.decode("utf-8", "replace").strip()
    if process.returncode != 0:
        raise UserFacingError(
            f"Ollama could not create the model: {said.splitlines()[-1] if said else 'no reason'}",
            "Ollama imports Llama, Gemma, Qwen and Mistral models; for others, convert the "
            "model folder with llama.cpp first.",
        )
    return f"Ollama has the model “{name}”: run `ollama run {name}`."


def find_gguf_converter(folder: str = "") -> Path | None:
    """llama.cpp's converter: in `folder` (a llama.cpp folder the creator chose), in
    $LLAMA_CPP_DIR, in ~/llama.cpp, or on the PATH; None when it is nowhere."""
    folders = [folder, os.environ.get("LLAMA_CPP_DIR", ""), str(Path.home() / "llama.cpp")]
    candidates = [Path(f) / CONVERTER for f in folders if f]
    candidates += [Path(found) for name in CONVERTER_ON_PATH if (found := shutil.which(name))]
    return next((c for c in candidates if c.is_file()), None)


def converter_command(converter: Path) -> list[str]:
    """How to run it: a llama.cpp folder's script with this app's Python (the script puts the
    folder's own `gguf-py` first on its path); an installed one as it is (its own Python)."""
    if (converter.parent / "gguf-py").is_dir() and not getattr(sys, "frozen", False):
        return [sys.executable, str(converter)]
    return [str(converter)]


def _converter_error(output: bytes) -> UserFacingError:
    """The converter's failure in plain words: its last line, and what to do."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    last = next((line for line in reversed(lines) if line and "%|" not in line), "no reason")
    if "ModuleNotFoundError" in last or "No module named" in last:
        hint = (
            "The converter needs Python packages of its own: in the llama.cpp folder run "
            "`pip install -r requirements/requirements-convert_hf_to_gguf.txt`."
        )
    elif "not supported" in last.lower():
        hint = "This llama.cpp does not know the model's family: update llama.cpp."
    else:
        hint = "Update llama.cpp, or use “Send to Ollama”, which converts the model itself."
    return UserFacingError(f"llama.cpp could not convert the model: {last[:300]}", hint)


async def export_gguf(
    record: JobRecord,
    destination: Path,
    *,
    outtype: str = "q8_0",
    converter: Path | None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the merged model as one GGUF file at `destination` with llama.cpp's converter
    (its progress in percent to `progress`). The file appears only once it is complete and
    starts as a GGUF file does; cancelling stops the converter and leaves nothing."""
    if outtype not in GGUF_TYPES:
        raise UserFacingError(f"“{outtype}” is not a GGUF type offered here.", "Use q8_0 or f16.")
    model = job_folder(record) / "model"
    if converter is None:
        raise UserFacingError(*NO_CONVERTER)
    if destination.exists():
        raise UserFacingError(f"{destination} already exists.", "Choose another name.")
    partial = destination.with_name(destination.name + ".part")
    command = [*converter_command(converter), str(model), "--outfile", str(partial)]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            "--outtype",
            outtype,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        raise UserFacingError(
            f"llama.cpp's converter could not be started: {exc.strerror or exc}.",
            "Check that the llama.cpp folder is complete, or choose it again.",
        ) from exc
    tail = bytearray()

    async def read() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(4096):
            tail.extend(chunk)
            del tail[:-TAIL_BYTES]
            if progress is not None and (found := _PERCENT.findall(chunk)):
                progress(min(100, int(found[-1])))

    try:
        await asyncio.wait_for(asyncio.gather(read(), process.wait()), GGUF_TIMEOUT)
    except (asyncio.CancelledError, TimeoutError):
        if process.returncode is None:
            process.kill()
            await process.wait()
        partial.unlink(missing_ok=True)
        raise
    if process.returncode != 0:
        partial.unlink(missing_ok=True)
        raise _converter_error(bytes(tail))
    try:
        with partial.open("rb") as written:
            magic = written.read(4)
    except OSError:
        magic = b""
    if magic != b"GGUF":
        partial.unlink(missing_ok=True)
        raise UserFacingError(
            "llama.cpp's converter finished without writing a GGUF file.",
            "Update llama.cpp and try again.",
        )
    try:
        await asyncio.to_thread(os.replace, partial, destination)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserFacingError(
            f"Could not name the GGUF file {destination.name}: {exc.strerror or exc}.", COPY_HINT
        ) from exc
    return destination
