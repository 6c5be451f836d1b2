"""Messages held once for both reading and searching: their texts in lower case, and where the
case differs.

A search without regard to case needs every text in lower case. Kept beside the examples' own
texts, that copy took the window from 1.19 GB to 1.71 GB at 1,000,000 examples. A `Folded`
holds the lowercase text alone, plus the few characters lower case changed (a capital at the
start of a sentence, a name) and where they were, which gives the messages back exactly. So the
search reads the same text the example holds.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from operator import itemgetter
from typing import Any

SEPARATOR = "\x00"  # between the messages' texts: no text a search or a file gives holds it
_ROLES_KEPT = 4096  # sets of roles shared between folded examples (a project has a few)
_roles: dict[tuple[str, ...], tuple[str, ...]] = {}
_CONTENT, _ROLE = itemgetter("content"), itemgetter("role")

# Latin-1's characters that lower case changes (A–Z, À–Þ but ×) as b" ", the others as b"\0":
# found in C, with `bytes.translate` and `bytes.find`
_LATIN1_MARKS = bytes(32 if chr(c).lower() != chr(c) else 0 for c in range(256))


class Folded:
    """Plain {role, content} messages as one text: their contents in lower case, joined by
    `SEPARATOR` (`text`, what a search looks in), their roles, and `marks`: for each character
    lower case changed, how many characters lie between it and the one before, and the
    character itself, as pairs of characters (None where none changed). Never changed once
    made: a copy is the same object."""

    __slots__ = ("marks", "roles", "text")

    def __init__(self, roles: tuple[str, ...], text: str, marks: str | None) -> None:
        self.roles, self.text, self.marks = roles, text, marks

    def messages(self) -> list[dict[str, Any]]:
        """The messages, exactly as they were folded."""
        contents = _recased(self.text, self.marks).split(SEPARATOR)
        return [
            {"role": role, "content": content}
            for role, content in zip(self.roles, contents, strict=False)  # () has one ""
        ]

    def __reduce__(self) -> tuple[Any, ...]:  # a pickle (the check's worker process)
        return Folded, (self.roles, self.text, self.marks)

    def __copy__(self) -> Folded:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Folded:
        return self


def fold(messages: list[dict[str, Any]]) -> Folded | None:
    """`messages` (plain {role, content} texts) folded, or None where lower case would not give
    them back (it changes a length: 'İ' becomes two characters), a text holds the separator,
    or they are longer than a distance in `marks` can say (1,114,111 characters)."""
    contents = list(map(_CONTENT, messages))
    text = SEPARATOR.join(contents)
    lower = text.lower()
    if (
        len(lower) != len(text)
        or len(text) > sys.maxunicode  # a distance in `marks` is one character
        or text.count(SEPARATOR) != max(len(contents) - 1, 0)
    ):
        return None
    roles = tuple(map(_ROLE, messages))
    shared = _roles.get(roles)
    if shared is None:
        shared = roles
        if len(_roles) < _ROLES_KEPT:
            _roles[roles] = roles
    return Folded(shared, lower, _marks(text, lower))


def _marks(text: str, lower: str) -> str | None:
    """Where `text` and its lower case differ, as `Folded.marks`. Latin-1's capitals (English's,
    and most of Western Europe's) are found in C: ~2 µs for a 500-character answer with a few,
    ~4 µs when it also holds an emoji. A text with capitals beyond Latin-1 (Greek, Cyrillic)
    is read again with a regular expression of every cased character: ~15 µs."""
    if lower == text:
        return None
    try:
        return _paired(text, _found(text.encode("latin-1").translate(_LATIN1_MARKS)))
    except UnicodeEncodeError:  # "?" for each character beyond Latin-1: the same places
        marked = text.encode("latin-1", "replace").translate(_LATIN1_MARKS)
    marks = _paired(text, _found(marked))
    if _recased(lower, marks) == text:
        return marks  # none of those characters was a capital (an emoji, a dash)
    return _paired(text, (found.start() for found in _cased().finditer(text)))


def _paired(text: str, places: Iterable[int]) -> str:
    parts: list[str] = []
    before = -1
    for at in places:
        parts += (chr(at - before - 1), text[at])
        before = at
    return "".join(parts)


def _found(marked: bytes) -> Iterator[int]:
    find = marked.find
    at = find(32)
    while at >= 0:
        yield at
        at = find(32, at + 1)


def _recased(lower: str, marks: str | None) -> str:
    if marks is None:
        return lower
    parts: list[str] = []
    at = 0
    for k in range(0, len(marks), 2):
        gap = ord(marks[k])
        parts += (lower[at : at + gap], marks[k + 1])
        at += gap + 1
    parts.append(lower[at:])
    return "".join(parts)


@cache
def _cased() -> re.Pattern[str]:
    """Every character that lower case changes, as ranges in one class (~0.1 s, once)."""
    ranges: list[list[int]] = []
    for code in range(0x110000):
        char = chr(code)
        if char.lower() != char:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"
    )
