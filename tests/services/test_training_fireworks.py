"""Training at Fireworks AI: the real backend through `backend_for` and the real `openai`
client, against the fake built from Fireworks's published SDK types; every body it receives is
checked against them (`violations`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_studio.core.config import ConfigError, ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import JobSpec, TrainingError
from persona_studio.services.training.fireworks import DEPLOY_NOTE
from tests.fakes.fireworks_server import FakeFireworks
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.training import stepping_jobs

BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
EXAMPLES = [Example.from_qa(f"Q{i}?", f"A{i}.", status="approved") for i in range(20)]


@pytest.fixture
def server():
    with FakeFireworks(api_key="fw-good", account="rhea-studio") as fake:
        yield fake
        assert fake.violations == []  # every body matched the published types


async def _setup(server, project, key="fw-good"):
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fireworks", key)
    profile = ProviderProfile(
        name="fireworks", kind="fireworks", base_url=server.inference_url, account=server.account
    ).validated()
    ended = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED")
    jobs = stepping_jobs(project, profile, store, server, ended, lambda job: job["state"])
    return jobs, profile, store


async def test_train_follow_then_chat_once_deployed(server, tmp_path: Path) -> None:
    with Project.create(tmp_path / "f.persona", Persona(name="Rhea")) as project:
        jobs, profile, store = await _setup(server, project)
        record = await jobs.launch_job(
            "fireworks", JobSpec(BASE, suffix="rhea"), EXAMPLES, "You are Rhea.",
            validation_split=0.2,
        )  # fmt: skip
        sent = server.jobs[record.id]["_request"]
        assert sent["baseModel"] == BASE and sent["loraRank"] == 8 and sent["epochs"] >= 1
        assert sent["evaluationDataset"] != sent["dataset"]
        assert all(d["state"] == "READY" for d in server.datasets.values())
        assert record.status == "validating_files"
        seen = [r async for r in jobs.follow_job(record.id)]
        final = seen[-1]
        assert final.status == "succeeded"
        assert [m["step"] for m in final.metrics] == [0, 25, 50, 75, 100]  # progress, no repeats
        model = f"accounts/rhea-studio/models/{sent['outputModel']}"
        assert final.fine_tuned_model == model and project.persona().fine_tuned_model == model
        assert final.chat_target is not None and final.chat_target.note == DEPLOY_NOTE
        assert [e["message"] for e in final.events][-1] == "Training finished"
        server.deploy(model)  # the creator starts a deployment at Fireworks
        client = await providers.client_for(profile, store, max_retries=0)
        async with client:
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hi"}]
            )
        assert reply.choices[0].message.content == "Echo: Hi"


async def test_failure_cancel_and_refusals_are_plain(server, tmp_path: Path) -> None:
    with Project.create(tmp_path / "f.persona", Persona(name="Rhea")) as project:
        jobs, _, store = await _setup(server, project)
        record = await jobs.launch_job("fireworks", JobSpec(BASE), EXAMPLES, "")
        server.fail_job(record.id, "RESOURCE_EXHAUSTED", "Out of GPU quota for this account")
        final = [r async for r in jobs.follow_job(record.id)][-1]
        assert final.status == "failed"
        assert final.error == {
            "code": "RESOURCE_EXHAUSTED",
            "message": "Out of GPU quota for this account",
        }
        second = await jobs.launch_job("fireworks", JobSpec(BASE), EXAMPLES, "")
        cancelled = await jobs.cancel_job(second.id)
        assert cancelled.status == "cancelled" and second.id not in server.jobs
        with pytest.raises(TrainingError, match="not one of them"):
            await jobs.launch_job("fireworks", JobSpec("llama3"), EXAMPLES, "")
        with pytest.raises(TrainingError, match="not tunable"):
            await jobs.launch_job(
                "fireworks", JobSpec("accounts/fireworks/models/nope"), EXAMPLES, ""
            )
        await store.set("provider:fireworks", "fw-wrong")
        with pytest.raises(TrainingError, match="refused the API key"):
            await jobs.launch_job("fireworks", JobSpec(BASE), EXAMPLES, "")


def test_a_fireworks_profile_needs_its_account() -> None:
    with pytest.raises(ConfigError, match="account ID"):
        ProviderProfile(name="fw", kind="fireworks").validated()
    assert providers.base_url(ProviderProfile(name="fw", kind="fireworks", account="a")) == (
        "https://api.fireworks.ai/inference/v1"
    )


def test_the_contract_check_is_not_vacuous(server) -> None:
    server._create_sft({"dataset": "x", "baseModel": BASE, "lora_rank": 8, "epochs": "3"})
    assert server.violations == [
        "supervisedFineTuningJobs.create: unknown field 'lora_rank'",
        "supervisedFineTuningJobs.create: epochs is not a number",
    ]
    server.violations.clear()
