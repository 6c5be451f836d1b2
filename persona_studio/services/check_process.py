"""The readiness check in a warm worker process, so that it never holds the GUI process's
interpreter lock (issue 21: at 100,000 examples the check in a worker *thread* stalled the
window for 0.4–0.7 s at each edit, and its token cache added ~0.6 GB to the app).

One process serves the whole app, for every project whatever its size, started by the first
check or count with the "spawn" method (no Qt, no copy of the GUI's memory; ~0.3 s to its
first answer) and kept for the next ones: its token-count cache and what the last check found
(`CheckCache`: each example's findings, the totals, the near-duplicate index) stay warm, so a
re-check after an edit checks only what changed. It also counts the tokens of the persona
prompt and of the Generate dialog's estimate (`CheckProcess.count_texts`), so the window never
loads the encodings: their load holds the lock (o200k ~55 ms, cl100k ~25 ms), and counting the
demo's prompt in the window stalled it 53–98 ms a moment after it showed (26–42 ms with the
count here). Both sides send only changes:
- the app sends the examples that are new or changed since the last check (an edit puts a new
  object in the session, so "changed" is "not the same object"): after an edit, their positions
  only; after an insert or a delete, every id in order too (`_changes`). In pickled parts of
  `SLICE` (each part's pickling holds the lock for a few milliseconds; pipe writes release it);
- the worker answers with the token counts that changed since the report the app holds (its
  `base`), or, when the app holds none, all of them as numbers in the examples' order, made
  into the report's dict a slice at a time; the trained examples come as a mask over the ids.
At 100,000 examples a re-check after one edit went from ~0.78 s to ~0.1 s, call to report
(`benchmarks/recheck.py`). Cancelling is a message the worker reads between two steps of the
check. If the process cannot start or dies, the check runs in this process as before
(`preflight` in a thread), and after `MAX_RESTARTS` failures it stays there.

`CheckProcess.run` blocks: call it from a worker thread (the runner uses `asyncio.to_thread`).
This module imports nothing of Qt, and `serve` nothing of the GUI.
"""

from __future__ import annotations

