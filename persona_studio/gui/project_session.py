"""The open project as the GUI sees it: edits go in, are saved within a second, signals go out."""

from __future__ import annotations

import bisect
import collections
import copy
import functools
import threading
from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, count, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

from PySide6.QtCore import QObject, QTimer, Signal

from persona_studio.core.collector import FREEZE_FROM, collector_paused, with_pauses
from persona_studio.core.dataset import (
    Example,
    approved_count,
    ids_and_approved,
    ids_of,
    positions_in,
)
from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.rules import Rule
from persona_studio.gui.loop import spawn
from persona_studio.gui.models.column_order import Reshape

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future
    from pathlib import Path

    from persona_studio.core.records import ChatRecord, JobRecord
    from persona_studio.core.retrieval import RetrievalIndex
    from persona_studio.gui.preflight_runner import PreflightRunner
    from persona_studio.services.review_queue import ReviewQueue
    from persona_studio.services.training import BackendFactory, TrainingJobs

AUTOSAVE_DELAY_MS = 400  # typing is batched; a field is on disk ≤ 1 s after the last keystroke
# from this many examples the window reads them in a worker thread (the grid says "Opening…"):
# read on the UI thread, 2,000–6,000 examples stalled the first Dataset tab 140–260 ms
BACKGROUND_LOAD_FROM = 1_000
# read first, and shown (not yet editable) while the rest are read: at 1,000,000 examples the
# whole read takes 6–8 s on a 2-core machine, the first rows ~1 ms
FIRST_ROWS = 100
RETRY_DELAY_MS = 2000  # a write the disk refused is tried again this often, until it lands
HELD_BACK_RETRY_MS = 50  # a write held back while a worker has the file is tried this often
# a change of this many examples or more is written in a worker thread, in its turn: on the UI
# thread importing 100,000 examples stalled 1.1–1.4 s, and undoing it (a delete) 1.5–1.6 s
BACKGROUND_WRITE_FROM = 1_000
# more examples edited at once than this, the offline engine's index is handed the whole list
# (`RetrievalIndex.sync`) rather than each edit's place, found on the UI thread
RETRIEVAL_EDITS_AT_MOST = 5_000
# examples from which the index is built ahead, as a view that will ask it shows (the Chat
# tab, the voice check): a smaller project's is built in well under 0.1 s when asked
RETRIEVAL_WARM_FROM = 2_000
RETRIEVAL_WARM_AFTER_MS = 300  # after the view's first paint
LOOKED_UP_AT_ONCE = 16_384  # an import's ids looked up among the examples' at a time (~3 ms)
# ids whose places one turn of the event loop changes, for a large change left for a moment
# later (`_place_later`): ~4 ms a turn; 100,000 at once stalled an import's window 30–50 ms
PLACES_AT_ONCE = 20_000
# putting back at least 1/8 of the rows there are sorts them all together (see
# `restore_examples`)
RESTORE_MERGED_FROM = 8
_FIRST = itemgetter(0)


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class Replacement:
    """What `ProjectSession.replace_example_contents` makes of a list of examples (`of`)."""

    of: list[Example]
    examples: list[Example]  # the new list: each row's new version, if it has one
    ids: list[str]  # their ids (the same as before)
    changes: list[Example]  # the new versions, to save (one no longer there updates no row)
    changed_ids: list[str]
    approved: int  # how many of the new list are approved
    at: list[int] | None = None  # where the changed rows are, ascending, if made `placed`


@dataclass(frozen=True)
class Removed:
    """Deleted examples, in the file's order, with their places in it, their ids and how many
    were approved: what putting them back needs. Lists side by side, not a pair per example:
    making 100,000 pairs was ~7 ms of deleting every row, and sorting the pairs slower than
    sorting by the places. The ids and the count, known at the delete, were ~8 ms of undoing
    it. The places come a step at a time after the delete (`ProjectSession._place_later`):
    whatever reads them reads the session's places first (`_places`), which takes the steps
    left."""

    places: list[float]
    examples: list[Example]
    ids: list[str]
    approved: int


def replacement(
    changed: list[Example], examples: list[Example], ids: list[str], *, placed: bool = False
) -> Replacement:
    """The new versions `changed` in place of theirs in `examples` (whose `ids` these are). It
    only reads: a worker thread may make it. Passes in C, each over every row: finding the
    rows, a loop to put each in, and counting what was approved among the old and the new
    versions took 70 ms for 130,000 of 200,000 examples; these ~30 (~55 on the UI thread for
    100,000 selected rows: from `STATUS_IN_THREAD_FROM` a worker thread makes it). `placed`:
    with where the changed rows are, which the grid and the chat's index then need not find
    (~15 ms for 130,000 of 200,000 rows, on the UI thread)."""
    by_id = dict(zip(ids_of(changed), changed, strict=True))
    new = list(map(by_id.get, ids, examples))
    at = positions_in(ids, by_id) if placed else None
    return Replacement(
        examples, new, ids, list(by_id.values()), list(by_id), approved_count(new), at
    )


def _one_change(method: F) -> F:
    """A change of a large project's list of examples, with the views that follow it: the
    cyclic collector paused while they make their new lists (each holds every example), which
    are then frozen out of its sight, as a load's are (`collector_paused`). They hold no cycles;
    at 1,000,000 examples a pass that met one took 130 ms of an undo's or an edit's stall."""

    @functools.wraps(method)
    def change(self: ProjectSession, *args: Any, **kwargs: Any) -> Any:
        examples = self._examples
        with collector_paused(freeze=examples is not None and len(examples) >= FREEZE_FROM):
            return method(self, *args, **kwargs)

    return cast(F, change)


def _without(items: list[T], at: Sequence[int]) -> list[T]:
    """`items` without those at positions `at` (in order), copied a run at a time: at 1,000,000
    examples a pass of `compress` over a mask took ~45 ms per list, a copy ~15–20 ms. One run
    (the last rows, as undoing an import takes them) is two slices: a loop over 100,000
    positions took ~15 ms."""
    if at and at[-1] - at[0] == len(at) - 1:  # (`at` ascends, each once)
        return items[: at[0]] + items[at[-1] + 1 :]
    kept: list[T] = []
    start = 0
    for n in at:
        kept += items[start:n]
        start = n + 1
    kept += items[start:]
    return kept


