"""Training on this computer, the pure half: what fits, how long it takes, the settings left on
auto, and the worker's progress lines read into our job terms."""

from __future__ import annotations

import json

import pytest

from persona_studio.core.local_training import (
    MODELS,
    Hardware,
    auto_batch,
    auto_rank,
    duration,
    eta_line,
    fit,
    largest_model_b,
    memory_needed_gb,
    read_progress,
    summary,
    training_seconds,
)

GPU_8 = Hardware("cuda", "RTX 4060", 8.0, 32.0, flops=40e12)
GPU_24 = Hardware("cuda", "RTX 4090", 24.0, 64.0, flops=150e12)
MAC_16 = Hardware("mps", "arm64", 16.0, 16.0, flops=8e12)
CPU_16 = Hardware("cpu", "Laptop CPU", 16.0, 16.0, flops=1.1e11)  # this machine's measurement
UNMEASURED = Hardware("cuda", "RTX 4060", 8.0, 32.0)


@pytest.mark.parametrize(
    ("hardware", "largest"),
    [(GPU_8, 2.5), (GPU_24, 8.7), (MAC_16, 2.3), (CPU_16, 2.8)],
)
def test_the_largest_model_that_fits(hardware: Hardware, largest: float) -> None:
    assert largest_model_b(hardware) == pytest.approx(largest, abs=0.05)


@pytest.mark.parametrize(
    ("params_b", "tokens", "hardware", "fits", "words"),
    [
        (0.49, 100_000, GPU_8, True, "less than a minute"),  # 6 × 0.49e9 × 1e5 / 40e12 = 7.4 s
        (4.0, 100_000, GPU_8, False, "Needs about 11 GB"),  # 4 × 2 × 1.15 + 1.5 = 10.7
        (4.0, 1_000_000, GPU_24, True, "3 minutes"),  # 160 s
        (1.54, 300_000, MAC_16, True, "6 minutes"),  # 347 s
        (0.49, 90_000, CPU_16, True, "40 minutes"),  # 2,405 s
        (1.7, 3_000_000, CPU_16, False, "Would take about 77 hours"),  # over the 12-hour cap
        (1.0, 1_000, UNMEASURED, True, "run the hardware check"),
    ],
)
def test_fit_and_time_in_plain_words(params_b, tokens, hardware, fits, words) -> None:
    verdict = fit(params_b, tokens, hardware)
    assert verdict.fits is fits
    assert words in verdict.reason


def test_the_formula_is_six_n_per_token_over_the_measured_speed() -> None:
    assert training_seconds(1.0, 1_000, CPU_16) == pytest.approx(6 * 1e9 * 1_000 / 1.1e11)
    assert training_seconds(1.0, 1_000, UNMEASURED) is None
    assert memory_needed_gb(1.0, GPU_8) == pytest.approx(2 * 1.15 + 1.5)
    assert memory_needed_gb(1.0, CPU_16) == pytest.approx(4 * 1.15 + 1.5)


def test_a_missing_extra_is_said_before_anything_else() -> None:
    missing = Hardware("cpu", "", 0, 0, missing="Install it with: pip install …")
    assert fit(0.5, 10, missing) == fit(0.5, 10, missing)
    assert not fit(0.5, 10, missing).fits
    assert summary(missing, 10, 1) == "Install it with: pip install …"


