"""The readiness check's cost against the encoder's own, and a re-check after one edit.

    python benchmarks/recheck.py [--examples 100000] [--edits 5]

Issue 21's goals, on the same synthetic examples as `dataset.py`:
1. the first full check within 1.3× the encoder's own time counting the same texts (the native
   count, in the same run; each the shortest of two runs from an empty token-count cache):
   in one process alone, then as the check's worker process runs it, with a helper process
   counting a share of the texts meanwhile (`tokens.count_beside`), without and with the
   near-duplicate search; and the worker's first check, from the app's call to the report,
   then a new worker's on the same examples (the project opened again: the near-duplicate
   search reads its band keys from the store the first one kept);
2. a re-check after one edit shown within 100 ms of the pause after typing: the check's worker
   process, from the app's call to the report in its hands (what the Dataset tab then shows),
   and the same check run in this process. Min / median / max over `--edits` edits.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def figures(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{min(ms):6.1f} / {statistics.median(ms):6.1f} / {max(ms):6.1f} ms"


def kept_by_then(store: Path, quiet_s: float = 0.5) -> int:
    """How many band keys `store` holds once the worker has stopped adding them."""
    import contextlib
    import sqlite3

    last = -1
    while True:
        time.sleep(quiet_s)
        with contextlib.closing(sqlite3.connect(store)) as db:
            kept = int(db.execute("SELECT COUNT(*) FROM band_keys").fetchone()[0])
        if kept == last:
            return kept
        last = kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()

    from benchmarks.dataset import synthetic_examples
    from persona_studio.core import tokens
    from persona_studio.core.persona import Persona
    from persona_studio.core.tokens import _counter, _counts

    counts_kept = _counts
    from persona_studio.core.validation import (
        CheckCache,
        model_spec,
        preflight,
        training_messages,
    )
    from persona_studio.services.check_process import CheckProcess

    examples = synthetic_examples(args.examples)
    persona = Persona(name="Bench", description="A character with a very large dataset.")
    spec = model_spec("gpt-4o-mini-2024-07-18")
    prompt = persona.system_prompt()
    texts = list(
        {m["content"] for ex in examples for m in training_messages(ex, prompt)} | {"system"}
    )
    count = _counter(spec.encoding)  # loads the encoding, outside the timing
    count(["warm"])

    def best(action: Callable[[], object], runs: int = 2) -> float:
        """The shortest of `runs` runs (the machine's noise only ever adds), each from an
        empty token-count cache."""
        times = []
        for _ in range(runs):
            counts_kept.clear()
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        return min(times)

    # the native count of every distinct text, as the check asks for them
    encoder = best(lambda: count(texts))
    alone = best(lambda: preflight(examples, persona, spec, find_duplicates=False))
    tokens.count_beside(True)
    tokens.count_soon({f"warm {n}" for n in range(tokens.HELPER_FROM)}, spec.encoding)()
    try:
        checks = best(lambda: preflight(examples, persona, spec, find_duplicates=False))
        cache = CheckCache()
        full = best(lambda: preflight(examples, persona, spec, cache=CheckCache()), runs=1)
    finally:
        tokens.count_beside(False)
    preflight(examples, persona, spec, cache=cache)
    print(f"{args.examples:,} examples, {len(texts):,} distinct texts")
    print(f"1. the encoder's own count: {encoder:6.2f} s")
    print(f"   first check, format + tokens, alone: {alone:6.2f} s, {alone / encoder:4.2f}x")
    print(
        f"   the same, a helper process counting beside: {checks:6.2f} s, "
        f"{checks / encoder:4.2f}x the encoder (target ≤ 1.3x)"
    )
    print(f"   with near-duplicates: {full:6.2f} s, {full / encoder:4.2f}x the encoder")

    worker = CheckProcess()
    worker.store = Path(tempfile.mkdtemp(prefix="persona-bench-")) / "near-duplicates.sqlite"
    atexit.register(shutil.rmtree, worker.store.parent, ignore_errors=True)
    try:
        opened: list[float] = []
        for _run in range(2):  # the app's first run, then the same project opened again
            worker.close()
            worker.start()  # as the app does on opening a large project
            worker.count_tokens("warm", [spec.encoding])
            _counts.clear()
            started = time.perf_counter()
            worker.run(examples, persona, spec)  # the worker's first check: it holds nothing yet
            opened.append(time.perf_counter() - started)
            kept_by_then(worker.store)  # (the worker keeps them once its report is sent)
        first, again = opened
        print(
            f"   the worker's first check, call to report: {first:6.2f} s, "
            f"{first / encoder:4.2f}x the encoder (sending the examples, and near-duplicates)"
        )
        print(
            f"   the same project opened again (a new worker, the near-duplicate search's band "
            f"keys read from the last run's store): {again:6.2f} s, {again / first:4.2f}x"
        )
        here: list[float] = []
        there: list[float] = []
        for edit in range(args.edits):
            at = (edit * 7919) % len(examples)
            examples = list(examples)  # as the runner snapshots the session's list
            examples[at] = dataclasses.replace(
                examples[at], status="approved" if examples[at].status != "approved" else "draft"
            )
            started = time.perf_counter()
            report = worker.run(examples, persona, spec)
            there.append(time.perf_counter() - started)
            started = time.perf_counter()
            same = preflight(examples, persona, spec, cache=cache)
            here.append(time.perf_counter() - started)
            assert report.summary() == same.summary() and report.tokens == same.tokens
    finally:
        worker.close()
    print("2. re-check after one edit, min / median / max (target ≤ 100 ms):")
    print(f"   through the worker process, call to report: {figures(there)}")
    print(f"   in this process:                            {figures(here)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