import functools
import logging
import pickle
import sys
import threading
import traceback
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import compress
from operator import is_, is_not, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from persona_studio.core import crash_log
from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import ids_of
from persona_studio.core.duplicates import KnownTexts, Learning, band_key_store
from persona_studio.core.generation import learn_examples
from persona_studio.core.tokens import (
    HELPER_FROM,
    HELPER_IDLE_S,
    PROMPT_ENCODING,
    count_beside,
    count_many,
    let_helper_go,
    ready_helper,
)
from persona_studio.core.validation import (
    CheckCache,
    PreflightCancelled,
    PreflightReport,
    hold_as_pairs,
    preflight,
    report_of,
    update,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from persona_studio.core.band_key_store import BandKeyStore
    from persona_studio.core.dataset import Example
    from persona_studio.core.persona import Persona
    from persona_studio.core.validation import ModelSpec

log = logging.getLogger(__name__)

SLICE = 500  # examples per pickled message: ~4 ms of pickling at a time
# examples compared at a time in C for `_changes`: the window gets the interpreter's lock
# between two (one pass over 1,000,000 examples held it 30–300 ms beside an edit or an undo)
COMPARE_SLICE = 20_000
UNPACK_SLICE = 10_000  # token counts put in the report at a time: ~1 ms each
# more changed counts than this come as all of them, in order: a dict of them is unpickled in
# one call holding the app's lock (another base model changes every count: ~0.5 s at 1,000,000)
CHANGED_AT_MOST = 20_000
MAX_RESTARTS = 3
_TOKENS = itemgetter(1)
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


class _Held:
    """What the worker holds between checks: the examples it was sent, in order, the check's
    cache, and which ids each report it sent had checked again (to answer the next check with
    only the token counts the app does not have)."""

    def __init__(self, store: BandKeyStore | None = None) -> None:
        self.examples: list[Example] = []
        self.ids: list[str] = []
        self.cache = CheckCache(store)
        self.sent: dict[int, dict[str, None]] = {}  # report → ids checked again for it
        self.whole = True  # False after a check stopped half-way: find the changes by identity
        # the texts being learnt for the Generate dialog, paused: of which examples, how far
        self.learning: tuple[list[Example], Learning, int] | None = None

    def receive(self, kind: str, parts: Iterable[bytes]) -> list[Example]:
        """Take in a check's examples, a pickled part at a time, each plain question and
        answer held as its pair as it comes (`hold_as_pairs`); returns those new or changed."""
        received: list[Example] = []
        if kind == "same":  # the same ids in the same order: only the changed ones came
            examples = list(self.examples)
            for positions, changed in map(pickle.loads, parts):  # each part's bytes let go
                hold_as_pairs(changed)
                for position, example in zip(positions, changed, strict=True):
                    if self.ids[position] != example.id:
                        raise ValueError("the app and the worker hold other examples")
                    examples[position] = example
                received += changed
            self.examples = examples
            return received
        known = dict(zip(self.ids, self.examples, strict=True))
        ids: list[str] = []
        for part_ids, changed in map(pickle.loads, parts):
            hold_as_pairs(changed)
            known.update((example.id, example) for example in changed)
            ids += part_ids
            received += changed
        self.examples = list(map(known.__getitem__, ids))  # deleted ones go
        self.ids = ids
        return received

    def token_counts(self, base: int, seq: int) -> tuple[Any, ...]:
        """The report's token counts as the app can take them in fastest: those that changed
        since report `base` (which the app holds), or all of them as numbers in order."""
        results = self.cache.results
        moved = self.cache.take_moved()
        if base in self.sent:
            since = dict(moved)
            for report in [s for s in self.sent if s > base]:
                since.update(self.sent[report])
            if len(since) <= CHANGED_AT_MOST:  # else all: see CHANGED_AT_MOST
                for report in [s for s in self.sent if s < base]:
                    del self.sent[report]
                self.sent[base] = {}  # the app holds it: what it checked is no longer asked
                self.sent[seq] = moved
                present = [i for i in since if i in results]
                found = map(_TOKENS, map(results.__getitem__, present))
                changed = dict(zip(present, found, strict=True))
                return ("changed", base, changed, [i for i in since if i not in results])
        self.sent = {seq: {}}
        counts = array("q", map(_TOKENS, map(results.__getitem__, self.ids)))
        return ("all", counts.tobytes())


class _Parts:
    """A check's examples as they come through the pipe: each part is read when the one
    before it has been taken in. Read all at once first, their bytes added to the worker's
    peak: 55 MB at 100,000 examples, ten times that at 1,000,000."""

    def __init__(self, conn: Connection, count: int) -> None:
        self.conn, self.left = conn, count

    def __iter__(self) -> Iterator[bytes]:
        while self.left:
            self.left -= 1
            yield self.conn.recv_bytes()

    def drain(self) -> None:
        """Read the parts not taken in, so that the pipe's next message is the next one."""
        for _part in self:
            pass


def serve(
    conn: Connection,
    helper_idle_s: float = HELPER_IDLE_S,
    store: str | None = None,
    crashes: str | None = None,
) -> None:
    """The worker's loop: one check at a time, until the app closes its end of the pipe. A
    large check's tokens are counted in part by a helper process it starts (`count_beside`),
    meanwhile: a first check's as its examples come (a project of fewer never has one); once
    no message came for `helper_idle_s`, it is let go, and its ~85 MB with it. `store`: the
    file that keeps the near-duplicate search's band keys between runs (`band_key_store`).
    `crashes`: the folder of its crash record (`crash_log.CHECK_WORKER_FILE`), which the app
    reads when the worker stops answering."""
    if crashes:
        from persona_studio import __version__

        crash_log.start(Path(crashes), __version__, crash_log.CHECK_WORKER_FILE)
    count_beside(True)
    kept = band_key_store(Path(store)) if store else None
    held = _Held(kept)
    while True:
        try:
            if not conn.poll(helper_idle_s):
                let_helper_go()
                continue
            message = conn.recv()
        except (EOFError, OSError):
            let_helper_go()
            if kept is not None:
                kept.close()
            return
        if message[0] == "count":
            _, seq, texts, names = message
            try:
                conn.send(("counted", seq, _counted(texts, names)))
            except (EOFError, OSError):
                return
            continue
        if message[0] == "known":
            try:
                _send_known(conn, message[1], _known(held, conn.poll))
            except (EOFError, OSError):
                return
            continue
        if message[0] == "stop" and not message[2]:
            held.learning = None  # the app no longer wants what it was learning
        if message[0] != "check":
            continue  # a cancel (or a stop) that came after what it stopped had finished
        held.learning = None
        _, seq, base, kind, slices, count, persona, spec, test_share = message
        if (not held.ids or not held.whole) and count >= HELPER_FROM:
            ready_helper()  # every example is checked: it starts while they come
        try:
            # what it holds (examples, the check's cache) has no cycles: at 1,000,000 examples
            # the collector's passes over it took ~2.7 s of the first check
            with collector_paused(freeze=count >= FREEZE_FROM):
                parts = _Parts(conn, slices)
                try:
                    changed = held.receive(kind, parts)
                finally:
                    parts.drain()  # a check that failed on a part: the next message is read
                if len(held.ids) != count:
                    raise ValueError(f"the app has {count} examples, the worker {len(held.ids)}")

                def progress(fraction: float, what: str, seq: int = seq) -> None:
                    conn.send(("progress", seq, fraction, what))

                whole, held.whole = held.whole, False  # until this check has finished
                update(
                    held.cache,
                    held.examples,
                    held.ids,
                    changed if whole else None,
                    persona,
                    spec,
                    progress=progress,
                    cancel=_PipeCancel(conn, seq),  # type: ignore[arg-type]
                    test_share=test_share,
                    hold_pairs=True,  # its examples are its own
                )
                held.whole = True
                light = report_of(held.cache, held.ids, spec, tokens=False)
                trained = bytes(map(held.cache.trained.__contains__, held.ids))
                # they cross as the mask: ~66,000 strings held the app's lock
                light.trained_ids = []
                conn.send(("report", seq, light, held.token_counts(base, seq), trained))
        except PreflightCancelled:
            conn.send(("cancelled", seq))
        except (EOFError, OSError):
            return
        except Exception:  # the app runs the check itself and shows its error
            held.whole = False
            conn.send(("error", seq, traceback.format_exc()))
        # the answer is sent: the app does not wait for these (a new message stops the first)
        held.cache.duplicates.keep_signed(stop=conn.poll)
        _give_back_freed_memory()


PAUSED = "paused"  # `_known`'s answer when the app asked for something else meanwhile


def _known(held: _Held, asked: Callable[[], bool]) -> KnownTexts | str | None:
    """What the Generate dialog compares candidates with (`generation.known_examples`), made
    of the examples the last check held; None if that check did not finish. Once the app asks
    for something else (a count, a check, a stop: its message waits in the pipe), `PAUSED`:
    what was learnt is kept, and the next ask goes on from there (unless the examples
    changed meanwhile, or a stop said to let it go)."""
    if not held.whole:
        return None
    examples = held.examples
    if held.learning is None or held.learning[0] is not examples:
        held.learning = (examples, Learning(), 0)
    _, learning, at = held.learning
    with collector_paused():
        at = learn_examples(learning, examples, at, asked)
        if at < len(examples):
            held.learning = (examples, learning, at)
            return PAUSED
        held.learning = None
        return KnownTexts.learnt(learning)


KNOWN_PART = 1 << 22  # bytes of the learnt texts' arrays sent at a time (~1 ms to copy in)


def _send_known(conn: Connection, seq: int, known: KnownTexts | str | None) -> None:
    """The learnt texts: their arrays' shapes, then their bytes in parts of `KNOWN_PART`."""
    if not isinstance(known, KnownTexts):
        conn.send(("known", seq, known))
        return
    shapes, views = known.layout()
    conn.send(("known", seq, shapes))
    for view in views:
        for start in range(0, len(view), KNOWN_PART):
            conn.send_bytes(view[start : start + KNOWN_PART])


def _received(conn: Connection, shapes: list[tuple[str, str, int]]) -> KnownTexts:
    """The learnt texts `_send_known` sent, each part read into its array in place."""

    def fill(view: memoryview) -> None:
        at = 0
        while at < len(view):
            at += conn.recv_bytes_into(view[at:])

    return KnownTexts.made_of(shapes, fill)


def _give_back_freed_memory() -> None:
    """Give the C allocator's free pages back to the system (glibc's `malloc_trim`). Texts
    over 512 bytes come from it, not from Python's own allocator, and the holes the freed
    ones leave stay in the process: the examples' file texts, once their messages are held
    as pairs (`hold_as_pairs`), ~37 MB of it at 100,000 examples. ~2 ms, ~0.1 ms with nothing to
    give back. Elsewhere than glibc, nothing."""
    _malloc_trim()(0)


@functools.cache
def _malloc_trim() -> Callable[[int], object]:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            return cast(Callable[[int], object], ctypes.CDLL("libc.so.6").malloc_trim)
        except (OSError, AttributeError):  # not glibc (musl, say): its allocator keeps them
            pass
    return lambda _pad: None


def _counted(texts: list[str], encodings: Sequence[str]) -> dict[str, list[int]]:
    """Each text's token count in each encoding, in the texts' order."""
    return {name: list(map(count_many(set(texts), name).__getitem__, texts)) for name in encodings}


def _report(
    light: PreflightReport,
    counts: tuple[Any, ...],
    trained: bytes,
    ids: list[str],
    base: tuple[int, dict[str, int]] | None,
) -> PreflightReport:
    """The report as it came across the pipe, made whole: its token counts from the report
    the app holds (`base`) and those that changed, or from numbers in order, a slice at a time
    (the interpreter lock is free between two); the trained examples from a mask over ids."""
    if counts[0] == "changed":
        _kind, on, changed, gone = counts
        if base is None or base[0] != on:
            raise _WorkerError("the worker answered from a report the app does not hold")
        tokens = base[1].copy()  # in C; the report the window shows is never changed
        tokens.update(changed)
        for example_id in gone:
            tokens.pop(example_id, None)
        light.tokens = tokens
    else:
        numbers = array("q")
        numbers.frombytes(counts[1])
        for start in range(0, len(ids), UNPACK_SLICE):
            end = start + UNPACK_SLICE
            light.tokens.update(zip(ids[start:end], numbers[start:end], strict=True))
    if len(trained) != len(ids):
        raise _WorkerError("the worker answered for other examples")
    light.trained_ids = list(compress(ids, trained))
    return light


# ---- the app's side --------------------------------------------------------------------------


class CheckProcess:
    """The app's handle on the worker: starts it when first needed, one check at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one check on the pipe at a time
        self._waiting = 0  # calls waiting for the lock: a learning of texts stops for them
        self._waiting_lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # what the worker holds: the examples last sent and their ids (only changes are sent)
        self._sent: list[Example] = []
        self._sent_ids: list[str] = []
        self._base: tuple[int, dict[str, int]] | None = None  # the last report's tokens
        self._seq = 0
        self.failures = 0
        self.helper_idle_s = HELPER_IDLE_S  # for a worker started after this is set
        # where the worker keeps the band keys of the texts it checked, between runs
        self.store: Path | None = _store_path()
        # where the worker records a hard crash of its own (read when it stops answering)
        self.crashes: Path | None = _crashes_folder()

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
        if _exiting.is_set():  # (`_stop_started`: a new one would keep Python from exiting)
            raise WorkerGone("the app is closing: no new check worker process")
        if self._process is not None and self._process.exitcode not in (0, None):
            log.warning(  # it died between two calls (a crash, a kill): a new one starts
                "the check's worker process had stopped (exit code %s)%s",
                self._process.exitcode,
                self._crash_record(),
            )
        self._stop()
        self.forget()  # a new worker holds nothing
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        # not daemonic: it starts its token-count helper itself (a daemonic process may not),
        # so it is stopped before Python's exit waits for it (`_stop_at_exit`)
        process = context.Process(
            target=serve,
            args=(
                theirs,
                self.helper_idle_s,
                str(self.store) if self.store else None,
                str(self.crashes) if self.crashes else None,
            ),
            name="persona-studio-check",
        )
        try:
            process.start()
        except (OSError, RuntimeError) as exc:
            self.failures += 1
            self._stop()
            raise WorkerGone(f"the check's worker process did not start: {exc}") from exc
        finally:
            theirs.close()
        self._process, self._conn = process, ours
        _stop_at_exit(self)
        if _exiting.is_set():  # Python began to exit as it started: stopped here, or there
            self._stop()
            raise WorkerGone("the app is closing: no new check worker process")
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
                with self._turn():
                    return self._run(examples, persona, spec, progress, cancel, test_share)
            except WorkerGone as exc:
                log.warning("%s; checking in the app instead", exc)
            except _WorkerError as exc:
                self.forget()  # whatever it holds now, the next check sends everything
                log.warning("the check failed in its worker process:\n%s", exc)
        return preflight(
            examples, persona, spec, progress=progress, cancel=cancel, test_share=test_share
        )

    def count_tokens(self, text: str, encodings: Sequence[str]) -> dict[str, int]:
        """One text's token counts in each encoding (`count_texts`)."""
        return {name: counts[0] for name, counts in self.count_texts([text], encodings).items()}

    def count_texts(self, texts: Sequence[str], encodings: Sequence[str]) -> dict[str, list[int]]:
        """Each text's token count in each encoding, in order, counted in the worker: so the
        window never loads the encodings (~90 MB for the two tokenizers, ~180 MB through the
        bpe_openai package; see the module's doc for the stall). In the app if the worker
        cannot."""
        if self.usable:
            try:
                with self._turn():  # after the check in flight, if any (it holds the pipe)
                    return self._count(list(texts), tuple(encodings))
            except WorkerGone as exc:
                log.warning("%s; counting in the app instead", exc)
        return _counted(list(texts), encodings)

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The pipe, once the call holding it has finished (a learning of texts stops)."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def known_texts(
        self, examples: Sequence[Example], stop: threading.Event | None = None
    ) -> KnownTexts | None:
        """What the Generate dialog compares candidates with (`generation.known_examples`),
        made by the worker from the examples it holds: a pass of Python over every question
        and answer (~4–6 s at 100,000 examples) that, in a thread of the app, halved the
        window's speed meanwhile. A count or a check asked for meanwhile goes first: the
        learning pauses for it, and goes on after. None when the worker does not hold
        `examples` (a check has not seen them yet), cannot, or once `stop` is set. Blocks:
        call it from a thread."""
        stop = stop or threading.Event()
        while self.usable and not stop.is_set():
            while self._waiting and not stop.is_set():  # they go first (the lock is not fair)
                stop.wait(POLL_S / 5)
            with self._lock:
                sent, process, conn = self._sent, self._process, self._conn
                if (
                    process is None
                    or conn is None
                    or not process.is_alive()  # (a new one would hold nothing)
                    or not _same_objects(sent, examples)
                ):
                    return None
                try:
                    known = self._known(conn, stop)
                except (EOFError, OSError, pickle.PickleError) as exc:
                    log.warning("%s", self._gone(exc))
                    return None
                if known != PAUSED:
                    return cast("KnownTexts | None", known)
        return None

    def _known(self, conn: Connection, stop: threading.Event) -> KnownTexts | str | None:
        self._seq += 1
        seq, asked_to_stop = self._seq, False
        conn.send(("known", seq))
        while True:
            if (self._waiting or stop.is_set()) and not asked_to_stop:
                conn.send(("stop", seq, not stop.is_set()))  # (keep what it learnt, or not)
                asked_to_stop = True
            message = self._next(conn)
            if message is not None and message[:2] == ("known", seq):
                answer = message[2]
                return _received(conn, answer) if isinstance(answer, list) else answer

    def _count(self, texts: list[str], encodings: tuple[str, ...]) -> dict[str, list[int]]:
        conn = self._ensure_started()
        self._seq += 1
        seq = self._seq
        try:
            conn.send(("count", seq, texts, encodings))
            while True:
                message = self._next(conn)
                if message is not None and message[:2] == ("counted", seq):
                    counts: dict[str, list[int]] = message[2]
                    return counts
        except (EOFError, OSError) as exc:
            raise self._gone(exc) from exc

    def _run(
        self,
        examples: Sequence[Example],
        persona: Persona,
        spec: ModelSpec,
        progress: Callable[[float, str], None] | None,
        cancel: threading.Event,
        test_share: float,
    ) -> PreflightReport:
        # new lists of every example (the ids, those sent): the collector's passes over them
        # held the interpreter's lock 40–110 ms at a time beside the window, at 1,000,000
        with collector_paused(freeze=len(examples) >= FREEZE_FROM):
            conn = self._ensure_started()
            self._seq += 1
            seq = self._seq
            base = self._base
            sent, sent_ids = self._sent, self._sent_ids
            try:
                kind, ids, parts = _changes(examples, sent, sent_ids)
                on = base[0] if base else 0
                conn.send(("check", seq, on, kind, len(parts), len(ids), persona, spec, test_share))
                self.forget()  # until every part is through, the worker's copy is unknown
                for part in parts:  # pickled one at a time: a few milliseconds of lock each
                    conn.send_bytes(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
                # the worker holds these now, and still knows the report the app holds (a check
                # stopped half-way leaves both: the next one is answered with what changed)
                self._sent, self._sent_ids, self._base = list(examples), ids, base
                report = self._answer(conn, seq, progress, cancel, ids, base)
                self._base = (seq, report.tokens)
                return report
            except (EOFError, OSError, pickle.PickleError) as exc:
                raise self._gone(exc) from exc

    def _gone(self, exc: Exception) -> WorkerGone:
        """The worker stopped answering: count the failure, let it go (the next call starts
        a new one), and say so."""
        self.failures += 1
        self._stop()
        return WorkerGone(f"the check's worker process stopped ({exc!r}){self._crash_record()}")

    def _crash_record(self) -> str:
        """The stacks the worker's crash record holds of its end, for the log, if any."""
        crash = None
        if self.crashes is not None:
            with suppress(OSError):  # (no record to read: the message says what it can)
                crash = crash_log.last_unseen_crash(self.crashes / crash_log.CHECK_WORKER_FILE)
        return f"; its record:\n{crash.stack}" if crash is not None else ""

    def _next(self, conn: Connection) -> Any:
        """The worker's next message, or None when none came within `POLL_S`; EOFError when
        the process has exited."""
        if not conn.poll(POLL_S):
            if self._process is None or not self._process.is_alive():
                raise EOFError("the worker process exited")
            return None
        with collector_paused():  # a report at 100,000 examples is ~1M objects
            return conn.recv()

    def _answer(
        self,
        conn: Connection,
        seq: int,
        progress: Callable[[float, str], None] | None,
        cancel: threading.Event,
        ids: list[str],
        base: tuple[int, dict[str, int]] | None,
    ) -> PreflightReport:
        asked_to_stop = False
        while True:
            if cancel.is_set() and not asked_to_stop:
                conn.send(("cancel", seq))
                asked_to_stop = True
            message = self._next(conn)
            if message is None:
                continue
            kind, answered, *rest = message
            if answered != seq:
                continue  # left over from a check that was stopped
            if kind == "progress":
                if progress is not None and not asked_to_stop:
                    progress(*rest)
            elif kind == "report":
                light, counts, trained = rest
                return _report(light, counts, trained, ids, base)
            elif kind == "cancelled":
                raise PreflightCancelled
            else:
                raise _WorkerError(rest[0])

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        process, self._process, self._conn = self._process, None, None
        if process is not None and process.is_alive():
            process.terminate()  # its helper ends with it: its pipe closes
            process.join(timeout=2)
            if process.exitcode is None:
                process.kill()
                process.join(timeout=2)

    def forget(self) -> None:
        """Let go of the examples last sent (their project closed): the next check sends all."""
        self._sent, self._sent_ids, self._base = [], [], None

    def close(self) -> None:
        """Stop the worker (the app is closing; a later check starts a new one)."""
        with self._lock:
            self._stop()


def _changes(
    examples: Sequence[Example], sent: list[Example], sent_ids: list[str]
) -> tuple[str, list[str], list[tuple[list[Any], list[Example]]]]:
    """What to send for a check: ("same", the ids, [(positions, examples)]) when the ids are
    those last sent, in the same order (an edit: only the examples that are not the same
    objects go, found in C loops), else ("ids", the ids, [(ids, examples)]), every id in order
    with the examples the worker does not hold. In parts of `SLICE`."""
    size, step = len(examples), COMPARE_SLICE
    if size == len(sent) and sent:
        positions: list[int] = []
        for start in range(0, size, step):
            stop = start + step
            changed = map(is_not, examples[start:stop], sent[start:stop])
            positions += compress(range(start, min(stop, size)), changed)
        if all(examples[n].id == sent_ids[n] for n in positions):
            return (
                "same",
                sent_ids,
                [
                    (
                        positions[start : start + SLICE],
                        [examples[n] for n in positions[start : start + SLICE]],
                    )
                    for start in range(0, len(positions), SLICE)
                ],
            )
    ids: list[str] = []
    known: dict[str, Example] = {}
    for start in range(0, max(size, len(sent)), step):
        ids += ids_of(examples[start : start + step])
        known.update(zip(sent_ids[start : start + step], sent[start : start + step], strict=True))
    parts: list[tuple[list[Any], list[Example]]] = []
    for start in range(0, len(examples), SLICE):
        part, part_ids = examples[start : start + SLICE], ids[start : start + SLICE]
        parts.append((part_ids, list(compress(part, map(is_not, map(known.get, part_ids), part)))))
    return "ids", ids, parts


def _same_objects(sent: Sequence[Example], examples: Sequence[Example]) -> bool:
    """Whether both hold the same objects in the same order: compared in C `COMPARE_SLICE` at
    a time, as `_changes` does (one pass over 1,000,000 held the lock 30–300 ms)."""
    step = COMPARE_SLICE
    return len(sent) == len(examples) and all(
        all(map(is_, sent[start : start + step], examples[start : start + step]))
        for start in range(0, len(sent), step)
    )


def _store_path() -> Path:
    from persona_studio.core.config import cache_dir

    return cache_dir() / "near-duplicates.sqlite"


def _crashes_folder() -> Path:
    from persona_studio.core.config import data_dir

    return data_dir()


class _WorkerError(Exception):
    """The check raised in the worker: the app runs it itself, so its error is the usual one."""


_started: weakref.WeakSet[CheckProcess] = weakref.WeakSet()


def _stop_at_exit(worker: CheckProcess) -> None:
    """Stop `worker`'s process when Python exits. It is not daemonic, so multiprocessing's own
    exit hook would wait for it, and it waits for its pipe to close: this hook runs first
    (hooks run last-registered first, and multiprocessing's is registered on its import)."""
    _hook_exit()
    _started.add(worker)


@functools.cache
def _hook_exit() -> None:
    import atexit
    import multiprocessing.util  # noqa: F401  (its hook is registered before this one)

    atexit.register(_stop_started)


def _stop_started() -> None:
    """Python's exit: every worker stopped, and none started after (a thread still counting
    for the window started a new one, and the exit then waited for it forever: two exits in
    three hung so in a test)."""
    _exiting.set()
    for worker in list(_started):
        worker._stop()


_exiting = threading.Event()


_shared: CheckProcess | None = None
_shared_lock = threading.Lock()


def shared() -> CheckProcess:
    """The app's one worker process for checks."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CheckProcess()
        return _shared


def prompt_tokens(prompt: str) -> int:
    """The prompt's tokens (`PROMPT_ENCODING`), counted in the check's worker process (in the
    app only if that cannot start), like every check: the window never loads the encoding.
    Loading it holds the interpreter's lock (o200k ~55 ms, in Rust): the demo's window stalled
    53–98 ms a moment after it showed, and the first check of a small project (checked in a
    thread before) did the same. Blocks: call it from a worker thread."""
    return shared().count_tokens(prompt, (PROMPT_ENCODING,))[PROMPT_ENCODING]


def forget_sent() -> None:
    """A project closed: the app's worker handle lets go of the examples it last sent."""
    if _shared is not None:
        _shared.forget()
