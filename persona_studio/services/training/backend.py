"""What every way of training implements, and the plain values that cross that seam.

A `TrainingBackend` speaks to one kind of trainer (the OpenAI fine-tuning API today; hosted
LoRA services and this computer next). It never touches the project: `jobs.py` owns the job
records, calls the backend, and saves what it says. Statuses are ours (`core.records`); each
backend maps its provider's names onto them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from persona_studio.core.errors import UserFacingError

if TYPE_CHECKING:
    from persona_studio.core.records import ChatTarget, JobRecord
    from persona_studio.core.validation import PreflightReport


class TrainingError(UserFacingError):
    """A training step failed, in plain words with the next step."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend lets the creator set, and what it can tell (the Train tab shows only
    what applies)."""

    validation_file: bool = True
    epochs: bool = True
    batch_size: bool = True
    learning_rate: bool = True
    lora_rank: bool = False
    seed: bool = True
    price_estimate: bool = True  # a price can be estimated before anything is uploaded
    auto_epochs: bool = True  # the trainer picks epochs from the dataset when left on auto
    names_model: bool = True  # a finished job names its model (else `deploy` makes one)
    checkpoints: bool = True
    resume: bool = False  # a stopped job carries on from its last checkpoint (`resume(job_id)`)
    max_suffix: int = 64
    suffix_pattern: str = r"[A-Za-z0-9_-]+"


@dataclass
class JobSpec:
    """What the creator asked for. None on a hyperparameter means "auto": the trainer decides."""

    base_model: str
    suffix: str = ""
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    seed: int | None = None
    lora_rank: int | None = None


@dataclass
class UploadedFiles:
    """The trainer's references for the uploaded training (and validation) file."""

    training_file: str
    validation_file: str | None = None


@dataclass
class BackendCheck:
    """A backend's own verdict on a launch, beside the dataset check: problems block it."""

    problems: list[str] = field(default_factory=list)
    estimated_cost: float | None = None  # US dollars; None: unknown


@dataclass
class JobUpdate:
    """One look at a job, in our terms. `warning` alone (status "unknown") means the trainer
    could not be reached this time and the follower is retrying."""

    id: str
    status: str  # one of core.records.JOB_STATUSES, or "unknown"
    base_model: str = ""
    fine_tuned_model: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)  # new rows, oldest first
    events: list[dict[str, Any]] = field(default_factory=list)  # new events, oldest first
    error: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)  # trained_tokens, hyperparameters…
    warning: str = ""


@runtime_checkable
class TrainingBackend(Protocol):
    """One way of training. Async; one instance per profile and use, closed with `aclose`."""

    kind: str  # the provider-profile kind it serves
    capabilities: Capabilities

    def check(self, spec: JobSpec, report: PreflightReport | None) -> BackendCheck:
        """Problems with this spec on this backend (a name tag it refuses, a model it lacks),
        and the price for the checked dataset, before anything is sent."""
        ...

    async def models(self) -> list[str]:
        """The base models the trainer offers now (its live list); [] when it has none to
        tell, and the shipped table is used."""
        ...

    async def upload(self, name: str, data: bytes) -> str:
        """Send one JSONL file; returns the trainer's reference once it is ready to use."""
        ...

    async def create(self, spec: JobSpec, files: UploadedFiles) -> JobUpdate:
        """Start the job; the update carries its id and first status."""
        ...

    async def status(self, job_id: str, last_event: str | None) -> JobUpdate:
        """The job now, with the events and metrics newer than `last_event`."""
        ...

    async def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        """Saved intermediate models (step, model, train_loss), newest first; [] if none."""
        ...

    async def cancel(self, job_id: str) -> JobUpdate: ...

    async def deploy(self, record: JobRecord) -> ChatTarget:
        """Make the finished model reachable for chat; returns where. (Nothing to do for the
        OpenAI API: the fine-tuned model answers at the profile's address.)"""
        ...

    async def aclose(self) -> None: ...


def suffix_error(suffix: str, capabilities: Capabilities | None = None) -> str | None:
    """Why a name tag is refused, in plain words (None: it is fine)."""
    caps = capabilities or Capabilities()
    if len(suffix) > caps.max_suffix:
        return f"The name tag is {len(suffix)} characters; the limit is {caps.max_suffix}."
    if suffix and not re.fullmatch(caps.suffix_pattern, suffix):
        return "Use only letters, digits, dashes and underscores in the name tag."
    return None
