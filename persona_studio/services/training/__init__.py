"""Training: one `TrainingBackend` per kind of trainer, one owner of job records (`jobs.py`).

backend.py     the protocol every way of training implements, and the values crossing it
openai_api.py  the OpenAI fine-tuning API (OpenAI, Azure OpenAI, gateways, self-hosted servers)
together.py    Together AI's fine-tuning API (LoRA on open models)
nebius.py      Nebius Token Factory (the OpenAI API with LoRA settings, and its deploy call)
fireworks.py   Fireworks AI (datasets, supervised fine-tuning jobs; deployments are the creator's)
local.py       this computer: LoRA in a worker process (TRL + PEFT), jobs as folders
jobs.py        launch_job / follow_job / cancel_job; one poller per job; the typed JobRecord
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_studio.services.training.backend import (
    BackendCheck,
    Capabilities,
    JobSpec,
    JobUpdate,
    TrainingBackend,
    TrainingError,
    UploadedFiles,
    suffix_error,
)
from persona_studio.services.training.jobs import (
    BackendFactory,
    TrainingJobs,
    deploy_failure,
    needs_deploy,
    training_files,
)

if TYPE_CHECKING:
    from persona_studio.core.config import ProviderProfile
    from persona_studio.services.credentials import CredentialStore

# Profile kinds whose servers speak the OpenAI fine-tuning API.
OPENAI_API_KINDS = ("openai", "azure", "openai-compatible")


async def backend_for(
    profile: ProviderProfile, store: CredentialStore, *, max_retries: int = 2
) -> TrainingBackend:
    """The backend that trains through this profile, with its key from the store."""
    from persona_studio.services.providers import base_url, client_for

    if profile.kind in OPENAI_API_KINDS:
        from persona_studio.services.training.openai_api import OpenAIBackend

        client = await client_for(profile, store, max_retries=max_retries)
        return OpenAIBackend(
            client,
            profile=profile.name,
            base_url=base_url(profile) or "",
            profile_kind=profile.kind,
            training_type=profile.training_type,
        )
    if profile.kind == "nebius":
        from persona_studio.services.training.nebius import NebiusBackend

        client = await client_for(profile, store, max_retries=max_retries)
        return NebiusBackend(
            client, profile=profile.name, base_url=base_url(profile) or "", profile_kind="nebius"
        )
    if profile.kind == "fireworks":
        from persona_studio.services.training.fireworks import FireworksBackend

        client = await client_for(profile, store, max_retries=max_retries)
        return FireworksBackend(
            client, account=profile.account, profile=profile.name, base_url=base_url(profile) or ""
        )
    if profile.kind == "together":
        from persona_studio.services.training.together import TogetherBackend

        client = await client_for(profile, store, max_retries=max_retries)
        return TogetherBackend(client, profile=profile.name, base_url=base_url(profile) or "")
    if profile.kind == "local":
        return local_backend(profile.name)
    raise TrainingError(
        f"Profiles of the kind “{profile.kind}” cannot train models.",
        "Choose a profile whose server offers fine-tuning.",
    )


def local_backend(profile: str = "local") -> TrainingBackend:
    """The trainer on this computer, its jobs under the app's data folder, with the last
    hardware check (for the fit of a model) when there was one."""
    from persona_studio.core.config import data_dir
    from persona_studio.services.training.local import LocalBackend, saved_hardware

    root = data_dir() / "local-training"
    return LocalBackend(root, profile=profile, hardware=saved_hardware(root))


__all__ = [
    "OPENAI_API_KINDS",
    "BackendCheck",
    "BackendFactory",
    "Capabilities",
    "JobSpec",
    "JobUpdate",
    "TrainingBackend",
    "TrainingError",
    "TrainingJobs",
    "UploadedFiles",
    "backend_for",
    "deploy_failure",
    "local_backend",
    "needs_deploy",
    "suffix_error",
    "training_files",
]
