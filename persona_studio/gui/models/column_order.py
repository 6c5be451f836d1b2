"""A column's order over a large project's rows, read once, a part at a time, and kept up with
edits, so that a sort by that column is a pass in numpy over every row in that order (~1 ms
for 100,000 rows) instead of reading every row's value at once on the UI thread (~110 ms for
100,000 questions, then ~35 ms of sort: issue 21).

Each row has a *place*: rows of equal values share it, and a row of a greater value has a
greater one. An edited row's place is found again, among the others, with a binary search on
their values (a few dozen values read), the next time the order is used; rows added, deleted
or moved are followed (`follow`) where the session says they went (`where_each_was` with its
`Reshape`), else by identity (`moved`). Past `PATCHED_AT_MOST` rows to place, the order is
read again.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Generator, Sequence
from itertools import chain, compress, count, groupby, islice, repeat
from operator import getitem, is_, is_not, ne, not_
from typing import TYPE_CHECKING, Any, NamedTuple

from persona_studio.core.dataset import Example, held_messages

if TYPE_CHECKING:
    import numpy as np

SORT_RUN = 5_000  # rows sorted at once while reading (`reading`): ~1–2 ms
READ_PART = 1_000  # rows read, or merged, at once while reading: ~1–2 ms
KEY_PREFIX = 32  # characters of a text's key sorted on while reading (`_ordered`)
PLACED_AT_ONCE = 100_000  # rows given their places at once, at a read's end: ~1 ms
# rows whose places are found again at a sort: each a binary search, the values it reads kept
# for the next (100 rows at 100,000: ~9 ms)
PATCHED_AT_MOST = 2_000

Key = Callable[[Example], Any]


class Reshape(NamedTuple):
    """How a project's list of rows last changed shape, where the session knows it: the
    positions of the rows deleted (in the list before), or of those added (in the list
    after), ascending."""

    removed: Sequence[int] = ()
    added: Sequence[int] = ()


class ColumnOrder:
    """The places of `rows` (a copy of the project's list as the order knows it) in one
    column's order, and the rows by place (`by_place`: those placed, in order; rows of equal
    places in any order); `report` is what the column's values were read from besides the
    rows (the token counts or the issues), else None."""

    def __init__(
        self,
        column: int,
        rows: list[Example],
        places: np.ndarray,
        by_place: np.ndarray,
        *,
        report: object,
        messages: bool,
    ) -> None:
        self.column, self.rows, self.places, self.by_place = column, rows, places, by_place
        self.report = report
        self.messages = messages  # the values are read from the messages alone
        self.unplaced: set[int] = set()  # rows whose places are to be found again
        self.behind = False  # the project's rows changed since: to follow (`moved`) at its use
        # every row in this order, one way (descending?), while the places stay as they are
        self._in_order: tuple[bool, np.ndarray] | None = None

    @classmethod
    def read(
        cls, column: int, rows: list[Example], key: Key, report: object, *, messages: bool
    ) -> ColumnOrder:
        """All at once: `reading` to its end (which keeps every row in order)."""
        return read_out(cls.reading(column, rows, key, report, messages=messages))

    @classmethod
    def reading(
        cls, column: int, rows: list[Example], key: Key, report: object, *, messages: bool
    ) -> Generator[None, None, ColumnOrder]:
        """Read a part at a time, yielding between two: `READ_PART` rows read or merged, or
        `SORT_RUN` sorted, ~1–2 ms each (~0.3 s in all at 100,000 rows). The grid reads a large
        project's order so on the UI thread, the window's turn between parts: in a worker
        thread, each of a repaint's calls into Python waited for the interpreter's lock, and
        scrolling right after a header click at 100,000 examples stalled 330–450 ms."""
        import numpy as np

        by_place, starts = yield from _ordered(rows, range(len(rows)), key, KEY_PREFIX)
        in_order = np.frombuffer(by_place, np.int32)
        # each row's place: how many places began before it, itself included, less one
        ranks = np.cumsum(np.frombuffer(starts, np.uint8), dtype=np.float64) - 1
        del starts
        yield
        places = np.empty(len(rows), np.float64)
        for start in range(0, len(rows), PLACED_AT_ONCE):
            places[in_order[start : start + PLACED_AT_ONCE]] = ranks[start : start + PLACED_AT_ONCE]
            yield
        order = cls(column, rows, places, in_order, report=report, messages=messages)
        order._in_order = (False, in_order)  # (every row, in order, equal ones as in the file)
        return order

    def in_order(self, *, descending: bool) -> np.ndarray:
        """Every row in this column's order, rows of equal places in the file's order: kept
        while the places stay as they are, so that a sort of the shown rows is a pass over it
        (~9 ms for 600,000 of 1,000,000 rows, against ~70 ms sorting them by place)."""
        import numpy as np

        if self._in_order is None:
            places = -self.places if descending else self.places
            rows = np.argsort(places, kind="stable").astype(np.int32)  # (~0.1 s at 1,000,000)
            self._in_order = (descending, rows)
        elif self._in_order[0] != descending:  # the runs of equal places the other way round
            self._in_order = (descending, _runs_reversed(self._in_order[1], self.places))
        return self._in_order[1]

    def edited(self, positions: Sequence[int], examples: Sequence[Example], key: Key) -> bool:
        """These rows of `examples` (the same rows, in the same places) may have changed: those
        whose values did are placed again at the next use. False: too many to, read it again."""
        rows, unplaced = self.rows, self.unplaced
        before = list(map(rows.__getitem__, positions))
        after = list(map(examples.__getitem__, positions))
        deque(map(rows.__setitem__, positions, after), maxlen=0)
        # those that may have another value, found in C (a loop in Python over approving
        # 100,000 rows took ~30 ms of the stall): a change of status or tags shares the
        # messages (`Example.__copy__`), so a sort by question or answer looks at none
        others = (
            map(is_not, map(held_messages, before), map(held_messages, after))
            if self.messages
            else map(is_not, before, after)
        )
        for at, was, now in compress(zip(positions, before, after, strict=True), others):
            if at not in unplaced and key(was) != key(now):
                unplaced.add(at)
                if len(unplaced) > PATCHED_AT_MOST:
                    return False
        return True

    def moved(self, examples: Sequence[Example]) -> bool:
        """`examples` are the rows now (added, deleted, moved, edited): follow each row it knows
        by identity, and place the others at the next use. False: too many, read it again."""
        if not self.rows or len(examples) - len(self.rows) > PATCHED_AT_MOST:
            return False  # (more rows added than it would place)
        return self.follow(examples, where_each_was(self.rows, examples))

    def follow(self, examples: Sequence[Example], was: np.ndarray) -> bool:
        """Take `examples` as the rows, each at `was` in `rows` before (-1: a row it did not
        know, placed at the next use). False: too many to place, read it again."""
        import numpy as np

        rows = self.rows
        stale = np.zeros(len(rows) + 1, bool)
        stale[list(self.unplaced)] = True
        stale[-1] = True
        unplaced = np.flatnonzero(stale[was])
        if len(unplaced) > PATCHED_AT_MOST or not rows:
            return False
        by_place = now_at(was, len(rows))[self.by_place]
        self.by_place = by_place[by_place >= 0]
        self.rows, self.places = list(examples), self.places[was]
        self.unplaced, self.behind = set(unplaced.tolist()), False
        self._in_order = None
        return True

    def places_now(self, key: Key) -> np.ndarray | None:
        """Each row's place, those edited since placed again (exactly where a new read would
        put them); None where their places cannot be told apart any more (read it again)."""
        if self.unplaced and not self._place_again(key):
            return None
        return self.places

    def _place_again(self, key: Key) -> bool:
        import numpy as np

        places, rows = self.places, self.rows
        stale = np.zeros(len(rows), bool)
        stale[list(self.unplaced)] = True
        placed = self.by_place[~stale[self.by_place]]  # in order, but for those to place
        values = _Values(placed, rows, key)
        lowest = places[placed[0]] - 1 if len(placed) else 0.0
        highest = places[placed[-1]] + 1 if len(placed) else 1.0
        keyed = sorted((key(rows[at]), at) for at in self.unplaced)
        found = [(bisect_left(values, value), value, at) for value, at in keyed]
        for spot, group in groupby(found, key=lambda each: each[0]):
            members = list(group)
            # at `spot`: the rows of its value take its place; the others go between
            equal = spot < len(values) and values[spot] == members[-1][1]
            below = [each for each in members if not (equal and each[1] == members[-1][1])]
            low = places[placed[spot - 1]] if spot else lowest
            high = places[placed[spot]] if spot < len(placed) else highest
            distinct = [value for value, _ in groupby(value for _, value, _ in below)]
            step = (high - low) / (len(distinct) + 1)
            between = {value: low + step * (n + 1) for n, value in enumerate(distinct)}
            if any(not low < place < high for place in between.values()) or len(
                set(between.values())
            ) < len(between):
                return False  # no room left between two places
            for _, value, at in members:
                places[at] = between.get(value, high)
        spots = np.fromiter((spot for spot, _, _ in found), np.int64, len(found))
        placing = np.fromiter((at for _, _, at in found), np.int32, len(found))
        self.by_place = np.insert(placed, spots, placing)
        self.unplaced, self._in_order = set(), None
        return True


def _ordered(
    rows: list[Example], among: Sequence[int], key: Key, prefix: int | None
) -> Generator[None, None, tuple[array[int], bytearray]]:
    """The rows at `among` in their keys' order (rows of equal keys in the order of `among`),
    and for each whether it begins a place (its key differs from the one before it); a part
    at a time (see `ColumnOrder.reading`). With a `prefix`, a text's key is cut to its first
    `prefix` characters while the rows are sorted (at 1,000,000 rows the answers' whole keys
    took ~360 MB while read, ~180 MB of it kept after), and rows of equal cut keys that may
    have been cut are told apart by their whole keys once merged."""
    if prefix is not None and not (among and isinstance(key(rows[among[0]]), str)):
        prefix = None
    keys: list[Any] = []
    for start in range(0, len(among), READ_PART):
        got = map(key, map(rows.__getitem__, among[start : start + READ_PART]))
        keys += got if prefix is None else map(getitem, got, repeat(slice(0, prefix)))
        yield
    runs: list[array[int]] = []  # (arrays: the collector's passes walk no list of them)
    for start in range(0, len(keys), SORT_RUN):
        run = sorted(range(start, min(start + SORT_RUN, len(keys))), key=keys.__getitem__)
        runs.append(array("i", run))
        yield
    order: array[int] = array("i")
    starts = bytearray()
    ties: list[list[int]] = []  # [start, end) in `order` of rows of equal keys, maybe cut
    last: Any = _NOTHING
    merged = heapq.merge(*runs, key=keys.__getitem__)
    while part := list(islice(merged, READ_PART)):
        values = list(map(keys.__getitem__, part))
        begins = bytes(map(ne, values, chain((last,), values)))
        if prefix is not None:
            for at in compress(count(len(order)), map(not_, begins)):
                if ties and ties[-1][1] == at:
                    ties[-1][1] = at + 1
                elif len(values[at - len(order)]) >= prefix:
                    ties.append([at - 1, at + 1])
        order.extend(map(among.__getitem__, part))
        starts += begins
        last = values[-1]
        yield
    while keys or runs:  # let go of them a part at a time (1,000,000 keys at once: ~14 ms)
        del keys[-SORT_RUN:]
        if runs:
            runs.pop()
        yield
    for start, end in ties:
        order[start:end], apart = yield from _ordered(rows, order[start:end], key, None)
        starts[start + 1 : end] = apart[1:]
    return order, starts


_NOTHING = object()  # a key no row has


def read_out(steps: Generator[None, None, ColumnOrder]) -> ColumnOrder:
    """What `ColumnOrder.reading` (begun or not) returns, its steps taken at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _runs_reversed(rows: np.ndarray, places: np.ndarray) -> np.ndarray:
    """`rows` (in their places' order, one way) in the other: each run of equal places where
    the other way puts it, its rows in the same order (the file's). A pass (~25 ms for
    1,000,000 rows), not a sort (~0.1 s)."""
    import numpy as np

    at = places[rows]
    starts = np.flatnonzero(np.concatenate(([True], at[1:] != at[:-1])))
    ends = np.append(starts[1:], len(rows))
    run = np.repeat(np.arange(len(starts)), ends - starts)
    turned = np.empty_like(rows)
    turned[len(rows) - ends[run] + (np.arange(len(rows)) - starts[run])] = rows
    return turned


