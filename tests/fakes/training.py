"""The training tests' common setup: `TrainingJobs` with the real backend for a profile, whose
waits move the fake's jobs one step on (so a follow runs to the end at once)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from persona_studio.core.config import ProviderProfile
from persona_studio.core.project import Project
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.training import TrainingJobs, backend_for

OPENAI_ENDED = ("succeeded", "failed", "cancelled")


def stepping_jobs(
    project: Project,
    profile: ProviderProfile,
    store: CredentialStore,
    server: Any,
    ended: Collection[str] = OPENAI_ENDED,
    state: Callable[[dict[str, Any]], str] = lambda job: job["status"],
) -> TrainingJobs:
    async def factory(_name: str) -> Any:
        return await backend_for(profile, store, max_retries=0)

    async def advance(_seconds: float) -> None:
        for job_id, job in list(server.jobs.items()):
            if state(job) not in ended:
                server.advance_job(job_id)

    return TrainingJobs(project, factory, sleep=advance)
