"""Exact token counts, offline, with the o200k and cl100k encodings (bpe-openai).

Loading an encoding takes ~0.5 s the first time: callers on the UI thread run `count_tokens`
in a worker thread. Encodings are shared and thread-safe once loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

ENCODINGS = ("o200k_base", "cl100k_base")
# in a creator's words: which models count tokens this way (not the encodings' own names)
ENCODING_LABELS = {
    "o200k_base": "newer models (GPT-4o, GPT-4.1)",
    "cl100k_base": "older ones (GPT-3.5, GPT-4)",
}
TOKENS_EXPLAINED = (
    "A token is a word or a piece of a word (about 4 characters of English). Models read, "
    "and providers bill, in tokens."
)
# Above these, a system prompt (sent with every training example and every chat turn) is long.
LONG_PROMPT_TOKENS = 1_000
VERY_LONG_PROMPT_TOKENS = 4_000

_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def encoding(name: str) -> Any:
    with _lock:
        if name not in _loaded:
            import bpe_openai

            _loaded[name] = bpe_openai.get_encoding(name)
        return _loaded[name]


def count_tokens(text: str, encoding_name: str = "o200k_base") -> int:
    return len(encoding(encoding_name).encode(text, disallowed_special=()))


def prompt_length_warning(tokens: int) -> str | None:
    """A plain-language warning for a long system prompt, or None."""
    if tokens > VERY_LONG_PROMPT_TOKENS:
        return (
            f"Very long: {tokens:,} tokens are sent with every message and every training "
            "example. Move details into training examples or rules."
        )
    if tokens > LONG_PROMPT_TOKENS:
        return (
            f"Long: {tokens:,} tokens are sent with every message. Consider trimming "
            "background details."
        )
    return None


_CACHE_LIMIT = 500_000  # texts no longer asked about are dropped past this
_counts: dict[str, dict[str, int]] = {}


def count_many(texts: set[str], encoding_name: str = "o200k_base") -> Mapping[str, int]:
    """Counts for many texts: a read-only mapping that holds at least these texts. Remembered,
    so re-checking a dataset after an edit only counts the texts that changed. Past the limit,
    the texts this call does not ask about are forgotten, never the ones it does: a dataset
    larger than the limit (a million examples) still re-checks at the cost of its edits."""
    cache = _counts.setdefault(encoding_name, {})
    missing = [t for t in texts if t not in cache]
    if missing:
        if len(cache) + len(missing) > _CACHE_LIMIT:
            asked = {t: cache[t] for t in texts if t in cache}
            cache.clear()
            cache.update(asked)
        count = _counter(encoding_name)
        cache.update(zip(missing, count(missing), strict=True))
    return MappingProxyType(cache)


def _counter(encoding_name: str) -> Callable[[list[str]], list[int]]:
    """Counts a list of texts with the native tokenizer's own count (plain text, no special
    tokens): the same BPE as `encode_ordinary`, without building the token lists or the wrapper's
    bookkeeping — half the time. Falls back to the public API if a bpe-openai release moves it."""
    enc = encoding(encoding_name)

    def ordinary(text: str) -> int:
        return len(enc.encode_ordinary(text))

    native = getattr(getattr(enc, "_backend", None), "count", None)
    if native is None:
        return lambda texts: list(map(ordinary, texts))

    def one(text: str) -> int:
        try:
            return native(text)
        except UnicodeEncodeError:  # lone surrogates: count what encode_ordinary would encode
            return ordinary(text)

    def count(texts: list[str]) -> list[int]:
        try:
            return list(map(native, texts))
        except UnicodeEncodeError:
            return list(map(one, texts))

    return count
