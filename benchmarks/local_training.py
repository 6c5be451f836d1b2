"""Training on this computer: is the time estimate right?

    python benchmarks/local_training.py [--size tiny|0.5b|1.5b] [--epochs N] [--examples N]
                                        [--sentences N] [--batch N]

The Train tab estimates a LoRA training's time as 6 × N × tokens ÷ flops, where flops comes from
the hardware check (`persona_studio.worker.probe --measure`: a small random model trained for a
few seconds). This runs that check (the baseline), then trains a model for real through the app's
worker (`persona_studio.worker.train`, TRL + PEFT, on the coach's question/answer examples), and
prints the measured training speed beside the estimate's, and their ratio.

--size tiny: the test suite's tiny model (2 layers, hidden 64; seconds).
--size 0.5b: random weights in the shape of Qwen2.5-0.5B-Instruct (24 layers, hidden 896,
             vocabulary 151,936; 0.49B parameters; about a minute on a 2-core CPU, 2.5 GB RAM).
--size 1.5b: the shape of Qwen2.5-1.5B-Instruct (28 layers, hidden 1536; 1.54B parameters).
--examples N: that many examples (the 10 questions in turn; default 10); --sentences N: each
answer that many of the coach's sentences long (default 1, ~12 tokens; 8 is about a creator's
~100-token answer). A GPU needs a few hundred long examples to reach its speed.
Needs the `local` extra. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes, from a checkout

QWEN_15B = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151_936,
}
QWEN_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151_936,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "0.5b", "1.5b"), default="tiny")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--sentences", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)

    from persona_studio.core.local_training import FLOPS_PER_PARAM_TOKEN, Hardware, read_progress
    from persona_studio.services.training.local import missing_packages
    from tests.fakes.tiny_model import QA, SYSTEM

    if missing_packages():
        print(f"skipped: the local extra is missing ({', '.join(missing_packages())})")
        return 0
    probe = subprocess.run(
        [sys.executable, "-m", "persona_studio.worker.probe", "--measure"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    hardware = Hardware.from_json(json.loads(probe.stdout.strip().splitlines()[-1]))
    print(f"hardware check: {hardware.describe()}, {hardware.flops / 1e9:,.1f} GFLOP/s measured")

    with tempfile.TemporaryDirectory() as tmp:
        from persona_studio.worker.tiny import build

        model = Path(tmp) / "model"
        started = time.perf_counter()
        shape = {"0.5b": QWEN_05B, "1.5b": QWEN_15B}.get(args.size, {})
        build(model, [f"{q} {a}" for q, a in QA] + [SYSTEM], init=0.02 if shape else 0.3, **shape)
        params = _params(model)
        size = f"{params / 1e9:.3f}B" if params > 1e8 else f"{params:,}"
        print(f"model: {args.size}, {size} parameters "
              f"(built in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        job = Path(tmp) / "job"
        job.mkdir()
        from transformers import AutoTokenizer

        tokenizer, lengths = AutoTokenizer.from_pretrained(model), []
        with (job / "train.jsonl").open("w", encoding="utf-8") as out:
            for i in range(args.examples):
                answer = " ".join(QA[(i + k) % len(QA)][1] for k in range(args.sentences))
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": QA[i % len(QA)][0]},
                    {"role": "assistant", "content": answer},
                ]
                out.write(json.dumps({"messages": messages}) + "\n")
                text = tokenizer.apply_chat_template(messages, tokenize=False)
                lengths.append(len(tokenizer(text)["input_ids"]))
        epochs = args.epochs or (2 if shape else 12)
        (job / "job.json").write_text(json.dumps({
            "base_model": str(model), "train_file": "train.jsonl", "epochs": epochs,
            "batch_size": args.batch, "learning_rate": 2e-4, "lora_rank": 16,
        }))  # fmt: skip
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "persona_studio.worker.train", str(job)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
        progress = read_progress((job / "progress.jsonl").read_text())
    if progress.status != "succeeded" or not progress.metrics:
        print(f"training failed: {progress.end}\n{run.stderr[-3000:]}")
        return 1
    last = progress.metrics[-1]
    measured = float(last["tokens_per_s"])
    estimated = hardware.flops / (FLOPS_PER_PARAM_TOKEN * params)
    print(f"trained {args.examples} examples (~{sum(lengths) / len(lengths):.0f} tokens each) × "
          f"{epochs} epochs, batch {args.batch}: "
          f"{last['step']} steps in {wall:.1f} s in all (loading and merging included), "
          f"peak memory {last['memory_mb'] / 1024:.1f} GB")  # fmt: skip
    print(f"training speed: {measured:,.0f} tokens/s measured, {estimated:,.0f} tokens/s "
          f"estimated from the hardware check")  # fmt: skip
    print(
        f"ratio measured/estimated: {measured / estimated:.2f} "
        "(above 1: the estimate is cautious; below 1: it promises too much)"
    )
    return 0


def _params(folder: Path) -> int:
    """Parameters in the saved model (tied embeddings once, as the model has them)."""
    from math import prod

    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as weights:
        return sum(prod(weights.get_slice(name).get_shape()) for name in weights.keys())  # noqa: SIM118


if __name__ == "__main__":
    sys.exit(main())