# the examples read in a worker thread, their positions, and (counted there, as each is
# over every example) their ids and how many are approved
Read = tuple[list[Example], dict[str, float], tuple[list[str], int] | None]


def read_all(project: Project) -> Read:
    """The examples and positions of an open project, read in a worker thread (seconds at
    1,000,000), with what the window would count of them at once."""
    examples, positions = project.examples_and_positions()
    return examples, positions, _counted(examples)


def open_and_read(path: Path) -> tuple[Project, Read]:
    """`Project.open_and_read`, and `read_all`'s counts, in a worker thread."""
    project, examples, positions = Project.open_and_read(path)
    return project, (examples, positions, _counted(examples))


def _counted(examples: list[Example]) -> tuple[list[str], int]:
    """`ids_and_approved`, its list of ids frozen out of the collector's sight, as the
    examples are: new, each of the collector's first passes on the window's thread walked its
    1,000,000 items (~20 ms a pass)."""
    with collector_paused(freeze=len(examples) >= FREEZE_FROM):
        return ids_and_approved(examples)


class ProjectSession(QObject):
    """Owns the open `Project`. Runs on the UI thread; each save is one small SQLite commit."""

    persona_changed = Signal(str)  # field name
    rules_changed = Signal()
    avatar_changed = Signal()
    character_replaced = Signal()  # a card import: everything changed at once
    examples_reset = Signal()  # the list changed shape (added, removed, reordered)
    # ids whose content changed: `object`, not `list` (PySide converts a list to a QVariantList
    # and back for each slot: 33,000 ids took ~29 ms of approving them)
    examples_edited = Signal(object)
    save_state_changed = Signal(str, bool)  # message, ok
    _written = Signal(object)  # a write in a worker thread is done (its Future), from there
    review_changed = Signal()  # generated candidates were decided on, or a decision undone
    job_changed = Signal(str)  # a fine-tuning job's record was saved (started, updated, ended)
    model_registered = Signal(str)  # a finished job's model became the character's

    def __init__(
        self,
        project: Project,
        parent: QObject | None = None,
        *,
        backend_for: BackendFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        self._backend_for = backend_for
        self._jobs: TrainingJobs | None = None
        self._job_watchers: dict[str, asyncio.Task[None]] = {}
        self.closed = False  # the project file is closed: timers still pending must do nothing
        self._preflight: PreflightRunner | None = None
        self._retrieval_task: asyncio.Future[RetrievalIndex] | None = None
        self._loading: asyncio.Future[Read] | None = None
        self._read: Future[Read] | None = None  # its read
        self._retrieval: RetrievalIndex | None = None  # the offline engine's, built on demand
        self.examples_reset.connect(self._retrieval_reset)
        self.examples_edited.connect(self._retrieval_edited)
        # the small tables read now: the window reads them later without waiting for a
        # worker that has the file (loading the examples, an export's read, a copy)
        project.keep_small_reads()
        self.persona: Persona = project.persona()
        self.rules: list[Rule] = project.rules()
        avatar = project.avatar()
        self.avatar_png: bytes | None = avatar[0] if avatar else None
        self._examples: list[Example] | None = None  # loaded when the Dataset tab needs them
        self.first_rows: list[Example] = []  # the first few, while all are read in a worker
        self.reading_total = 0  # how many the worker reads (the file waits for it meanwhile)
        self._approved: tuple[list[Example], int, int] | None = None  # see `approved_count`
        self._ids: tuple[list[Example], list[str]] | None = None  # see `example_ids`
        # where the last change of the list's shape deleted or added rows, if it was one of
        # those (a sorted grid follows the rows with it: `ColumnOrder.followed`)
        self.reshaped: Reshape | None = None
        # the way back from the last change of contents, and the versions that take it (see
        # `replace_prepared`)
        self._way_back: tuple[Replacement, list[Example]] | None = None
        # the last change's examples, changed ids and their places, if it came with them
        self._placed: tuple[list[Example], list[str], list[int]] | None = None
        self._positions: dict[str, float] = {}  # read through `_places`
        self._later: list[Iterator[None]] = []  # its changes left for a moment, in steps
        self._pending: dict[str, Any] = {}
        # writes not on disk yet, in order (refused ones are retried), each with whether it
        # is large enough to be written in a worker thread (the first may be in one now), and
        # what it writes whole
        self._unsaved: list[tuple[Callable[[], object], bool, Hashable]] = []
        self._writing: Future[None] | None = None  # the first's write in a worker thread
        self._writer: threading.Thread | None = None  # that thread, until it is started
        self._written.connect(self._write_done)  # (queued: emitted by the worker)
        self._held_back = False  # a write waits while a worker has the file (`_write_unsaved`)
        self._held_timer = QTimer(self, singleShot=True, interval=HELD_BACK_RETRY_MS)
        self._held_timer.timeout.connect(self._write_unsaved)
        self._timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self._autosave)
        self._review_queue: ReviewQueue | None = None
        # conversations saved (a record) or deleted (None) whose write waits its turn
        self._chats_waiting: dict[str, ChatRecord | None] = {}

    def with_review_queue(self, then: Callable[[ReviewQueue], object]) -> None:
        """`then(the queue)`: at once if it was read or the file is free, else once it is
        (reading it waited for a worker that had the file: an export's read)."""
        if self._review_queue is not None:
            then(self._review_queue)
        else:
            self.read_soon(lambda: self.review_queue, then)

    @property
    def review_queue(self) -> ReviewQueue:
        """The generated candidates awaiting review: one queue per open project, shared by the
        generate dialogs and the undo stack."""
        if self._review_queue is None:
            from persona_studio.services.review_queue import ReviewQueue

            # its records written in order with the examples', a large one in a worker
            self._review_queue = ReviewQueue(self.project, later=self._save_now)
        return self._review_queue

    async def retrieval_index(self) -> RetrievalIndex:
        """The offline engine's index over this project's examples: built on first use in a
        worker thread (seconds at 100,000 examples, never on the UI thread), dropped when the
        dataset changes (never another project's, never an older dataset's for long)."""
        import asyncio

        from persona_studio.core.retrieval import RetrievalIndex

        if self._retrieval is not None:
            return self._retrieval
        if self._retrieval_task is None:
            examples = list(await self.load_examples())  # a snapshot: copy on write
            self._retrieval_task = asyncio.ensure_future(
                asyncio.to_thread(RetrievalIndex, examples)
            )
        task = self._retrieval_task
        index = await asyncio.shield(task)  # a stopped reply does not stop the build
        if task is self._retrieval_task:  # not outdated by an edit meanwhile
            self._retrieval = index
        return index

    def warm_retrieval_index(self) -> asyncio.Future[RetrievalIndex] | None:
        """`retrieval_index` started now, for a view that will ask it soon (~5 s at 100,000
        examples, which its first answer waited for); None below `RETRIEVAL_WARM_FROM`."""
        import asyncio

        if self._retrieval is not None or self.example_counts()[0] < RETRIEVAL_WARM_FROM:
            return None
        warming = asyncio.ensure_future(self.retrieval_index())
        # a failed build is said by the answer that awaits it, not logged here
        warming.add_done_callback(lambda task: task.cancelled() or task.exception())
        return warming

    def _forget_retrieval(self, *_: object) -> None:
        self._retrieval, self._retrieval_task = None, None

    def _retrieval_reset(self) -> None:
        """Rows added, deleted or moved (or an import, an undo of one): the index built takes
        the list as it now is at its next search (`RetrievalIndex.sync`), in the reply's
        thread. Kept as an example from the Chat tab, a reply made the next one wait for a
        whole build: 3–6 s at 100,000 examples."""
        index = self._retrieval
        if index is None or self._examples is None:
            self._forget_retrieval()
            return
        index.sync(self._examples)

    def _retrieval_edited(self, ids: list[str]) -> None:
        """Examples edited in place: the index built takes them in at its next search (built
        again, it made each reply after an edit wait 3–6 s at 100,000 examples); many at once
        (approving thousands, say), as the list. While the index is being built, it is built
        again."""
        index, examples = self._retrieval, self._examples
        if index is None or examples is None or len(ids) > RETRIEVAL_EDITS_AT_MOST:
            self._retrieval_reset()  # the list, not each edit's place (or none to take it)
        else:
            index.update([(at, examples[at]) for at in self.where(ids)])

    @property
    def started_preflight(self) -> PreflightRunner | None:
        """The readiness check if a tab has started it (without starting one)."""
        return self._preflight

    @property
    def preflight(self) -> PreflightRunner:
        """The readiness check: one per open project, shared by the Dataset and Train tabs."""
        if self._preflight is None:
            from persona_studio.gui.preflight_runner import PreflightRunner

            self._preflight = PreflightRunner(self)
        return self._preflight

    # ---- fine-tuning jobs ----------------------------------------------------------------

    @property
    def jobs(self) -> TrainingJobs:
        """The project's fine-tuning jobs: one owner (and one poller per job) for the Train
        tab, the pipeline dialog and everything else in this window."""
        if self._jobs is None:
            from persona_studio.services.training import TrainingJobs

            self._jobs = TrainingJobs(
                self.project,
                self._backend_for or _no_training,
                register=self._register_model,
                on_change=self._job_saved,
                save=self._keep_job,  # (the service decides what; this, when)
            )
        return self._jobs

    def _keep_job(self, record: JobRecord) -> JobRecord:
        """A training's record (at each of its updates): read at once as saved, written in
        turn with the project's other writes (it waited on the window's thread for the rest
        of an export's read)."""
        kept, write = self.project.save_job_ahead(record)
        self._save_now(write, whole=("job", record.id))
        return kept

    def watch_running_jobs(self) -> None:
        """Follow every job still running at its trainer (after opening the project)."""
        for record in self.project.jobs():
            if not record.terminal:
                self._watch_job(record.id)

    def _watch_job(self, job_id: str) -> None:
        """Keep following a running job for as long as the project is open, whatever else
        follows it meanwhile (a pipeline run that stops, say)."""
        import contextlib

        task = self._job_watchers.get(job_id)
        if task is not None and not task.done():
            return

        async def follow() -> None:
            with contextlib.suppress(UserFacingError):  # kept as the job's warning, and shown
                async for _record in self.jobs.follow_job(job_id):
                    pass

        self._job_watchers[job_id] = spawn(follow())

    def _job_saved(self, record: JobRecord) -> None:
        if not record.terminal:
            self._watch_job(record.id)
        self.job_changed.emit(record.id)

    def _register_model(self, record: JobRecord) -> None:
        model = record.chat_model
        self.set_persona_field("fine_tuned_model", model)
        # written now, not at the autosave (a job ends while the creator is away), but not
        # waited for (`flush` would): while a worker has the file, it waits its turn
        self._timer.stop()
        self._autosave()
        self.model_registered.emit(model)

    # ---- persona -------------------------------------------------------------------------

    def set_persona_field(self, name: str, value: Any) -> None:
        if getattr(self.persona, name) == value:
            return
        setattr(self.persona, name, value)
        self._pending[name] = value
        self.save_state_changed.emit("Saving…", True)
        self._timer.start()
        self.persona_changed.emit(name)

    # ---- examples ------------------------------------------------------------------------

    @property
    def examples_loaded(self) -> bool:
        return self._examples is not None

    @property
    def loading(self) -> bool:
        """A worker thread is reading the examples (and holds the project file meanwhile: a
        read from the UI thread now would wait for it)."""
        return self._loading is not None and not self._loading.done()

    def loads_in_background(self) -> bool:
        """Whether the examples are worth loading off the UI thread: a large project, not
        loaded yet (decoding 100,000 examples takes seconds; a few thousand, milliseconds)."""
        if self._examples is not None:
            return False
        if self.loading:  # (asked now, the file would answer once the worker's read is done)
            return True
        return self.project.example_count() >= BACKGROUND_LOAD_FROM

    def use_read(self, read: Read) -> None:
        """The examples, read with the project (`open_and_read`), before a tab asks."""
        self._keep(read)

    def _keep(self, read: Read) -> list[Example]:
        """Examples and positions read (with the project, by the worker, or here), unless
        examples are in already (those it returns); the first rows shown meanwhile go. Their
        ids and approved count, when the worker counted them, are the first memos of
        `example_ids` and `approved_count`."""
        if self._examples is None:
            self._examples, self._positions, counted = read
            if counted is not None:
                ids, approved = counted
                self._ids = (self._examples, ids)
                self._approved = (self._examples, len(self._examples), approved)
        self.first_rows = []
        return self._examples

    def start_loading(self) -> None:
        """Start reading the examples in a worker thread, unless they are loaded or being
        read. The first `FIRST_ROWS` are read here first, for the grid to show meanwhile."""
        import asyncio
        import threading

        if self._examples is not None or self._loading is not None:
            return
        project = self.project
        self.reading_total = project.example_count()
        self.first_rows = project.first_examples(FIRST_ROWS)
        from concurrent.futures import Future  # (asyncio imports it, after the first paint)

        read: Future[Read] = Future()

        def run() -> None:
            try:
                read.set_result(read_all(project))
            except BaseException as exc:  # the project closed meanwhile, say: for the waiters
                read.set_exception(exc)

        self._read = read
        self._loading = asyncio.wrap_future(read)
        self._loading.add_done_callback(self._read_done)
        threading.Thread(target=run, name="read-examples", daemon=True).start()

    def _read_done(self, loading: asyncio.Future[Read]) -> None:
        """The worker's read, kept as soon as it is done, whether or not a view waits for it
        (`start_loading` runs when the project opens: the creator may be on another tab)."""
        if loading.cancelled() or loading.exception() is not None:
            return  # (the project closed meanwhile, say): the views that wait are told
        if not self.closed:
            self._keep(loading.result())

    async def load_examples(self) -> list[Example]:
        """The examples, read from the file in a worker thread when not loaded yet."""
        import asyncio

        if self._examples is None:
            self.start_loading()
            assert self._loading is not None
            return self._keep(await asyncio.shield(self._loading))  # or a direct use's
        return self._examples

    def example_counts(self) -> tuple[int, int]:
        """How many examples, and how many approved: as the window shows them (edits not
        saved yet count), from the file while no tab has loaded the examples."""
        if self._examples is None:
            counts = self.project.counts()
            return counts.examples, counts.approved
        return len(self._examples), self.approved_count()

    def approved_count(self) -> int:
        """How many examples are approved, counted once per version of the list: the checklist
        and the review row both ask after every edit (a count is ~10 ms at 100,000). The list
        is replaced at each change, or only grows (`add_examples`); an edit, a delete, an undo
        and an add carry the count over with what they changed (`_carry_count`)."""
        examples = self.examples
        memo = self._approved
        if memo is None or memo[0] is not examples or memo[1] != len(examples):
            memo = self._approved = (examples, len(examples), approved_count(examples))
        return memo[2]

    def _carry_count(self, after: list[Example], change: int, size: int | None = None) -> None:
        """The approved count of `after`, the list about to replace the current one (or the
        current one, about to grow to `size`), from the current count and `change`: called
        before the change, and only while the current count is known."""
        memo = self._approved
        if memo is not None and memo[0] is self._examples and memo[1] == len(memo[0]):
            self._approved = (after, len(after) if size is None else size, memo[2] + change)

    def example_ids(self) -> list[str]:
        """The examples' ids, in order (not to be changed): made once per version of the list
        (~45 ms at 1,000,000 examples) and carried over by an edit, a delete, an undo and an
        add, which find their examples in it."""
        examples = self.examples
        memo = self._ids
        if memo is None or memo[0] is not examples or len(memo[1]) != len(examples):
            memo = self._ids = (examples, ids_of(examples))
        return memo[1]

    def where(self, ids: Collection[str]) -> list[int]:
        """Where in `examples` the examples with these ids are, ascending: one pass in C over
        the kept ids (`positions_of` reads every example's id again: 70–100 ms at 1,000,000);
        none for the ids of the last change, if it came with their places (`replacement`)."""
        placed = self._placed
        if placed is not None and placed[0] is self._examples and placed[1] is ids:
            return placed[2]
        return positions_in(self.example_ids(), ids if isinstance(ids, set | dict) else set(ids))

    @property
    def examples(self) -> list[Example]:
        """All examples in order (loaded once; edits keep this list and the file in step).

        Copy on write: an example in this list is never changed in place; an edit replaces it
        with a new object. So a snapshot for a worker (the check, the retrieval index) is a
        list of the same objects, and the undo stack can keep the objects it was given."""
        if self._examples is None:
            read = self._read
            if read is not None and (not read.done() or read.exception() is None):
                # a worker is reading them: wait for its read (the rest of it), not read again
                return self._keep(read.result())
            return self._keep((*self.project.examples_and_positions(), None))
        return self._examples

    @_one_change
    def add_examples(self, new: list[Example], new_ids: list[str] | None = None) -> None:
        """Add after the last one (`new_ids`: their ids, in order, if the caller has them)."""
        examples = self.examples
        ids = self.example_ids()
        self._carry_count(examples, approved_count(new), len(examples) + len(new))
        self.reshaped = Reshape(added=range(len(examples), len(examples) + len(new)))
        examples.extend(new)
        if new_ids is None:
            new_ids = ids_of(new)
        self._ids = (examples, ids + new_ids)

        # after the last one, as the file places them
        self._place_later(new_ids, lambda: count(max(self._positions.values(), default=-1.0) + 1))
        self._save_now(lambda: self.project.add_examples(new), size=len(new))
        self.examples_reset.emit()

    @_one_change
    def remove_examples(self, ids: set[str] | list[str], *, places: bool = True) -> Removed:
        """Delete; returns what is needed to put them back where they were (`places`: undoing
        an add needs none). `ids`: a set, or a list (undoing an add, or deleting the selected
        rows, gives its ids in order: found as the last ones, or all, by one comparison, no
        set of 100,000 made, ~5 ms; ~4 ms more to look each up in it)."""
        examples, all_ids = self.examples, self.example_ids()
        last = len(all_ids) - len(ids)
        last_ids = all_ids[last:] if ids and last >= 0 else []  # (made once: 100,000 at most)
        if isinstance(ids, list):
            tail = bool(last_ids) and last_ids == ids
        else:
            tail = bool(last_ids) and ids.issuperset(last_ids)
        if tail:  # the last rows (an add's): slices, in C
            at: Sequence[int] = range(last, len(all_ids))
            removed_ids, removed_examples = last_ids, examples[last:]
        else:
            at = self.where(ids)
            # in C, each a pass over the rows removed: loops over 100,000 took ~120 ms
            removed_ids = list(map(all_ids.__getitem__, at))
            removed_examples = list(map(examples.__getitem__, at))
        kept = _without(examples, at)
        # counted among the fewer: none left of 100,000 deleted, ~4 ms of counting saved
        memo = self._approved
        if (
            memo is not None
            and memo[0] is examples
            and memo[1] == len(examples)
            and len(kept) < len(removed_examples)
        ):
            gone = memo[2] - approved_count(kept)
        else:
            gone = approved_count(removed_examples)
        self._carry_count(kept, -gone)
        removed = (
            Removed([], removed_examples, removed_ids, gone) if places else Removed([], [], [], 0)
        )
        self._examples, self._ids = kept, (kept, _without(all_ids, at))
        self.reshaped = Reshape(removed=at)
        # their places are taken out a step at a time, into `removed` (looking up 100,000
        # at once was 8–12 ms of deleting every row)
        self._place_later(removed_ids, None, removed.places if places else None)
        self._save_now(lambda: self.project.delete_examples(ids), size=len(ids))
        self.examples_reset.emit()
        return removed

    def _places(self) -> dict[str, float]:
        """Every example's position in the file, by id, brought up to date. A change of many
        examples leaves its change of them for a moment later (`_place_later`): at
        100,000 it was 25–45 ms of an import's stall, and 25 ms of its undo's. Whatever reads
        them first brings them up to date."""
        while self._later:
            collections.deque(self._later.pop(0), maxlen=0)  # (its steps left, all)
        return self._positions

    def _place_later(
        self,
        ids: list[str],
        places: Callable[[], Iterator[float]] | None,
        taken: list[float] | None = None,
    ) -> None:
        """Set these ids' places (`places` gives them, in order, called once the changes left
        before this one are made), or take them out (None), adding them to `taken` if given:
        `PLACES_AT_ONCE` per step."""

        def steps() -> Iterator[None]:
            at = None if places is None else places()
            for start in range(0, len(ids), PLACES_AT_ONCE):
                chunk = ids[start : start + PLACES_AT_ONCE]
                if at is not None:
                    self._positions.update(zip(chunk, islice(at, len(chunk)), strict=True))
                elif taken is not None:
                    taken.extend(map(self._positions.pop, chunk))
                else:
                    collections.deque(map(self._positions.__delitem__, chunk), maxlen=0)
                yield

        self._later.append(steps())
        if len(self._later) == 1:
            self._place_soon()

    def _place_soon(self) -> None:
        # a timer, not a call queued for the loop's next turn: the window repaints first, and
        # each step is a stall of its own, not a longer one
        QTimer.singleShot(1, self, self._place_a_step)

    def _place_a_step(self) -> None:
        if self._later:
            if next(self._later[0], StopIteration) is StopIteration:
                self._later.pop(0)
            if self._later:
                self._place_soon()

    @_one_change
    def restore_examples(self, removed: Removed) -> None:
        """Put examples back at their positions: a few each found by bisection in the list
        (which is in the file's order), not by sorting all of it again (30 ms at 100,000);
        many (undoing a delete of every row) by one sort of both runs by place, in C, which
        merges them: the loop over 100,000 took ~100 ms."""
        positions = self._places()  # (first: the places of a delete just made come in steps)
        places, restored, restored_ids = removed.places, removed.examples, removed.ids
        self._save_now(
            lambda: self.project.insert_examples_at(zip(places, restored, strict=True)),
            size=len(restored),
        )
        current, ids = self.examples, self.example_ids()
        added: Sequence[int] = ()  # where the restored rows are in the new list, if known
        if not current:  # (every row was deleted: these are all, in order; copies, as the
            # session's list may grow in place)
            merged, merged_ids = list(restored), list(restored_ids)
        elif len(restored) * RESTORE_MERGED_FROM >= len(current):
            keys = [*places, *map(positions.__getitem__, ids)]
            # stable, the restored first: one at the same place as a row goes before it, as
            # `bisect_left` puts it
            order = sorted(range(len(keys)), key=keys.__getitem__)
            both, both_ids = [*restored, *current], [*restored_ids, *ids]
            merged = list(map(both.__getitem__, order))
            merged_ids = list(map(both_ids.__getitem__, order))
        else:
            merged, merged_ids, added = [], [], []
            start = 0
            for position, ex in sorted(zip(places, restored, strict=True), key=_FIRST):
                at = bisect.bisect_left(ids, position, lo=start, key=positions.__getitem__)
                merged += current[start:at]
                added.append(len(merged))
                merged.append(ex)
                merged_ids += ids[start:at]
                merged_ids.append(ex.id)
                start = at
            merged += current[start:]
            merged_ids += ids[start:]
        self.reshaped = Reshape(added=added) if added else None
        self._place_later(restored_ids, lambda: iter(places))
        self._carry_count(merged, removed.approved)
        self._examples, self._ids = merged, (merged, merged_ids)
        self.examples_reset.emit()

    def known(self, ids: list[str]) -> list[str]:
        """Those of these ids that are examples', in order, looked up in C (none asked: the
        places a large change left for a moment later stay so)."""
        if not ids:
            return []
        self.examples  # noqa: B018 (loads them, and their positions, if not loaded yet)
        return list(filter(self._places().__contains__, ids))

    def unknown(self, examples: list[Example]) -> Callable[[], tuple[list[Example], list[str]]]:
        """A picker of those of `examples` whose ids no example has (adding a file twice adds
        nothing twice), with their ids: it looks them up among the ids as they are when it is
        called, `LOOKED_UP_AT_ONCE` at a time, paced, so that a worker thread may call it
        (100,000 new ids looked up at once held the window 17–25 ms, and reading them ~5 ms
        more). The caller picks again if the examples change meanwhile."""
        self.examples  # noqa: B018 (loads them, and their positions, if not loaded yet)
        known = self._places().keys()

        def pick() -> tuple[list[Example], list[str]]:
            fresh: list[Example] = []
            fresh_ids: list[str] = []
            for start in with_pauses(range(0, len(examples), LOOKED_UP_AT_ONCE), every=1):
                part = examples[start : start + LOOKED_UP_AT_ONCE]
                ids = ids_of(part)
                if not known.isdisjoint(ids):  # (a file added again: rare)
                    new = [i not in known for i in ids]
                    part, ids = list(compress(part, new)), list(compress(ids, new))
                fresh += part
                fresh_ids += ids
            return fresh, fresh_ids

        return pick

    @_one_change
    def swap_examples(self, first: str, second: str) -> None:
        """Exchange two examples' places (moving one up or down)."""
        positions = self._places()
        new = {first: positions[second], second: positions[first]}
        self._save_now(lambda: self.project.set_example_positions(new))
        positions.update(new)
        self._examples = sorted(self.examples, key=lambda ex: positions[ex.id])
        self.reshaped = None
        self.examples_reset.emit()

    def apply_sync(
        self,
        upserts: list[Example],
        deletes: list[str],
        snapshot_changes: dict,
        link: dict,
        *,
        new_snapshot: bool = False,
    ) -> None:
        """A finished Sheets sync: rows from the sheet in, rows deleted there out, saved
        together with the new snapshot. The examples in memory change as the file's do (a
        changed row in its place, a new one after the last, as `Project.apply_sync` places
        them), so the views need not read 100,000 examples again (issue 21: 3.6 s stalls);
        changes alone are an edit to the views, not a new list. Many rows' write goes to a worker
        thread in its turn, as any large change's (a first sync's, behind an import's write
        still in a worker, ran on the UI thread: 1.1 s at 100,000)."""
        upserts, write = self._sync_write(upserts, deletes, snapshot_changes, link, new_snapshot)
        self._save_now(write, size=len(upserts) + len(deletes) + len(snapshot_changes))
        self._synced_in_memory(upserts, deletes)

    async def apply_sync_in_worker(
        self,
        upserts: list[Example],
        deletes: list[str],
        snapshot_changes: dict,
        link: dict,
        *,
        new_snapshot: bool = False,
    ) -> None:
        """`apply_sync` with the file written in a worker thread: a first sync writes every
        row's text into the snapshot (~60 MB at 100,000 examples: a 1.1 s stall on the UI
        thread). Writes still waiting (a full disk) go first, in order, as `apply_sync` does."""
        import asyncio

        if self._unsaved:
            self.apply_sync(upserts, deletes, snapshot_changes, link, new_snapshot=new_snapshot)
            return
        upserts, write = self._sync_write(upserts, deletes, snapshot_changes, link, new_snapshot)
        try:
            await asyncio.to_thread(write)
        except UserFacingError:
            self._save_now(write)  # refused: said, kept, and tried again like any write
        self._synced_in_memory(upserts, deletes)

    def _sync_write(
        self, upserts: list[Example], deletes: list[str], changes: dict, link: dict, fresh: bool
    ) -> tuple[list[Example], Callable[[], None]]:
        """The session's own copies of the rows taken (the file stamps their updated_at), and
        the write of the sync's outcome."""
        upserts = [copy.copy(ex) for ex in upserts]

        def write() -> None:
            self.project.apply_sync(upserts, deletes, changes, link, new_snapshot=fresh)

        return upserts, write

    @_one_change
    def _synced_in_memory(self, upserts: list[Example], deletes: list[str]) -> None:
        if self._examples is None:
            self.reshaped = None
            self.examples_reset.emit()  # nothing loaded yet: the views read the file
            return
        if not upserts and not deletes:
            return  # the sheet took this side's rows: nothing here changed
        incoming = {ex.id: ex for ex in upserts}
        gone = set(deletes)
        positions = self._places()
        new = [ex for ex in upserts if ex.id not in positions and ex.id not in gone]
        if not new and not gone:
            # rows edited in the sheet only (a sync's usual outcome): put in their places in
            # C, as an edit is (`replacement`); a pass in Python over every row took ~100 ms
            # at 100,000 examples, whatever the sheet had changed
            prepared = replacement(upserts, self._examples, self.example_ids())
            self._approved = (prepared.examples, len(prepared.examples), prepared.approved)
            self._examples, self._ids = prepared.examples, (prepared.examples, prepared.ids)
            self.examples_edited.emit([prepared.ids[at] for at in self.where(incoming)])
            return
        changed = [ex.id for ex in self._examples if ex.id in incoming and ex.id not in gone]
        first = max(positions.values(), default=-1.0) + 1.0
        positions.update({ex.id: first + n for n, ex in enumerate(new)})
        self._examples = [incoming.get(ex.id, ex) for ex in self._examples if ex.id not in gone]
        self._examples += new
        for example_id in gone:
            positions.pop(example_id, None)  # before `examples_reset`: views ask
        if new or gone:
            self.reshaped = None
            self.examples_reset.emit()
        elif changed:
            self.examples_edited.emit(changed)

    @_one_change
    def replace_example_contents(
        self, changed: list[Example], *, undo_with: list[Example] | None = None
    ) -> None:
        """Put these versions (same ids) in place of the current ones, as they are: the undo
        stack holds them too, and nothing changes them (copy on write). So the file takes the
        time of change each holds, which its editor stamped (an undo puts back the version
        before, with its time); they are not stamped as they are written. The session's own
        copies, stamped by the file, took a quarter of approving 33,000 of 100,000 examples,
        and most of undoing it. `undo_with`: see `replace_prepared`."""
        way_back = self._way_back
        if way_back is not None and way_back[1] is changed and way_back[0].of is self._examples:
            prepared = way_back[0]  # undoing the last change: the list before it, as it was
        else:
            prepared = replacement(changed, self.examples, self.example_ids())
        self.replace_prepared(prepared, undo_with=undo_with)

    @_one_change
    def replace_prepared(
        self, prepared: Replacement, *, undo_with: list[Example] | None = None
    ) -> bool:
        """`replace_example_contents`, its lists made beforehand (`replacement`, which a
        worker thread may make): False, changing nothing, if the examples changed since.

        `undo_with`: the versions that undo this change (an undo command's other list). The
        list before it is kept, until the next change of contents: given them while the list
        is still this change's, `replace_example_contents` takes that list back whole. Making
        it again (a dict of every id, a pass over every row) was ~40 ms of undoing a change
        of status of 100,000 selected rows, and of redoing it."""
        if prepared.of is not self._examples:
            return False
        before, examples = prepared.of, prepared.examples
        memo = self._approved
        self._way_back = (
            (
                Replacement(
                    examples,
                    before,
                    prepared.ids,
                    undo_with,
                    prepared.changed_ids,
                    memo[2],
                    prepared.at,
                ),
                undo_with,
            )
            if undo_with is not None
            and memo is not None
            and memo[0] is before
            and memo[1] == len(before)
            else None
        )
        self._approved = (examples, len(examples), prepared.approved)
        self._examples, self._ids = examples, (examples, prepared.ids)  # the same ids
        if prepared.at is not None:  # (`where` the changed rows are, for those told of them)
            self._placed = (examples, prepared.changed_ids, prepared.at)
        changes = prepared.changes
        self._save_now(
            lambda: self.project.update_examples(changes, stamp=False), size=len(changes)
        )
        self.examples_edited.emit(prepared.changed_ids)
        return True

    def set_rules(self, rules: list[Rule]) -> None:
        """Rules are few: the whole ordered list is saved at once."""
        self.rules = [copy.deepcopy(r) for r in rules]
        self._save_now(lambda: self.project.replace_rules(self.rules))
        self.rules_changed.emit()

    def set_avatar(self, png: bytes | None) -> None:
        self.avatar_png = png
        self._save_now(lambda: self.project.set_avatar(png, "image/png"))
        self.avatar_changed.emit()

    def replace_character(
        self, persona: Persona, rules: list[Rule], avatar_png: bytes | None
    ) -> None:
        self.flush()
        self.persona, self.rules = persona, list(rules)
        if avatar_png is not None:
            self.avatar_png = avatar_png
        self._save_now(lambda: self.project.replace_character(persona, rules, avatar_png))
        self.character_replaced.emit()

    def _save_now(
        self, write: Callable[[], object], *, size: int = 1, whole: Hashable = None
    ) -> None:
        """Write now, after any write still waiting; a change of `BACKGROUND_WRITE_FROM`
        examples or more, in a worker thread. If the disk refuses, keep the write and retry.
        `whole`: what the write writes whole (a record's key): a write of it still waiting
        is dropped, this one has it as it is now. A rescue's record and kept voice were each
        written again at every answer, ~2,000 times, behind one another."""
        if whole is not None:
            started = 1 if self._writing is not None else 0  # (in a worker: not dropped)
            self._unsaved[started:] = [u for u in self._unsaved[started:] if u[2] != whole]
        self._unsaved.append((write, size >= BACKGROUND_WRITE_FROM, whole))
        self._write_unsaved()

    def save_record(self, write: Callable[[], object], *, whole: Hashable = None) -> None:
        """A record's write (a voice check's, the share kept aside, an export's note) in turn
        with the examples': never on the window's thread while a worker has the file
        (`_write_unsaved`), retried if the disk refuses it. `whole`: as `_save_now`'s."""
        self._save_now(write, whole=whole)

    # ---- test conversations: saved in turn, read from what waits first ---------------------

    def save_chat(self, record: ChatRecord) -> None:
        self._chats_waiting.pop(record.id, None)  # (the newest last: listed first)
        self._chats_waiting[record.id] = record
        self._save_now(functools.partial(self._write_chat, record), whole=("chat", record.id))

    def delete_chat(self, chat_id: str) -> None:
        self._chats_waiting.pop(chat_id, None)
        self._chats_waiting[chat_id] = None
        self._save_now(functools.partial(self._write_chat, chat_id), whole=("chat", chat_id))

    def _write_chat(self, what: ChatRecord | str) -> None:
        """(The newest write of each conversation: `whole` dropped any older one waiting.)"""
        if isinstance(what, str):
            self.project.delete_chat(what)
        else:
            self.project.save_chat(what)
        self._chats_waiting.pop(what if isinstance(what, str) else what.id, None)

    def chat_titles(self) -> list[tuple[str, str]]:
        """(id, title) of each conversation, newest first: those whose write waits first."""
        waiting = self._chats_waiting
        ahead = [(i, r.title) for i, r in reversed(waiting.items()) if r is not None]
        return ahead + [t for t in self.project.chat_titles() if t[0] not in waiting]

    def chat(self, chat_id: str, then: Callable[[ChatRecord | None], object]) -> None:
        """`then(the conversation)`: at once if its write waits or the file is free, else as
        soon as the worker that has it lets go (`read_soon`)."""
        if chat_id in self._chats_waiting:
            then(self._chats_waiting[chat_id])
        else:
            self.read_soon(functools.partial(self.project.chat, chat_id), then)

    def read_soon(self, read: Callable[[], T], then: Callable[[T], object]) -> None:
        """`then(read())` at once if no worker has the project file; else once it lets go
        and the writes held back meanwhile have landed (then read on the window's thread:
        these reads are small). An export's read, a copy or a large write holds the file for
        seconds at 1,000,000 examples, and a read made here waited as long, the window frozen.
        Nothing is read once the project is closed."""
        if not self._read_if_free(read, then):
            spawn(self._read_when_free(read, then))

    def _read_if_free(self, read: Callable[[], T], then: Callable[[T], object]) -> bool:
        if self.closed:
            return True  # (nothing to read, or to tell)
        if self._held_back or self._writing is not None:
            return False  # (its writes first)
        with self.project.held(wait=False) as ours:
            if not ours:
                return False
            value = read()
        then(value)
        return True

    async def _read_when_free(self, read: Callable[[], T], then: Callable[[T], object]) -> None:
        import asyncio

        while not self._read_if_free(read, then):
            await asyncio.sleep(HELD_BACK_RETRY_MS / 1000)

    def _write_unsaved(self, *, wait: bool = False) -> bool:
        """Write what waits, in order. A large write goes to a worker thread, and the rest
        follow it when it is done (`_write_done`); `wait`: everything is written before this
        returns (a write in a worker first, waited for), and False means the disk refused."""
        if self._writing is not None:
            if not wait:
                return True  # in a worker: the rest follow it
            self._start_writer()  # if its timer has not
            if not self._landed(self._writing):  # (the UI thread waits for it here)
                return False
        self._held_back = False
        while self._unsaved:
            write, large, _whole = self._unsaved[0]
            if large and not wait:
                self._write_in_worker(write)
                return True
            with self.project.held(wait=wait) as ours:
                if not ours:  # a worker reads the file (an export, a copy): after it, kept
                    self._held_back = True
                    self.save_state_changed.emit("Saving…", True)
                    self._held_timer.start()
                    return True
                try:
                    write()
                except UserFacingError as exc:  # the project turns every refusal into one
                    self._refused(exc)
                    return False
            self._unsaved.pop(0)
        if not self._pending:
            self.save_state_changed.emit("All changes saved", True)
        return True

    def _write_in_worker(self, write: Callable[[], object]) -> None:
        from concurrent.futures import Future

        done: Future[None] = Future()

        def run() -> None:
            try:
                write()
            except BaseException as exc:  # a refusal, or a bug: said on the UI thread
                done.set_exception(exc)
            else:
                done.set_result(None)
            self._written.emit(done)

        self._writing = done
        self.save_state_changed.emit("Saving…", True)
        # not a daemon: a window closing waits for it (`flush`), and so does Python's exit
        self._writer = threading.Thread(target=run, name="write-project")
        # started once the window has repainted the change (a timer, as `_place_soon`):
        # started at once, it took the interpreter lock from the rest of the change on the UI
        # thread (undoing an import of 100,000, the grid's new rows took 17 ms, not 5)
        QTimer.singleShot(1, self, self._start_writer)

    def _start_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.start()

    def _write_done(self, done: Future[None]) -> None:
        if done is self._writing and self._landed(done):  # (else `flush` has taken it)
            self._write_unsaved()

    def _landed(self, done: Future[None]) -> bool:
        """The outcome of the write in a worker thread (waited for, if not done): True if
        it is on disk. A refusal is said, and the write kept for a retry."""
        self._writing = None
        try:
            done.result()
        except UserFacingError as exc:
            self._refused(exc)
            return False
        self._unsaved.pop(0)
        return True

    def _refused(self, exc: UserFacingError) -> None:
        self.save_state_changed.emit(f"Not saved: {exc}", False)
        if not self.project.read_only:  # a read-only file never takes it: no retries
            self._timer.start(RETRY_DELAY_MS)  # nothing is dropped: tried again soon

    @property
    def unsaved(self) -> bool:
        """Edits the file does not have yet (waiting for the autosave, or refused by the disk)."""
        return bool(self._pending or self._unsaved)

    def flush(self) -> bool:
        """Write pending edits now, all of them: a large one a worker thread is writing is
        waited for. Returns False (and says why) if the disk refused them; they are kept and
        tried again."""
        self._timer.stop()
        self._queue_pending()
        return self._write_unsaved(wait=True)

    @property
    def large_write_waiting(self) -> bool:
        """Whether a change of `BACKGROUND_WRITE_FROM` examples or more is not written yet."""
        return any(large for _write, large, _whole in self._unsaved)

    async def flushed(self) -> bool:
        """`flush` for a task: a large write in a worker thread is awaited, and any large one
        after it goes to a worker too; the window does not wait for them (at 100,000
        examples, an export or a copy just after an import froze it ~1 s). False (said) if
        the disk refused."""
        import asyncio

        self._timer.stop()
        self._queue_pending()
        while True:
            writing = self._writing
            if writing is None:
                if not self._write_unsaved():  # (the small ones; the next large one: a worker)
                    return False
                if self._held_back:  # (a worker has the file: its turn first)
                    await asyncio.sleep(HELD_BACK_RETRY_MS / 1000)
                    continue
                if self._writing is None:
                    return True
                continue
            self._start_writer()  # if its timer has not
            waited = asyncio.wrap_future(writing)
            # its outcome is read from `writing` (a refusal unread here was logged as lost)
            waited.add_done_callback(lambda done: done.cancelled() or done.exception())
            await asyncio.wait([waited])
            if writing is self._writing:  # (`_write_done` has not taken its outcome yet)
                if not self._landed(writing):
                    return False
            elif writing.exception() is not None:  # refused, and said: tried again later
                return False

    def _autosave(self) -> None:
        """The typing of the last second, and any refused write again, without waiting for a
        large write in a worker thread (they follow it)."""
        self._queue_pending()
        self._write_unsaved()

    def _queue_pending(self) -> None:
        if self._pending:
            fields = dict(self._pending)
            self._pending.clear()
            self._unsaved.append((lambda: self.project.set_persona_fields(**fields), False, None))

    def close(self, *, force: bool = False) -> bool:
        """Save and close. If saving fails the project stays open, unless `force`."""
        if not self.flush() and not force:
            return False
        self._timer.stop()  # forced: refused writes are given up, never retried on a closed file
        if self._preflight is not None:
            self._preflight.close()
        for task in self._job_watchers.values():
            task.cancel()
        if self._jobs is not None:
            self._jobs.close()  # the jobs go on at their trainers; a reopen reattaches
        self.project.close()
        self.closed = True
        return True


async def _no_training(profile: str) -> Any:
    raise UserFacingError(
        f"Training through “{profile}” is not available in this window.", "Reopen the project."
    )
