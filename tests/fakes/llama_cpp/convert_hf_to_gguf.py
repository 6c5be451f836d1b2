#!/usr/bin/env python3
"""A stand-in for llama.cpp's `convert_hf_to_gguf.py`, for tests: the same command line as the
real one's `parse_args` (github.com/ggml-org/llama.cpp, convert_hf_to_gguf.py at commit
a458664: MODEL, --outfile, --outtype f32|f16|bf16|q8_0|tq1_0|tq2_0|auto), the same failure for
a model family it does not know (`NotImplementedError: Architecture '…' not supported!`),
tqdm's "Writing: NN%|…|" progress on stderr, and a minimal valid GGUF file (ggml's
docs/gguf.md: magic "GGUF", version 3, tensor and key-value counts; here with one key,
general.architecture). It writes what it was asked to `asked.json` beside the output.

FAKE_CONVERTER_SLOW=1 makes it take a minute (for cancelling)."""

import argparse
import json
import os
import struct
import sys
import time
from pathlib import Path

KNOWN = {"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "Gemma3ForCausalLM"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outfile", type=Path)
    parser.add_argument(
        "--outtype",
        choices=["f32", "f16", "bf16", "q8_0", "tq1_0", "tq2_0", "auto"],
        default="auto",
    )
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    config = json.loads((args.model / "config.json").read_text())
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in KNOWN:
        raise NotImplementedError(f"Architecture {arch!r} not supported!")
    (args.outfile.parent / "asked.json").write_text(
        json.dumps(
            {"model": str(args.model), "outtype": args.outtype, "outfile": str(args.outfile)}
        )
    )
    steps = 60 if os.environ.get("FAKE_CONVERTER_SLOW") else 4
    with args.outfile.open("wb") as out:
        key, value = b"general.architecture", arch.encode()
        out.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1))
        out.write(struct.pack("<Q", len(key)) + key + struct.pack("<I", 8))  # 8: a string
        out.write(struct.pack("<Q", len(value)) + value)
        for step in range(1, steps + 1):
            sys.stderr.write(f"\rWriting: {100 * step // steps:3d}%|{'#' * step}| {step}/{steps}")
            sys.stderr.flush()
            time.sleep(1.0 if steps > 4 else 0.01)
    sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
