"""Training examples: conversations of {role, content} messages with review metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress, count
from operator import attrgetter
from typing import Any, TypeGuard

from persona_studio.core.collector import with_pauses
from persona_studio.core.folded import SEPARATOR, Folded, fold

STATUSES = ("draft", "approved", "rejected")
MIN_EXAMPLES = 10  # the fewest approved examples a fine-tuning job accepts


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def stamp(examples: Iterable[Example]) -> None:
    """Give new versions of examples the time of their change, one text for all. The window's
    editors stamp what they make, before the session takes it (`replace_example_contents`)."""
    now = now_iso()
    for example in examples:
        example.updated_at = now


def new_id() -> str:
    """128 random bits as 32 hex digits, like uuid4().hex (uuid costs 2 ms to import)."""
    return os.urandom(16).hex()


def new_ids(count: int) -> list[str]:
    """`count` ids as `new_id` makes them, from one read of the random source."""
    digits = os.urandom(16 * count).hex()
    return [digits[start : start + 32] for start in range(0, 32 * count, 32)]


@dataclass(slots=True)  # no __dict__ each: ~10 MB less at 100,000 examples
class Example:
    """One training conversation. Single-turn examples read as a question and an answer.

    An example read from a project holds its messages as the file's JSON text until they are
    first taken through `messages`, which decodes them for good. Decoded, two short messages
    take ~1 KB of Python objects, twice their text: at 1,000,000 examples the window held 1 GB
    more. Code that only reads them (the grid's cells, search, sorting, the check, exports)
    uses `read_messages`, which keeps nothing. A large project's first search folds that text
    (`search_text`): the example then holds its messages as the lowercase text the search
    looks in, with what gives them back exactly (`Folded`). In the check's worker process a
    plain question and answer holds them as the pair of texts its check keeps (`hold_pair`)."""

    messages: list[dict[str, Any]]
    id: str = field(default_factory=new_id)
    status: str = "draft"
    tags: list[str] = field(default_factory=list)
    rating: int | None = None
    source: str = ""
    system_prompt: str | None = None
    updated_at: str = field(default_factory=now_iso)

    @classmethod
    def from_qa(cls, question: str, answer: str, **kwargs: Any) -> Example:
        return cls(
            messages=[
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ],
            **kwargs,
        )

    def read_messages(self) -> list[dict[str, Any]]:
        """The messages, for reading only: decoded for this call alone where the example
        still holds the file's text or holds it folded (change them through `messages`)."""
        held = _HELD.__get__(self, Example)
        if type(held) is str:
            return _loads(held)
        if _is_pair(held):  # (`hold_pair`)
            return _pair_messages(held)
        return held.messages() if type(held) is Folded else held

    def messages_json(self) -> str | None:
        """The file's JSON text of the messages while they are not decoded yet, else None."""
        held = _HELD.__get__(self, Example)
        return held if type(held) is str else None

    def __copy__(self) -> Example:
        """A shallow copy (the messages as held, the same tags list), made directly: through
        `__getstate__`, copying 33,000 examples to approve them took ~165 ms of the stall."""
        return Example(
            _HELD.__get__(self, Example),
            self.id,
            self.status,
            self.tags,
            self.rating,
            self.source,
            self.system_prompt,
            self.updated_at,
        )

    def __getstate__(self) -> tuple[Any, ...]:
        # a pickle (the check's worker process) or a deep copy carries the text, not decoded
        return tuple(slot.__get__(self, Example) for slot in _SLOTS)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for slot, value in zip(_SLOTS, state, strict=True):
            slot.__set__(self, value)

    def _first(self, role: str) -> str:
        return next(
            (m.get("content", "") for m in self.read_messages() if m.get("role") == role), ""
        )

    @property
    def question(self) -> str:
        return self._first("user")

    @property
    def answer(self) -> str:
        return self._first("assistant")

    @property
    def turn_count(self) -> int:
        return sum(1 for m in self.read_messages() if m.get("role") in ("user", "assistant"))


_SLOTS = tuple(vars(Example)[name] for name in Example.__slots__)
_HELD = vars(Example)["messages"]  # the slot: a list, or the file's JSON text not decoded yet


def hold_pair(example: Example, pair: tuple[str, str]) -> None:
    """Hold a plain question → answer example's messages as `pair`, its (question, answer):
    the check's worker process, whose check keeps those very texts for the duplicate search
    and the token counts. The file's JSON text beside them was ~60 MB of that process at
    100,000 examples. The messages read the same (their keys' order aside: role, content)."""
    _HELD.__set__(example, pair)


def held_pair(example: Example) -> tuple[str, str] | None:
    """The (question, answer) the example holds as its messages (`hold_pair`), else None."""
    held = _HELD.__get__(example, Example)
    return held if _is_pair(held) else None


def _is_pair(held: object) -> TypeGuard[tuple[str, str]]:
    """Whether messages held are a (question, answer) pair (`hold_pair`), not a list of them."""
    return type(held) is tuple and len(held) == 2 and type(held[0]) is str


def _pair_messages(pair: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]


# The messages as an example holds them (a list, the file's text, `Folded`, a pair). An
# example's messages are never changed in place, so while this is the same object they are
# the same messages (a change of status or tags shares them: `Example.__copy__`). The slot's
# own getter, which `map` calls in C: a function took 13 ms per 100,000 examples, this 5 ms.
held_messages: Callable[[Example], object] = _HELD.__get__


def _messages(example: Example) -> list[dict[str, Any]]:
    held = _HELD.__get__(example, Example)
    if type(held) is not list:
        held = example.read_messages()
        _HELD.__set__(example, held)
    return held


# `messages` over the slot: decodes a held text at the first use
setattr(Example, "messages", property(_messages, _HELD.__set__))  # noqa: B010


def search_text(example: Example, *, hold: bool = False) -> str:
    """The example's message texts in lower case, joined by `SEPARATOR`: what the grid's search
    looks in. `hold`: an example that still holds the file's text holds it folded from then on
    (`Folded`), and the text returned is the one it holds, not a copy of its messages.

    Safe in a worker thread beside the UI thread: an example is never changed in place once
    in a project (an edit makes a new one), so if the UI thread decoded the messages just
    before they were folded, what it holds and what the example holds read the same."""
    held = _HELD.__get__(example, Example)
    if type(held) is Folded:
        return held.text
    messages = example.read_messages()
    if hold and type(held) is str:  # a plain text: its messages are {role, content} texts
        folded = fold(messages)
        if folded is not None:
            _HELD.__set__(example, folded)
            return folded.text
    return SEPARATOR.join(
        m.get("content", "") for m in messages if isinstance(m.get("content"), str)
    ).lower()


def lowered(example: Example, role: str) -> str:
    """The example's first text of `role` in lower case ("" if none): what a sort by it
    compares. A folded example gives it from the lower-case text it holds, its messages not
    made again (~10 µs an example: a sort by answer at 1,000,000 examples, after a search had
    folded them, read them for ~4 s). The same as `str.lower` of that text: `fold` keeps only
    texts whose lower case keeps their length, and `SEPARATOR`, being neither cased nor
    case-ignorable, leaves a final sigma's lower case as at the end of a text."""
    held = _HELD.__get__(example, Example)
    if type(held) is Folded:
        roles = held.roles
        if role not in roles:
            return ""
        at = roles.index(role)
        return held.text.split(SEPARATOR, at + 1)[at]
    return example._first(role).lower()


def plain_messages_json(text: str) -> bool:
    """Whether `text` holds messages as plain {role, content} texts, which orjson decodes
    exactly (it turns a number past 64 bits into a float, and refuses NaN and a lone
    surrogate): an example can hold such a text and decode it when used, which then cannot
    fail. Nearly every row; decode any other with json, at once.

    msgspec checks that shape in C as it decodes: ~0.6 µs a row, against ~1.1 µs for orjson's
    decoding and a loop over its messages here (at 1,000,000 examples, 0.5 s of the open). What
    msgspec takes, orjson's check takes too (it is the stricter: tested on generated texts);
    what it refuses, orjson's check has the last word on. So the answer is orjson's."""
    try:
        _plain_shape(text)
        return True
    except ValueError:  # msgspec's DecodeError and ValidationError; an unencodable text
        return _plain_by_orjson(text)


def _plain_by_orjson(text: str) -> bool:
    loaded = fast_json(text)
    if type(loaded) is not list:
        return False
    for message in loaded:
        if type(message) is not dict or len(message) != 2:
            return False
        if type(message.get("role")) is not str or type(message.get("content")) is not str:
            return False
    return True


def fast_json(text: str) -> Any:
    """`text` decoded by orjson, or None where it refuses it (the caller then uses json)."""
    try:
        return _loads(text)
    except ValueError:  # orjson.JSONDecodeError, whatever it refuses
        return None


def _first_loads(text: str) -> Any:
    """orjson's `loads`, which takes the name `_loads` at this first call: orjson is imported
    when the first examples are read, not at startup (~4 ms with the uuid module it imports)."""
    global _loads
    from orjson import loads

    _loads = loads
    return loads(text)


_loads: Callable[[str], Any] = _first_loads


def _first_plain_shape(text: str) -> Any:
    """msgspec's decoder of plain messages, which takes the name `_plain_shape` at this first
    call: imported when the first examples are read, not at startup (~20 ms)."""
    global _plain_shape
    import msgspec

    class _PlainMessage(msgspec.Struct, forbid_unknown_fields=True):
        role: str
        content: str

    _plain_shape = msgspec.json.Decoder(list[_PlainMessage]).decode
    return _plain_shape(text)


_plain_shape: Callable[[str], Any] = _first_plain_shape


def approved_count(examples: Iterable[Example]) -> int:
    """How many are approved, counted in C (`map` and `list.count`): at 100,000 examples a
    generator took 10–30 ms of every delete's and undo's stall."""
    return list(map(_status, examples)).count("approved")


def not_approved(examples: Sequence[Example]) -> list[Example]:
    """Those not approved, in order, picked in C (`compress`, `map`): a Python loop over
    100,000 took ~8 ms of approving them all."""
    return list(compress(examples, map("approved".__ne__, map(_status, examples))))


def not_approved_at(examples: Sequence[Example], rows: Sequence[int]) -> list[Example]:
    """Those of `examples` at `rows` not approved, in the examples' order (not the rows'),
    picked `PICKED_AT_ONCE` rows at a time, paced: a worker thread may pick them beside the
    window. Read in the order they lie in memory: 130,000 of 200,000 examples, picked in the
    order of a sort by question, took 95–130 ms; in the examples' order, ~30."""
    import numpy as np

    parts = range(0, len(rows), PICKED_AT_ONCE)
    picked: list[Example] = []
    if isinstance(rows, range) and rows.step == 1:  # (every row, or a run of them)
        for start in with_pauses(parts, every=1):
            part = rows[start : start + PICKED_AT_ONCE]
            picked += not_approved(examples[part.start : part.stop])
        return picked
    in_order = np.sort(np.asarray(rows))  # (a view's `array`: read in place)
    for start in with_pauses(parts, every=1):
        part = in_order[start : start + PICKED_AT_ONCE].tolist()
        picked += not_approved(list(map(examples.__getitem__, part)))
    return picked


PICKED_AT_ONCE = 16_384  # rows: ~3 ms in C, in one hold of the interpreter's lock

_status = attrgetter("status")
_id = attrgetter("id")


def ids_of(examples: Iterable[Example]) -> list[str]:
    """Every example's id, in order, in C (`map` over an attribute getter)."""
    return list(map(_id, examples))


def ids_and_approved(examples: Sequence[Example]) -> tuple[list[str], int]:
    """`ids_of` and `approved_count` together, `PICKED_AT_ONCE` examples at a time: for a
    worker thread, which lets the window's thread have the interpreter's lock between two
    slices. Over 1,000,000 examples at once each is one call in C of 40–50 ms, and the window,
    had it made them once the examples were in, froze ~90 ms."""
    ids: list[str] = []
    approved = 0
    for start in range(0, len(examples), PICKED_AT_ONCE):
        part = examples[start : start + PICKED_AT_ONCE]
        ids += map(_id, part)
        approved += approved_count(part)
    return ids, approved


def positions_of(examples: Sequence[Example], ids: Container[str]) -> list[int]:
    """Where the examples with these ids are, in one pass in C (`compress`, `map`): a Python
    loop over 100,000 examples took 30–50 ms of each edit's stall, for a few rows."""
    return positions_in(map(_id, examples), ids)


def positions_in(ids_in_order: Iterable[str], ids: Container[str]) -> list[int]:
    """Where these ids are among `ids_in_order`, in one pass in C."""
    return list(compress(count(), map(ids.__contains__, ids_in_order)))


def dataset_hash(examples: list[Example], progress: Callable[[float], None] | None = None) -> str:
    """A fingerprint of the approved training data, recorded with exports and fine-tunes.
    `progress` is told the share done every `PICKED_AT_ONCE` examples (an exception it raises
    stops it there)."""
    import hashlib  # loads OpenSSL: only when a fingerprint is asked for

    digest = hashlib.sha256()
    for at, example in enumerate(examples):
        if progress is not None and not at % PICKED_AT_ONCE:
            progress(at / len(examples))
        if example.status == "approved":
            digest.update(
                json.dumps(
                    [example.system_prompt, example.read_messages()],
                    sort_keys=True,
                    ensure_ascii=False,
                ).encode("utf-8")
            )
            digest.update(b"\n")
    return digest.hexdigest()
