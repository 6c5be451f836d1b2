"""Training at Nebius Token Factory: the real backend through `backend_for` and the real
`openai` client, against the fake built from Nebius's published API reference: LoRA settings,
follow, deploy the last checkpoint, then chat with the deployed model."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import JobSpec, TrainingError, deploy_failure, needs_deploy
from persona_studio.services.training.nebius import PREPARING_NOTE, v0_url
from tests.fakes.contract import check_requests
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.nebius_server import FakeNebius
from tests.fakes.training import stepping_jobs

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct"
OPENAI_SPEC = "openai-openapi.json.gz"
EXAMPLES = [Example.from_qa(f"Q{i}?", f"A{i}.", status="approved") for i in range(15)]


@pytest.fixture
def server():
    with FakeNebius(api_key="nb-good") as fake:
        fake.total_steps = 4
        fake.checkpoint_every = 2
        yield fake


async def _jobs(server, project, key="nb-good"):
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:nebius", key)
    profile = ProviderProfile(name="nebius", kind="nebius", base_url=server.base_url)
    return stepping_jobs(project, profile, store, server), profile, store


async def test_train_deploy_and_chat(server, tmp_path: Path) -> None:
    with Project.create(tmp_path / "n.persona", Persona(name="Rhea")) as project:
        jobs, profile, store = await _jobs(server, project)
        record = await jobs.launch_job(
            "nebius", JobSpec(BASE, suffix="Rhea-v1", lora_rank=8), EXAMPLES, "You are Rhea."
        )
        hyper = server.jobs[record.id]["hyperparameters"]
        assert hyper["lora"] is True and (hyper["lora_r"], hyper["lora_alpha"]) == (8, 16)
        assert hyper["n_epochs"] >= 1 and hyper["learning_rate"] == pytest.approx(1e-5)
        final = [r async for r in jobs.follow_job(record.id)][-1]
        assert final.status == "succeeded"
        (deployed,) = server.custom_models.values()
        last = server.checkpoints[record.id][-1]["id"]
        assert deployed["source"] == f"{record.id}:{last}" and deployed["base_model"] == BASE
        target = final.chat_target
        assert target is not None and target.model == deployed["name"]
        assert target.note == PREPARING_NOTE  # "validating" when it was made
        assert final.fine_tuned_model == deployed["name"]
        assert project.persona().fine_tuned_model == deployed["name"]
        client = await providers.client_for(profile, store, max_retries=0)
        async with client:
            reply = await client.chat.completions.create(
                model=target.model, messages=[{"role": "user", "content": "Hi"}]
            )
        assert reply.choices[0].message.content == "Echo: Hi"
    # files, jobs and chat as OpenAI's document has them (Nebius follows it; its LoRA settings
    # are extra hyperparameters, which the document allows); the /v0 control plane is Nebius's
    compatible = [r for r in server.requests if r.path.startswith("/v1/")]
    assert len(compatible) > 4 and check_requests(OPENAI_SPEC, compatible) == []


async def test_a_failed_deploy_keeps_the_success_and_says_why(server, tmp_path: Path) -> None:
    with Project.create(tmp_path / "n.persona", Persona(name="Rhea")) as project:
        jobs, _, _ = await _jobs(server, project)
        record = await jobs.launch_job("nebius", JobSpec(BASE), EXAMPLES, "")
        server.advance_job(record.id, 6)  # trained; the next look sees it succeeded
        original = server._deploy
        server._deploy = lambda request: (500, {"error": {"message": "deploy broke"}})
        final = [r async for r in jobs.follow_job(record.id)][-1]
        server._deploy = original
        assert final.status == "succeeded" and final.chat_target is None
        assert "Deploying failed" in final.events[-1]["message"]
        assert project.job(record.id).status == "succeeded"  # saved, not lost
        assert needs_deploy(final) and "(500)" in deploy_failure(final)
        again = await jobs.deploy_job(record.id)  # the service is back: deploy again
        (deployed,) = server.custom_models.values()
        assert again.fine_tuned_model == deployed["name"] == project.persona().fine_tuned_model
        assert not needs_deploy(project.job(record.id))
        with pytest.raises(TrainingError, match="needs no deploying"):
            await jobs.deploy_job(record.id)


def test_the_control_plane_address() -> None:
    assert v0_url("https://api.tokenfactory.nebius.com/v1/", "models") == (
        "https://api.tokenfactory.nebius.com/v0/models"
    )
    assert v0_url("http://127.0.0.1:5/v1", "models/x") == "http://127.0.0.1:5/v0/models/x"
