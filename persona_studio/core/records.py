"""Typed records the project keeps beside its examples: fine-tuning jobs, resumable runs and
saved test conversations.

Each maps onto the columns of its table plus one JSON `data` column. Keys this version does not
know (written by a newer version, or by a backend with more to say) are kept in `extra` and
written back unchanged, so opening and saving a project never drops what another version wrote.

A record is read as untrusted (a project file may come from anyone, or be changed by hand): a
known field of the wrong shape reads as empty (a list), absent (None) or without its odd
entries, so the views that draw it never fail on it (`JobRecord.from_row`, `dict_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Our job statuses. Every backend maps its provider's names onto these.
JOB_STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")
JOB_STATUS_LABELS = {
    "validating_files": "Checking the files",
    "queued": "Waiting in the provider's queue",
    "running": "Training",
    "succeeded": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
MAX_EVENTS = 500  # the provider's messages kept per job (the newest)


def _text_or_none(value: object) -> str | None:
    return value if type(value) is str else None


# JSON key → attribute, for what lives in the `data` column (the names are the ones files
# written since schema 1 use; `user_provided_suffix` is OpenAI's name for the suffix).
_JOB_DATA_KEYS = {
    "metrics": "metrics",
    "events": "events",
    "last_event": "last_event",
    "checkpoints": "checkpoints",
    "estimated_cost_usd": "estimated_cost_usd",
    "trained_tokens": "trained_tokens",
    "estimated_finish": "estimated_finish",
    "error": "error",
    "hyperparameters": "hyperparameters",
    "training_file": "training_file",
    "validation_file": "validation_file",
    "user_provided_suffix": "suffix",
    "trained_examples": "trained",
    "train_count": "train_count",
    "validation_count": "validation_count",
}


def is_number(value: object) -> bool:
    """A finite int or float (not a bool), as a record's figures must be."""
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def dict_rows(
    value: object, keep: Callable[[dict[str, Any]], bool] = lambda _row: True
) -> list[dict[str, Any]]:
    """A list of objects read from a record: `[]` unless it is a list, and only its objects
    that `keep` takes."""
    if not isinstance(value, list):
        return []
    return [row for row in value if isinstance(row, dict) and keep(row)]


def _scalars(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is None or type(v) is str or is_number(v)}


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if is_number(v) or v is None}


# each known `data` key's reading: what a wrong shape becomes (see the module's docstring)
_JOB_DATA_READ: dict[str, Callable[[Any], Any]] = {
    "metrics": lambda v: [_figures(r) for r in dict_rows(v, lambda r: is_number(r.get("step")))],
    "events": lambda v: dict_rows(v, lambda r: type(r.get("message", "")) is str),
    "checkpoints": lambda v: dict_rows(
        v, lambda r: is_number(r.get("step")) and type(r.get("model")) is str
    ),
    "error": lambda v: _scalars(v) if isinstance(v, dict) else None,
    "hyperparameters": lambda v: v if isinstance(v, dict) else None,
    "estimated_cost_usd": lambda v: v if is_number(v) else None,
    "trained_tokens": lambda v: v if type(v) is int else None,
    "train_count": lambda v: v if type(v) is int else None,
    "validation_count": lambda v: v if type(v) is int else None,
    "estimated_finish": lambda v: v if is_number(v) else None,
}


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(type(v) is str for v in value)


def _usage(value: object) -> bool:
    return isinstance(value, dict) and all(
        type(value.get(key)) is int for key in ("prompt", "completion")
    )


# a saved conversation's message: each known field's test (see `read_message`)
_MESSAGE = {
    "error": lambda v: type(v) is str,
    "rating": lambda v: type(v) is int,
    "best": lambda v: type(v) is bool,
    "blind": lambda v: type(v) is bool,
}
_META = {
    "model": lambda v: type(v) is str,
    "latency": is_number,
    "usage": _usage,
    "rules": _texts,
    "matched": _texts,
    "confidence": lambda v: v is None or is_number(v),
}


def read_message(message: dict[str, Any]) -> dict[str, Any] | None:
    """A saved conversation's message as the panes draw it: None unless its role and text
    are texts; a known field of another kind is left out (one this version does not know is
    kept as it is)."""
    if type(message.get("role")) is not str or type(message.get("content")) is not str:
        return None
    out = {k: v for k, v in message.items() if k not in _MESSAGE or _MESSAGE[k](v)}
    meta = message.get("meta")
    out.pop("meta", None)
    if isinstance(meta, dict):
        out["meta"] = {k: v for k, v in meta.items() if k not in _META or _META[k](v)}
    return out


@dataclass(frozen=True)
class ChatTarget:
    """Where a chat pane reaches a trained model: the profile, the model name, and the base URL
    the profile had when the model was registered (empty: the provider's default address)."""

    profile: str
    model: str
    base_url: str = ""
    note: str = ""  # what the creator must do before it answers (a dedicated endpoint…)

    def to_dict(self) -> dict[str, str]:
        data = {"profile": self.profile, "model": self.model, "base_url": self.base_url}
        return {**data, "note": self.note} if self.note else data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ChatTarget | None:
        if not isinstance(data, dict) or not data.get("model"):
            return None
        return cls(
            str(data.get("profile", "")),
            str(data["model"]),
            str(data.get("base_url", "")),
            str(data.get("note", "")),
        )


