"""Training on this computer, end to end on the CPU: a tiny Llama-shaped model is built in the
test (random weights, a tokenizer trained on the examples' text, a chat template; nothing is
downloaded), the real local backend trains it in its worker process with TRL + PEFT, and the
result answers through the real local chat server (`transformers serve`) and the real `openai`
client. Also: cancel keeps a checkpoint and resume carries on from it; a killed worker is a
failed job in plain words.

These need the `local` extra. CI installs it (and sets CI), so there they fail rather than skip.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from persona_studio.core.config import local_profile
from persona_studio.core.dataset import Example
from persona_studio.core.local_training import read_progress
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import JobSpec, TrainingError, TrainingJobs
from persona_studio.services.training.local import LocalBackend
from persona_studio.services.training.openai_api import explain_job_error
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.tiny_model import MEMORISE, QA, SYSTEM, build, require_local_extra

require_local_extra()
EXAMPLES = [Example.from_qa(q, a, status="approved") for q, a in QA]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def project(tmp_path: Path):
    with Project.create(tmp_path / "t.persona", Persona(name="Rhea")) as opened:
        opened.set_test_share(0.0)
        yield opened


def make_jobs(project: Project, root: Path) -> TrainingJobs:
    async def backend(_profile: str) -> LocalBackend:
        return LocalBackend(root)

    return TrainingJobs(project, backend, poll=0.2)


async def follow_until(jobs: TrainingJobs, job_id: str, done, timeout: float = 240.0):
    async def watch():
        async for record in jobs.follow_job(job_id):
            if done(record):
                return record
        return jobs.project.job(job_id)

    return await asyncio.wait_for(watch(), timeout)


async def ask(client, model: str, question: str) -> str:
    answer = await client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        max_tokens=24,
        temperature=0,
    )
    return (answer.choices[0].message.content or "").strip()


async def test_train_watch_the_loss_fall_and_chat_beside_the_base_model(
    project: Project, tiny_model: Path, tmp_path: Path
) -> None:
    jobs = make_jobs(project, tmp_path / "local")
    record = await jobs.launch_job(
        "local", JobSpec(str(tiny_model), suffix="rhea", **MEMORISE), EXAMPLES, SYSTEM
    )
    assert record.status == "queued" and record.id.startswith("local-")
    record = await follow_until(jobs, record.id, lambda r: r.terminal)

    assert record.status == "succeeded", record.error
    losses = [m["train_loss"] for m in record.metrics if "train_loss" in m]
    assert losses[-1] < losses[0] / 10  # it learnt: first vs last logged loss
    assert record.metrics[-1]["step"] == record.metrics[-1]["total_steps"] == 60
    assert record.metrics[-1]["tokens_per_s"] > 0
    folder = tmp_path / "local" / record.id
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    assert record.chat_target is not None and record.chat_target.profile == "local"
    assert record.fine_tuned_model == str(folder / "model")
    assert project.persona().fine_tuned_model == str(folder / "model")  # registered
    assert record.checkpoints and record.checkpoints[0]["step"] == 60
    assert any("Preparing the model for chat" in e["message"] for e in record.events)

    # chat through the real local server, as the Chat tab does (the built-in profile)
    from persona_studio.services.local_server import base_model_of, stop_local_server
    from persona_studio.services.providers import client_for

    try:
        client = await client_for(local_profile(), CredentialStore(MemoryKeyring()))
        assert str(client.base_url).startswith("http://127.0.0.1:")
        trained = await ask(client, record.fine_tuned_model, "How do I breathe?")
        assert trained == "Breathe in for three steps, out for two."
        base = base_model_of(record.fine_tuned_model)
        assert base == str(tiny_model)
        assert await ask(client, base, "How do I breathe?") != trained
    finally:
        stop_local_server()


async def test_cancel_keeps_a_checkpoint_and_resume_carries_on(
    project: Project, tiny_model: Path, tmp_path: Path
) -> None:
    jobs = make_jobs(project, tmp_path / "local")
    spec = JobSpec(str(tiny_model), **{**MEMORISE, "n_epochs": 80})  # 400 steps
    record = await jobs.launch_job("local", spec, EXAMPLES, SYSTEM)
    record = await follow_until(
        jobs, record.id, lambda r: any("Checkpoint saved" in e["message"] for e in r.events)
    )
    record = await jobs.cancel_job(record.id)
    assert record.status == "cancelled"
    checkpoints = await LocalBackend(tmp_path / "local").checkpoints(record.id)
    stopped_at = checkpoints[0]["step"]
    assert stopped_at >= 80  # the first save (a fifth of the run), or the one cancel made
    last_before = record.metrics[-1]["step"]

    with pytest.raises(TrainingError):  # a running or finished job cannot be resumed
        await jobs.resume_job("local-nothing")
    record = await jobs.resume_job(record.id)
    assert record.status == "queued"
    record = await follow_until(jobs, record.id, lambda r: r.terminal)
    assert record.status == "succeeded", record.error
    assert record.metrics[-1]["step"] == 400 and record.metrics[0]["step"] <= last_before
    progress = (tmp_path / "local" / record.id / "progress.jsonl").read_text()
    after = read_progress(progress[progress.index('"type": "resume"') :]).metrics
    assert after[0]["step"] > stopped_at  # carried on from the checkpoint, not from zero
    assert any(f"Resuming from step {stopped_at}" in e["message"] for e in record.events)


async def test_a_killed_worker_is_a_failed_job_in_plain_words(
    project: Project, tiny_model: Path, tmp_path: Path
) -> None:
    jobs = make_jobs(project, tmp_path / "local")
    spec = JobSpec(str(tiny_model), **{**MEMORISE, "n_epochs": 400})
    record = await jobs.launch_job("local", spec, EXAMPLES, SYSTEM)
    record = await follow_until(jobs, record.id, lambda r: bool(r.metrics))
    pid = int((tmp_path / "local" / record.id / "worker.pid").read_text())
    os.killpg(pid, signal.SIGSEGV)  # as a crash in torch's C code would
    record = await follow_until(jobs, record.id, lambda r: r.terminal, timeout=30)
    assert record.status == "failed"
    assert record.error is not None
    said = explain_job_error(record.error)
    assert said.startswith("Training stopped unexpectedly") and "Resume it" in said
    assert "worker.log" in said  # where the stack below is
    log = (tmp_path / "local" / record.id / "worker.log").read_text("utf-8", errors="replace")
    assert "Fatal Python error: Segmentation fault" in log  # its stack, for a report


def test_only_the_replies_are_learnt_and_weight_zero_is_not(tiny_model: Path) -> None:
    """The worker's tokenisation, run where it runs (its own process: torch stays out of this
    one): the mask covers each learnt reply's words and end token, never the system prompt,
    the question, the reply's header, or a reply marked `weight: 0`."""
    import json
    import subprocess
    import sys

    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "How do I breathe?"},
        {"role": "assistant", "content": "Not like this.", "weight": 0},
        {"role": "user", "content": "Really?"},
        {"role": "assistant", "content": "Breathe in for three steps, out for two."},
    ]
    code = (
        "import json, sys\n"
        "from transformers import AutoTokenizer\n"
        "from persona_studio.worker.train import tokenise\n"
        f"t = AutoTokenizer.from_pretrained({str(tiny_model)!r})\n"
        "row = tokenise(t, json.loads(sys.stdin.read()), 2048)\n"
        "ids, mask = row['input_ids'], row['assistant_masks']\n"
        "print(json.dumps({'learnt': t.decode([i for i, m in zip(ids, mask) if m]),"
        " 'all': t.decode(ids), 'same_length': len(ids) == len(mask)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(messages), capture_output=True,
        text=True, check=True, timeout=120,
    )  # fmt: skip
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["same_length"]
    # the reply, its end token, and the template's newline after it (harmless: generation
    # stops at the end token)
    assert row["learnt"] == "Breathe in for three steps, out for two.<|im_end|>\n"
    assert "Not like this." in row["all"] and "Really?" in row["all"]


async def test_a_closed_app_leaves_the_training_running_and_a_new_one_finds_it(
    project: Project, tiny_model: Path, tmp_path: Path
) -> None:
    jobs = make_jobs(project, tmp_path / "local")
    spec = JobSpec(str(tiny_model), **{**MEMORISE, "n_epochs": 6, "batch_size": None})
    record = await jobs.launch_job("local", spec, EXAMPLES, SYSTEM)
    assert record.hyperparameters and record.hyperparameters["batch_size"] == "auto"
    await follow_until(jobs, record.id, lambda r: bool(r.metrics))
    jobs.close()  # the app quits: its pollers stop; the worker goes on in its own session
    again = make_jobs(project, tmp_path / "local")  # the app starts again
    record = await follow_until(again, record.id, lambda r: r.terminal)
    assert record.status == "succeeded" and record.fine_tuned_model
    # batch left on auto: 4 on a processor (10 examples: 3 steps an epoch)
    assert record.metrics[-1]["step"] == record.metrics[-1]["total_steps"] == 18
    assert record.hyperparameters and record.hyperparameters["batch_size"] == 4
    assert any(e["message"] == "Training 4 examples a step" for e in record.events)
