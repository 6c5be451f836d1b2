"""A model from the Hugging Face Hub into its standard cache, in its own process so that Cancel
can stop it at once (a partial download resumes next time):

    python -m persona_studio.worker.download REPO

Progress is JSON lines on standard output: {"done": bytes, "total": bytes}, then
{"end": "succeeded", "path": folder} or {"end": "failed", "message": ..., "gated": bool}.
The token, when the model is gated, comes in the HF_TOKEN environment variable.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

# What a chat model needs; never the other formats a repository may also carry.
PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    repo = args[0]
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    from tqdm.auto import tqdm

    lock = threading.Lock()
    totals = {"done": 0, "total": 0}

    class Bytes(tqdm):
        """Adds every file's bytes to one running figure."""

        def __init__(self, *a: Any, **k: Any) -> None:
            k["disable"] = True
            super().__init__(*a, **k)

        def update(self, n: float | None = 1) -> bool | None:
            if self.unit == "B" and n:
                with lock:
                    totals["done"] += int(n)
                    say(**totals)
            return super().update(n)

    try:
        info = HfApi().model_info(repo, files_metadata=True)
        totals["total"] = sum(
            (s.size or 0)
            for s in info.siblings or []
            if any(s.rfilename.endswith(p[1:]) for p in PATTERNS)
        )
        say(**totals)
        path = snapshot_download(repo, allow_patterns=PATTERNS, tqdm_class=Bytes)
    except GatedRepoError:
        say(end="failed", gated=True, message=f"“{repo}” asks you to accept its licence first.")
        return 1
    except RepositoryNotFoundError:
        say(end="failed", gated=False, message=f"There is no model “{repo}” on the Hub.")
        return 1
    except Exception as exc:  # network, disk: said plainly, the partial files resume next time
        say(end="failed", gated=False, message=f"The download stopped: {exc}")
        return 1
    say(end="succeeded", path=path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
