"""Table model over the examples: a filtered, sorted view of row indices; no per-cell items.

`data()` is an index lookup. Filtering and sorting work on the row numbers (`_view`) with plain
Python over precomputed lowercase text, which keeps a keystroke of search under 50 ms at 100k.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from operator import attrgetter, contains, eq, le
from typing import TYPE_CHECKING, Any, overload

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from persona_studio.core.collector import collector_paused
from persona_studio.core.dataset import (
    STATUSES,
    Example,
    approved_count,
    held_messages,
    lowered,
    positions_in,
    positions_of,
    search_text,
)
from persona_studio.core.validation import Issue
from persona_studio.gui.models.column_order import (
    ColumnOrder,
    Key,
    Reshape,
    now_at,
    read_out,
    where_each_was,
)
from persona_studio.gui.theme import qcolor

if TYPE_CHECKING:
    import numpy as np

COLUMNS = ("#", "Question", "Answer", "Status", "Tags", "Tokens", "Issues")
COL_NUMBER, COL_QUESTION, COL_ANSWER, COL_STATUS, COL_TAGS, COL_TOKENS, COL_ISSUES = range(7)
EDITABLE = {COL_QUESTION, COL_ANSWER, COL_STATUS, COL_TAGS}
REPORTED = {COL_TOKENS, COL_ISSUES}  # the columns a check's report fills
_Index = QModelIndex | QPersistentModelIndex
_STATUS_COLORS = {"approved": "success", "rejected": "danger"}
_status, _tags, _id = attrgetter("status"), attrgetter("tags"), attrgetter("id")
FOLD_FROM = 500_000  # examples: a first search folds their texts (see `search_text_builder`)
# a search a part at a time (`search_in_parts`): the rows it looks through before the window's
# turn (~10 ms at 1,000,000 examples)
PART_ROWS = 25_000
# and the rows it finds: shown at once while the grid shows fewer (a screenful), then added
# this often (s; each addition repaints the grid: ~5 ms at 1,000,000 rows, 40 a search)
SHOW_AT_ONCE, SHOW_EVERY = 200, 0.1
# rows: from this many, sorting by a column reads the column's order first, a part at a time
# (`ColumnOrder`, `OrderRead`): reading 100,000 questions for their values took ~110 ms, the
# sort ~35 ms, on the UI thread at once at each header click, and each filter or search while
# sorted (issue 21)
ORDER_IN_PARTS_FROM = 20_000
ORDERS_KEPT = 2  # columns' orders (at 1,000,000 rows, ~24 MB each: see `ColumnOrder`)
# rows: new rows whose search texts are read at once, on the UI thread, as the rows change
# (~2 µs each); more (an import), and they are all read again at the next search
TEXTS_FOLLOWED = 5_000
# row moves in all (a run of rows deleted or added moves those after it, in each of a search's
# three lists) up to which a search's texts follow a change in place: ~2 ms a list
MOVED_AT_MOST = 20_000_000
# rows added (an undo's) put among the rows shown each where the sort puts it (~10 µs each);
# more, and the rows are filtered and sorted again
INSERTED_AT_MOST = 1_000


@dataclass
class Filters:
    text: str = ""
    status: str = ""  # "" = any
    tag: str = ""
    issues_only: bool = False
    min_tokens: int = 0


def _set_first(example: Example, role: str, text: str) -> Example:
    for message in example.messages:
        if message.get("role") == role:
            message["content"] = text
            return example
    example.messages.append({"role": role, "content": text})
    return example


class SearchTexts:
    """What a search looks in, row by row: the example's message texts in lower case
    (`search_text`: a large project's examples hold them folded, and these are the very
    texts they hold) and its tags in lower case, one text for all the rows with the same."""

    def __init__(self, examples: list[Example], *, hold: bool = False) -> None:
        self._tag_texts: dict[str, str] = {}
        self._hold = hold
        with collector_paused(freeze=hold):  # `hold`: a million objects it need never walk
            self.texts = [search_text(ex, hold=hold) for ex in examples]
        self.tags = [self._tags_of(ex) for ex in examples]
        # the messages each text was made from: a change that keeps them (approving 33,000
        # rows) makes no text again (~1.5 µs each: 50 ms of that stall, after a search)
        self._made_from = list(map(held_messages, examples))

    def follow(self, examples: list[Example], was: np.ndarray) -> None:
        """Take `examples` as the rows, each at `was` before (-1: a new row, read now): a
        delete or its undo with a search shown read every row's text again (~0.2 s at
        100,000 examples, seconds at 1,000,000). A few rows deleted or added, the others in
        their order, are taken out or put in where they are (`_followed_in_place`)."""
        import numpy as np

        if self._followed_in_place(examples, was):
            return
        at = was.tolist()
        self.texts = list(map(self.texts.__getitem__, at))  # (-1: the last, for now)
        self.tags = list(map(self.tags.__getitem__, at))
        self._made_from = list(map(self._made_from.__getitem__, at))
        for row in np.flatnonzero(was < 0).tolist():
            example = examples[row]
            self.texts[row] = search_text(example, hold=self._hold)
            self.tags[row] = self._tags_of(example)
            self._made_from[row] = held_messages(example)

    def _followed_in_place(self, examples: list[Example], was: np.ndarray) -> bool:
        """`follow`, changing the lists in place where a few runs of rows were deleted or added
        and the others kept their order: each run is one move of the rows after it. New lists
        read every row (cold in memory, ~10 ms a list at 100,000 rows: ~30 ms of deleting 100
        rows sorted by question, and of its undo). False: not such a change, or too many runs
        (each moves up to every row: `MOVED_AT_MOST` in all)."""
        import numpy as np

        lists = (self.texts, self.tags, self._made_from)
        kept = was[was >= 0]
        if len(kept) > 1 and not bool((kept[1:] > kept[:-1]).all()):
            return False  # (moved: a sort of the file's rows)
        dropped = np.ones(len(self.texts), dtype=bool)
        dropped[kept] = False
        gone, fresh = runs(np.flatnonzero(dropped)), runs(np.flatnonzero(was < 0))
        if (len(gone) + len(fresh)) * max(len(self.texts), len(was)) > MOVED_AT_MOST:
            return False
        for start, stop in reversed(gone):
            for items in lists:
                del items[start:stop]
        for start, stop in fresh:  # (in order: those before each are in place)
            added = examples[start:stop]
            self.texts[start:start] = [search_text(ex, hold=self._hold) for ex in added]
            self.tags[start:start] = list(map(self._tags_of, added))
            self._made_from[start:start] = list(map(held_messages, added))
        return True

    def set(self, row: int, example: Example) -> None:
        held = held_messages(example)
        if held is not self._made_from[row]:
            self.texts[row], self._made_from[row] = search_text(example), held
        self.tags[row] = self._tags_of(example)

    def _tags_of(self, example: Example) -> str:
        text = " ".join(example.tags).lower()
        return self._tag_texts.setdefault(text, text)

    def matching(self, rows: Iterable[int], search: str) -> array[int]:
        """The rows among `rows` whose texts or tags hold `search`, case aside (a list first:
        picked in C, `compress`, took up to 40 % longer; a search in parts makes short ones)."""
        needle = search.strip().lower()
        texts, tags = self.texts, self.tags
        tagged = {text for text in list(self._tag_texts) if needle in text}  # (a few)
        if not tagged:
            return array("i", [i for i in rows if needle in texts[i]])
        return array("i", [i for i in rows if needle in texts[i] or tags[i] in tagged])


def _typed_on(before: Filters, after: Filters) -> bool:
    """Whether `after` is `before` with more typed in the search box: it can only match rows
    that `before` matched."""
    text, typed = before.text.strip().lower(), after.text.strip().lower()
    return bool(text) and text in typed and _others(before) == _others(after)


def _others(f: Filters) -> tuple[str, str, bool, int]:
    return f.status, f.tag, f.issues_only, f.min_tokens


@dataclass(eq=False)
class SearchInParts:
    """A search on a large project, a part of the rows at a time on the UI thread
    (`ExamplesModel.search_in_parts`, then `search_part` until it says there is no more)."""

    filters: Filters
    among: Sequence[int]  # the rows it looks among, in order
    in_order: bool  # `among` is in the shown order: rows found show at once, `found` is the view
    state: tuple[Any, ...]  # the rows' generation and report when it began
    at: int = 0  # `among[:at]` are looked through
    found: array[int] = field(default_factory=lambda: array("i"))  # (shown, when `in_order`)
    unshown: array[int] = field(default_factory=lambda: array("i"))  # found after those
    shown_at: float = 0.0  # when it last showed rows (`time.monotonic`)
    approved: int = 0  # how many of the rows found are approved (the review row's count)
    done: bool = False  # all looked through, and the rows shown (not left for a newer one)
    fresh: bool = False  # done, and no row or report changed meanwhile (`approved` holds)
    resorted: bool = False  # sorted while it ran: `found` is in the order it looked in

    @property
    def count(self) -> int:
        """How many rows it found so far."""
        return len(self.found) + len(self.unshown)


class _Rows(Sequence[int]):
    """Row numbers in parts, one after another: a search carried on looks again at the rows
    it found, then at those it had not looked at yet, without copying them (an `array` of a
    1,000,000-row `range` took 56 ms on the UI thread, at a keystroke)."""

    def __init__(self, parts: Iterable[Sequence[int]]) -> None:
        self.parts = [part for part in parts if len(part)]
        self._len = sum(map(len, self.parts))

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        return chain.from_iterable(self.parts)

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> array[int]: ...

    def __getitem__(self, i: int | slice) -> int | array[int]:
        if not isinstance(i, slice):
            return self[i : i + 1 or None][0]
        start, stop, step = i.indices(self._len)
        assert step == 1
        rows: array[int] = array("i")
        for part in _rest(self, start):
            if len(rows) >= stop - start:
                break
            rows.extend(part[: stop - start - len(rows)])
        return rows


def _rest(rows: Sequence[int], at: int) -> list[Sequence[int]]:
    """`rows[at:]`, in parts, copying no `range`."""
    rest: list[Sequence[int]] = []
    for part in rows.parts if isinstance(rows, _Rows) else [rows]:
        if at >= len(part):
            at -= len(part)
        else:
            rest.append(part[at:] if at else part)
            at = 0
    return rest


def _candidates(
    examples: list[Example],
    f: Filters,
    issues: dict[str, list[Issue]],
    tokens: dict[str, int],
    among: Sequence[int] | None = None,
) -> Sequence[int]:
    """The rows `f` shows but for its search, in the examples' order (a `range` of them all,
    when it shows them all), among all or `among`."""
    candidates: Sequence[int] = range(len(examples)) if among is None else among

    def keep(tests: Callable[[Iterable[Example]], Iterable[bool]]) -> array[int]:
        """The candidates whose examples pass `tests` (maps over them, in C: a lambda per
        example took ~10 ms of a status filter at 100,000), as a mask of bytes that numpy
        reads (a row number made for each row kept took a third more: the status test at
        1,000,000 rows was ~70 ms)."""
        import numpy as np

        every = candidates == range(len(examples))  # (a range: no pass over it)
        chosen = examples if every else map(examples.__getitem__, candidates)
        passed = np.frombuffer(bytes(tests(chosen)), np.bool_)
        return _array(np.flatnonzero(passed) if every else _as_array(candidates)[passed])

    if f.status:
        candidates = keep(lambda exs: map(eq, map(_status, exs), repeat(f.status)))
    if f.tag:
        candidates = keep(lambda exs: map(contains, map(_tags, exs), repeat(f.tag)))
    if f.issues_only:
        candidates = keep(lambda exs: map(issues.__contains__, map(_id, exs)))
    if f.min_tokens:
        candidates = keep(
            lambda exs: map(le, repeat(f.min_tokens), map(tokens.get, map(_id, exs), repeat(0)))
        )
    return candidates


def _sort_rows(
    view: Sequence[int],
    examples: list[Example],
    sort: tuple[int, Qt.SortOrder] | None,
    tokens: dict[str, int],
    issues: dict[str, list[Issue]],
    *,
    in_file_order: bool = False,
    column_order: ColumnOrder | None = None,
) -> Sequence[int]:
    """`view`, sorted. From the file's order first (unless it is in it), so that rows equal
    in the sorted column stay in the file's order whatever was sorted before: the shown order
    is then the one a fresh filter makes, and typing on (which keeps it) stays right. With the
    column's order (`ColumnOrder`, its places up to date), in numpy: a pass over every row in
    that order."""
    if _in_file_order(sort):
        return view if in_file_order or isinstance(view, range) else array("i", sorted(view))
    assert sort is not None
    column, order = sort
    if column == COL_NUMBER:  # the file's order, backwards
        return array("i", sorted(view, reverse=True))
    descending = order == Qt.SortOrder.DescendingOrder
    if column_order is not None:
        return _as_they_come(view, column_order.in_order(descending=descending))
    rows = list(view) if in_file_order else sorted(view)
    key = _sort_key(column, tokens, issues)
    rows.sort(key=lambda i: key(examples[i]), reverse=descending)
    return array("i", rows)


def _as_they_come(view: Sequence[int], in_order: np.ndarray) -> array[int]:
    """The rows of `view` in the order they come in `in_order` (every row, in a column's
    order): a pass over it, ~9 ms for 600,000 of 1,000,000 rows (sorting them by their places
    took ~70 ms, ~120 ms for all of them: a filter's stall while sorted)."""
    import numpy as np

    if isinstance(view, range) and len(view) == len(in_order):
        return _array(in_order)  # (every row)
    shown = np.zeros(len(in_order), bool)
    shown[_as_array(view)] = True
    return _array(in_order[shown[in_order]])


def runs(rows: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    """Ascending row numbers as runs of consecutive rows: (first, after the last) each; in
    numpy (a pass in Python over 100,000 rows took ~10 ms)."""
    import numpy as np

    if not len(rows):
        return []
    at = np.asarray(rows, np.int64)
    breaks = np.flatnonzero(np.diff(at) != 1) + 1
    firsts = at[np.concatenate(([0], breaks))]
    lasts = at[np.concatenate((breaks - 1, [len(at) - 1]))]
    return list(zip(firsts.tolist(), (lasts + 1).tolist(), strict=True))


def _new_rows(was: np.ndarray) -> int:
    return int((was < 0).sum())


def _in_order(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`rows` and their `values`, by value then row: as they show, when put among others."""
    import numpy as np

    order = np.lexsort((rows, values))
    return rows[order], values[order]


def _as_array(view: Sequence[int]) -> np.ndarray:
    """The row numbers of a view, as numpy's (the same memory, for an `array`)."""
    import numpy as np

    if isinstance(view, range):
        return np.arange(view.start, view.stop, view.step, dtype=np.int32)
    if isinstance(view, array) and view.itemsize == 4:
        return np.frombuffer(view, np.int32)
    return np.fromiter(view, np.int32, len(view))


def _array(rows: np.ndarray) -> array[int]:
    """numpy's row numbers as a view's `array`."""
    import numpy as np

    out: array[int] = array("i")
    out.frombytes(rows.astype(np.int32, copy=False).tobytes())
    return out


def _after_delete(view: Sequence[int], was: np.ndarray, before: int) -> Sequence[int] | None:
    """The rows `view` showed, of `before` rows, after a delete (`was`: where each row left
    was: ascending): the same rows but those deleted, in the same order (a filter or sort
    keeps them so); None after another change."""
    import numpy as np

    if len(was) >= before or (len(was) and (was[0] < 0 or np.any(np.diff(was) <= 0))):
        return None
    if isinstance(view, range) and len(view) == before:
        return range(len(was))  # (every row, in the file's order)
    kept = now_at(was, before)[_as_array(view)]
    return _array(kept[kept >= 0])


def _in_file_order(sort: tuple[int, Qt.SortOrder] | None) -> bool:
    """Whether `sort` shows the rows in the file's order."""
    return sort is None or sort == (COL_NUMBER, Qt.SortOrder.AscendingOrder)


def _sort_key(column: int, tokens: dict[str, int], issues: dict[str, list[Issue]]) -> Key:
    """What a sort by `column` (not the row number) compares."""
    keys: dict[int, Key] = {
        COL_QUESTION: partial(lowered, role="user"),
        COL_ANSWER: partial(lowered, role="assistant"),
        COL_STATUS: lambda ex: STATUSES.index(ex.status),
        COL_TAGS: lambda ex: ", ".join(ex.tags),
        COL_TOKENS: lambda ex: tokens.get(ex.id, 0),
        COL_ISSUES: lambda ex: len(issues.get(ex.id, ())),
    }
    return keys[column]


class OrderRead:
    """A column's order being read for the grid (`ExamplesModel.order_builder`): `step` reads
    a part (~1–2 ms) and says whether there is more; `ordered` makes sure every row is in
    order (a read keeps its own, so this finds it made; else numpy's sort, which lets go of
    the interpreter's lock: a worker thread's work); `install`, on the UI thread, keeps it and
    sorts by it if a sort waits. Called, it does all but `install`, and returns `install`."""

    def __init__(
        self,
        column: int,
        keep: Callable[[ColumnOrder], None],
        reading: Generator[None, None, ColumnOrder],
    ) -> None:
        self.column, self._keep, self._reading = column, keep, reading
        self.order: ColumnOrder | None = None

    def step(self) -> bool:
        try:
            next(self._reading)
        except StopIteration as done:
            self.order = done.value
            return False
        return True

    def ordered(self) -> None:
        assert self.order is not None
        self.order.in_order(descending=False)

    def install(self) -> None:
        assert self.order is not None
        self._keep(self.order)

    def __call__(self) -> Callable[[], None]:
        self.order = self.order or read_out(self._reading)
        self.ordered()
        return self.install


class ExamplesModel(QAbstractTableModel):
    """The grid's rows: a filtered, sorted list of indices into the session's examples; edits
    go out as `edit_requested` for the undo stack (it never changes data itself)."""

    edit_requested = Signal(object, object, str)  # before, after, label: the tab makes it undoable
    # a sort waits for its column's order, to be read a part at a time (`order_builder`);
    # True: as the rows change (the window repaints them first: see the tab's use)
    order_wanted = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self._examples: list[Example] = []
        # the shown rows' numbers in the examples: an `array` of 4-byte numbers, or a `range`
        # for every row in the file's order (a list of them held 40 MB at 1,000,000, its
        # numbers shared by every view's list: issue 21)
        self._view: Sequence[int] = range(0)
        self._scan: SearchInParts | None = None  # a search running a part at a time
        self._haystack: SearchTexts | None = None
        self._generation = 0  # the rows' contents changed: a search text built before is stale
        self._view_fresh = False  # the shown rows are exactly what the filters select now
        self.tokens: dict[str, int] = {}
        self.issues: dict[str, list[Issue]] = {}
        self.filters = Filters()
        self._sort: tuple[int, Qt.SortOrder] | None = None
        # a large project's sort: the columns' orders read, the last used last, and the sort
        # waiting for one
        self._orders: dict[int, ColumnOrder] = {}
        self._sort_wanted: tuple[int, Qt.SortOrder] | None = None
        # the rows as last taken, to follow them from (a copy: the session's list may grow)
        self._rows: list[Example] = []

    # ---- data in -------------------------------------------------------------------------

    def set_examples(self, examples: list[Example], reshaped: Reshape | None = None) -> None:
        """The rows now; `reshaped`: how they changed from those before, if the session
        knows. A large project's rows are followed from those before (where each was), not
        read again: the search texts, the sort's column order, and after a delete the rows
        shown (filtered and sorted again, a delete with a search shown took ~0.2 s at
        100,000 examples)."""
        was = None
        sorted_by = self._sort[0] if self._sort else None
        # a search's texts, or rows filtered or sorted (every row in order shows at once)
        followed = self._haystack is not None or not isinstance(self._view, range)
        large = len(examples) >= ORDER_IN_PARTS_FROM
        # (more rows new than those followed, an import's: read again, as before)
        if followed and large and self._rows and len(examples) - len(self._rows) <= TEXTS_FOLLOWED:
            was = where_each_was(self._rows, examples, reshaped)
        self.beginResetModel()
        before, shown = len(self._rows), self._view if self._view_fresh else None
        self._examples, self._rows = examples, list(examples)  # (the session's may grow)
        self._scan = None  # (of other rows: these are filtered here; its view was not fresh)
        if self._haystack is not None and was is not None and _new_rows(was) <= TEXTS_FOLLOWED:
            self._haystack.follow(examples, was)
        else:  # (read again when next searched, in a worker thread: an import's)
            self._haystack = None
        for order in list(self._orders.values()):
            if order.column != sorted_by or order.behind or was is None:
                order.behind = True  # followed when used (an import's 100,000 new rows cost
                # ~10 ms for a sort they were not used for)
            elif not order.follow(examples, was):
                del self._orders[order.column]
        self._generation += 1
        view = None
        if shown is not None and was is not None:  # (as they were: the filters, the sort)
            if len(was) < before:
                view = _after_delete(shown, was, before)
            elif len(was) > before:
                view = self._after_insert(shown, was, before)
        if view is None:
            self._view = self._filtered()
            self._apply_sort(in_file_order=True)
        else:
            self._view, self._view_fresh = view, True
        self.endResetModel()

    def examples_changed(
        self,
        ids: list[str],
        examples: list[Example],
        where: Callable[[list[str]], list[int]] | None = None,
    ) -> None:
        """Contents of some rows changed (same rows): repaint, refresh their search texts.
        `where` finds them in `examples` (the session's, from the ids it keeps)."""
        self._examples = examples
        self._generation += 1
        self._view_fresh = False  # an edited row stays shown until the filters apply again
        if self._haystack is not None or self._orders:
            positions = where(ids) if where else positions_of(examples, set(ids))  # ascending
            kept = positions[: bisect_left(positions, len(self._rows))]  # (not rows added since)
            deque(map(self._rows.__setitem__, kept, map(examples.__getitem__, kept)), maxlen=0)
            if self._haystack is not None:
                for i in positions:
                    self._haystack.set(i, examples[i])
            for order in list(self._orders.values()):
                if not order.behind and not order.edited(
                    positions, examples, self._key(order.column)
                ):
                    del self._orders[order.column]
        if self._view:  # the grid repaints the rows on screen: finding the edited ones among
            # 1,000,000 shown rows took 50–90 ms of each edit's stall
            last = self.index(len(self._view) - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def set_report(self, tokens: dict[str, int], issues: dict[str, list[Issue]]) -> None:
        self.tokens, self.issues = tokens, issues
        # the rows shown are as they would be now, unless filtered by its figures (filtered
        # again below) or sorted by them (in their order until the filters apply again)
        by_report = bool(self.filters.issues_only or self.filters.min_tokens)
        sorted_by = self._sort[0] if self._sort else None
        self._view_fresh = self._view_fresh and not by_report and sorted_by not in REPORTED
        if self._view:
            self.dataChanged.emit(
                self.index(0, COL_TOKENS), self.index(len(self._view) - 1, COL_ISSUES)
            )
        if by_report:
            self.apply_filters(self.filters)

    # ---- filter and sort -----------------------------------------------------------------

    def apply_filters(self, filters: Filters) -> None:
        self._scan = None  # a search running a part at a time is out of date
        self.beginResetModel()
        narrowed = self._narrowed(filters)
        self.filters = filters
        if narrowed is not None:
            self._view = narrowed  # in the shown order: already sorted
        else:
            self._view = self._filtered()
            self._apply_sort(in_file_order=True)
        self.endResetModel()

    def _narrowing(self, filters: Filters) -> Sequence[int] | None:
        """Typing on in the search box looks only among the rows shown: a text that holds the
        shown search's text can only match rows that it matched. At 1,000,000 examples a
        keystroke scanned every row (~0.4 s); typing a word now scans fewer each time. The
        rows to look among, in the shown order, or None when the rows must be chosen afresh
        (another filter, an edit, a new report)."""
        if not self._view_fresh or self._haystack is None:
            return None
        return self._view if _typed_on(self.filters, filters) else None

    def _narrowed(self, filters: Filters) -> Sequence[int] | None:
        rows = self._narrowing(filters)
        if rows is None or self._haystack is None:
            return None
        return self._haystack.matching(rows, filters.text)

    def _filtered(self) -> Sequence[int]:
        if self.filters.text.strip() and self._haystack is None:
            self._haystack = SearchTexts(self._examples)
        self._view_fresh = True
        f, hay = self.filters, self._haystack
        rows = _candidates(self._examples, f, self.issues, self.tokens)  # (a range or an array)
        return hay.matching(rows, f.text) if f.text.strip() and hay is not None else rows

    def search_in_parts(self, filters: Filters) -> SearchInParts:
        """`apply_filters` for a search on a large project, a part at a time: this looks
        through the first part, and `search_part` through each next one, each ~10 ms
        (`PART_ROWS`) on the UI thread, the window's turn between. At 1,000,000 examples a
        search reads ~460 MB of text (0.2–0.4 s; a faster scan needs an index). Rows found
        show as they are found, when the shown order is the order looked in (unsorted, or
        typing on); else all at once, sorted, at the end.

        A worker thread did this before, and the window waited for the interpreter's lock
        beside it (89–113 ms a keystroke at most; rows shown while it looked on stalled it 0.1–0.6
        s, issue 21). Typing on while a search runs carries it on: the rows it found are
        looked at again, and the rest with the new text, not those it found no match in
        (unless a row or the report changed meanwhile). A newer filter, or new rows, drop it;
        a sort finishes it."""
        scan, state = self._scan, self._state()
        if scan is not None and _typed_on(scan.filters, filters) and self._unchanged(scan):
            among: Sequence[int] = _Rows([scan.found + scan.unshown, *_rest(scan.among, scan.at)])
            in_order, resorted = scan.in_order, scan.resorted
        elif (shown := self._narrowing(filters)) is not None:
            among, in_order, resorted = shown, True, False
        else:
            among = _candidates(self._examples, filters, self.issues, self.tokens)
            in_order, resorted = _in_file_order(self._sort), False
        self._scan = scan = SearchInParts(filters, among, in_order, state, resorted=resorted)
        self.filters, self._view_fresh = filters, False
        self.search_part(scan)
        return scan

    def search_part(self, scan: SearchInParts) -> bool:
        """Look through `scan`'s next part; True while it has more to look through (False
        once done, or dropped for a newer filter or new rows)."""
        if scan is not self._scan:
            return False
        assert self._haystack is not None  # (the tab reads the texts first: `search_ready`)
        part = scan.among[scan.at : scan.at + PART_ROWS]
        found = self._haystack.matching(part, scan.filters.text)
        scan.at += len(part)
        scan.approved += approved_count(map(self._examples.__getitem__, found))
        more = scan.at < len(scan.among)
        if not scan.in_order:
            scan.found += found
        elif scan.at == len(part):  # the first part: these rows, shown now
            self.beginResetModel()
            self._view = scan.found = found
            self.endResetModel()
            scan.shown_at = time.monotonic()
        else:
            scan.unshown += found
            if (
                not more
                or len(self._view) < SHOW_AT_ONCE
                or scan.shown_at < time.monotonic() - SHOW_EVERY
            ):
                self._show_found(scan)
        if more:
            return True
        self._scan, scan.done = None, True
        if not scan.in_order:
            self.beginResetModel()
            self._view = scan.found  # (in the file's order, unless sorted since it began)
            self._apply_sort(in_file_order=not scan.resorted)
            self.endResetModel()
        self._view_fresh = scan.fresh = self._unchanged(scan)
        return False

    def _state(self) -> tuple[int, dict[str, int], dict[str, list[Issue]]]:
        return self._generation, self.tokens, self.issues

    def _unchanged(self, scan: SearchInParts) -> bool:
        """Whether no row and no report changed since `scan` began: the rows it found are
        those it would find now, in the order they would show."""
        return all(a is b for a, b in zip(self._state(), scan.state, strict=True))

    def _show_found(self, scan: SearchInParts) -> None:
        """The rows `scan` found since it last showed some, added below them."""
        if scan.unshown:
            shown = len(self._view)
            self.beginInsertRows(QModelIndex(), shown, shown + len(scan.unshown) - 1)
            scan.found += scan.unshown
            self.endInsertRows()
            scan.unshown = array("i")
        scan.shown_at = time.monotonic()

    @property
    def searching(self) -> SearchInParts | None:
        """The search running a part at a time (`search_in_parts`), if one is: the rows
        shown are those it found so far (or, sorted, those shown before it)."""
        return self._scan

    @property
    def rows_total(self) -> int:
        """How many examples, shown or not."""
        return len(self._examples)

    @property
    def search_ready(self) -> bool:
        """Whether a search can run now without first reading every example's text."""
        return self._haystack is not None

    def search_text_builder(self) -> Callable[[], Callable[[], None]]:
        """Work for a worker thread: it reads every example's text for searching (~0.2 s at
        100,000, pure Python, so the UI thread gets the lock back at once), and returns what to
        run back on the UI thread to use it, unless the rows changed meanwhile. From
        `FOLD_FROM` examples, the examples hold their texts folded from then on: a copy in
        lower case beside them took 1.71 GB at 1,000,000, 1.41 GB folded, and the first
        search 3.3–3.9 s, 6.1–7.2 s folded. At 200,000 that is 434 MB against 372 MB, and
        0.8–1.1 s against 1.6 s: there, the copy."""
        examples, generation = list(self._examples), self._generation

        def build() -> Callable[[], None]:
            hay = SearchTexts(examples, hold=len(examples) >= FOLD_FROM)

            def install() -> None:
                if generation == self._generation and self._haystack is None:
                    self._haystack = hay

            return install

        return build

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the shown rows by `column`. On a large project, once the column's order is read
        a part at a time (`order_wanted`; the rows stay as they are meanwhile), and a search
        running a part at a time goes on, its rows shown sorted at its end."""
        wanted = (column, order)
        if not self._large():
            scan = self._scan
            while scan is not None and self.search_part(scan):
                pass  # a search running a part at a time: its rows first, all of them
        elif column != COL_NUMBER and self._places(column) is None:
            self._sort_wanted = wanted
            self.order_wanted.emit(False)
            return
        elif (scan := self._scan) is not None and scan.in_order:
            # the rows it found so far are those shown: from now on they show at its end
            scan.found, scan.unshown, scan.in_order = scan.found + scan.unshown, array("i"), False
            scan.resorted = True
        self._sort_wanted = None
        self.layoutAboutToBeChanged.emit()
        self._sort = wanted
        self._apply_sort()
        self.layoutChanged.emit()

    def _after_insert(
        self, view: Sequence[int], was: np.ndarray, before: int
    ) -> Sequence[int] | None:
        """The rows `view` showed, of `before` rows, after rows were added (`was`: where each
        row was, -1 for those added), with those of the added that the filters show, each
        where the sort puts it (a few: else None, as after another change)."""
        import numpy as np

        known = was >= 0
        added = np.flatnonzero(~known)
        old = was[known]
        if len(old) != before or np.any(np.diff(old) <= 0) or len(added) > INSERTED_AT_MOST:
            return None
        shown = now_at(was, before)[_as_array(view)]
        f = self.filters
        picked = _candidates(self._examples, f, self.issues, self.tokens, added.tolist())
        if f.text.strip():
            if self._haystack is None:
                return None
            picked = self._haystack.matching(picked, f.text)
        sort, rows = self._sort, np.asarray(picked, np.int32)
        if _in_file_order(sort):
            into, at = shown, np.asarray(rows)
        elif sort is not None and sort[0] == COL_NUMBER:  # (backwards)
            into, at = -shown, -rows
        else:
            assert sort is not None
            places = self._places(sort[0])
            if places is None:
                return None
            sign = -1 if sort[1] == Qt.SortOrder.DescendingOrder else 1
            into, at = sign * places[shown], sign * places[rows]
            rows, at = _in_order(rows, at)
            spots = [
                (low := int(np.searchsorted(into, value, "left")))
                + int(np.searchsorted(shown[low : np.searchsorted(into, value, "right")], row))
                for value, row in zip(at.tolist(), rows.tolist(), strict=True)
            ]  # (rows of equal places in the file's order)
            return _array(np.insert(shown, spots, rows))
        rows, at = _in_order(rows, at)
        return _array(np.insert(shown, np.searchsorted(into, at), rows))

    @property
    def sort_pending(self) -> bool:
        """Whether a sort waits for its column's order (`order_builder`)."""
        return self._sort_wanted is not None

    def order_builder(self) -> OrderRead | None:
        """A column's order to read, if one is wanted (for the sort waiting, or for the sort
        shown): a part at a time on the UI thread (`OrderRead.step`), or all at once."""
        sort = self._sort_wanted or self._sort
        if sort is None or not self._order_missing(sort):
            return None
        column = sort[0]
        rows, report = list(self._examples), self._report(column)
        reading = ColumnOrder.reading(
            column, rows, self._key(column), report, messages=column in (COL_QUESTION, COL_ANSWER)
        )
        return OrderRead(column, partial(self._keep_order, column, self._generation), reading)

    def order_wanted_now(self, read: OrderRead) -> bool:
        """Whether `read` is still of the column a sort waits for, or shows (a click on
        another column, once the read was under way: at 1,000,000 rows the grid said it
        sorted for seconds more while the column clicked first was read)."""
        sort = self._sort_wanted or self._sort
        return sort is not None and sort[0] == read.column

    def _keep_order(self, column: int, generation: int, order: ColumnOrder) -> None:
        """Keep a column's order read, and sort by it if a sort waits for it."""
        order.behind = generation != self._generation  # (the rows changed meanwhile)
        self._orders.pop(column, None)
        self._orders[column] = order
        while len(self._orders) > ORDERS_KEPT:
            del self._orders[next(iter(self._orders))]
        if self._sort_wanted is not None:
            self.sort(*self._sort_wanted)

    def _large(self) -> bool:
        return len(self._examples) >= ORDER_IN_PARTS_FROM

    def _key(self, column: int) -> Key:
        return _sort_key(column, self.tokens, self.issues)

    def _report(self, column: int) -> object:
        """What `column`'s values are read from besides the rows: the report's figures."""
        return {COL_TOKENS: self.tokens, COL_ISSUES: self.issues}.get(column)

    def _order_missing(self, sort: tuple[int, Qt.SortOrder]) -> bool:
        """Whether a large project's sort waits for its column's order to be read."""
        if not self._large() or sort[0] == COL_NUMBER:
            return False
        order = self._orders.get(sort[0])
        return order is None or order.report is not self._report(sort[0])

    def _places(self, column: int) -> np.ndarray | None:
        """`column`'s places, as the rows (and the report) are now, if its order is known."""
        order = self._orders.get(column)
        if order is None or order.report is not self._report(column):
            return None
        moved = not order.behind or order.moved(self._examples)
        places = order.places_now(self._key(column)) if moved else None
        if places is None:
            del self._orders[column]
        else:  # (the last used, kept last)
            self._orders[column] = self._orders.pop(column)
        return places

    def _apply_sort(self, *, in_file_order: bool = False) -> None:
        """Sort the view by `_sort`: by its column's order if known, else, on a small project,
        by each row's value. A large project's sort waits for the order to be read again (as
        a header click does; the rows stay in the order they come in meanwhile): by value, it
        held the UI thread 150–230 ms at 100,000 examples after approving every row while
        sorted by status, or after an import."""
        view, sort, report = self._view, self._sort, (self.tokens, self.issues)
        places = None if _in_file_order(sort) or sort is None else self._places(sort[0])
        if places is None and sort is not None and self._order_missing(sort):
            self._sort_wanted = self._sort_wanted or sort
            self.order_wanted.emit(True)
            return
        known = None if places is None or sort is None else self._orders[sort[0]]
        self._view = _sort_rows(
            view, self._examples, sort, *report, in_file_order=in_file_order, column_order=known
        )

    # ---- lookups -------------------------------------------------------------------------

    def example(self, row: int) -> Example:
        return self._examples[self._view[row]]

    def examples_at(self, rows: Sequence[int]) -> list[Example]:
        """The examples of these shown rows, in C (a call of `example` per row took ~70 ms
        for 100,000 selected rows)."""
        return list(map(self._examples.__getitem__, self._view_at(rows)))

    def ids_at(
        self, rows: Sequence[int], examples: list[Example], ids: list[str]
    ) -> list[str] | None:
        """The ids of these shown rows, looked up in `ids` (those of `examples`, in order),
        if the rows are `examples`' (the session's list): a pass less than reading their
        examples' ids (~4 ms for 100,000 rows). Else None."""
        if self._examples is not examples or len(ids) != len(examples):
            return None
        return list(map(ids.__getitem__, self._view_at(rows)))

    def _view_at(self, rows: Sequence[int]) -> Iterable[int]:
        """Where these shown rows are in the examples; a `range` of them: a slice of the view."""
        if isinstance(rows, range) and rows.step == 1:
            return self._view[rows.start : rows.stop]
        return map(self._view.__getitem__, rows)

    def shown_rows(self) -> tuple[list[Example], Sequence[int]]:
        """The examples and the rows of them shown, as they are now (a copy of the view: a
        worker thread may read them)."""
        view = self._view
        return self._examples, view if isinstance(view, range) else view[:]

    def shown_examples(self) -> Iterator[Example]:
        """The shown rows' examples, in order (a third of the time of `example` per row)."""
        return map(self._examples.__getitem__, self._view)

    def row_of(self, example_id: str) -> int | None:
        return self.rows_of([example_id]).get(example_id)

    def rows_of(
        self,
        example_ids: list[str],
        examples: list[Example] | None = None,
        ids: list[str] | None = None,
    ) -> dict[str, int]:
        """The shown rows of these examples. Given `ids` (those of `examples`, in order), if
        the rows are `examples`' (the session's list): where they are among them, in C, then
        among the rows shown, in numpy: ~3 ms at 100,000, shown or not (rows a filter hides
        took 16 ms of the filter's stall, looked for in every row). Else in one pass over the
        view, until all are found (not one per id: reselecting 100 rows took 2 s)."""
        wanted = set(example_ids)
        if not wanted:
            return {}
        if examples is self._examples and ids is not None and len(ids) == len(examples):
            import numpy as np

            view = _as_array(self._view)
            rows = np.flatnonzero(np.isin(view, positions_in(ids, wanted)))
            return dict(zip(map(ids.__getitem__, view[rows].tolist()), rows.tolist(), strict=True))
        found: dict[str, int] = {}
        examples = self._examples
        for row, i in enumerate(self._view):
            example_id = examples[i].id
            if example_id in wanted:
                found[example_id] = row
                if len(found) == len(wanted):
                    break
        return found

    def rows_at(self, positions: range) -> tuple[np.ndarray, int | None]:
        """The shown rows of the examples at `positions` (in the examples' list), ascending,
        and the row of the first of them shown (by position), if any."""
        import numpy as np

        view = _as_array(self._view)
        rows = np.flatnonzero((view >= positions.start) & (view < positions.stop))
        first = int(rows[np.argmin(view[rows])]) if len(rows) else None
        return rows, first

    def shows_all(self, examples: list[Example]) -> bool:
        """Whether every one of `examples` (this list) is shown, in some order."""
        return self._examples is examples and len(self._view) == len(examples)

    @property
    def shown(self) -> int:
        return len(self._view)

    # ---- Qt model API --------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._view)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if (
            index.isValid()
            and index.column() in EDITABLE
            and (
                index.column() in (COL_STATUS, COL_TAGS)
                or self.example(index.row()).turn_count <= 2
            )
        ):
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: _Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        example = self._examples[self._view[index.row()]]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._display(example, column, index.row(), role)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (COL_QUESTION, COL_ANSWER):
                return example.question if column == COL_QUESTION else example.answer
            if column == COL_ISSUES:
                return "\n".join(i.message for i in self.issues.get(example.id, ())) or None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_STATUS:
                shade = _STATUS_COLORS.get(example.status)
                return qcolor(shade) if shade else None
            if column == COL_ISSUES and any(i.blocking for i in self.issues.get(example.id, ())):
                return qcolor("danger")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_NUMBER, COL_TOKENS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, example: Example, column: int, row: int, role: int) -> Any:
        edit = role == Qt.ItemDataRole.EditRole
        if column == COL_NUMBER:
            return self._view[row] + 1
        if column in (COL_QUESTION, COL_ANSWER):
            text = example.question if column == COL_QUESTION else example.answer
            if edit:
                return text
            turns = example.turn_count // 2
            prefix = f"[{turns} turns] " if column == COL_QUESTION and turns > 1 else ""
            return prefix + text.replace("\n", " ⏎ ")
        if column == COL_STATUS:
            return example.status if edit else example.status.capitalize()
        if column == COL_TAGS:
            return ", ".join(example.tags)
        if column == COL_TOKENS:
            count = self.tokens.get(example.id)
            return f"{count:,}" if count is not None else ""
        if column == COL_ISSUES:
            issues = self.issues.get(example.id, ())
            if not issues:
                return ""
            return issues[0].message + (f" (+{len(issues) - 1})" if len(issues) > 1 else "")
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        before = self.example(index.row())
        after = _edited(before, index.column(), str(value))
        if after is None:
            return False
        self.edit_requested.emit([before], [after], f"Edit {COLUMNS[index.column()].lower()}")
        return True


def _edited(example: Example, column: int, value: str) -> Example | None:
    import copy

    after = copy.deepcopy(example)
    if column == COL_QUESTION:
        _set_first(after, "user", value)
    elif column == COL_ANSWER:
        _set_first(after, "assistant", value)
    elif column == COL_STATUS:
        status = value.strip().lower()
        if status not in STATUSES:
            return None
        after.status = status
    elif column == COL_TAGS:
        after.tags = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    else:
        return None
    return None if after == example else after
