"""Take a model trained on this computer elsewhere: a copy of its LoRA adapter or of the merged
model folder, and an Ollama model made from the merged folder (`ollama create`, when Ollama is
installed; otherwise the Modelfile and the command to run).

The merged folder is a normal Hugging Face model folder: Ollama imports it for the Llama, Gemma,
Qwen and Mistral families it supports, and llama.cpp's `convert_hf_to_gguf.py` turns it into
GGUF. The app does not convert to GGUF itself (llama.cpp is not a dependency); it says so.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from persona_studio.core.errors import UserFacingError
from persona_studio.core.records import JobRecord

OLLAMA_TIMEOUT = 1800.0  # seconds: importing a few GB of weights takes minutes


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


async def copy_folder(record: JobRecord, what: str, destination: Path) -> Path:
    """Copy the job's `adapter` or `model` folder into `destination` (a new folder)."""
    source = job_folder(record) / what
    if not source.is_dir():
        raise UserFacingError(f"The job has no {what} folder.", "Train again.")
    target = destination / f"{job_folder(record).name}-{what}"
    if target.exists():
        raise UserFacingError(f"{target} already exists.", "Choose another folder.")
    await asyncio.to_thread(shutil.copytree, source, target)
    return target


async def send_to_ollama(record: JobRecord, name: str, system_prompt: str) -> str:
    """Create the Ollama model `name` from the merged folder; returns what Ollama said.
    Without Ollama, the Modelfile is still written and the error says the command to run."""
    folder = job_folder(record)
    path = folder / "Modelfile"
    await asyncio.to_thread(
        path.write_text, modelfile(folder / "model", system_prompt), encoding="utf-8"
    )
    command = ["ollama", "create", name, "-f", str(path)]
    program = shutil.which("ollama")
    if program is None:
        raise UserFacingError(
            "Ollama is not installed on this computer.",
            f"Install it from ollama.com, then run: {' '.join(command)}",
        )
    process = await asyncio.create_subprocess_exec(
        program, *command[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
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
