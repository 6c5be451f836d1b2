"""Exact token counts, offline, with the o200k and cl100k encodings (bpe-openai).

Counting needs only the Rust tokenizers (`_tokenizer`): both load in ~0.1 s; the whole
tiktoken-like `encoding` takes ~0.9 s and ~66 MB more. Callers on the UI thread still count in
a worker thread. Encodings and tokenizers are shared and thread-safe once loaded.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
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
    """The tokens of `text` as plain text (special tokens' names count as the text they are)."""
    return _counter(encoding_name)([text])[0]


def count_each(text: str, encodings: Iterable[str] = ENCODINGS) -> dict[str, int]:
    """The tokens of `text` in each of these encodings."""
    return {name: count_tokens(text, name) for name in encodings}


_native: dict[str, Any] = {}
_BINDINGS = "bpe_openai._bindings"


def _tokenizer(name: str) -> Any | None:
    """The Rust tokenizer of encoding `name` alone (it has `count`), or None where this release
    of bpe-openai is laid out otherwise. Loaded without the `bpe_openai` package: importing the
    package decodes every table it ships into Python dicts (~0.8 s and ~66 MB, bpe-openai
    0.1.4), which counting never reads."""
    with _lock:
        if name not in _native:
            _native[name] = None
            bindings = sys.modules.get(_BINDINGS) or _bindings_alone()
            if bindings is not None:
                try:
                    tokenizer = bindings.tokenizer_for_encoding(name)
                except Exception:  # an unknown name, another layout: `encoding` does it
                    tokenizer = None
                if callable(getattr(tokenizer, "count", None)):
                    _native[name] = tokenizer
        return _native[name]


def _bindings_alone() -> Any | None:
    """The package's compiled module, loaded from its file without running the package's
    `__init__`, and registered under its own name: the package, imported later, uses it (a
    compiled module may be initialised once per process)."""
    try:
        spec = importlib.util.find_spec("bpe_openai")
        for folder in (spec and spec.submodule_search_locations) or ():
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / f"_bindings{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader(_BINDINGS, str(path))
                    found = importlib.util.spec_from_loader(_BINDINGS, loader)
                    assert found is not None
                    module = importlib.util.module_from_spec(found)
                    loader.exec_module(module)
                    sys.modules[_BINDINGS] = module
                    return module
    except (ImportError, OSError):
        pass
    return None


def _plain(text: str) -> str:
    """`text` as the encoder takes it: lone surrogates (not UTF-8) replaced, as bpe-openai's
    own `encode_ordinary` does."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


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
    tokenizer = _tokenizer(encoding_name)
    if tokenizer is None:
        enc = encoding(encoding_name)
        return lambda texts: [len(enc.encode_ordinary(text)) for text in texts]
    native = tokenizer.count

    def one(text: str) -> int:
        try:
            return native(text)
        except UnicodeEncodeError:  # lone surrogates: count what encode_ordinary would encode
            return native(_plain(text))

    def count(texts: list[str]) -> list[int]:
        try:
            return list(map(native, texts))
        except UnicodeEncodeError:
            return list(map(one, texts))

    return count
