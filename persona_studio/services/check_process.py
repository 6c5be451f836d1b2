"""The readiness check of a large dataset in a warm worker process, so that it never holds the
GUI process's interpreter lock (issue 21: at 100,000 examples the check in a worker *thread*
stalled the window for 0.4–0.7 s at each edit, and its token cache added ~0.6 GB to the app).

One process serves the whole app, started at the first large check with the "spawn" method (no
Qt, no copy of the GUI's memory) and kept for the next ones: its token-count cache and what the
last check found (`CheckCache`: each example's findings, each text's duplicate signature) stay
warm, so a re-check after an edit checks only what changed (at 100,000 examples ~0.75 s against
~3.6 s). The worker keeps the examples it was sent: a check sends the ids in order and only the
examples that are new or changed since the last one (an edit puts a new object in the session,
so "changed" is "not the same object"), in pickled slices of `SLICE` ids (each slice's pickling
holds the lock for a few milliseconds; the pipe writes release it). The report comes back with
its token counts and trained examples as numbers in the examples' order (`_packed`), made into
the report's dict and list a slice at a time (read in one piece they held the lock ~30 ms at
100,000). Cancelling is a message the worker reads between two steps of
the check. If the process cannot start or dies, the check runs in this process as before
(`preflight` in a thread), and after `MAX_RESTARTS` failures it stays there.

`CheckProcess.run` blocks: call it from a worker thread (the runner uses `asyncio.to_thread`).
This module imports nothing of Qt, and `serve` nothing of the GUI.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import threading
import traceback
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from persona_studio.core.collector import collector_paused
from persona_studio.core.validation import (
    CheckCache,
    PreflightCancelled,
    PreflightReport,
    preflight,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from persona_studio.core.dataset import Example
    from persona_studio.core.persona import Persona
    from persona_studio.core.validation import ModelSpec

log = logging.getLogger(__name__)

SLICE = 500  # examples per pickled message: ~4 ms of pickling at a time
UNPACK_SLICE = 10_000  # token counts put in the report at a time: ~1 ms each
MAX_RESTARTS = 3
POLL_S = 0.05  # how often the waiting thread looks at the cancel flag and the process


class WorkerGone(Exception):
    """The worker process could not be started, or stopped answering."""


# ---- the worker process ---------------------------------------------------------------------


class _PipeCancel:
    """`preflight`'s cancel flag, raised by a "cancel" message for this check."""

    def __init__(self, conn: Connection, seq: int) -> None:
        self.conn, self.seq, self.flag = conn, seq, False

    def is_set(self) -> bool:
        while not self.flag and self.conn.poll():
            message = self.conn.recv()
            self.flag = message == ("cancel", self.seq)
        return self.flag


def serve(conn: Connection) -> None:
    """The worker's loop: one check at a time, until the app closes its end of the pipe."""
    known: dict[str, Example] = {}  # what the last check was sent, by id
    kept = CheckCache()  # each example's findings: a re-check checks the changed ones
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "check":
            continue  # a cancel that came after its check had finished
        _, seq, slices, persona, spec, test_share = message
        examples: list[Example] = []
        try:
            parts = [conn.recv_bytes() for _ in range(slices)]  # all of them, whatever follows
            for part in parts:
                ids, changed = pickle.loads(part)
                known.update((example.id, example) for example in changed)
                examples.extend(known[i] for i in ids)
            del parts
            known = {example.id: example for example in examples}  # deleted ones go

            def progress(fraction: float, what: str, seq: int = seq) -> None:
                conn.send(("progress", seq, fraction, what))

            report = preflight(
                examples,
                persona,
                spec,
                progress=progress,
                cancel=_PipeCancel(conn, seq),  # type: ignore[arg-type]
                test_share=test_share,
                cache=kept,
            )
            conn.send(("report", seq, *_packed(report, [e.id for e in examples])))
        except PreflightCancelled:
            conn.send(("cancelled", seq))
        except (EOFError, OSError):
            return
        except Exception:  # the app runs the check itself and shows its error
            conn.send(("error", seq, traceback.format_exc()))
        finally:
            del examples


def _packed(report: PreflightReport, ids: list[str]) -> tuple[PreflightReport, bytes, bytes]:
    """The report as it crosses the pipe: the token counts and the trained examples as
    numbers in the examples' order (the app knows their ids), not ~170,000 objects at 100,000
    examples, whose unpickling held the app's interpreter lock ~30 ms in one go."""
    position = {example_id: n for n, example_id in enumerate(ids)}
    counts = array("q", map(report.tokens.__getitem__, ids))
    trained = array("q", map(position.__getitem__, report.trained_ids))
    light = dataclasses.replace(report, tokens={}, trained_ids=[])
    return light, counts.tobytes(), trained.tobytes()