def test_summary_names_the_machine_and_the_range_of_times() -> None:
    line = summary(GPU_8, 200_000, 200)
    assert line.startswith("This computer has an NVIDIA graphics card (RTX 4060, 8 GB)")
    assert "up to about 2.5B parameters" in line
    assert "training 200 examples takes about" in line and "Qwen2.5 0.5B Instruct" in line
    tiny = Hardware("cpu", "Old CPU", 2.0, 2.0, flops=1e10)
    assert "too little to train even the smallest" in summary(tiny, 1000, 5)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (10, "less than a minute"),
        (45, "a minute"),
        (600, "10 minutes"),
        (7200, "2.0 hours"),
        (50 * 3600, "50 hours"),
    ],
)
def test_durations(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_auto_rank_grows_with_the_dataset() -> None:
    assert [auto_rank(n) for n in (10, 99, 100, 999, 1000)] == [8, 8, 16, 16, 32]


def test_auto_batch_is_larger_on_an_nvidia_card_while_the_run_keeps_its_steps() -> None:
    short = [135] * 400
    assert auto_batch(short, 3, "cpu") == auto_batch(short, 3, "mps") == 4
    assert auto_batch(short, 3, "cuda") == 12  # 1,200 examples seen: 100 steps of 12
    assert auto_batch(short * 5, 3, "cuda") == 16  # never above 16
    assert auto_batch(short[:60], 3, "cuda") == 4  # 180 seen: a larger batch would learn less
    assert auto_batch([*short, 1024], 3, "cuda") == 4  # 4 × 1,024 tokens: no more beside it
    assert auto_batch([*short, 400], 3, "cuda") == 10  # 4,096 ÷ 400
    assert auto_batch([], 3, "cuda") == 4


def test_every_offered_model_names_its_licence() -> None:
    assert len({m.repo for m in MODELS}) == len(MODELS)
    assert all(m.licence and 0 < m.params_b < 8 for m in MODELS)
    assert all(m.gated for m in MODELS if m.repo.startswith(("meta-llama/", "google/")))


def lines(*items: dict) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def test_progress_lines_become_metrics_events_and_an_end() -> None:
    text = lines(
        {"type": "status", "t": 1, "status": "running", "message": "Starting", "pid": 42},
        {
            "type": "metric",
            "t": 2,
            "step": 1,
            "total_steps": 4,
            "train_loss": 3.2,
            "tokens_per_s": 900.0,
            "eta_s": 12,
            "memory_mb": 480,
            "extra": "ignored",
        },
        {"type": "checkpoint", "t": 3, "step": 2},
        {
            "type": "metric",
            "t": 4,
            "step": 4,
            "total_steps": 4,
            "train_loss": 0.4,
            "valid_loss": 0.6,
        },
        {"type": "end", "t": 5, "status": "succeeded", "model": "/m"},
    )
    progress = read_progress(text)
    assert progress.status == "succeeded" and progress.pid == 42 and progress.lines == 5
    assert progress.metrics[0] == {
        "step": 1,
        "total_steps": 4,
        "train_loss": 3.2,
        "tokens_per_s": 900.0,
        "eta_s": 12,
        "memory_mb": 480,
    }
    assert progress.metrics[1]["valid_loss"] == 0.6
    assert [e["message"] for e in progress.events] == [
        "Starting",
        "Checkpoint saved at step 2",
        "Training finished",
    ]
    assert [e["id"] for e in progress.events] == ["line-1", "line-3", "line-5"]
    later = read_progress(text, start=3)  # a follower asks only for what is new
    assert [m["step"] for m in later.metrics] == [4] and later.end is not None


def test_a_half_written_or_damaged_line_is_skipped_and_a_resume_undoes_the_end() -> None:
    text = (
        lines(
            {"type": "end", "t": 1, "status": "cancelled"},
            {"type": "resume", "t": 2},
        )
        + "not json\n"
        + '{"type": "metric", "step": 9'
    )  # the worker is writing it now
    progress = read_progress(text)
    assert progress.end is None and progress.status == "queued" and progress.lines == 3
    failed = read_progress(lines({"type": "end", "status": "failed", "message": "Out of memory"}))
    assert failed.status == "failed" and failed.events[-1]["level"] == "error"
    assert failed.events[-1]["message"] == "Out of memory"


def test_the_eta_line() -> None:
    metric = {
        "step": 40,
        "total_steps": 120,
        "tokens_per_s": 1250.4,
        "eta_s": 180,
        "memory_mb": 2048,
    }
    assert eta_line(metric) == (
        "Step 40 of 120 · 1,250 tokens/s · about 3 minutes left · 2.0 GB memory"
    )
