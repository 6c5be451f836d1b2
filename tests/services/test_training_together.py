"""Training at Together AI: the real backend, through `backend_for` and the real `openai` client,
against the stateful fake built from Together's published OpenAPI document; every request sent
is checked against that document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.validation import default_epochs
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import (
    JobSpec,
    TrainingError,
    TrainingJobs,
    UploadedFiles,
    backend_for,
)
from persona_studio.services.training.together import DEDICATED_NOTE, TogetherBackend
from tests.fakes.contract import check_requests, violations
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.together_server import FakeTogether
from tests.fakes.training import stepping_jobs

SPEC = "together-openapi.json.gz"
SERVERLESS = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
DEDICATED = "Qwen/Qwen3-8B"
EXAMPLES = [Example.from_qa(f"Question {i}?", f"Answer {i}.", status="approved") for i in range(20)]


@pytest.fixture
def server():
    with FakeTogether(api_key="tg-good") as fake:
        fake.total_steps = 6
        fake.checkpoint_every = 3
        yield fake
        assert check_requests(SPEC, fake.requests) == []  # every request the app sent


@pytest.fixture
def project(tmp_path: Path):
    with Project.create(tmp_path / "t.persona", Persona(name="Rhea")) as opened:
        opened.set_test_share(0.0)  # counts below are of all approved (test_test_set.py: the rest)
        yield opened


@pytest.fixture
async def store():
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:together", "tg-good")
    return store


def profile(server: FakeTogether) -> ProviderProfile:
    return ProviderProfile(name="together", kind="together", base_url=server.base_url)


def make_jobs(project: Project, server: FakeTogether, store: CredentialStore) -> TrainingJobs:
    return stepping_jobs(
        project, profile(server), store, server, ("completed", "error", "cancelled")
    )


async def test_launch_follow_and_chat_with_the_result(server, project, store) -> None:
    jobs = make_jobs(project, server, store)
    record = await jobs.launch_job(
        "together",
        JobSpec(SERVERLESS, suffix="rhea", seed=7),
        EXAMPLES,
        "You are Rhea.",
        validation_split=0.2,
        estimated_cost=9.99,
    )
    sent = server.jobs[record.id]["_request"]
    # epochs left on auto: Together defaults to 1, so the app sends its own dataset-sized choice
    assert sent["n_epochs"] == default_epochs(16)
    assert sent["training_type"] == {"type": "Lora", "lora_r": 16, "lora_alpha": 32}
    assert sent["n_evals"] > 0 and sent["validation_file"] and sent["random_seed"] == 7
    assert record.status == "queued"
    assert record.estimated_cost_usd == pytest.approx(
        server._estimate(sent)["estimated_total_price"], abs=0.01
    )  # Together's own price replaced the app's estimate

    seen = [r async for r in jobs.follow_job(record.id)]
    final = seen[-1]
    assert final.status == "succeeded"
    assert [m["step"] for m in final.metrics] == [1, 2, 3, 4, 5, 6]  # no step twice
    assert final.metrics[0]["train_loss"] > final.metrics[-1]["train_loss"]
    assert [m["valid_loss"] is not None for m in final.metrics].count(True) == 2
    assert final.metrics[-1]["total_steps"] == 6
    assert final.trained_tokens == 12345
    assert [c["step"] for c in final.checkpoints] == [6, 3]
    assert "Job finished" in [e["message"] for e in final.events]
    assert len({e["id"] for e in final.events}) == len(final.events)  # no event twice
    target = final.chat_target
    assert target is not None and target.base_url == server.base_url and not target.note
    assert target.model == server.jobs[record.id]["model_output_name"]
    assert project.persona().fine_tuned_model == target.model

    # the Chat tab's fine-tuned mode: the same profile, the registered model
    client = await providers.client_for(profile(server), store, max_retries=0)
    async with client:
        reply = await client.chat.completions.create(
            model=target.model, messages=[{"role": "user", "content": "Hello"}]
        )
    assert reply.choices[0].message.content == "Echo: Hello"


async def test_a_base_without_serverless_lora_says_what_to_do(server, project, store) -> None:
    jobs = make_jobs(project, server, store)
    record = await jobs.launch_job("together", JobSpec(DEDICATED), EXAMPLES, "")
    final = [r async for r in jobs.follow_job(record.id)][-1]
    assert final.chat_target is not None and final.chat_target.note == DEDICATED_NOTE
    assert project.job(record.id).chat_target.note == DEDICATED_NOTE  # saved with the job


async def test_failure_is_reported_with_togethers_reason(server, project, store) -> None:
    jobs = make_jobs(project, server, store)
    record = await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    server.advance_job(record.id, 2)
    server.fail_job(record.id, "", "CUDA out of memory on the training node")
    final = [r async for r in jobs.follow_job(record.id)][-1]
    assert final.status == "failed"
    assert final.error == {
        "code": "together_error",
        "message": "CUDA out of memory on the training node",
    }
    assert project.persona().fine_tuned_model == ""


async def test_cancel_ends_the_job_and_its_followers(server, project, store) -> None:
    jobs = make_jobs(project, server, store)
    record = await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    server.advance_job(record.id, 3)
    cancelled = await jobs.cancel_job(record.id)
    assert cancelled.status == "cancelled" and project.job(record.id).status == "cancelled"
    assert server.jobs[record.id]["status"] == "cancelled"


async def test_a_price_above_the_accounts_limit_starts_nothing(server, project, store) -> None:
    server.credit_limit = 0.0
    jobs = make_jobs(project, server, store)
    with pytest.raises(TrainingError, match="above what the account may spend") as caught:
        await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    assert "Add credit" in caught.value.hint
    assert server.jobs == {} and project.jobs() == []


async def test_wrong_key_and_unknown_model_are_plain(server, project, store) -> None:
    await store.set("provider:together", "tg-wrong")
    jobs = make_jobs(project, server, store)
    with pytest.raises(TrainingError, match="refused the API key"):
        await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    await store.set("provider:together", "tg-good")
    with pytest.raises(TrainingError, match="not supported for fine-tuning"):
        await jobs.launch_job("together", JobSpec("someone/unknown-model"), EXAMPLES, "")
    with pytest.raises(TrainingError, match="Together cannot fine-tune"):
        await jobs.launch_job("together", JobSpec("gpt-4.1-mini-2025-04-14"), EXAMPLES, "")


async def test_lost_contact_is_ridden_out_and_a_refusal_ends_the_follow(
    server, project, store
) -> None:
    jobs = make_jobs(project, server, store)
    record = await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    server.fail_next(429, "rate limited", headers={"retry-after": "0"})
    server.fail_next(500, "upstream")
    final = [r async for r in jobs.follow_job(record.id)][-1]
    assert final.status == "succeeded"  # two bad answers, then on to the end

    second = await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    server.fail_next(403, "forbidden", type_="permission_error")
    with pytest.raises(TrainingError, match="not allowed"):
        _ = [r async for r in jobs.follow_job(second.id)]
    assert project.job(second.id).status == "queued"  # the record is kept as it was


async def test_resume_creates_on_uploaded_files_and_reattaches(server, project, store) -> None:
    backend = await backend_for(profile(server), store, max_retries=0)
    try:
        training = await backend.upload("train.jsonl", b'{"messages": []}\n')
        uploads = len(server.files)
        jobs = make_jobs(project, server, store)
        record = await jobs.create_job(
            backend, "together", JobSpec(SERVERLESS, n_epochs=2), UploadedFiles(training)
        )
    finally:
        await backend.aclose()
    assert len(server.files) == uploads  # nothing uploaded twice
    # after a restart: a new owner of the same project follows the job to its end
    later = make_jobs(project, server, store)
    final = [r async for r in later.follow_job(record.id)][-1]
    assert final.status == "succeeded" and final.fine_tuned_model


async def test_upload_waits_until_together_has_checked_the_file(server, store) -> None:
    server.processed_after = 2
    backend = await backend_for(profile(server), store, max_retries=0)
    assert isinstance(backend, TogetherBackend)
    backend.upload_poll = 0.0
    try:
        file_id = await backend.upload("train.jsonl", b'{"messages": []}\n')
    finally:
        await backend.aclose()
    assert server.files[file_id]["Processed"]
    assert [r.path for r in server.requests].count(f"/v1/files/{file_id}") == 2


async def test_connection_test_and_live_model_list(server, store) -> None:
    report = await providers.test_connection(profile(server), store)
    assert report.ok and report.models == tuple(sorted(server.supported))
    backend = await backend_for(profile(server), store, max_retries=0)
    try:
        assert await backend.models() == server.supported
    finally:
        await backend.aclose()
    await store.set("provider:together", "tg-wrong")
    report = await providers.test_connection(profile(server), store)
    assert not report.ok and "refused the API key" in report.message


def test_the_default_address_is_togethers() -> None:
    assert providers.base_url(ProviderProfile(name="t", kind="together")) == (
        "https://api.together.ai/v1"
    )


def test_the_contract_check_catches_what_the_document_refuses() -> None:
    """The checker is not vacuous: bodies the published document refuses are reported."""
    headers = {"content-type": "application/json"}
    good = {"model": SERVERLESS, "training_file": "file-1"}
    assert (
        violations(SPEC, "POST", "/v1/fine-tunes", headers, json.dumps(good).encode(), "/v1") == []
    )
    no_rank = {**good, "training_type": {"type": "Lora"}}
    bad_batch = {**good, "batch_size": "auto"}
    for body in (no_rank, bad_batch, {"model": SERVERLESS}):
        assert violations(SPEC, "POST", "/v1/fine-tunes", headers, json.dumps(body).encode(), "/v1")
    assert violations(SPEC, "GET", "/v1/fine-tunes/ft-1/nonsense", {}, b"", "/v1")


@pytest.mark.parametrize(
    "answer", [["not", "a", "job"], "text", 42, {"status": "queued"}], ids=repr
)
async def test_an_answer_not_shaped_as_published_is_a_plain_error(
    server, project, store, answer
) -> None:
    """Untrusted answers: a list, a string, a number, a job without an id — a plain
    TrainingError at launch and while following, never an AttributeError or a KeyError."""
    from tests.fakes.openai_server import InjectedError

    jobs = make_jobs(project, server, store)
    uploads = len(server.files)
    server._errors.append(InjectedError(200, answer))  # the upload's answer
    with pytest.raises(TrainingError):
        await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    record = await jobs.launch_job("together", JobSpec(SERVERLESS), EXAMPLES, "")
    server._errors.append(InjectedError(200, answer))  # the status look
    followed = []
    try:
        async for seen in jobs.follow_job(record.id):
            followed.append(seen)
    except TrainingError:
        pass  # said plainly; the record stays as it was
    assert project.job(record.id) is not None and len(server.files) > uploads
