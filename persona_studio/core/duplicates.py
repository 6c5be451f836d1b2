"""Exact and near-duplicate examples: normalised text, then MinHash + LSH over word shingles.

Near duplicates are pairs whose word-bigram sets have a Jaccard similarity of at least
`threshold` (verified exactly on the candidates LSH proposes), grouped transitively.
"""

from __future__ import annotations

import itertools
import re
import zlib
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

_WORD = re.compile(r"\w+")
NUM_HASHES = 32
BANDS = (
    8  # 8 bands × 4 rows: pairs at Jaccard 0.8 are caught with probability 0.985, 0.9 with 0.9996
)
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20231105)  # fixed: the same data gives the same groups
_A = _rng.integers(1, _PRIME, size=NUM_HASHES, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, _PRIME, size=NUM_HASHES, dtype=np.uint64)
del _rng
_PAIR = np.uint64(0x9E3779B97F4A7C15)  # a word bigram's hash: first × this + second
_SINGLE = np.uint64(0x5851F42D4C957F2D)  # a one-word text's hash: its word's, marked
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


class _WordHashes(dict[str, int]):
    """Each word's 64-bit hash (BLAKE2b), computed once per distinct word and then looked up
    with `map` (6 million words take a fifth of the time a Python loop took). A hash, not a
    number in order of appearance, so a text's signature depends on the text alone and can be
    kept from one check to the next; and the same in every process (Python's own string hash
    changes from one process to the next)."""

    def __missing__(self, word: str) -> int:
        import hashlib  # loads OpenSSL: only when duplicates are looked for

        digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        self[word] = value = int.from_bytes(digest, "little")
        return value


class DuplicateCache:
    """What a check keeps for the next one: each text's MinHash signature, so that after an
    edit only the changed texts are read again (at 100,000 examples the reading is most of
    the search: ~2.5 of 3 s). Holds the texts of the last search only."""

    MAX_WORDS_KEPT = 2_000_000  # distinct words remembered; past this the memo starts afresh

    def __init__(self) -> None:
        self.words = _WordHashes()
        self.signatures: dict[str, bytes] = {}  # text → signature (b"": a text without words)
        # candidate pairs already compared (their texts → near-identical?): LSH proposes the
        # same pairs at every check, and comparing them again was a sixth of a re-check
        self.compared: dict[tuple[str, str], bool] = {}


