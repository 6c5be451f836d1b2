"""Exact and near-duplicate examples: normalised text, then MinHash + LSH over word shingles.

Near duplicates are pairs whose word-bigram sets have a Jaccard similarity of at least
`threshold` (verified exactly on the candidates LSH proposes), grouped transitively. The LSH
buckets and the verified pairs are kept (`DuplicateIndex`), so a check after an edit reads and
compares only the texts that changed.
"""

from __future__ import annotations

import itertools
import re
import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from persona_studio.core.band_key_store import BandKeyStore, text_keys
from persona_studio.core.collector import with_pauses

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
SIGNED_AT_ONCE = 4096  # texts whose signatures are worked out together (≤ ~10 MB of arrays)
# how a text's band keys are made, for the store that keeps them (`BandKeyStore`): change the
# last part with any change of how a text is read, hashed or signed
SCHEME = f"minhash {NUM_HASHES}x{BANDS}, words {MAX_WORDS}, seed 20231105, blake2b words: 1"
ROW_BYTES = 8 * BANDS  # a text's band keys


# A text as the index holds it: a string, or a question and its answer (the check keeps the
# pair it already has where it can rather than a string of both: `validation.Findings`); the
# words are read from the pair.
Text = str | tuple[str, str]


def plain(text: Text) -> str:
    """The text as one string: a question and its answer on two lines."""
    return text if isinstance(text, str) else "\n".join(text)


def normalise(text: Text) -> str:
    """Lowercase words only: punctuation, case and spacing differences do not count."""
    return " ".join(_WORD.findall(plain(text).lower()))


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


def _form(key: str) -> int:
    """A normalised text's 64-bit hash (BLAKE2b, as a signed number): the same in every
    process, unlike Python's own."""
    import hashlib

    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


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
    texts: list[Text], words: _WordHashes, progress: Callable[[float], None]
) -> dict[Text, bytes]:
    """Each text's MinHash signature as bytes (b"" for a text without words). `SIGNED_AT_ONCE`
    texts at a time: the arrays of all shingles at once, and their temporaries, peaked at
    ~240 MB for 100,000 examples."""
    hashes = words.__getitem__
    signed = dict.fromkeys(texts, b"")
    for start in range(0, len(texts), SIGNED_AT_ONCE):
        progress(start / max(1, len(texts)))
        codes = array("Q")
        present: list[Text] = []
        word_counts: list[int] = []
        for text in texts[start : start + SIGNED_AT_ONCE]:
            found = _WORD.findall(plain(text).lower())[:MAX_WORDS]
            if found:
                codes.extend(map(hashes, found))
                present.append(text)
                word_counts.append(len(found))
        if not present:
            continue
        flat, bounds = _all_shingles(
            np.frombuffer(codes, dtype=np.uint64), np.array(word_counts, dtype=np.int64)
        )
        del codes
        signatures = np.empty((len(present), NUM_HASHES), dtype=np.uint64)
        for k in range(NUM_HASHES):  # uint64 arithmetic wraps: a multiply-shift hash family
            signatures[:, k] = np.minimum.reduceat(flat * _A[k] + _B[k], bounds[:-1])
        signed.update(zip(present, map(bytes, signatures), strict=True))
    return signed


def _shingle_set(text: Text) -> set[tuple[str, ...]]:
    """One text's word bigrams (a one-word text: its word), the shingles `_signatures` hashes,
    to verify a candidate pair exactly. In plain Python: numpy's overhead for one text was
    ~0.35 ms, a tenth of a second per 300 candidate pairs."""
    found = _WORD.findall(plain(text).lower())[:MAX_WORDS]
    if len(found) < 2:
        return {tuple(found)}
    return set(itertools.pairwise(found))


