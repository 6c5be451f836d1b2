"""LoRA fine-tuning on this computer, in its own process:

    python -m persona_studio.worker.train JOB_FOLDER [--resume]

JOB_FOLDER holds `job.json` (written by `services.training.local`, described in
`core.local_training.LocalJob`) and the training JSONL. Progress goes to
`progress.jsonl` in the same folder, one JSON object a line (`core.local_training` reads them):
status, metric, checkpoint, and one `end` line last. A file named `cancel` in the folder stops
the run at the next step, after a checkpoint is saved; `--resume` carries on from the newest
checkpoint. Whatever goes wrong ends with an `end` line in plain words, never a silent exit.

The examples are the OpenAI chat JSONL the hosted trainers get. Each example is tokenised with
the model's chat template one message at a time, so only the assistant's words are learnt, and an
assistant message with `"weight": 0` is not learnt at all (as OpenAI's trainer does).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PROGRESS = "progress.jsonl"
CANCEL = "cancel"


class Reporter:
    """Appends progress lines, flushed at once so the app sees them while we train."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / PROGRESS
        self.file = self.path.open("a", encoding="utf-8")

    def __call__(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, "t": round(time.time(), 3), **fields})
        self.file.write(line + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def read_examples(path: Path) -> list[list[dict[str, Any]]]:
    conversations = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                conversations.append(json.loads(line)["messages"])
    return conversations


def tokenise(tokenizer: Any, messages: list[dict[str, Any]], max_length: int) -> dict[str, list]:
    """input_ids and an assistant mask (1: learnt) for one conversation. The template is
    rendered for each growing prefix; the tokens a message adds belong to it, and for an
    assistant message the header (the generation prompt) is not learnt."""

    def ids(prefix: list[dict[str, Any]], generation_prompt: bool = False) -> list[int]:
        plain = [{"role": m["role"], "content": m.get("content") or ""} for m in prefix]
        out = tokenizer.apply_chat_template(
            plain, tokenize=True, add_generation_prompt=generation_prompt, return_dict=False
        )
        return list(out["input_ids"] if isinstance(out, dict) else out)

    input_ids: list[int] = []
    mask: list[int] = []
    for index, message in enumerate(messages):
        learnt = message["role"] == "assistant" and message.get("weight", 1) != 0
        if learnt:
            header = ids(messages[:index], generation_prompt=True)
            if header[: len(input_ids)] == input_ids:
                mask += [0] * (len(header) - len(input_ids))
                input_ids = header
        full = ids(messages[: index + 1])
        if full[: len(input_ids)] != input_ids:  # a template that rewrites earlier turns
            input_ids, mask = full, [0] * len(full)
            continue
        mask += [1 if learnt else 0] * (len(full) - len(input_ids))
        input_ids = full
    return {"input_ids": input_ids[:max_length], "assistant_masks": mask[:max_length]}


def pick_device() -> tuple[str, Any]:
    import torch

    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return "cuda", torch.bfloat16 if bf16 else torch.float16
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps", torch.float32
    return "cpu", torch.float32


def memory_mb(device: str) -> int:
    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated() / 2**20)
    import psutil

    return int(psutil.Process().memory_info().rss / 2**20)