@dataclass
class JobRecord:
    """Everything the project keeps about one fine-tuning job: enough to redraw its timeline
    and loss chart, and to reattach to it after a restart."""

    id: str
    profile: str  # the provider profile it was started with (its key is in the keyring)
    base_model: str
    status: str  # one of JOB_STATUSES
    fine_tuned_model: str | None = None
    created_at: str = ""
    updated_at: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)  # step, total_steps, losses
    events: list[dict[str, Any]] = field(default_factory=list)  # the provider's, oldest first
    last_event: str | None = None  # the newest event seen: a reattach asks only for newer ones
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # step, model, train_loss
    estimated_cost_usd: float | None = None  # our estimate when it was launched
    trained_tokens: int | None = None
    estimated_finish: int | None = None  # a Unix time, from the provider
    error: dict[str, Any] | None = None  # the provider's {code, message} when it failed
    hyperparameters: dict[str, Any] | None = None  # as the provider resolved them
    training_file: str | None = None
    validation_file: str | None = None
    suffix: str | None = None  # the name tag the creator gave
    trained: str | None = None  # which examples its files held (`test_set.trained_digest`)
    train_count: int | None = None  # how many examples its training file held
    validation_count: int | None = None  # and its validation file
    chat_target: ChatTarget | None = None  # where to chat with the result (after success)
    extra: dict[str, Any] = field(default_factory=dict)  # keys from elsewhere, kept as they came

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def chat_model(self) -> str:
        """The name a chat asks for: the deployment where one was named (Azure), else the
        fine-tuned model."""
        if self.chat_target is not None:
            return self.chat_target.model
        return self.fine_tuned_model or ""

    @property
    def status_label(self) -> str:
        return JOB_STATUS_LABELS.get(self.status, self.status)

    @property
    def final_train_loss(self) -> float | None:
        return self.metrics[-1].get("train_loss") if self.metrics else None

    @property
    def progress(self) -> float | None:
        """Share of the training steps done (None while unknown)."""
        if self.metrics and self.metrics[-1].get("total_steps"):
            last = self.metrics[-1]
            return min(1.0, last["step"] / last["total_steps"])
        return 1.0 if self.status == "succeeded" else None

    def data(self) -> dict[str, Any]:
        """The `data` column: known fields under their file names, then the kept extras."""
        out: dict[str, Any] = dict(self.extra)
        for key, attribute in _JOB_DATA_KEYS.items():
            value = getattr(self, attribute)
            if value is not None:
                out[key] = value
        if self.chat_target is not None:
            out["chat_target"] = self.chat_target.to_dict()
        return out

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobRecord:
        raw = row.get("data")
        data = dict(raw) if isinstance(raw, dict) else {}
        known = {
            attribute: _JOB_DATA_READ.get(key, _text_or_none)(data.pop(key))
            for key, attribute in _JOB_DATA_KEYS.items()
            if key in data
        }
        target = ChatTarget.from_dict(data.pop("chat_target", None))
        known.setdefault("metrics", [])
        known.setdefault("events", [])
        known.setdefault("checkpoints", [])
        return cls(
            id=row["id"],
            profile=row["profile"],
            base_model=row["base_model"],
            status=row["status"],
            fine_tuned_model=row.get("fine_tuned_model"),
            created_at=row.get("created_at", ""),
            updated_at=row.get("updated_at", ""),
            chat_target=target,
            extra=data,
            **known,
        )


@dataclass
class RunRecord:
    """A resumable run of long work (a pipeline run, a generation run): its kind, status and
    what its steps did and produced (`data`, owned by the service that runs it)."""

    id: str
    kind: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        return cls(
            id=row["id"],
            kind=row["kind"],
            status=row["status"],
            data=dict(row.get("data") or {}),
            created_at=row.get("created_at", ""),
            updated_at=row.get("updated_at", ""),
        )


def _pane(pane: dict[str, Any]) -> dict[str, Any]:
    """A saved pane as `ChatPane.restore` takes it (`read_message` for each message)."""
    messages = (read_message(m) for m in dict_rows(pane.get("messages")))
    return {
        **pane,
        "model": pane["model"] if type(pane.get("model")) is str else "",
        "messages": [m for m in messages if m is not None],
    }


@dataclass
class ChatRecord:
    """A saved test conversation: its title and each pane's engine, mode, model and messages."""

    id: str
    title: str
    panes: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return {**self.extra, "panes": self.panes}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChatRecord:
        raw = row.get("data")
        data = dict(raw) if isinstance(raw, dict) else {}
        panes = [_pane(pane) for pane in dict_rows(data.pop("panes", []))]
        return cls(
            id=row["id"],
            title=row["title"] if type(row["title"]) is str else "",
            panes=panes,
            created_at=row.get("created_at", ""),
            updated_at=row.get("updated_at", ""),
            extra=data,
        )