def _unpacked(
    light: PreflightReport, counts: bytes, trained: bytes, ids: list[str]
) -> PreflightReport:
    """`_packed` undone, a slice at a time (the interpreter lock is free between two)."""
    numbers, rows = array("q"), array("q")
    numbers.frombytes(counts)
    rows.frombytes(trained)
    for start in range(0, len(ids), UNPACK_SLICE):
        end = start + UNPACK_SLICE
        light.tokens.update(zip(ids[start:end], numbers[start:end], strict=True))
    for start in range(0, len(rows), UNPACK_SLICE):
        light.trained_ids += map(ids.__getitem__, rows[start : start + UNPACK_SLICE])
    return light


# ---- the app's side --------------------------------------------------------------------------


class CheckProcess:
    """The app's handle on the worker: starts it when first needed, one check at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one check on the pipe at a time
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._sent: dict[str, Example] = {}  # what the worker holds: only changes are sent
        self._seq = 0
        self.failures = 0

    @property
    def usable(self) -> bool:
        return self.failures < MAX_RESTARTS

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the worker now (it takes a second to import what it needs); a worker that
        cannot start is said in the log, and the check runs in the app."""
        with self._lock:
            try:
                self._ensure_started()
            except WorkerGone as exc:
                log.warning("%s", exc)

    def _ensure_started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        self._sent = {}  # a new worker holds nothing
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=serve, args=(theirs,), name="persona-studio-check", daemon=True
        )
        try:
            process.start()
        except (OSError, RuntimeError) as exc:
            self.failures += 1
            raise WorkerGone(f"the check's worker process did not start: {exc}") from exc
        finally:
            theirs.close()
        self._process, self._conn = process, ours
        return ours

    def run(
        self,
        examples: Sequence[Example],
        persona: Persona,
        spec: ModelSpec,
        *,
        progress: Callable[[float, str], None] | None = None,
        cancel: threading.Event | None = None,
        test_share: float = 0.0,
    ) -> PreflightReport:
        """`preflight`, in the worker process when it can be, else here."""
        cancel = cancel or threading.Event()
        if self.usable:
            try:
                with self._lock:
                    return self._run(examples, persona, spec, progress, cancel, test_share)
            except WorkerGone as exc:
                log.warning("%s; checking in the app instead", exc)
            except _WorkerError as exc:
                self._sent = {}  # whatever it holds now, the next check sends everything
                log.warning("the check failed in its worker process:\n%s", exc)
        return preflight(
            examples, persona, spec, progress=progress, cancel=cancel, test_share=test_share
        )

    def _run(
        self,
        examples: Sequence[Example],
        persona: Persona,
        spec: ModelSpec,
        progress: Callable[[float, str], None] | None,
        cancel: threading.Event,
        test_share: float,
    ) -> PreflightReport:
        conn = self._ensure_started()
        self._seq += 1
        seq = self._seq
        slices = range(0, len(examples), SLICE)
        sent = self._sent
        now: dict[str, Example] = {}
        try:
            conn.send(("check", seq, len(slices), persona, spec, test_share))
            self._sent = {}  # until every slice is through, the worker's copy is unknown
            for start in slices:
                part = examples[start : start + SLICE]
                changed = [e for e in part if sent.get(e.id) is not e]
                now.update((e.id, e) for e in part)
                data = ([e.id for e in part], changed)
                conn.send_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
            self._sent = now
            return self._answer(conn, seq, progress, cancel, list(now))
        except (EOFError, OSError, pickle.PickleError) as exc:
            self.failures += 1
            self._stop()
            raise WorkerGone(f"the check's worker process stopped ({exc!r})") from exc

    def _answer(
        self,
        conn: Connection,
        seq: int,
        progress: Callable[[float, str], None] | None,
        cancel: threading.Event,
        ids: list[str],
    ) -> PreflightReport:
        asked_to_stop = False
        while True:
            if cancel.is_set() and not asked_to_stop:
                conn.send(("cancel", seq))
                asked_to_stop = True
            if not conn.poll(POLL_S):
                if self._process is None or not self._process.is_alive():
                    raise EOFError("the worker process exited")
                continue
            with collector_paused():  # a report at 100,000 examples is ~1M objects
                kind, answered, *rest = conn.recv()
            if answered != seq:
                continue  # left over from a check that was stopped
            if kind == "progress":
                if progress is not None and not asked_to_stop:
                    progress(*rest)
            elif kind == "report":
                light, counts, trained = rest
                return _unpacked(light, counts, trained, ids)
            elif kind == "cancelled":
                raise PreflightCancelled
            else:
                raise _WorkerError(rest[0])

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2)
        self._process = self._conn = None

    def forget(self) -> None:
        """Let go of the examples last sent (their project closed): the next check sends all."""
        self._sent = {}

    def close(self) -> None:
        """Stop the worker (the app is closing; a later check starts a new one)."""
        with self._lock:
            self._stop()


class _WorkerError(Exception):
    """The check raised in the worker: the app runs it itself, so its error is the usual one."""


_shared: CheckProcess | None = None
_shared_lock = threading.Lock()


def shared() -> CheckProcess:
    """The app's one worker process for checks."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CheckProcess()
        return _shared


def forget_sent() -> None:
    """A project closed: the app's worker handle lets go of the examples it last sent."""
    if _shared is not None:
        _shared.forget()
