"""A model from the Hugging Face Hub into its standard cache, in its own process so that Cancel
can stop it at once (the files that arrived whole are kept; the next download fetches the
rest — huggingface_hub 2.x starts a broken-off file again, in a file of its own):

    python -m persona_studio.worker.download REPO

Progress is JSON lines on standard output: {"done": bytes, "total": bytes}, then
{"end": "succeeded", "path": folder} or {"end": "failed", "message": ..., "gated": bool}.
The token, when the model is gated, comes in the HF_TOKEN environment variable.

The bytes done are the bytes in the model's folder of the cache (its documented layout:
`models--ORG--NAME/blobs`, partial files included), read four times a second: progress that
does not depend on how a huggingface_hub release draws its own bars (2.x draws two byte bars
per download, and a quiet tqdm subclass lost attributes the library reads).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

# What a chat model needs; never the other formats a repository may also carry.
PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    repo = args[0]
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    from huggingface_hub.file_download import repo_folder_name

    blobs = Path(HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model") / "blobs"
    finished = threading.Event()

    def watch(total: int) -> None:
        """Says the bytes in the cache as they grow, until the download ends."""
        said, last = 0, False
        while not last:
            last = finished.wait(0.25)  # once more after the end: the final figure
            done = min(total, _size(blobs)) if total else _size(blobs)
            if done != said:
                say(done=done, total=total)
                said = done

    watcher: threading.Thread | None = None
    try:
        info = HfApi().model_info(repo, files_metadata=True)
        total = sum(
            (s.size or 0)
            for s in info.siblings or []
            if any(s.rfilename.endswith(p[1:]) for p in PATTERNS)
        )
        say(done=0, total=total)
        watcher = threading.Thread(target=watch, args=(total,), daemon=True)
        watcher.start()
        path = snapshot_download(repo, allow_patterns=PATTERNS, tqdm_class=_Quiet)
    except GatedRepoError:
        say(end="failed", gated=True, message=f"“{repo}” asks you to accept its licence first.")
        return 1
    except RepositoryNotFoundError:
        say(end="failed", gated=False, message=f"There is no model “{repo}” on the Hub.")
        return 1
    except Exception as exc:  # network, disk: said plainly; whole files are kept
        say(end="failed", gated=False, message=f"The download stopped: {exc}")
        return 1
    finally:
        finished.set()
        if watcher is not None:
            watcher.join()
    say(end="succeeded", path=path)
    return 0


def _size(folder: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in folder.iterdir() if entry.is_file())
    except OSError:  # not made yet, or a file renamed while it was read
        return 0


class _Quiet:
    """A progress bar that draws nothing: the worker says its own progress (see above)."""

    def __init__(self, *_args: Any, **kwargs: Any) -> None:
        self.n, self.total = 0, kwargs.get("total")

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def __getattr__(self, _name: str) -> Any:
        return lambda *_a, **_k: None  # update, close, refresh, set_description…


if __name__ == "__main__":
    sys.exit(main())
