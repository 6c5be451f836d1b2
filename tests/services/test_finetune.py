"""Fine-tuning with the real `openai` client against the stateful local fake."""

from __future__ import annotations

import json

import pytest

from persona_studio.core.dataset import Example
from persona_studio.services import finetune
from persona_studio.services.finetune import FineTuneError, TrainSettings
from tests.fakes.openai_server import FakeOpenAI

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-ft", models=(MODEL,)) as fake:
        fake.total_steps = 6
        yield fake


@pytest.fixture
async def client(server):
    async with server.client() as client:
        yield client


EXAMPLES = [
    Example.from_qa(
        f"Question {i}?", f"Answer {i}.", status="approved", tags=["a" if i % 2 else "b"]
    )
    for i in range(20)
] + [Example.from_qa("Draft?", "Not trained.")]


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_happy_path_uploads_creates_and_monitors(server, client) -> None:
    steps: list[str] = []
    launched = await finetune.launch(
        client,
        EXAMPLES,
        "You are Rhea.",
        TrainSettings(MODEL, suffix="rhea", n_epochs=3, seed=7),
        validation_split=0.2,
        on_step=steps.append,
    )
    assert steps == [
        "Uploading the training examples",
        "Uploading the validation examples",
        "Creating the fine-tuning job",
        "Job created",
    ]
    assert (launched.train_count, launched.validation_count) == (16, 4)
    upload = next(r for r in server.requests if r.path == "/v1/files")
    assert b'name="purpose"' in upload.body and b"fine-tune" in upload.body
    lines = server.files[launched.training_file]["_data"].decode().splitlines()
    assert len(lines) == 16 and json.loads(lines[0])["messages"][0] == {
        "role": "system",
        "content": "You are Rhea.",
    }
    created = json.loads(
        next(
            r for r in server.requests if r.path == "/v1/fine_tuning/jobs" and r.method == "POST"
        ).body
    )
    assert created["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {
                "n_epochs": 3,
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
            }
        },
    }
    assert created["suffix"] == "rhea" and created["seed"] == 7
    assert created["validation_file"] == launched.validation_file

    job_id = launched.job["id"]
    updates = []
    before = len(server.requests)
    async for update in finetune.monitor(client, job_id, sleep=_no_sleep):
        updates.append(update)
        server.advance_job(job_id)
    statuses = [u.status for u in updates]
    assert statuses[0] == "validating_files" and statuses[-1] == "succeeded"
    assert "running" in statuses and "queued" in statuses
    metrics = [m for u in updates for m in u.metrics]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert metrics[0]["train_loss"] == 2.0 and metrics[4]["valid_loss"] == 0.44
    assert updates[-1].job["fine_tuned_model"] == f"ft:{MODEL}:fake-org:rhea:abc123"
    assert (len(server.requests) - before) <= 2 * len(updates)  # ≤ 2 requests a poll
    all_events = [e["id"] for u in updates for e in u.new_events]
    assert len(all_events) == len(set(all_events))  # each event exactly once


async def test_reattach_after_restart_only_fetches_new_events(server, client) -> None:
    launched = await finetune.launch(client, EXAMPLES, "p", TrainSettings(MODEL))
    job_id = launched.job["id"]
    server.advance_job(job_id, 4)  # queued, running, 2 steps
    first = await anext(finetune.monitor(client, job_id, sleep=_no_sleep))
    last_seen = first.new_events[-1]["id"]
    server.advance_job(job_id, 2)
    again = await anext(finetune.monitor(client, job_id, last_event=last_seen, sleep=_no_sleep))
    assert [m["step"] for m in again.metrics] == [3, 4]


async def test_cancel_and_failed_job(server, client) -> None:
    launched = await finetune.launch(client, EXAMPLES, "p", TrainSettings(MODEL))
    cancelled = await finetune.cancel(client, launched.job["id"])
    assert cancelled["status"] == "cancelled"
    other = await finetune.launch(client, EXAMPLES, "p", TrainSettings(MODEL))
    server.fail_job(other.job["id"], "invalid_training_file", "Too few examples.")
    update = await anext(finetune.monitor(client, other.job["id"], sleep=_no_sleep))
    assert update.status == "failed"
    assert finetune.explain_job_error(update.job) == (
        "The provider rejected the training file. (Too few examples.)"
    )


async def test_403_means_not_available_to_this_organization(server, client) -> None:
    file_id = await finetune.upload(client, "train.jsonl", b'{"messages": []}\n')
    server.fail_next(
        403, "You are not allowed to create fine-tuning jobs.", type_="invalid_request_error"
    )
    with pytest.raises(FineTuneError, match="not available to this organization") as info:
        await finetune.create_job(client, TrainSettings(MODEL), file_id, None)
    assert "another provider profile" in info.value.hint


async def test_bad_jsonl_is_rejected_at_upload(server, client) -> None:
    with pytest.raises(FineTuneError, match="Line 2"):
        await finetune.upload(client, "train.jsonl", b'{"messages": []}\nnot json\n')


@pytest.mark.parametrize(
    ("status", "message"), [(401, "refused the API key"), (429, "too many requests")]
)
async def test_auth_and_rate_limit_errors(server, client, status, message) -> None:
    server.fail_next(status, "nope", headers={"retry-after": "1"})
    with pytest.raises(FineTuneError, match=message):
        await finetune.upload(client, "t.jsonl", b'{"messages": []}\n')


async def test_monitor_survives_a_network_drop(server, client) -> None:
    launched = await finetune.launch(client, EXAMPLES, "p", TrainSettings(MODEL))
    server.fail_next(500, "boom")
    monitor = finetune.monitor(client, launched.job["id"], sleep=_no_sleep)
    first = await anext(monitor)
    assert first.warning.startswith("Lost contact") and first.status == "unknown"
    second = await anext(monitor)
    assert second.status == "validating_files" and not second.warning
    await monitor.aclose()


def test_suffix_rules() -> None:
    assert finetune.suffix_error("rhea-v2") is None
    assert "64" in finetune.suffix_error("x" * 65)
    assert "letters" in finetune.suffix_error("my model!")
    assert TrainSettings(MODEL).hyperparameters() == {
        "n_epochs": "auto",
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
    }