def where_each_was(
    before: Sequence[Example], now: Sequence[Example], reshape: Reshape | None = None
) -> np.ndarray:
    """For each row of `now`, its place in `before` (the same object), or -1. Where `reshape`
    says where rows were deleted or added, that is checked in C loops (~4 ms for 100,000
    rows); else (or not so) the rows alike at the start and at the end are matched in C loops
    (~2 ms), and those between by identity (~25 ms for 100,000 rows: rows deleted all over a
    sorted grid)."""
    import numpy as np

    told = None if reshape is None else _as_told(before, now, reshape)
    if told is not None:
        return told
    shorter = min(len(before), len(now))
    head = next(compress(count(), map(is_not, before, now)), shorter)
    tail = next(compress(count(), map(is_not, reversed(before), reversed(now))), shorter)
    tail = min(tail, shorter - head)
    middle = before[head : len(before) - tail]
    where = dict(zip(map(id, middle), range(head, head + len(middle)), strict=True))
    between = map(where.get, map(id, now[head : len(now) - tail]), repeat(-1))
    return np.concatenate(
        [
            np.arange(head, dtype=np.int64),
            np.fromiter(between, np.int64, len(now) - tail - head),
            np.arange(len(before) - tail, len(before), dtype=np.int64),
        ]
    )


