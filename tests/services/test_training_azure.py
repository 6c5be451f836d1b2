"""Training at Azure OpenAI: the real `AsyncAzureOpenAI` client (built by `backend_for` from an
azure profile) against the fake's Azure paths. Azure needs a byte-order mark on the training
file, and a deployment the app cannot make: after success it says how, and the deployment's
name, once given, is what chats ask for."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.retrieval import RetrievalIndex
from persona_studio.services import providers
from persona_studio.services.chat import ChatSettings, reply
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import JobSpec, TrainingError
from persona_studio.services.training.openai_api import AZURE_DEPLOY_NOTE
from tests.fakes.contract import check_requests
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.training import stepping_jobs

MODEL = "gpt-4.1-mini-2025-04-14"
EXAMPLES = [Example.from_qa(f"Q{i}?", f"A{i}.", status="approved") for i in range(12)]


@pytest.fixture
def server():
    with FakeOpenAI(api_key="az-key", models=(MODEL,)) as fake:
        fake.total_steps = 3
        yield fake


@pytest.fixture
def profile(server) -> ProviderProfile:
    return ProviderProfile(name="azure", kind="azure", base_url=server.azure_endpoint).validated()


async def test_azure_trains_then_chats_through_the_named_deployment(
    server, profile, tmp_path: Path
) -> None:
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:azure", "az-key")

    with Project.create(tmp_path / "a.persona", Persona(name="Rhea")) as project:
        jobs = stepping_jobs(project, profile, store, server)
        record = await jobs.launch_job("azure", JobSpec(MODEL, suffix="rhea"), EXAMPLES, "")
        (upload,) = [r for r in server.requests if r.path == "/v1/files"]
        assert upload.headers["api-key"] == "az-key"
        uploaded = next(iter(server.files.values()))["_data"]
        assert uploaded.startswith(codecs.BOM_UTF8)  # Azure reads the JSONL with a BOM
        final = [r async for r in jobs.follow_job(record.id)][-1]
        assert final.status == "succeeded" and final.chat_target is not None
        assert final.chat_target.note == AZURE_DEPLOY_NOTE  # how to deploy, in plain words

        with pytest.raises(TrainingError, match="not a deployment name"):
            jobs.set_deployment(record.id, "two words")
        server.models.append("rhea-deployment")
        named = jobs.set_deployment(record.id, " rhea-deployment ")
        assert named.chat_model == "rhea-deployment" and not named.chat_target.note
        assert project.persona().fine_tuned_model == "rhea-deployment"
        target = project.chat_target("rhea-deployment")
        assert target is not None and target.profile == "azure"

        settings = ChatSettings(mode="finetuned", profile=profile, target=target)

        async def client_for(p: ProviderProfile):
            return await providers.client_for(p, store, max_retries=0)

        events = [
            e
            async for e in reply(
                project.persona(), [], [], "Hello", settings, RetrievalIndex([]), client_for
            )
        ]
        assert events[-1].kind == "done", events[-1].text
        assert "".join(e.text for e in events if e.kind == "delta") == "Echo: Hello"
        assert server.requests[-1].headers["api-key"] == "az-key"
    # Azure's own document lives in a 1.3 GB repository that cannot be vendored here; its
    # fine-tuning data plane takes OpenAI's shapes (plus `trainingType`), so OpenAI's is checked
    assert check_requests("openai-openapi.json.gz", server.requests) == []


@pytest.mark.parametrize("training_type", ["", "GlobalStandard", "Standard", "developerTier"])
async def test_where_azure_trains_is_sent_only_when_chosen(
    server, training_type: str, tmp_path: Path
) -> None:
    """The profile's training type goes in the job as Azure's `trainingType` (with an API
    version that takes it); Azure's default sends none. The fake refuses other values."""
    profile = ProviderProfile(
        name="azure", kind="azure", base_url=server.azure_endpoint, training_type=training_type
    ).validated()
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:azure", "az-key")
    with Project.create(tmp_path / "a.persona", Persona(name="Rhea")) as project:
        jobs = stepping_jobs(project, profile, store, server)
        record = await jobs.launch_job("azure", JobSpec(MODEL, suffix="rhea"), EXAMPLES, "")
    (job,) = server.jobs.values()
    assert job["id"] == record.id
    assert job["_training_type"] == (training_type or None)
    created = [r for r in server.requests if r.path.endswith("/fine_tuning/jobs")]
    assert (b'"trainingType"' in created[-1].body) == bool(training_type)


def test_a_training_type_azure_does_not_know_is_refused_in_plain_words() -> None:
    from persona_studio.core.config import ConfigError

    with pytest.raises(ConfigError, match="not an Azure training type"):
        ProviderProfile(
            "az", "azure", "https://r.openai.azure.com", training_type="fast"
        ).validated()
    with pytest.raises(ConfigError, match="needs API version 2025-04-01-preview"):
        ProviderProfile(
            "az", "azure", "https://r.openai.azure.com", api_version="2024-10-21",
            training_type="GlobalStandard",
        ).validated()  # fmt: skip
    # other kinds have no training type: a stray value is dropped, not sent
    other = ProviderProfile("t", "together", training_type="GlobalStandard").validated()
    assert other.training_type == ""
    newer = ProviderProfile(
        "az", "azure", "https://r.openai.azure.com", api_version="v1", training_type="Standard"
    ).validated()
    assert newer.training_type == "Standard"
