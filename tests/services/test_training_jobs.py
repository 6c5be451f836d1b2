"""Training through the one job owner (`TrainingJobs`) and the OpenAI-API backend, with the real
`openai` client against the stateful local fake and a real project file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.services.training import (
    JobSpec,
    TrainingError,
    TrainingJobs,
    UploadedFiles,
    suffix_error,
)
from persona_studio.services.training.openai_api import (
    OpenAIBackend,
    explain_job_error,
    hyperparameters,
)
from tests.conftest import wait_until
from tests.fakes.contract import check_requests, violations
from tests.fakes.openai_server import FakeOpenAI

MODEL = "gpt-4.1-mini-2025-04-14"
SPEC = "openai-openapi.json.gz"


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-ft", models=(MODEL,)) as fake:
        fake.total_steps = 6
        yield fake


@pytest.fixture
def project(tmp_path: Path):
    with Project.create(tmp_path / "t.persona", Persona(name="Rhea")) as opened:
        opened.set_test_share(0.0)  # counts below are of all approved (test_test_set.py: the rest)
        yield opened


def make_jobs(project: Project, server: FakeOpenAI, **kwargs) -> TrainingJobs:
    async def backend(_profile: str) -> OpenAIBackend:
        return OpenAIBackend(server.client(), profile="gateway")

    return TrainingJobs(project, backend, **kwargs)


def advancing(server: FakeOpenAI):
    """A sleep that lets the fake job take one step while the follower waits."""

    async def sleep(_seconds: float) -> None:
        for job_id, job in server.jobs.items():
            if job["status"] not in ("succeeded", "failed", "cancelled"):
                server.advance_job(job_id)

    return sleep


EXAMPLES = [
    Example.from_qa(
        f"Question {i}?", f"Answer {i}.", status="approved", tags=["a" if i % 2 else "b"]
    )
    for i in range(20)
] + [Example.from_qa("Draft?", "Not trained.")]


async def test_happy_path_uploads_creates_and_follows(server, project) -> None:
    steps: list[str] = []
    jobs = make_jobs(project, server, sleep=advancing(server))
    record = await jobs.launch_job(
        "gateway",
        JobSpec(MODEL, suffix="rhea", n_epochs=3, seed=7, learning_rate_multiplier=0.5),
        EXAMPLES,
        "You are Rhea.",
        validation_split=0.2,
        estimated_cost=1.234,
        on_step=steps.append,
    )
    assert steps == [
        "Uploading the training examples",
        "Uploading the validation examples",
        "Creating the fine-tuning job",
        "Job created",
    ]
    upload = next(r for r in server.requests if r.path == "/v1/files")
    assert b'name="purpose"' in upload.body and b"fine-tune" in upload.body
    lines = server.files[record.training_file]["_data"].decode().splitlines()
    assert len(lines) == 16 and json.loads(lines[0])["messages"][0] == {
        "role": "system",
        "content": "You are Rhea.",
    }
    assert len(server.files[record.validation_file]["_data"].decode().splitlines()) == 4
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
                "learning_rate_multiplier": 0.5,
            }
        },
    }
    assert created["suffix"] == "rhea" and created["seed"] == 7
    assert created["validation_file"] == record.validation_file
    saved = project.job(record.id)
    assert saved is not None and saved.profile == "gateway" and saved.estimated_cost_usd == 1.23
    assert (saved.train_count, saved.validation_count) == (16, 4)

    records = []
    before = len(server.requests)
    async for seen in jobs.follow_job(record.id):
        records.append(seen)
    statuses = [r.status for r in records]
    assert statuses[0] == "validating_files" and statuses[-1] == "succeeded"
    assert "running" in statuses and "queued" in statuses
    final = records[-1]
    assert [m["step"] for m in final.metrics] == [1, 2, 3, 4, 5, 6]
    assert final.metrics[0]["train_loss"] == 2.0 and final.metrics[4]["valid_loss"] == 0.44
    model = f"ft:{MODEL}:fake-org:rhea:abc123"
    assert final.fine_tuned_model == model
    # ≤ 2 requests a look, plus the checkpoints once at the end
    assert (len(server.requests) - before) <= 2 * len(records) + 1
    events = [e["id"] for e in final.events]
    assert len(events) == len(set(events))  # each event exactly once
    # saved, registered on the persona, with where to chat with it
    kept = project.job(record.id)
    assert kept == final
    assert kept.chat_target is not None and kept.chat_target.model == model
    assert kept.checkpoints and kept.checkpoints[0]["model"].startswith("ft:")
    assert project.persona().fine_tuned_model == model
    # which examples it trained on, for the voice check: both files' 20, not the draft
    trained = project.trained_on(model)
    assert trained is not None and len(trained) == 20
    assert [e.id in trained for e in EXAMPLES] == [e.status == "approved" for e in EXAMPLES]
    assert project.trained_on("ft:another") is None
    await wait_until(lambda: not jobs.following(record.id))  # the job ended: nobody polls it
    assert check_requests(SPEC, server.requests) == []  # every request, as OpenAI publishes it


async def test_reattach_after_restart_only_fetches_new_events(server, project) -> None:
    jobs = make_jobs(project, server)
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    server.advance_job(record.id, 4)  # queued, running, 2 steps
    follower = jobs.follow_job(record.id)
    await anext(follower)  # as saved
    first = await anext(follower)  # the first look
    assert [m["step"] for m in first.metrics] == [1, 2]
    await follower.aclose()
    server.advance_job(record.id, 2)
    again = make_jobs(project, server)  # a new process: only the project file is shared
    follower = again.follow_job(record.id)
    await anext(follower)
    later = await anext(follower)
    await follower.aclose()
    assert [m["step"] for m in later.metrics] == [1, 2, 3, 4]
    event_ids = [e["id"] for e in later.events]
    assert len(event_ids) == len(set(event_ids))  # the second look asked only for new ones


async def test_one_poller_per_job_whoever_follows(server, project) -> None:
    jobs = make_jobs(project, server, sleep=advancing(server))
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")

    async def follow() -> list[str]:
        return [r.status async for r in jobs.follow_job(record.id)]

    first, second = await asyncio.gather(follow(), follow())
    assert first[-1] == second[-1] == "succeeded"
    looks = [
        r
        for r in server.requests
        if r.method == "GET" and r.path == f"/v1/fine_tuning/jobs/{record.id}"
    ]
    assert len(looks) <= len(first)  # one poller served both followers


async def test_cancel_and_failed_job(server, project) -> None:
    jobs = make_jobs(project, server)
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    cancelled = await jobs.cancel_job(record.id)
    assert cancelled.status == "cancelled" and project.job(record.id).status == "cancelled"
    other = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    server.fail_job(other.id, "invalid_training_file", "Too few examples.")
    final = [r async for r in jobs.follow_job(other.id)][-1]
    assert final.status == "failed"
    assert explain_job_error(final.error) == (
        "The provider rejected the training file. (Too few examples.)"
    )


async def test_a_cancel_ends_every_follower(server, project) -> None:
    jobs = make_jobs(project, server)
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    seen: list[str] = []

    async def follow() -> None:
        async for r in jobs.follow_job(record.id):
            seen.append(r.status)

    task = asyncio.ensure_future(follow())
    await asyncio.sleep(0.05)
    await jobs.cancel_job(record.id)
    await asyncio.wait_for(task, 5)
    assert seen[-1] == "cancelled"
    assert project.job(record.id).status == "cancelled"  # never flipped back by a late look


async def test_403_means_not_available_to_this_organization(server) -> None:
    backend = OpenAIBackend(server.client())
    file_id = await backend.upload("train.jsonl", b'{"messages": []}\n')
    server.fail_next(
        403, "You are not allowed to create fine-tuning jobs.", type_="invalid_request_error"
    )
    with pytest.raises(TrainingError, match="not available to this organization") as info:
        await backend.create(JobSpec(MODEL), UploadedFiles(file_id))
    assert "another provider profile" in info.value.hint
    await backend.aclose()


async def test_bad_jsonl_is_rejected_at_upload(server) -> None:
    backend = OpenAIBackend(server.client())
    with pytest.raises(TrainingError, match="Line 2"):
        await backend.upload("train.jsonl", b'{"messages": []}\nnot json\n')
    await backend.aclose()


async def test_a_chat_only_server_says_it_cannot_train(server) -> None:
    server.fine_tuning = False  # Ollama, LM Studio: /v1/files and /v1/fine_tuning are 404
    backend = OpenAIBackend(server.client())
    with pytest.raises(TrainingError, match="has no fine-tuning API") as caught:
        await backend.upload("t.jsonl", b'{"messages": []}\n')
    assert "Together AI" in caught.value.hint
    await backend.aclose()


@pytest.mark.parametrize(
    ("status", "message"), [(401, "refused the API key"), (429, "too many requests")]
)
async def test_auth_and_rate_limit_errors(server, status, message) -> None:
    backend = OpenAIBackend(server.client())
    server.fail_next(status, "nope", headers={"retry-after": "1"})
    with pytest.raises(TrainingError, match=message):
        await backend.upload("t.jsonl", b'{"messages": []}\n')
    await backend.aclose()


async def test_following_survives_a_network_drop(server, project) -> None:
    jobs = make_jobs(project, server, sleep=lambda _s: asyncio.sleep(0))
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    server.fail_next(500, "boom")
    follower = jobs.follow_job(record.id)
    await anext(follower)
    first = await anext(follower)  # the look that failed: the record is unchanged
    assert jobs.warning(record.id).startswith("Lost contact") and first.status == "validating_files"
    await anext(follower)
    assert not jobs.warning(record.id)
    await follower.aclose()


async def test_a_refusal_while_following_ends_followers_in_plain_words(server, project) -> None:
    jobs = make_jobs(project, server)
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    server.fail_next(401, "revoked", type_="invalid_request_error")
    with pytest.raises(TrainingError, match="refused the API key"):
        async for _ in jobs.follow_job(record.id):
            pass
    assert "refused the API key" in jobs.warning(record.id)
    assert project.job(record.id).status == "validating_files"  # the record is kept


def test_suffix_rules() -> None:
    assert suffix_error("rhea-v2") is None
    assert "64" in suffix_error("x" * 65)
    assert "letters" in suffix_error("my model!")
    assert hyperparameters(JobSpec(MODEL)) == {
        "n_epochs": "auto",
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
    }


def test_the_contract_check_reads_openais_bounds() -> None:
    """The checker is not vacuous: what OpenAI's document refuses is reported, and its 3.0-style
    `exclusiveMinimum: true` is a bound above 0, not above 1."""
    headers = {"content-type": "application/json"}

    def problems(**hyper: object) -> list[str]:
        method = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
        body = {"model": MODEL, "training_file": "file-1", "method": method}
        path = "/v1/fine_tuning/jobs"
        return violations(SPEC, "POST", path, headers, json.dumps(body).encode(), "/v1")

    assert problems(n_epochs=3, learning_rate_multiplier=0.05, batch_size=8) == []
    for bad in ({"learning_rate_multiplier": 0}, {"n_epochs": 0}, {"batch_size": 512}):
        assert problems(**bad), bad
    assert violations(SPEC, "POST", "/v1/fine_tuning/jobs", headers, b'{"model": "m"}', "/v1")
    assert violations(SPEC, "GET", "/v1/fine_tuning/jobs/ft-1/nonsense", {}, b"", "/v1")


async def test_openai_takes_no_new_jobs_from_6_january_2027(server, project) -> None:
    """Compared with today's date: the day before, a job starts; from the 6th, nothing is
    uploaded and the creator is told where to train instead. Other servers are not affected."""
    from datetime import date

    def jobs_on(day: date, kind: str = "openai", base_url: str = "") -> TrainingJobs:
        async def backend(_profile: str) -> OpenAIBackend:
            return OpenAIBackend(
                server.client(), base_url=base_url, profile_kind=kind, today=lambda: day
            )

        return TrainingJobs(project, backend)

    record = await jobs_on(date(2027, 1, 5)).launch_job("openai", JobSpec(MODEL), EXAMPLES, "")
    assert record.status == "validating_files"
    uploads = len(server.files)
    with pytest.raises(TrainingError, match="no longer accepts new fine-tuning jobs") as caught:
        await jobs_on(date(2027, 1, 6)).launch_job("openai", JobSpec(MODEL), EXAMPLES, "")
    assert "Together AI" in str(caught.value) and len(server.files) == uploads
    gateway = jobs_on(date(2027, 2, 1), "openai-compatible", server.base_url)
    assert (await gateway.launch_job("gw", JobSpec(MODEL), EXAMPLES, "")).status
    backend = OpenAIBackend(server.client(), profile_kind="openai", today=lambda: date(2027, 1, 6))
    try:
        with pytest.raises(TrainingError, match="no longer accepts"):  # the pipeline's resume
            await backend.create(JobSpec(MODEL), UploadedFiles("file-x"))
    finally:
        await backend.aclose()


async def test_a_look_answered_as_the_project_closes_is_dropped(
    server, project, monkeypatch
) -> None:
    """The trainer's answer and the project's closing can come in the same turn of the loop:
    the poller, cancelled too late to stop at that await, read the closed file, and the window
    was told of a change it could not show (seen as a flaky GUI test)."""
    changed: list[str] = []
    jobs = make_jobs(project, server, on_change=lambda record: changed.append(record.status))
    record = await jobs.launch_job("gateway", JobSpec(MODEL), EXAMPLES, "p")
    real = OpenAIBackend.status

    async def answered_as_it_closes(self, job_id, after):
        update = await real(self, job_id, after)
        jobs.close()  # the window closing, between the answer and the poller's next step
        project.close()
        return update

    changed.clear()
    monkeypatch.setattr(OpenAIBackend, "status", answered_as_it_closes)
    follower = jobs.follow_job(record.id)
    await anext(follower)  # as saved
    await asyncio.sleep(0.2)  # the look, answered as the project closes
    assert changed == [] and not jobs.following(record.id)
