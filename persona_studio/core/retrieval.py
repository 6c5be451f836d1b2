"""The offline engine's memory: BM25 over the dataset's questions (answers weigh less).

Used to answer with the nearest example when there is no model at all, and to pick few-shot
examples for the "persona prompt + examples" chat mode.
"""

from __future__ import annotations

import heapq
import math
import re
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import cast

from persona_studio.core.collector import with_pauses
from persona_studio.core.dataset import Example, held_messages

# runs of two or more word characters, or a lone digit: what `\w+` finds, less single letters
_TERM = re.compile(r"\w\w+|\d")
K1, B = 1.2, 0.75
ANSWER_WEIGHT = 0.3  # a word in the answer counts for 0.3 of one in the question
# below this share of the query's best possible score, the nearest example is not an answer
MIN_CONFIDENCE = 0.25


def words(text: str) -> list[str]:
    return _TERM.findall(text.lower())


@dataclass(frozen=True)
class Hit:
    example: Example
    score: float
    confidence: float  # 0..1: the score relative to a perfect match of the query


class RetrievalIndex:
    """Postings are two arrays per word (slots, term frequencies), not a tuple per
    occurrence: at 100,000 examples that is thousands of objects instead of millions, so the
    index builds faster, takes less memory and is freed in milliseconds. The arrays are
    filled as the examples are read: lists of numbers converted at the end left ~12 million
    number objects to free in one go, which held the interpreter lock for 0.3–0.5 s beside
    the window.

    Changes are taken in (`update` for edits, `sync` for rows added, deleted or moved), not
    rebuilt for: at 100,000 examples a build takes 3–6 s, which every reply of the offline
    engine and of "persona prompt + examples" waited for after each change. An edited example
    goes in a new slot; its old slot is left dead (skipped, and out of the figures BM25 uses),
    and once the dead slots outnumber the live ones the index is built again from the live
    examples. Results are those of an index built afresh: equal
    scores rank in the dataset's order (each slot keeps its example's place in it)."""

    DEAD_AT_MOST = 1_000  # dead slots kept, whatever the size (a build at 1,000: ~0.05 s)

    def __init__(self, examples: Sequence[Example]) -> None:
        self._lock = threading.Lock()  # a search and the edits it takes in first
        # what to take in at the next search: the dataset as it now is (`sync`), if it
        # changed so, and the edits since (`update`)
        self._dataset: Sequence[Example] | None = None
        self._pending: list[tuple[int, Example]] = []
        self._pending_lock = threading.Lock()  # (held for an append: never waits on a search)
        self._build(enumerate(examples))

    def _build(self, placed: Iterable[tuple[int, Example]]) -> None:
        self.examples: list[Example | None] = []  # by slot; None: a dead slot
        self._place = array("i")  # slot → where its example is in the dataset
        self._slot: dict[str, int] = {}  # a live example's id → its slot
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        self._df: dict[str, int] = {}  # live examples with each word
        self._lengths = array("d")
        self._total = 0  # the live examples' lengths, in tenths: exact whatever the edits
        self._live = 0
        for place, example in with_pauses(placed):  # seconds at 100,000, beside the window
            self._add(place, example)

    def update(self, edited: Iterable[tuple[int, Example]]) -> None:
        """Examples edited in place (their place in the dataset, the new example): taken in at
        the next search. Safe from any thread; never waits for a search running."""
        with self._pending_lock:
            self._pending += edited

    def sync(self, examples: Sequence[Example]) -> None:
        """The dataset is now `examples`, in order (rows added, deleted or moved; a list that
        may only grow after, as the session's does): at the next search the index takes in
        the examples that are not those it holds, lets go of those gone, and learns each
        one's place. A pass over them all there, in the search's thread (~36 ms at 100,000
        examples), not a build (3–6 s)."""
        with self._pending_lock:
            self._dataset, self._pending = examples, []

    def __len__(self) -> int:
        with self._lock:
            self._take_in()
            return self._live

    def search(self, query: str, k: int = 3, without: Collection[str] = ()) -> list[Hit]:
        """The `k` examples nearest `query`; `without` those of these ids, the scores as an
        index built without them gives (the voice check asks the examples it leaves out)."""
        query_words = Counter(words(query))
        if not query_words:
            return []
        with self._lock:
            self._take_in()
            return self._search(query_words, k, without)

    def without(self, ids: Collection[str]) -> IndexWithout:
        """This index as one built without the examples of these ids: at 100,000 examples
        building one took the voice check 3–6 s."""
        return IndexWithout(self, frozenset(ids))

    def _search(self, query_words: Counter[str], k: int, without: Collection[str]) -> list[Hit]:
        n, examples, total = self._live, self.examples, self._total
        left_out: set[int] = set()
        df_left_out: Counter[str] = Counter()
        for example_id in without:
            slot = self._slot.get(example_id)
            if slot is not None:
                counts, tenths = _terms(cast(Example, examples[slot]))
                left_out.add(slot)
                n, total = n - 1, total - tenths
                df_left_out.update(word for word in counts if word in query_words)
        if not n:
            return []
        average = total / 10 / n
        scores: dict[int, float] = defaultdict(float)
        best_possible = 0.0
        for word, qtf in query_words.items():
            df = self._df.get(word, 0) - df_left_out[word]
            if not df:
                best_possible += qtf * math.log(1 + (n + 0.5) / 0.5)
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            best_possible += qtf * idf * (K1 + 1) / (1 + K1)
            for slot, tf in zip(*self._postings[word], strict=True):
                if examples[slot] is None or slot in left_out:
                    continue
                norm = K1 * (1 - B + B * self._lengths[slot] / average)
                scores[slot] += qtf * idf * tf * (K1 + 1) / (tf + norm)
        place = self._place
        ranked = heapq.nsmallest(k, scores.items(), key=lambda item: (-item[1], place[item[0]]))
        return [
            Hit(cast(Example, examples[slot]), score, min(1.0, score / best_possible))
            for slot, score in ranked
        ]

    def _take_in(self) -> None:
        with self._pending_lock:
            dataset, edited = self._dataset, self._pending
            self._dataset, self._pending = None, []
        if dataset is not None:
            self._take_dataset(dataset)
        for place, example in edited:
            if not self._swap(place, example):
                self._replace(place, example)
        if len(self.examples) - self._live > max(self._live, self.DEAD_AT_MOST):  # mostly dead
            live = [(self._place[s], e) for s, e in enumerate(self.examples) if e is not None]
            self._build(sorted(live, key=itemgetter(0)))

    def _take_dataset(self, examples: Sequence[Example]) -> None:
        there: set[str] = set()
        other: list[tuple[int, Example]] = []  # new, or with other words
        slot_of = self._slot
        for place, example in enumerate(examples):
            there.add(example.id)
            if self._swap(place, example):
                continue
            if example.status != "rejected" or example.id in slot_of:  # (else none to do)
                other.append((place, example))
        if len(other) > max(self._live // 4, self.DEAD_AT_MOST):  # (~0.1 ms each) build anew
            self._build(enumerate(examples))
            return
        for place, example in other:
            self._replace(place, example)
        for gone in [example_id for example_id in slot_of if example_id not in there]:
            self._remove(gone)

    def _swap(self, place: int, example: Example) -> bool:
        """Put `example` in its slot, at `place`, if it reads as the one there: the same
        object, or a change of status or tags that shares its messages (`held_messages`) and
        leaves it an answer. Approving 100,000 examples then counts no word again."""
        slot = self._slot.get(example.id)
        if slot is None:
            return False
        there = self.examples[slot]
        if there is not example and (
            example.status == "rejected"
            or held_messages(cast(Example, there)) is not held_messages(example)
        ):
            return False
        self.examples[slot] = example
        self._place[slot] = place
        return True

    def _replace(self, place: int, example: Example) -> None:
        """`example` in place of the one with its id (if any), its words read."""
        self._remove(example.id)
        self._add(place, example)

    def _add(self, place: int, example: Example) -> None:
        if example.status == "rejected" or not example.answer.strip():
            return  # never an answer
        counts, tenths = _terms(example)
        slot = len(self.examples)
        self.examples.append(example)
        self._place.append(place)
        self._slot[example.id] = slot
        self._lengths.append(sum(counts.values()))
        self._total += tenths
        self._live += 1
        postings, df = self._postings, self._df
        for word, tf in counts.items():
            entry = postings.get(word)
            if entry is None:
                entry = postings[word] = (array("i"), array("d"))
            entry[0].append(slot)
            entry[1].append(tf)
            df[word] = df.get(word, 0) + 1

    def _remove(self, example_id: str) -> None:
        slot = self._slot.pop(example_id, None)
        if slot is None:
            return
        example = cast(Example, self.examples[slot])
        self.examples[slot] = None
        counts, tenths = _terms(example)
        self._total -= tenths
        self._live -= 1
        df = self._df
        for word in counts:
            df[word] -= 1


@dataclass(frozen=True)
class IndexWithout:
    """A `RetrievalIndex` searched as if built without some examples (`without`)."""

    index: RetrievalIndex
    ids: frozenset[str]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        return self.index.search(query, k, self.ids)


def _terms(example: Example) -> tuple[dict[str, float], int]:
    """An example's words and how much each counts (an answer's for `ANSWER_WEIGHT` of a
    question's), and their sum in tenths, exactly."""
    question, answer = Counter(words(example.question)), Counter(words(example.answer))
    counts: dict[str, float] = dict(question)
    for word, found in answer.items():
        counts[word] = counts.get(word, 0) + found * ANSWER_WEIGHT
    tenths = 10 * sum(question.values()) + round(10 * ANSWER_WEIGHT) * sum(answer.values())
    return counts, tenths
