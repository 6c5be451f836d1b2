"""The voice check's test set: approved examples kept aside, never trained, so a check asks
questions the model has not seen.

By default about 12 % of the approved examples, chosen by their ids (the same ones every time,
whatever else is edited or added); an example tagged "voice-check" is always in it (the
creator's pinned questions: "it must always answer this well"). The share is the project's
(meta "test_share"; 0 turns the test set off). The share never leaves fewer than
`MIN_EXAMPLES` approved examples to train on (`cut_for`): a creator who had approved the 10
that fine-tuning needs had ~70 % odds that one or more were kept aside, and training refused.
Every way of training and the training export leave the set out through `split_test_set`.

What a model trained on is kept with its job (`trained_digest`, read back by `Trained`): the
set moves as the dataset grows (the share's cut rises from the lowered one) and as the creator
pins questions, so "never trained" is said of the model's own training files, not of today's
split.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING

from persona_studio.core.dataset import MIN_EXAMPLES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from persona_studio.core.dataset import Example

DEFAULT_SHARE = 0.12
PIN_TAG = "voice-check"
META_KEY = "test_share"
MAX_SHARE = 0.5
MAX_TRAINED = 10_000_000  # the most examples a job's `trained_digest` is read with


@lru_cache(maxsize=1 << 18)  # ids never change: a re-split of 100,000 hashes none again
def bucket(example_id: str) -> float:
    """Where an id falls in [0, 1): stable, and spread evenly over ids."""
    return int(hashlib.sha1(example_id.encode()).hexdigest()[:8], 16) / 2**32


def _place(example_id: str) -> int:
    return int(bucket(example_id) * 2**32)  # (exact: `bucket` divides a 32-bit int)


def trained_digest(example_ids: Iterable[str]) -> str:
    """The ids a model's training files held, as its job keeps them: each id's 32-bit place
    (`bucket`'s), sorted, as the gaps between them, byte planes apart, deflated, in base64:
    ~3 bytes an example (200 KB for 66,000). Two ids may share a place (odds ~1 in 65,000 per
    question asked at 66,000 trained): such a question reads as trained, never the reverse."""
    places = sorted({_place(example_id) for example_id in example_ids})
    gaps = [b - a for a, b in zip([0, *places], places, strict=False)]
    packed = struct.pack(f"<{len(gaps)}I", *gaps)
    planes = b"".join(packed[k::4] for k in range(4))
    return base64.b64encode(zlib.compress(planes, 9)).decode("ascii")


class Trained:
    """Which examples a model trained on, read from its job's `trained_digest`."""

    def __init__(self, digest: str) -> None:
        inflate = zlib.decompressobj()  # bounded: the project file may come from anywhere
        planes = inflate.decompress(base64.b64decode(digest, validate=True), 4 * MAX_TRAINED)
        count, odd = divmod(len(planes), 4)
        if odd or inflate.unconsumed_tail or not inflate.eof:
            raise ValueError("not a trained digest")
        packed = bytearray(len(planes))
        for k in range(4):
            packed[k::4] = planes[k * count : (k + 1) * count]
        self._places = list(accumulate(struct.unpack(f"<{count}I", packed)))

    @classmethod
    def read(cls, digest: object) -> Trained | None:
        """From a job record's field: None where there is none or it is not readable (a job
        from before this was kept, or a file changed by hand: nothing is known then)."""
        if not isinstance(digest, str):
            return None
        try:
            return cls(digest)
        except (ValueError, zlib.error, struct.error):
            return None

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, example_id: object) -> bool:
        if not isinstance(example_id, str):
            return False
        place = _place(example_id)
        at = bisect_left(self._places, place)
        return at < len(self._places) and self._places[at] == place


def in_test_set(example: Example, cut: float) -> bool:
    """Whether `example` is kept aside, `cut` being what `cut_for` gives for the dataset."""
    if example.status != "approved":
        return False
    return PIN_TAG in example.tags or (cut > 0 and bucket(example.id) < cut)


def cut_for(examples: Iterable[Example], share: float) -> float:
    """Below what `bucket` an approved example is kept aside (pinned ones always are): the
    share, or lower where the share would leave fewer than `MIN_EXAMPLES` to train on, so that
    those whose ids fall highest train instead, as few as make up `MIN_EXAMPLES`. A pass that
    stops at the `MIN_EXAMPLES`-th example trained: a large dataset's costs nothing."""
    if share <= 0:
        return share
    trained, aside = 0, []
    for example in examples:
        if example.status != "approved" or PIN_TAG in example.tags:
            continue
        at = bucket(example.id)
        if at < share:
            aside.append(at)
        else:
            trained += 1
            if trained >= MIN_EXAMPLES:
                return share
    back = min(len(aside), MIN_EXAMPLES - trained)  # to train, the highest first
    return sorted(aside)[len(aside) - back] if back else share


def split_test_set(
    examples: Sequence[Example], share: float
) -> tuple[list[Example], list[Example]]:
    """(the examples training may use, the test set), the project's `share` given."""
    cut = cut_for(examples, share)
    kept: list[Example] = []
    test: list[Example] = []
    for example in examples:
        (test if in_test_set(example, cut) else kept).append(example)
    return kept, test


def share_from_meta(value: str | None) -> float:
    """The project's share, from its meta value (missing or unreadable: the default)."""
    try:
        share = float(value) if value is not None else DEFAULT_SHARE
    except ValueError:
        return DEFAULT_SHARE
    return min(MAX_SHARE, max(0.0, share))
