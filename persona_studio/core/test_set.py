"""The voice check's test set: approved examples kept aside, never trained, so a check asks
questions the model has not seen.

By default about 12 % of the approved examples, chosen by their ids (the same ones every time,
whatever else is edited or added); an example tagged "voice-check" is always in it (the
creator's pinned questions: "it must always answer this well"). The share is the project's
(meta "test_share"; 0 turns the test set off). The share never leaves fewer than
`MIN_EXAMPLES` approved examples to train on (`cut_for`): a creator who had approved the 10
that fine-tuning needs had ~70 % odds that one or more were kept aside, and training refused.
Every way of training and the training export leave the set out through `split_test_set`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from persona_studio.core.dataset import MIN_EXAMPLES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from persona_studio.core.dataset import Example

DEFAULT_SHARE = 0.12
PIN_TAG = "voice-check"
META_KEY = "test_share"
MAX_SHARE = 0.5


@lru_cache(maxsize=1 << 18)  # ids never change: a re-split of 100,000 hashes none again
def bucket(example_id: str) -> float:
    """Where an id falls in [0, 1): stable, and spread evenly over ids."""
    return int(hashlib.sha1(example_id.encode()).hexdigest()[:8], 16) / 2**32


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