class DuplicateIndex:
    """Near-duplicate groups kept up to date text by text: what a check keeps for the next one.

    Each distinct text with words has a MinHash signature, cut into `BANDS` band keys; texts
    that share a band key are candidates, verified exactly (word-bigram Jaccard ≥ `threshold`),
    and the groups are the connected parts of the verified pairs. Adding or removing a text
    touches its own buckets only, so after an edit at 100,000 examples the groups cost what
    changed (a search from nothing re-sorted every band: ~0.26 s). A text is compared with the
    first `LOOK` texts of each bucket it joins, skipping those already in its group: that
    bounds the work of a bucket of thousands of near-identical texts (templated answers) while
    still joining them; two texts that are alike only past that many others may stay apart.

    Each text indexed has a slot (a number); a band's buckets are two arrays, its keys in order
    and the slot of the text each belongs to (a key's texts in the order they joined): 12
    bytes a text and band, and 64 for its keys. As a dict of keys to texts per band they took
    ~84 bytes, and the texts' keys as bytes ~145 more: 81 MB of the check's worker at 100,000
    examples (its resident memory after a first check: 521–523 MB then, 449 MB now)."""

    LOOK = 16
    MAX_WORDS_KEPT = 2_000_000  # distinct words remembered; past this the memo starts afresh

    def __init__(self, threshold: float = 0.8, store: BandKeyStore | None = None) -> None:
        self.threshold = threshold
        self.store = store  # the band keys of texts signed before, in this run or another
        self.words = _WordHashes()
        self.keys: dict[Text, int] = {}  # text indexed → its slot (-1: it has no words)
        self.pending: dict[Text, None] = {}  # texts added and not yet indexed, in order
        self._unkept: list[Text] = []  # texts signed, their band keys not in the store yet
        self._texts: list[Text | None] = []  # slot → the text there (None: a free slot)
        self._free: list[int] = []
        self._band_keys = np.zeros((0, BANDS), dtype=np.uint64)  # slot → its band keys
        self._bucket_keys = [np.zeros(0, dtype=np.uint64) for _ in range(BANDS)]
        self._bucket_slots = [np.zeros(0, dtype=np.int32) for _ in range(BANDS)]
        self.similar: dict[Text, dict[Text, None]] = {}  # verified pairs, both ways
        self._parent: dict[Text, Text] = {}  # union-find over the texts with a pair

    def add(self, text: Text) -> None:
        if text not in self.keys:
            self.pending[text] = None

    def has_words(self, text: Text) -> bool:
        return self.keys.get(text, -1) >= 0

    def discard(self, texts: Iterable[Text]) -> None:
        """Take texts out; a group one of them held together is compared again."""
        loose: dict[Text, None] = {}
        gone: list[int] = []
        for text in texts:
            if self.pending.pop(text, 0) is None:
                continue
            slot = self.keys.pop(text, None)
            if slot is None:
                continue
            if slot >= 0:
                gone.append(slot)
            if text in self.similar:
                loose.update(dict.fromkeys(self._group(text)))
        if gone:
            self._leave(gone)
        if not loose:
            return
        for text in loose:  # the group's pairs go; what is left of it is compared again
            for other in self.similar.pop(text, ()):
                self.similar.get(other, {}).pop(text, None)
        self._parent = {}
        for text, others in self.similar.items():
            for other in others:
                self._union(text, other)
        sets: dict[Text, set[tuple[str, ...]]] = {}
        for text in sorted((t for t in loose if t in self.keys), key=plain):
            keys = self._band_keys[self.keys[text]]
            for band, (bucket_keys, slots) in enumerate(
                zip(self._bucket_keys, self._bucket_slots, strict=True)
            ):
                first = int(np.searchsorted(bucket_keys, keys[band]))
                last = int(np.searchsorted(bucket_keys, keys[band], side="right"))
                self._compare(text, slots[first : min(last, first + self.LOOK)].tolist(), sets)

    BATCH = 20_000  # texts indexed at a time: a stop waits for one batch at most (~0.1 s)

    def update(self, progress: Callable[[float], None] = lambda _f: None) -> None:
        """Index the texts added since the last update. `progress` may raise to stop: what was
        indexed stays indexed, the rest waits for the next update."""
        if len(self.words) > self.MAX_WORDS_KEPT:
            self.words = _WordHashes()
        new = list(self.pending)
        for start in range(0, len(new), self.BATCH):
            batch = new[start : start + self.BATCH]
            # the batch's signatures alone: all of them at once (256 bytes a text) added 50 MB
            # to the check's peak at 100,000 examples, ~0.4 GB at 1,000,000
            done, part = start / len(new), len(batch) / len(new)
            rows = self._band_rows(batch, _share(progress, done, 0.7 * part))
            progress(done + 0.7 * part)
            present = [text for text in batch if rows[text]]
            joined = _rows_array(list(map(rows.__getitem__, present))) if present else None
            slots = iter(self._join(present, joined) if joined is not None else ())
            self.keys.update((text, next(slots) if rows[text] else -1) for text in batch)
            for text in batch:
                del self.pending[text]

    def _band_rows(self, texts: list[Text], progress: Callable[[float], None]) -> dict[Text, bytes]:
        """Each text's band keys as bytes (b"": a text without words): from the store where it
        holds them, else signed now (and to be kept there: `keep_signed`)."""
        if self.store is None or not self.store.holds_any:
            if self.store is not None:
                self._unkept += texts
            return _rows_of(texts, _signatures(texts, self.words, progress))
        keys = text_keys(texts)
        held = self.store.look_up(keys)
        rows: dict[Text, bytes] = {}
        if held:
            found = zip(texts, map(held.get, keys), strict=True)
            rows.update((text, row) for text, row in found if row is not None)
        unsigned = [text for text in texts if text not in rows]
        if unsigned:
            rows.update(_rows_of(unsigned, _signatures(unsigned, self.words, progress)))
            self._unkept += unsigned
        return rows

    def keep_signed(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Put the band keys of the texts signed since the last call in the store, a batch at a
        time until `stop` says so (the rest wait for the next call). The check's worker calls
        this once its report is sent: kept as they were signed, they added ~0.5 s (~20 %) to
        a first check at 100,000 examples (~16 s at 1,000,000)."""
        store = self.store
        if store is None or store.broken:
            self._unkept = []
        while store is not None and self._unkept and not stop():
            batch = self._unkept[: self.BATCH]
            slots = list(map(self.keys.get, batch))  # None: gone since; -1: without words
            kept = [
                (text, slot) for text, slot in zip(batch, slots, strict=True) if slot is not None
            ]
            rows = [self._band_keys[slot].tobytes() if slot >= 0 else b"" for _text, slot in kept]
            store.keep(list(zip(text_keys([text for text, _slot in kept]), rows, strict=True)))
            del self._unkept[: self.BATCH]

    def _join(self, texts: list[Text], keys: np.ndarray) -> list[int]:
        """Put texts in their buckets (row i of `keys`: text i's band keys), each compared
        with the first texts there before it; returns their slots. Per band in C: a text whose
        key is new to its bucket and to the batch (nearly all) only goes in; the others, in
        order, in Python (a text at a time took ~0.6 s more of a first check at 100,000)."""
        slots = self._take_slots(texts, keys)
        sets: dict[Text, set[tuple[str, ...]]] = {}
        for band in range(BANDS):
            column = keys[:, band]
            bucket_keys, bucket_slots = self._bucket_keys[band], self._bucket_slots[band]
            first = np.searchsorted(bucket_keys, column)
            last = np.searchsorted(bucket_keys, column, side="right")
            order = np.argsort(column, kind="stable")
            ordered = column[order]
            again = np.zeros(len(column), dtype=bool)  # a key more than once in the batch
            same = np.flatnonzero(ordered[1:] == ordered[:-1])
            again[order[same]] = again[order[same + 1]] = True
            joined: dict[int, list[int]] = {}  # a key's texts of this batch so far: their slots
            for n in np.flatnonzero(again | (last > first)).tolist():
                mates = bucket_slots[first[n] : min(last[n], first[n] + self.LOOK)].tolist()
                earlier = joined.setdefault(int(column[n]), [])
                self._compare(texts[n], mates + earlier[: self.LOOK - len(mates)], sets)
                earlier.append(slots[n])
            # the batch goes in after the texts each key had, in order (np.insert keeps it)
            at = np.searchsorted(bucket_keys, ordered, side="right")
            self._bucket_keys[band] = np.insert(bucket_keys, at, ordered)
            self._bucket_slots[band] = np.insert(bucket_slots, at, np.asarray(slots)[order])
        return slots

    def groups(self) -> list[list[Text]]:
        """The texts that are near-identical to another one, a list per group."""
        members: dict[Text, list[Text]] = defaultdict(list)
        for text in self.similar:
            members[self._find(text)].append(text)
        return list(members.values())

    # -- inside ---------------------------------------------------------------------------

    def _take_slots(self, texts: list[Text], keys: np.ndarray) -> list[int]:
        """Slots for new texts (free ones first), holding them and their band keys."""
        kept = len(self._free) - min(len(texts), len(self._free))
        reused, self._free = self._free[kept:], self._free[:kept]
        start = len(self._texts)
        slots = reused + list(range(start, start + len(texts) - len(reused)))
        self._texts += [None] * (len(texts) - len(reused))
        if len(self._texts) > len(self._band_keys):  # room for twice as many
            grown = np.zeros((2 * len(self._texts), BANDS), dtype=np.uint64)
            grown[: len(self._band_keys)] = self._band_keys
            self._band_keys = grown
        for slot, text in zip(slots, texts, strict=True):
            self._texts[slot] = text
        self._band_keys[slots] = keys
        return slots

    def _leave(self, slots: list[int]) -> None:
        """Take the texts in these slots out of their buckets, and free the slots. A few (an
        edit's) are found by their keys; many, by a pass over each band's slots."""
        if len(slots) <= self.LOOK:
            keys = self._band_keys[slots]
            for band, (bucket_keys, bucket_slots) in enumerate(
                zip(self._bucket_keys, self._bucket_slots, strict=True)
            ):
                first = np.searchsorted(bucket_keys, keys[:, band]).tolist()
                last = np.searchsorted(bucket_keys, keys[:, band], side="right").tolist()
                at = [
                    start + bucket_slots[start:end].tolist().index(slot)
                    for slot, start, end in zip(slots, first, last, strict=True)
                ]
                self._bucket_keys[band] = np.delete(bucket_keys, at)
                self._bucket_slots[band] = np.delete(bucket_slots, at)
        else:
            gone = np.zeros(len(self._texts), dtype=bool)
            gone[slots] = True
            for band in range(BANDS):
                keep = ~gone[self._bucket_slots[band]]
                self._bucket_keys[band] = self._bucket_keys[band][keep]
                self._bucket_slots[band] = self._bucket_slots[band][keep]
        for slot in slots:
            self._texts[slot] = None
        self._free += slots

    def _compare(
        self, text: Text, mates: list[int], sets: dict[Text, set[tuple[str, ...]]]
    ) -> None:
        """Compare `text` with the texts in these slots; a pair found alike joins a group."""
        for slot in mates:
            mate = self._texts[slot]
            assert mate is not None  # (a bucket holds no free slot)
            if mate == text or self._find(mate) == self._find(text):
                continue
            if self._alike(text, mate, sets):
                self.similar.setdefault(text, {})[mate] = None
                self.similar.setdefault(mate, {})[text] = None
                self._union(text, mate)

    def _alike(self, a: Text, b: Text, sets: dict[Text, set[tuple[str, ...]]]) -> bool:
        for text in (a, b):
            if text not in sets:
                sets[text] = _shingle_set(text)
        sa, sb = sets[a], sets[b]
        return len(sa & sb) / len(sa | sb) >= self.threshold

    def _group(self, text: Text) -> list[Text]:
        seen = {text: None}
        todo = [text]
        while todo:
            for other in self.similar.get(todo.pop(), ()):
                if other not in seen:
                    seen[other] = None
                    todo.append(other)
        return list(seen)

    def _find(self, text: Text) -> Text:
        parent = self._parent
        while (up := parent.get(text, text)) != text:
            parent[text] = parent.get(up, up)
            text = up
        return text

    def _union(self, a: Text, b: Text) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:  # the root: the first in plain text (the same groups in every process)
            first, second = sorted((ra, rb), key=plain)
            self._parent[second] = first


def band_key_store(path: Path) -> BandKeyStore:
    """A store at `path` of the band keys texts have under this scheme (`DuplicateIndex`'s
    `store`)."""
    return BandKeyStore(path, SCHEME, value_sizes=(0, ROW_BYTES))


def _share(progress: Callable[[float], None], start: float, size: float) -> Callable[[float], None]:
    """`progress` for a share of the work: `size` of the whole, from `start`."""
    return lambda fraction: progress(start + size * fraction)


def _rows_of(texts: list[Text], signatures: dict[Text, bytes]) -> dict[Text, bytes]:
    """Each text's band keys as bytes, from its signature (b"" for a text without words)."""
    rows = dict.fromkeys(texts, b"")
    present = [text for text in texts if signatures[text]]
    if present:
        keys = _band_keys(list(map(signatures.__getitem__, present)))
        rows.update(zip(present, map(bytes, keys), strict=True))
    return rows


def _rows_array(rows: list[bytes]) -> np.ndarray:
    """Band keys as bytes (`_rows_of`) → a row each."""
    return np.frombuffer(b"".join(rows), dtype=np.uint64).reshape(-1, BANDS)


def _band_keys(signatures: list[bytes]) -> np.ndarray:
    """The signatures' `BANDS` bucket keys, a row each (signatures of texts with words)."""
    matrix = np.frombuffer(b"".join(signatures), dtype=np.uint64).reshape(-1, NUM_HASHES)
    rows = NUM_HASHES // BANDS
    keys = matrix[:, 0::rows].copy()  # band b hashes its `rows` minimums into one key
    for r in range(1, rows):
        keys = keys * _PAIR + matrix[:, r::rows]
    return keys


def near_duplicate_groups(
    texts: Sequence[str],
    threshold: float = 0.8,
    progress: Callable[[float], None] = lambda _fraction: None,
    index: DuplicateIndex | None = None,
) -> list[list[int]]:
    """Groups of positions whose texts are near-identical (exact duplicates included), each in
    order, the groups by their first position. `progress` is called now and then with the
    fraction done; it may raise to stop the work. With the `index` of the last search, only
    the texts it did not hold are read."""
    index = index if index is not None else DuplicateIndex(threshold)
    counts = Counter(texts)
    index.discard([t for t in [*index.keys, *index.pending] if t not in counts])
    for text in counts:
        index.add(text)
    index.update(progress)
    group_of = grouped_texts(index, [t for t, n in counts.items() if n > 1])
    return positions_in_groups(texts, group_of) if group_of else []


def grouped_texts(index: DuplicateIndex, repeated: Iterable[Text]) -> dict[Text, object]:
    """Each text in a group → its group: texts near-identical to another one, and `repeated`
    texts (held by more than one example) that have words."""
    group_of: dict[Text, object] = {
        text: n for n, group in enumerate(index.groups()) for text in group
    }
    group_of.update((t, t) for t in repeated if t not in group_of and index.has_words(t))
    return group_of


def positions_in_groups(texts: Sequence[Text], group_of: dict[Text, object]) -> list[list[int]]:
    """The groups of `group_of` as positions in `texts`, each in order, the groups by their
    first position."""
    members: dict[object, list[int]] = defaultdict(list)
    # only the grouped texts' positions reach Python (`compress` looks at the others in C)
    for position in itertools.compress(itertools.count(), map(group_of.__contains__, texts)):
        members[group_of[texts[position]]].append(position)
    return [group for group in members.values() if len(group) > 1]


class DuplicateFinder:
    """Is this new text (nearly) one we already have? For candidates arriving one by one.

    Exact matches by normalised text; near matches by word-bigram Jaccard ≥ `threshold` over an
    inverted index, so each question costs time in proportion to the texts that share words
    with it, not to the whole dataset. The texts known at the start (`of`) are held in numpy
    arrays (`KnownTexts`); those added later (`add`), in Python."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._exact: dict[str, str] = {}
        self._sets: list[set[int]] = []
        self._labels: list[str] = []
        self._index: dict[int, list[int]] = defaultdict(list)
        self._known: KnownTexts | None = None

    @classmethod
    def of(cls, texts: Iterable[tuple[str, str]], threshold: float = 0.8) -> DuplicateFinder:
        """A finder that knows these (label, text) pairs. At 100,000 examples' questions and
        answers, added one by one they took 9.3 s and 833 MB (millions of small lists and
        sets), and the inverted index's growth held the interpreter lock ~0.5 s at a time
        beside the window."""
        return cls.knowing(KnownTexts(texts), threshold)

    @classmethod
    def knowing(cls, known: KnownTexts, threshold: float = 0.8) -> DuplicateFinder:
        """A finder that knows the texts `known` was made of (`of` makes it here)."""
        finder = cls(threshold)
        finder._known = known
        return finder

    def fresh(self) -> DuplicateFinder:
        """A finder that knows what this one was made knowing (`of`), and none of what was
        added since: the known texts' arrays are shared (nothing changes them), so a finder
        built once serves run after run."""
        finder = DuplicateFinder(self.threshold)
        finder._known = self._known
        return finder

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
        known = self._known
        if key in self._exact:
            return self._exact[key]
        if known is not None and (label := known.exact(key)) is not None:
            return label
        if known is not None and (label := known.near(key, self.threshold)) is not None:
            return label
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


class Learning:
    """`KnownTexts` being learnt: the Python pass over the texts, which can stop between two
    parts and go on later (the check's worker stops it for a count, and goes on after)."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.words = _WordHashes()
        self.codes, self.counts, self.hashes = array("Q"), array("q"), array("q")

    def take(self, texts: Iterable[tuple[str, str]]) -> None:
        labels, hashes, codes, counts = self.labels, self.hashes, self.codes, self.counts
        hashed = self.words.__getitem__
        for label, text in with_pauses(texts):  # (seconds at 100,000, beside the window)
            key = normalise(text)
            if not key:
                continue
            labels.append(label)
            hashes.append(_form(key))
            words = key.split()[:MAX_WORDS]
            codes.extend(map(hashed, words))
            counts.append(len(words))

    def handed_over(self) -> tuple[list[str], array[int], array[int], array[int]]:
        """What it learnt (labels, exact forms' hashes, word codes, word counts), no longer
        held here: the arrays made of them are let go one by one as they are used."""
        taken = self.labels, self.hashes, self.codes, self.counts
        self.labels, self.hashes, self.codes, self.counts = [], array("q"), array("Q"), array("q")
        return taken


_KNOWN_ARRAYS = ("_label_ends", "forms", "form_text", "pairs", "sizes")


class KnownTexts:
    """Many texts' normalised forms and word-bigram sets, as numpy arrays: each text's
    bigrams, hashed as the check's near-duplicate search hashes them (`_all_shingles`), each
    with the text it came from in its last bits, sorted (the inverted index: `_all_of`), and
    each text's number of distinct bigrams. Made from a Python pass over the texts that holds
    no more than each text's words at a time, then numpy's sorts. A text's exact form is known
    by its hash (`_form`), its label is a slice of one string. All of it is the same in every
    process: the check's worker makes it (`CheckProcess.known_texts`), and it crosses the pipe
    as a few arrays and one string, not 200,000 of them (the words' hashes stay behind: made
    again as asked)."""

    def __init__(self, texts: Iterable[tuple[str, str]]) -> None:
        learning = Learning()
        learning.take(texts)
        self._make(learning)

    @classmethod
    def learnt(cls, learning: Learning) -> KnownTexts:
        """The texts `learning` took in."""
        known = cls.__new__(cls)
        known._make(learning)
        return known

    def _make(self, learning: Learning) -> None:
        labels, hashes, codes, counts = learning.handed_over()  # (each let go once used)
        self.words = learning.words
        self._labels = "".join(labels)
        self._label_ends = np.cumsum(np.fromiter(map(len, labels), np.int64, len(labels)))
        del labels
        # the first text of each exact form, by its hash
        forms = np.frombuffer(hashes, dtype=np.int64) if hashes else np.zeros(0, np.int64)
        order = np.argsort(forms, kind="stable")
        forms = forms[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = forms[1:] != forms[:-1]
        self.forms, self.form_text = forms[first], order[first]
        pairs = self._all_of(codes, counts, self._text_bits)
        del codes
        pairs.sort()  # (in place) by bigram, then text: a text's repeated bigram lies beside
        fresh = np.ones(len(pairs), dtype=bool)  # itself, and is dropped
        np.not_equal(pairs[1:], pairs[:-1], out=fresh[1:])
        self.pairs = pairs[fresh]
        del pairs, fresh
        texts = (self.pairs & self._text_mask).view(np.int64)
        self.sizes = np.bincount(texts, minlength=len(self._label_ends))

    @property
    def _text_bits(self) -> int:
        """The bits of a bigram's pair that say which text it is of (the rest: its hash's
        first bits)."""
        return max(1, (len(self._label_ends) - 1).bit_length())

    @property
    def _text_mask(self) -> np.uint64:
        return np.uint64((1 << self._text_bits) - 1)

    def layout(self) -> tuple[list[tuple[str, str, int]], list[memoryview]]:
        """What it is made of, as the bytes of a few arrays (the labels' text as UTF-8), to
        cross a pipe (`made_of`): pickled, 100,000 examples' ~100 MB took 44 ms to unpickle,
        in one hold of the interpreter lock beside the window. The words' hashes stay
        behind: they are made again as asked."""
        labels = np.frombuffer(self._labels.encode("utf-8", "surrogatepass"), np.uint8)
        arrays = [*(getattr(self, name) for name in _KNOWN_ARRAYS), labels]
        names = [*_KNOWN_ARRAYS, "_labels"]
        shapes = [(name, a.dtype.str, len(a)) for name, a in zip(names, arrays, strict=True)]
        return shapes, [np.ascontiguousarray(a).data.cast("B") for a in arrays]

    @classmethod
    def made_of(
        cls, shapes: list[tuple[str, str, int]], fill: Callable[[memoryview], None]
    ) -> KnownTexts:
        """The texts `layout` gave `shapes` of, each array's bytes put in place by `fill`."""
        known = cls.__new__(cls)
        for name, dtype, length in shapes:
            array = np.empty(length, np.dtype(dtype))
            fill(array.data.cast("B"))
            setattr(known, name, array)
        labels: np.ndarray = vars(known).pop("_labels")
        known._labels = labels.tobytes().decode("utf-8", "surrogatepass")
        known.words = _WordHashes()
        return known

    def label(self, text: int) -> str:
        """The label of the `text`th text known."""
        ends = self._label_ends
        return self._labels[int(ends[text - 1]) if text else 0 : int(ends[text])]

    @classmethod
    def _all_of(cls, codes: array[int], counts: array[int], text_bits: int) -> np.ndarray:
        """Every text's bigrams, each with the text it is of, as one number: the bigram's hash
        but for its last `text_bits` bits, which say the text. Sorted, it is the inverted
        index, with no other array beside it: a bigram's hash and its text side by side, then
        sorted by an order of them, took the build's peak to 164 MB above what was learnt
        (at 100,000 examples; 361 MB while all the texts' bigrams were made at once), for 69
        MB kept. Made `SIGNED_AT_ONCE` texts at a time, into one array. The first 64 -
        `text_bits` bits of a hash (46 at 100,000 examples, 42 at 1,000,000) tell millions of
        bigrams apart: two alike by chance, one in tens of thousands of millions, make two
        texts look a bigram more alike."""
        words = np.frombuffer(codes, dtype=np.uint64) if codes else np.zeros(0, np.uint64)
        sizes = np.frombuffer(counts, dtype=np.int64) if counts else np.zeros(0, np.int64)
        ends = np.cumsum(sizes)
        bigrams = np.maximum(sizes - 1, 1)  # (a one-word text: its word)
        pairs = np.empty(int(bigrams.sum()), np.uint64)
        hash_bits = ~np.uint64((1 << text_bits) - 1)
        at = 0
        for start in range(0, len(sizes), SIGNED_AT_ONCE):
            stop = min(start + SIGNED_AT_ONCE, len(sizes))
            first = int(ends[start - 1]) if start else 0
            part, _ = _all_shingles(words[first : int(ends[stop - 1])], sizes[start:stop])
            texts = np.repeat(np.arange(start, stop, dtype=np.uint64), bigrams[start:stop])
            np.bitwise_or(part & hash_bits, texts, out=pairs[at : at + len(part)])
            at += len(part)
        return pairs

    @staticmethod
    def _shingles(codes: array[int], counts: array[int]) -> tuple[np.ndarray, np.ndarray]:
        if not counts:
            return np.zeros(0, np.uint64), np.zeros(1, np.int64)
        return _all_shingles(
            np.frombuffer(codes, dtype=np.uint64), np.frombuffer(counts, dtype=np.int64)
        )

    def exact(self, key: str) -> str | None:
        form = _form(key)
        at = int(np.searchsorted(self.forms, form))
        if at < len(self.forms) and self.forms[at] == form:
            return self.label(int(self.form_text[at]))
        return None

    def near(self, key: str, threshold: float) -> str | None:
        """The label of the text sharing most bigrams with `key` whose Jaccard similarity to
        it is at least `threshold` (the first such text on a tie), or None."""
        words = key.split()[:MAX_WORDS]
        asked, _ = self._shingles(
            array("Q", map(self.words.__getitem__, words)), array("q", [len(words)])
        )
        mask = self._text_mask
        keys = np.unique(asked & ~mask)  # (as the pairs hold them)
        starts = np.searchsorted(self.pairs, keys, side="left")
        ends = np.searchsorted(self.pairs, keys | mask, side="right")
        hits = np.concatenate([self.pairs[a:b] & mask for a, b in zip(starts, ends, strict=True)])
        if not len(hits):
            return None
        texts, common = np.unique(hits, return_counts=True)
        alike = common / (len(keys) + self.sizes[texts] - common) >= threshold
        if not alike.any():
            return None
        texts, common = texts[alike], common[alike]
        return self.label(int(texts[np.argmax(common)]))  # (np.unique sorts: first on a tie)