def latest_checkpoint(folder: Path) -> Path | None:
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def make_callback(report: Reporter, folder: Path, device: str) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Loss, speed and memory as progress lines; the cancel flag stops at the next step."""

        def __init__(self) -> None:
            self.started = time.monotonic()
            self.first_step: int | None = None
            self.first_tokens = 0  # a resumed run counts its speed from where it resumed

        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.started = time.monotonic()
            self.first_step = state.global_step
            self.first_tokens = int(state.num_input_tokens_seen or 0)
            report(
                "status",
                status="running",
                message="Training",
                step=state.global_step,
                total_steps=state.max_steps,
            )

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            logs = logs or {}
            if "loss" not in logs and "eval_loss" not in logs:
                return
            elapsed = max(1e-6, time.monotonic() - self.started)
            done = state.global_step - (self.first_step or 0)
            per_step = elapsed / done if done else None
            row: dict[str, Any] = {
                "step": state.global_step,
                "total_steps": state.max_steps,
                "epoch": round(state.epoch or 0.0, 3),
                "memory_mb": memory_mb(device),
            }
            if "loss" in logs:
                row["train_loss"] = float(logs["loss"])
            if "eval_loss" in logs:
                row["valid_loss"] = float(logs["eval_loss"])
            tokens = int(state.num_input_tokens_seen or 0) - self.first_tokens
            if tokens > 0:
                row["tokens_per_s"] = round(tokens / elapsed, 1)
            if per_step is not None:
                row["eta_s"] = round(per_step * (state.max_steps - state.global_step))
            report("metric", **row)

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            if (folder / CANCEL).exists():
                control.should_save = True
                control.should_training_stop = True

        def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            report("checkpoint", step=state.global_step)

    return Progress()


def train(folder: Path, resume: bool, report: Reporter) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    device, dtype = pick_device()
    report("status", status="running", message=f"Loading {job['base_model']} on {device}")
    torch.manual_seed(int(job.get("seed", 42)))
    tokenizer = AutoTokenizer.from_pretrained(job["base_model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise ValueError("This model has no chat template: choose an instruct (chat) model.")
    model = AutoModelForCausalLM.from_pretrained(job["base_model"], dtype=dtype)

    max_length = int(job.get("max_length", 2048))

    def dataset(name: str | None) -> Any:
        if not name:
            return None
        rows = [tokenise(tokenizer, m, max_length) for m in read_examples(folder / name)]
        rows = [r for r in rows if 1 in r["assistant_masks"]]
        if not rows:
            raise ValueError(f"No example in {name} has an answer to learn.")
        return Dataset.from_list(rows)

    train_set = dataset(job["train_file"])
    eval_set = dataset(job.get("validation_file"))
    epochs = int(job.get("epochs", 3))
    batch = job.get("batch_size")
    if not isinstance(batch, int) or batch < 1:  # left on auto: decided here, where the device is
        from persona_studio.core.config import atomic_write_bytes
        from persona_studio.core.local_training import auto_batch

        batch = auto_batch([len(r["input_ids"]) for r in train_set], epochs, device)
        job["batch_size"] = batch  # kept, so a resumed run goes on in the same steps
        atomic_write_bytes(folder / "job.json", json.dumps(job, indent=2).encode("utf-8"))
        report("status", status="running", message=f"Training {batch} examples a step")
    steps = max(1, math.ceil(len(train_set) / batch)) * epochs
    every = max(1, steps // 5)  # a checkpoint about every fifth of the run
    rank = int(job.get("lora_rank", 16))
    config = SFTConfig(
        output_dir=str(folder / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        learning_rate=float(job.get("learning_rate", 2e-4)),
        lr_scheduler_type="linear",
        warmup_steps=0,
        logging_steps=max(1, steps // 200),
        save_steps=every,
        save_total_limit=2,
        eval_strategy="steps" if eval_set is not None else "no",
        eval_steps=every if eval_set is not None else None,
        max_length=max_length,
        seed=int(job.get("seed", 42)),
        report_to=[],
        disable_tqdm=True,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        use_cpu=device == "cpu",
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=device == "cuda",
        save_only_model=False,
        gradient_checkpointing=True,  # memory for long examples; the estimate counts its cost
    )
    lora = LoraConfig(
        r=rank,
        lora_alpha=rank * 2,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[make_callback(report, folder, device)],
    )
    checkpoint = latest_checkpoint(folder / "checkpoints") if resume else None
    if checkpoint is not None:
        report("status", status="running", message=f"Resuming from step {checkpoint.name[11:]}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if (folder / CANCEL).exists():
        return {"status": "cancelled", "message": "Cancelled; the last checkpoint is kept."}
    adapter = folder / "adapter"
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    config_path = adapter / "adapter_config.json"  # where the base is, for every later loader
    adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    adapter_config["base_model_name_or_path"] = job["base_model"]
    config_path.write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
    trained = int(trainer.state.num_input_tokens_seen or 0)
    report("status", status="running", message="Preparing the model for chat")
    merged = folder / "model"
    trained_model: Any = trainer.model
    trained_model.merge_and_unload().save_pretrained(str(merged))
    tokenizer.save_pretrained(str(merged))
    return {
        "status": "succeeded",
        "adapter": str(adapter),
        "model": str(merged),
        "trained_tokens": trained,
    }


def plain_failure(exc: BaseException) -> dict[str, str]:
    """What went wrong, for a creator."""
    text = f"{type(exc).__name__}: {exc}"
    if "out of memory" in text.lower() or isinstance(exc, MemoryError):
        return {
            "message": "This computer ran out of memory while training.",
            "next_step": "Choose a smaller model, or lower the batch size, then resume.",
        }
    if isinstance(exc, OSError) and ("does not appear" in text or "not a valid" in text):
        return {
            "message": f"The model could not be loaded: {exc}",
            "next_step": "Check the model folder, or download the model again.",
        }
    return {"message": f"Training stopped: {text}", "next_step": "Resume it, or start again."}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0])
    report = Reporter(folder)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    report("status", status="running", message="Starting", pid=os.getpid())
    try:
        result = train(folder, "--resume" in args, report)
    except BaseException as exc:  # the last line is always an end line
        (folder / "worker-error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        report("end", status="failed", **plain_failure(exc))
        report.close()
        return 1
    report("end", **result)
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