class _Groups:
    """Union-find over example positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.joined: set[int] = set()

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
            self.joined.update((a, b))

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = defaultdict(list)
        for i in sorted(self.joined):
            members[self.find(i)].append(i)
        return list(members.values())


def _mix(keys: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised: shingle numbers → well-spread 64-bit hashes."""
    x = keys.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _all_shingles(codes: np.ndarray, word_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every text's word bigrams (a one-word text: its word) as hashes in one array, and each
    text's start in it. `codes` holds the texts' word hashes one after the other, `word_counts`
    how many each text has (≥ 1)."""
    codes = np.append(codes, np.uint64(0))  # so the last one-word text has a (masked) successor
    word_starts = np.concatenate(([0], np.cumsum(word_counts)[:-1]))
    counts = np.maximum(word_counts - 1, 1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # position of each shingle's first word
    first = np.repeat(word_starts - starts, counts) + np.arange(int(counts.sum()))
    single = np.repeat(word_counts == 1, counts)
    keys = np.where(single, codes[first] ^ _SINGLE, codes[first] * _PAIR + codes[first + 1])
    return _mix(keys), np.append(starts, len(keys))


def _signatures(
    texts: list[str], words: _WordHashes, progress: Callable[[float], None]
) -> dict[str, bytes]:
    """Each text's MinHash signature as bytes (b"" for a text without words)."""
    hashes = words.__getitem__
    codes = array("Q")
    present: list[str] = []
    word_counts: list[int] = []
    for i, text in enumerate(texts):
        if i % 4096 == 0:
            progress(i / max(1, len(texts)))
        found = _WORD.findall(text.lower())[:MAX_WORDS]
        if found:
            codes.extend(map(hashes, found))
            present.append(text)
            word_counts.append(len(found))
    found_none = dict.fromkeys(texts, b"")
    if not present:
        return found_none
    flat, bounds = _all_shingles(
        np.frombuffer(codes, dtype=np.uint64), np.array(word_counts, dtype=np.int64)
    )
    del codes
    signatures = np.empty((len(present), NUM_HASHES), dtype=np.uint64)
    for k in range(NUM_HASHES):  # uint64 arithmetic wraps: a multiply-shift hash family
        signatures[:, k] = np.minimum.reduceat(flat * _A[k] + _B[k], bounds[:-1])
    return found_none | dict(zip(present, map(bytes, signatures), strict=True))


def _shingle_set(text: str, words: _WordHashes) -> set[int]:
    """One text's shingle hashes, as `_signatures` makes them (to verify a candidate pair)."""
    found = _WORD.findall(text.lower())[:MAX_WORDS]
    codes = np.fromiter(map(words.__getitem__, found), dtype=np.uint64, count=len(found))
    keys, _bounds = _all_shingles(codes, np.array([len(found)], dtype=np.int64))
    return set(keys.tolist())


def near_duplicate_groups(
    texts: Sequence[str],
    threshold: float = 0.8,
    progress: Callable[[float], None] = lambda _fraction: None,
    cache: DuplicateCache | None = None,
) -> list[list[int]]:
    """Groups of positions whose texts are near-identical (exact duplicates included).
    `progress` is called now and then with the fraction done; it may raise to stop the work.
    With a `cache` from the last search, only the texts it did not see are read."""
    cache = cache if cache is not None else DuplicateCache()
    if len(cache.words) > cache.MAX_WORDS_KEPT:
        cache.words = _WordHashes()
    known = cache.signatures
    new = [text for text in dict.fromkeys(texts) if text not in known]
    fresh = _signatures(new, cache.words, lambda f: progress(0.7 * f))
    # in C loops (map, zip, join): Python ones over 100,000 texts were a third of a re-check
    each = list(map((known | fresh).__getitem__, texts))
    cache.signatures = dict(zip(texts, each, strict=True))  # this search's only: deleted go
    compared, cache.compared = cache.compared, {}  # likewise: pairs of this search only
    present = np.flatnonzero(np.fromiter(map(len, each), dtype=np.int64, count=len(each)))
    if len(present) < 2:
        return []
    progress(0.7)
    signatures = np.frombuffer(b"".join(each), dtype=np.uint64).reshape(len(present), NUM_HASHES)
    del each
    sets: dict[int, set[int]] = {}

    def shingle_set(k: int) -> set[int]:  # k: position in `present`
        if k not in sets:
            sets[k] = _shingle_set(texts[present[k]], cache.words)
        return sets[k]

    rows = NUM_HASHES // BANDS
    mix = np.uint64(0x9E3779B97F4A7C15)
    groups = _Groups(len(present))
    for band in range(BANDS):
        progress(0.8 + 0.2 * band / BANDS)
        keys = signatures[:, band * rows]
        for r in range(1, rows):
            keys = keys * mix + signatures[:, band * rows + r]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same_as_previous = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
        for position in same_as_previous:  # only rows that share a bucket reach Python
            i, j = int(order[position - 1]), int(order[position])
            first = int(order[np.searchsorted(sorted_keys, sorted_keys[position])])
            for other in {first, i}:
                if groups.find(other) == groups.find(j):
                    continue
                pair = (texts[present[other]], texts[present[j]])
                similar = compared.get(pair)
                if similar is None:
                    sa, sb = shingle_set(other), shingle_set(j)
                    similar = len(sa & sb) / len(sa | sb) >= threshold
                cache.compared[pair] = similar
                if similar:
                    groups.union(other, j)
    return [[int(present[k]) for k in group] for group in groups.groups()]


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
