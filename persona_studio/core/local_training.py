"""Training on this computer, the pure half: which small models are offered, what this computer
can train and how long it takes, the LoRA settings left on auto, and the worker's progress lines
read into our job terms.

The estimates come from a measurement, not a guess: the hardware check trains a small random
model for a few steps and records the arithmetic it achieved (`flops`, floating-point operations
a second). LoRA training with activation checkpointing (the worker's setting: it keeps memory
low) costs about 6 × N operations a token for a model of N parameters: the forward pass 2N, the
forward again during the backward pass 2N, and the backward pass through the activations 2N
(the frozen weights get no gradient). So

    seconds ≈ 6 × N × tokens ÷ flops

`benchmarks/local_training.py` measures the same figure for the tiny model on this machine.
Memory: the weights (2 bytes a parameter on a GPU in bf16/fp16, 4 in float32 on a CPU or a Mac),
plus a margin for activations, the adapter and its optimiser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.records import TERMINAL


@dataclass(frozen=True)
class LocalModel:
    repo: str  # the Hugging Face Hub name
    name: str
    params_b: float  # billions of parameters
    licence: str
    gated: bool = False  # the creator accepts a licence on the Hub first (and needs a token)
    note: str = ""


# Small instruct models that train well with LoRA. Names checked on the Hub (2026-12).
MODELS = (
    LocalModel(
        "Qwen/Qwen2.5-0.5B-Instruct",
        "Qwen2.5 0.5B Instruct",
        0.49,
        "Apache-2.0",
        note="The fastest; a good first try.",
    ),
    LocalModel("Qwen/Qwen3-0.6B", "Qwen3 0.6B", 0.6, "Apache-2.0"),
    LocalModel(
        "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        "SmolLM2 1.7B Instruct",
        1.7,
        "Apache-2.0",
        note="English only.",
    ),
    LocalModel("Qwen/Qwen2.5-1.5B-Instruct", "Qwen2.5 1.5B Instruct", 1.54, "Apache-2.0"),
    LocalModel("Qwen/Qwen3-1.7B", "Qwen3 1.7B", 1.7, "Apache-2.0"),
    LocalModel(
        "meta-llama/Llama-3.2-1B-Instruct",
        "Llama 3.2 1B Instruct",
        1.24,
        "Llama 3.2 Community License",
        gated=True,
    ),
    LocalModel("google/gemma-3-1b-it", "Gemma 3 1B", 1.0, "Gemma Terms of Use", gated=True),
    LocalModel(
        "meta-llama/Llama-3.2-3B-Instruct",
        "Llama 3.2 3B Instruct",
        3.21,
        "Llama 3.2 Community License",
        gated=True,
    ),
    LocalModel(
        "Qwen/Qwen3-4B", "Qwen3 4B", 4.0, "Apache-2.0", note="The best voice of these; needs a GPU."
    ),
)

GATED_HELP = (
    "This model's makers ask you to accept their licence first: open its page on "
    "huggingface.co, sign in and accept, then create a read token there (Settings → Access "
    "Tokens) and paste it when Persona Studio asks (or run `persona-studio models token`). "
    "The token is kept in the system password store."
)


def model_named(repo: str) -> LocalModel | None:
    return next((m for m in MODELS if m.repo == repo), None)


@dataclass(frozen=True)
class Hardware:
    """What the hardware check found (`worker/probe.py`), with the speed it measured."""

    kind: str  # "cuda", "mps" or "cpu"
    name: str  # the GPU's or the processor's name
    memory_gb: float  # what training can use: GPU memory, or the RAM (Apple's unified memory)
    ram_gb: float
    flops: float = 0.0  # floating-point operations a second measured while training
    missing: str = ""  # the `local` extra is not installed: what is missing

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hardware:
        return cls(
            kind=str(data.get("kind", "cpu")),
            name=str(data.get("name", "")),
            memory_gb=float(data.get("memory_gb", 0.0)),
            ram_gb=float(data.get("ram_gb", 0.0)),
            flops=float(data.get("flops", 0.0)),
            missing=str(data.get("missing", "")),
        )

    @property
    def bytes_per_param(self) -> int:
        return 2 if self.kind == "cuda" else 4

    def describe(self) -> str:
        if self.kind == "cuda":
            return f"an NVIDIA graphics card ({self.name}, {self.memory_gb:.0f} GB)"
        if self.kind == "mps":
            return f"Apple silicon ({self.name or 'Mac'}, {self.memory_gb:.0f} GB shared memory)"
        return f"the processor only ({self.name or 'CPU'}, {self.ram_gb:.0f} GB memory; no GPU)"


FLOPS_PER_PARAM_TOKEN = 6  # LoRA with activation checkpointing (see the module's text)
OVERHEAD_GB = 1.5  # activations at our sequence lengths, the adapter, its optimiser, the runtime
CPU_MAX_HOURS = 12.0  # longer than this on a processor is refused as "will not finish"


def memory_needed_gb(params_b: float, hardware: Hardware) -> float:
    return params_b * hardware.bytes_per_param * 1.15 + OVERHEAD_GB


def largest_model_b(hardware: Hardware) -> float:
    """The largest model (billions of parameters) whose training fits in memory."""
    usable = hardware.memory_gb * (0.75 if hardware.kind == "mps" else 0.9)
    return max(0.0, (usable - OVERHEAD_GB) / (hardware.bytes_per_param * 1.15))


def training_seconds(params_b: float, tokens: int, hardware: Hardware) -> float | None:
    """Seconds to train `tokens` tokens (all epochs) with LoRA; None before a measurement."""
    if hardware.flops <= 0:
        return None
    return FLOPS_PER_PARAM_TOKEN * params_b * 1e9 * tokens / hardware.flops


@dataclass(frozen=True)
class Fit:
    fits: bool
    reason: str  # plain words: why not, or how long it takes
    seconds: float | None = None


def fit(params_b: float, tokens: int, hardware: Hardware) -> Fit:
    """Whether this computer can train a model of this size on this many tokens, and how long
    it would take, in plain words."""
    if hardware.missing:
        return Fit(False, hardware.missing)
    need = memory_needed_gb(params_b, hardware)
    if params_b > largest_model_b(hardware):
        return Fit(
            False,
            f"Needs about {need:.0f} GB of memory for training; this computer has "
            f"{hardware.memory_gb:.0f} GB. Choose a smaller model.",
        )
    seconds = training_seconds(params_b, tokens, hardware)
    if seconds is None:
        return Fit(True, "Fits in memory; run the hardware check for a time estimate.")
    if hardware.kind == "cpu" and seconds > CPU_MAX_HOURS * 3600:
        return Fit(
            False,
            f"Would take about {duration(seconds)} on this processor. Choose a smaller model, "
            "fewer examples, or a computer with a GPU.",
            seconds,
        )
    return Fit(True, f"About {duration(seconds)}.", seconds)


def duration(seconds: float) -> str:
    if seconds < 90:
        return "a minute" if seconds >= 30 else "less than a minute"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} minutes"
    hours = minutes / 60
    return f"{hours:.1f} hours" if hours < 10 else f"{round(hours)} hours"


def summary(hardware: Hardware, tokens: int, examples: int) -> str:
    """One line for the Train tab: what this computer is and what it can train."""
    if hardware.missing:
        return hardware.missing
    largest = largest_model_b(hardware)
    offered = [m for m in MODELS if fit(m.params_b, tokens, hardware).fits]
    if not offered:
        return (
            f"This computer has {hardware.describe()}: too little to train even the smallest "
            "model here. Train with a hosted service instead."
        )
    biggest = max(offered, key=lambda m: m.params_b)
    line = (
        f"This computer has {hardware.describe()}. It can train models up to about "
        f"{largest:.1f}B parameters"
    )
    seconds = training_seconds(biggest.params_b, tokens, hardware)
    if seconds is not None and examples:
        smallest = min(offered, key=lambda m: m.params_b)
        quick = training_seconds(smallest.params_b, tokens, hardware) or 0.0
        line += (
            f"; training {examples} example{'s' if examples != 1 else ''} takes about "
            f"{duration(quick)} with {smallest.name}, {duration(seconds)} with {biggest.name}"
        )
    return line + "."


# ---- settings left on auto ---------------------------------------------------------------


def auto_rank(examples: int) -> int:
    """A small dataset needs a small adapter (and overfits a big one)."""
    return 8 if examples < 100 else 16 if examples < 1000 else 32


AUTO_LEARNING_RATE = 2e-4  # the usual LoRA rate (PEFT and TRL examples)
AUTO_BATCH = 4
GPU_MAX_BATCH = 16
GPU_STEP_TOKENS = 4096  # a step's tokens at most on an NVIDIA card (padded to the longest)
MIN_STEPS = 100  # a run of fewer optimiser steps learns less


def auto_batch(lengths: list[int], epochs: int, device: str) -> int:
    """How many examples a training step learns from, left on auto (`lengths`: each
    example's tokens). On a processor or a Mac, 4: there the speed is the arithmetic's, whatever
    the batch. On an NVIDIA card a step costs about the same for 16 short examples as for 4
    (measured on an H200, a 0.5B model, ~135-token examples: 340 against 293 ms a step; a 1.5B
    model trained 3.6 times faster with 16), so the batch is as large as keeps about 100 steps
    in the run, 16 at most, and 4,096 tokens at most beside the model."""
    if device != "cuda" or not lengths:
        return AUTO_BATCH
    by_steps = len(lengths) * max(1, epochs) // MIN_STEPS
    by_tokens = GPU_STEP_TOKENS // max(1, max(lengths))
    return max(AUTO_BATCH, min(GPU_MAX_BATCH, by_steps, by_tokens))


# ---- the worker's progress lines ---------------------------------------------------------


@dataclass
class Progress:
    """What the worker's progress file said, from a given line on."""

    status: str = "queued"  # ours: queued until the worker says it runs
    metrics: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    lines: int = 0  # lines read in all (the next read starts after them)
    pid: int | None = None


METRIC_KEYS = (
    "step",
    "total_steps",
    "train_loss",
    "valid_loss",
    "tokens_per_s",
    "eta_s",
    "memory_mb",
    "epoch",
)


def read_progress(text: str, start: int = 0) -> Progress:
    """Read progress lines after the first `start`; a half-written last line waits for the
    next read. Unknown lines are skipped (a newer worker may say more)."""
    progress = Progress(lines=start)
    for number, line in enumerate(text.split("\n")[start:-1], start=start + 1):
        progress.lines = number
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        event_id = f"line-{number}"
        if kind == "status":
            progress.status = "running"
            progress.pid = item.get("pid", progress.pid)
            if item.get("message"):
                progress.events.append(
                    {"id": event_id, "created_at": item.get("t"), "message": item["message"]}
                )
        elif kind == "metric" and isinstance(item.get("step"), int):
            progress.status = "running"
            progress.metrics.append({k: item[k] for k in METRIC_KEYS if k in item})
        elif kind == "checkpoint":
            progress.events.append(
                {
                    "id": event_id,
                    "created_at": item.get("t"),
                    "message": f"Checkpoint saved at step {item.get('step')}",
                }
            )
        elif kind == "resume":  # the app started the worker again: what ended is undone
            progress.status, progress.end = "queued", None
            progress.events.append(
                {"id": event_id, "created_at": item.get("t"), "message": "Resuming"}
            )
        elif kind == "end" and item.get("status") in TERMINAL:
            progress.status = item["status"]
            progress.end = item
            message = (
                item.get("message")
                or {
                    "succeeded": "Training finished",
                    "cancelled": "Cancelled",
                    "failed": "Training failed",
                }[item["status"]]
            )
            level = "error" if item["status"] == "failed" else "info"
            progress.events.append(
                {"id": event_id, "created_at": item.get("t"), "message": message, "level": level}
            )
    return progress


def last_metric(text: str) -> dict[str, Any] | None:
    metrics = read_progress(text).metrics
    return metrics[-1] if metrics else None


def eta_line(metric: dict[str, Any]) -> str:
    """ "Step 40 of 120 · 1,250 tokens/s · about 3 minutes left"."""
    parts = [f"Step {metric['step']} of {metric.get('total_steps', '?')}"]
    if metric.get("tokens_per_s"):
        parts.append(f"{metric['tokens_per_s']:,.0f} tokens/s")
    if metric.get("eta_s") is not None and metric.get("step") != metric.get("total_steps"):
        parts.append(f"about {duration(float(metric['eta_s']))} left")
    if metric.get("memory_mb"):
        parts.append(f"{metric['memory_mb'] / 1024:.1f} GB memory")
    return " · ".join(parts)