def _as_told(
    before: Sequence[Example], now: Sequence[Example], reshape: Reshape
) -> np.ndarray | None:
    """`where_each_was` as `reshape` says, if `now` is so (checked in C loops), else None.
    Rows added are rows deleted the other way: from `now` back to `before`."""
    import numpy as np

    removed, added = reshape.removed, reshape.added
    if bool(removed) == bool(added):
        return None
    longer, shorter, at = (before, now, removed) if removed else (now, before, added)
    if len(longer) - len(at) != len(shorter) or at[-1] >= len(longer):
        return None  # (said of another change)
    kept = np.ones(len(longer), bool)
    kept[_positions(at)] = False
    if not all(map(is_, compress(longer, kept.tolist()), shorter)):
        return None
    if removed:
        return np.flatnonzero(kept)
    was = np.full(len(now), -1, np.int64)
    was[kept] = np.arange(len(before))
    return was


def now_at(was: np.ndarray, before: int) -> np.ndarray:
    """Where each of `before` rows is now (-1: gone), from where each row now was (`was`)."""
    import numpy as np

    known = was >= 0
    at = np.full(before, -1, np.int32)
    at[was[known]] = np.flatnonzero(known)
    return at


def _positions(at: Sequence[int]) -> np.ndarray | slice:
    """Positions for numpy: a `range` as a slice (100,000 of them converted took ~5 ms)."""
    import numpy as np

    if isinstance(at, range) and at.step == 1:
        return slice(at.start, at.stop)
    return np.asarray(at, np.int64)


class _Values(Sequence[Any]):
    """The column's value of each row of `placed`, read when asked (for a binary search), and
    kept: the searches for many rows read the same ones first."""

    def __init__(self, placed: np.ndarray, rows: list[Example], key: Key) -> None:
        self._placed, self._rows, self._key = placed, rows, key
        self._read: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._placed)

    def __getitem__(self, i: Any) -> Any:
        if i not in self._read:
            self._read[i] = self._key(self._rows[self._placed[i]])
        return self._read[i]
