"""A tiny model for the tests of training on this computer: built by the real worker module
(`persona_studio.worker.tiny`: random weights, a tokenizer trained on these texts, a chat
template), in its own process, so no test process imports torch. Nothing is downloaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEM = "You are Coach Rhea."
QA = [
    ("How do I start running?", "Start slow: walk one minute, jog one minute."),
    ("What should I eat before a race?", "Oats and a banana, two hours before."),
    ("How often should I rest?", "Take one full rest day every week."),
    ("Are hills worth it?", "Hills build strong legs and a calm mind."),
    ("What shoes do you like?", "Light shoes with a soft heel."),
    ("How do I breathe?", "Breathe in for three steps, out for two."),
    ("Can I run every day?", "Only if most days are very easy."),
    ("What about stretching?", "Stretch gently after the run, not before."),
    ("How do I stay motivated?", "Run with a friend and keep a log."),
    ("What is your name?", "I am Coach Rhea, your running coach."),
]
# Enough for the tiny model to learn every answer by heart (loss ~0.03 after 12 epochs).
MEMORISE = {"n_epochs": 12, "batch_size": 2, "learning_rate_multiplier": 50.0, "lora_rank": 32}


def require_local_extra() -> None:
    """Skip a module without the `local` extra; in CI (which installs it) fail instead."""
    from persona_studio.services.training.local import missing_packages

    missing = missing_packages()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the local extra; missing: {missing}")
        pytest.skip("the `local` extra is not installed", allow_module_level=True)


def build(folder: Path) -> Path:
    texts = "\n".join([f"{q} {a}" for q, a in QA] + [SYSTEM])
    subprocess.run(
        [sys.executable, "-m", "persona_studio.worker.tiny", str(folder)],
        input=texts.encode(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder
