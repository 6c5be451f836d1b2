"""What this computer can train on, as one JSON object on standard output:

    python -m persona_studio.worker.probe [--measure]

kind ("cuda", "mps" or "cpu"), name, memory_gb (what training can use), ram_gb, and with
`--measure` the arithmetic speed LoRA training reached here (`flops`): a small random model is
trained for a few steps, so the estimates in `core.local_training` come from this computer. When
the `local` extra is missing, `missing` says what to install and nothing else is tried.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

INSTALL = (
    "Training on this computer needs the optional “local” part of Persona Studio (about 1 GB "
    "on a PC without an NVIDIA card, 3 GB with one). Install it with: "
    "pip install 'persona-studio[local]'"
)


def processor_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def describe() -> dict[str, Any]:
    try:
        import psutil
        import torch
    except ImportError as exc:
        return {"kind": "cpu", "name": processor_name(), "missing": f"{INSTALL} ({exc.name})"}
    ram_gb = psutil.virtual_memory().total / 2**30
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "kind": "cuda",
            "name": props.name,
            "memory_gb": round(props.total_memory / 2**30, 1),
            "ram_gb": round(ram_gb, 1),
        }
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return {
            "kind": "mps",
            "name": platform.machine(),
            "memory_gb": round(ram_gb, 1),
            "ram_gb": round(ram_gb, 1),
        }
    return {
        "kind": "cpu",
        "name": processor_name(),
        "memory_gb": round(ram_gb, 1),
        "ram_gb": round(ram_gb, 1),
        "cores": os.cpu_count() or 1,
    }


def measure(kind: str, seconds: float = 8.0) -> dict[str, Any]:
    """Train LoRA on a random Llama-shaped model for about `seconds`: tokens/s and flops (the
    arithmetic done: 4 × N a token here, with no activation checkpointing)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    big = kind == "cuda"
    hidden, layers, seq, batch = (1024, 8, 512, 8) if big else (256, 4, 256, 2)
    config = LlamaConfig(
        vocab_size=8000,
        hidden_size=hidden,
        intermediate_size=hidden * 3,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 128,
    )
    device = torch.device(kind)
    dtype = torch.bfloat16 if big and torch.cuda.is_bf16_supported() else torch.float32
    model: Any = LlamaForCausalLM(config)
    model = model.to(device=device, dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, config.vocab_size, (batch, seq), device=device)

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()

    step()  # warm-up: allocation, kernels
    if kind == "cuda":
        torch.cuda.synchronize()
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < seconds or steps < 3:
        step()
        steps += 1
    if kind == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    tokens_per_s = steps * batch * seq / elapsed
    return {
        "flops": round(4 * params * tokens_per_s),
        "measured_tokens_per_s": round(tokens_per_s, 1),
        "measured_params": params,
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    found = describe()
    if "--measure" in args and not found.get("missing"):
        found.update(measure(found["kind"]))
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
