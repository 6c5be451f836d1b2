"""The fault run at scale: what issue 15's closing figures are measured with.

    python benchmarks/faults.py [--gui 100] [--core 300] [--damaged 1000] [--fuzz 400] [--sync 300]

- `--gui N`: the real window (offscreen) killed with SIGKILL at random moments while it edits
  (a persona field, an added, an edited and a deleted example, through its undo commands);
  every edit the status bar had called saved must be in the file
  (tests/gui/test_kill_during_gui_edits.py, N times).
- `--core N`: a writer of the project file killed the same way (tests/core/test_crash_safety).
- `--damaged N`: a crashed project (the file and the -wal beside it) with random bytes
  overwritten, opened N times: it opens, or it is refused with our error, and a refused open
  leaves both files byte for byte as they were.
- `--fuzz N`: every importer's, the card reader's and the sheet answer's fuzz tests, N inputs
  each (PERSONA_FUZZ_EXAMPLES).
- `--sync N`: the Sheets sync over a faulty network, N random runs: no row duplicated or lost.
Prints the figures; exits 1 on any lost edit, crash or changed file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.*, from a checkout


def gui_trials(count: int) -> int:
    from tests.gui.test_kill_during_gui_edits import run_trial

    failed = acked = 0
    started = time.perf_counter()
    for seed in range(count):
        with tempfile.TemporaryDirectory() as home:
            try:
                acked += run_trial(Path(home), 1000 + seed)["acked"]
            except AssertionError as exc:
                failed += 1
                print(f"  window trial {seed}: LOST an acknowledged edit: {exc}")
    print(f"window killed with SIGKILL: {count} trials, {acked} acknowledged edits checked, "
          f"{failed} trials lost one ({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return failed


def core_trials(count: int) -> int:
    from persona_studio.core.project import Project
    from tests.core.test_crash_safety import kill_the_writer

    failed = 0
    started = time.perf_counter()
    for seed in range(count):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "crash.persona"
            acked, _code = kill_the_writer(path, seed)
            with Project.open(path) as project:
                ids = {e.id for e in project.examples()}
                lost = {f"e{i}" for i in range(0, acked + 1, 2)} - ids
            if lost:
                failed += 1
                print(f"  writer trial {seed}: LOST {sorted(lost)}")
    print(f"project writer killed with SIGKILL: {count} trials, {failed} lost an edit "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return failed


def damaged_files(count: int) -> int:
    from persona_studio.core.errors import UserFacingError
    from persona_studio.core.project import Project
    from tests.core.test_project import _crash_copy

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"

    opened = refused = crashed = changed = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        pristine = _crash_copy(Path(folder))
        wal = Path(f"{pristine}-wal")
        for seed in range(count):
            rng = random.Random(seed)
            trial = Path(folder) / f"trial-{seed}.persona"
            shutil.copy(pristine, trial)
            shutil.copy(wal, f"{trial}-wal")
            target = trial if rng.random() < 0.7 else Path(f"{trial}-wal")
            data = bytearray(target.read_bytes())
            for _ in range(rng.randrange(1, 4)):
                start = rng.randrange(0, len(data))
                size = rng.choice((1, 4, 16, 100, 1000))
                data[start : start + size] = rng.randbytes(min(size, len(data) - start))
            target.write_bytes(bytes(data))
            before = (digest(trial), digest(Path(f"{trial}-wal")))
            try:
                with Project.open(trial) as project:
                    project.examples()
                opened += 1
            except UserFacingError:
                refused += 1
                if (digest(trial), digest(Path(f"{trial}-wal"))) != before:
                    changed += 1
                    print(f"  damaged file {seed}: a refused open CHANGED it")
            except Exception as exc:
                crashed += 1
                print(f"  damaged file {seed}: {type(exc).__name__}: {exc}")
            for leftover in Path(folder).glob(f"trial-{seed}.persona*"):
                leftover.unlink()
    print(f"damaged projects with a -wal: {count} opened, {opened} readable, {refused} refused "
          f"plainly, {crashed} other errors, {changed} refused files changed "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return crashed + changed


def scaled_tests(what: str, variable: str, count: int, tests: list[str], chosen: str) -> int:
    """Property tests of the suite run with `count` examples each (`variable` sets it)."""
    started = time.perf_counter()
    env = {**os.environ, variable: str(count), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests, "-k", chosen],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"{what}: {summary} ({time.perf_counter() - started:.0f} s)")
    return 0 if result.returncode == 0 else 1


def fuzz(count: int) -> int:
    return scaled_tests(
        f"importer, card and sheet-answer fuzz, {count} inputs per test",
        "PERSONA_FUZZ_EXAMPLES",
        count,
        [
            "tests/core/test_importer_fuzz.py",
            "tests/core/test_cards.py",
            "tests/services/test_sheets.py",
        ],
        "only_our_error or random_bytes or mutated_real",  # the fuzz tests of those files
    )


def sync_faults(count: int) -> int:
    """The Sheets sync over a faulty network (applied-then-503, 503, 429), `count` runs."""
    return scaled_tests(
        f"Sheets sync over a faulty network, {count} random runs (no row duplicated or lost)",
        "PERSONA_SYNC_FAULTS",
        count,
        ["tests/services/test_sheets.py"],
        "faulty_network",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gui", type=int, default=100)
    parser.add_argument("--core", type=int, default=300)
    parser.add_argument("--damaged", type=int, default=1000)
    parser.add_argument("--fuzz", type=int, default=400)
    parser.add_argument("--sync", type=int, default=300)
    args = parser.parse_args()
    failures = 0
    if args.gui:
        failures += gui_trials(args.gui)
    if args.core:
        failures += core_trials(args.core)
    if args.damaged:
        failures += damaged_files(args.damaged)
    if args.fuzz:
        failures += fuzz(args.fuzz)
    if args.sync:
        failures += sync_faults(args.sync)
    print("no edit lost, no crash, no refused file changed" if not failures else "FAULTS FOUND")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
