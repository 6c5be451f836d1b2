"""Exact and near-duplicate examples: normalised text, then MinHash + LSH over word shingles.

Near duplicates are pairs whose word-bigram sets have a Jaccard similarity of at least
`threshold` (verified exactly on the candidates LSH proposes), grouped transitively.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")
NUM_HASHES = 32
BANDS = (
    8  # 8 bands × 4 rows: pairs at Jaccard 0.8 are caught with probability 0.985, 0.9 with 0.9996
)
_PRIME = (1 << 61) - 1
MAX_WORDS = 100  # near-duplicates show in their first 100 words; keeps 100k rows fast


def normalise(text: str) -> str:
    """Lowercase words only: punctuation, case and spacing differences do not count."""
    return " ".join(_WORD.findall(text.lower()))


def _shingles(normalised: str) -> set[int]:
    """Word bigrams, hashed with CRC-32: the same data gives the same groups in every run
    (Python's own string hash changes from one process to the next)."""
    words = normalised.split()[:MAX_WORDS]
    if len(words) < 2:
        return {zlib.crc32(normalised.encode())} if normalised else set()
    return {zlib.crc32(f"{a} {b}".encode()) for a, b in itertools.pairwise(words)}


class _Groups:
    """Union-find over example positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            members[self.find(i)].append(i)
        return [g for g in members.values() if len(g) > 1]


def exact_duplicate_groups(texts: Sequence[str]) -> list[list[int]]:
    by_text: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        key = normalise(text)
        if key:
            by_text[key].append(i)
    return [g for g in by_text.values() if len(g) > 1]


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.8) -> list[list[int]]:
    """Groups of positions whose texts are near-identical (exact duplicates included)."""
    shingle_sets = [_shingles(normalise(t)) for t in texts]
    present = [i for i, s in enumerate(shingle_sets) if s]
    groups = _Groups(len(texts))
    if len(present) < 2:
        return []
    lengths = np.array([len(shingle_sets[i]) for i in present])
    flat = np.fromiter(
        itertools.chain.from_iterable(shingle_sets[i] for i in present),
        dtype=np.int64,
        count=int(lengths.sum()),
    ).view(np.uint64)
    rng = np.random.default_rng(20231105)  # fixed: the same data gives the same groups
    a = rng.integers(1, _PRIME, size=NUM_HASHES, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, _PRIME, size=NUM_HASHES, dtype=np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    signatures = np.empty((len(present), NUM_HASHES), dtype=np.uint64)
    for k in range(NUM_HASHES):  # uint64 arithmetic wraps: a multiply-shift hash family
        signatures[:, k] = np.minimum.reduceat(flat * a[k] + b[k], starts)
    rows = NUM_HASHES // BANDS
    mix = np.uint64(0x9E3779B97F4A7C15)
    for band in range(BANDS):
        keys = signatures[:, band * rows]
        for r in range(1, rows):
            keys = keys * mix + signatures[:, band * rows + r]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same_as_previous = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
        for position in same_as_previous:  # only rows that share a bucket reach Python
            i, j = present[order[position - 1]], present[order[position]]
            first = present[order[np.searchsorted(sorted_keys, sorted_keys[position])]]
            for other in {first, i}:
                if groups.find(other) == groups.find(j):
                    continue
                sa, sb = shingle_sets[other], shingle_sets[j]
                if len(sa & sb) / len(sa | sb) >= threshold:
                    groups.union(other, j)
    return groups.groups()


class DuplicateFinder:
    """Is this new text (nearly) one we already have? For candidates arriving one by one.

    Exact matches by normalised text; near matches by word-bigram Jaccard ≥ `threshold` over an
    inverted index, so each question costs time in proportion to the texts that share words
    with it, not to the whole dataset."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._exact: dict[str, str] = {}
        self._sets: list[set[int]] = []
        self._labels: list[str] = []
        self._index: dict[int, list[int]] = defaultdict(list)

    def add(self, label: str, text: str) -> None:
        key = normalise(text)
        if not key:
            return
        self._exact.setdefault(key, label)
        shingles = _shingles(key)
        position = len(self._sets)
        self._sets.append(shingles)
        self._labels.append(label)
        for shingle in shingles:
            self._index[shingle].append(position)

    def find(self, text: str) -> str | None:
        """The label of a text this one duplicates, or None."""
        key = normalise(text)
        if not key:
            return None
        if key in self._exact:
            return self._exact[key]
        shingles = _shingles(key)
        shared: dict[int, int] = defaultdict(int)
        for shingle in shingles:
            for position in self._index.get(shingle, ()):
                shared[position] += 1
        for position, common in sorted(shared.items(), key=lambda item: -item[1]):
            union = len(shingles) + len(self._sets[position]) - common
            if common / union >= self.threshold:
                return self._labels[position]
            if common / max(len(shingles), 1) < self.threshold:
                break  # sorted by overlap: no later one can reach the threshold
        return None
