"""Exact token counts, offline, with the o200k and cl100k encodings (bpe-openai).

Counting needs only the Rust tokenizers (`_tokenizer`): both load in ~0.1 s; the whole
tiktoken-like `encoding` takes ~0.9 s and ~66 MB more. Callers on the UI thread still count in
a worker thread. Encodings and tokenizers are shared and thread-safe once loaded.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import filterfalse
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

ENCODINGS = ("o200k_base", "cl100k_base")
# The persona prompt's count, shown as it is written: as the models people train today count.
# A second count for GPT-3.5 (cl100k) kept its tables in the check's worker: 30 MB of the
# app's memory for one line (a check for a GPT-3.5 model still counts in cl100k).
PROMPT_ENCODING = "o200k_base"
PROMPT_TOKENS_NOTE = "as GPT-4o counts; other models differ a little"
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


_CACHE_LIMIT = 500_000  # texts no longer asked about are dropped past this, or past:
KEPT_PER_EXAMPLE = 4  # texts per example of the dataset checked last (`keep_counts_for`)
_counts: dict[str, dict[str, int]] = {}
_kept_for = 0  # examples


def count_many(texts: set[str], encoding_name: str = "o200k_base") -> Mapping[str, int]:
    """Counts for many texts: a read-only mapping that holds at least these texts. Remembered,
    so re-checking a dataset after an edit only counts the texts that changed. Past the limit,
    the texts this call does not ask about are forgotten, never the ones it does: a dataset
    larger than the limit (a million examples) still re-checks at the cost of its edits."""
    cache = _counts.setdefault(encoding_name, {})
    missing = list(filterfalse(cache.__contains__, texts))
    if missing:
        _remember(cache, texts, missing, _counter(encoding_name)(missing))
    return MappingProxyType(cache)


def keep_counts_for(examples: int) -> None:
    """A check of this many examples is about to ask for their texts' counts, a chunk at a
    time: from now on the limit keeps `KEPT_PER_EXAMPLE` texts for each, so that no chunk
    makes room by forgetting another's (issue 21: at 1,000,000 examples, every check after a
    prompt edit counted all 2,000,000 texts again, ~17 s). Counts of more texts than that,
    left from a larger project, are let go now."""
    global _kept_for
    _kept_for = examples
    limit = _limit()
    for cache in _counts.values():
        if len(cache) > limit:
            cache.clear()


def _limit() -> int:
    return max(_CACHE_LIMIT, KEPT_PER_EXAMPLE * _kept_for)


def cache_holds(texts: int) -> bool:
    """Whether the counts of this many texts stay remembered whatever was checked before
    (the cache's own limit)."""
    return texts <= _CACHE_LIMIT


def _remember(cache: dict[str, int], texts: set[str], new: list[str], counts: list[int]) -> None:
    """Put `new` texts' `counts` in `cache`, making room past the limit (see `count_many`)."""
    if len(cache) + len(new) > _limit():
        asked = {t: cache[t] for t in texts if t in cache}
        cache.clear()
        cache.update(asked)
    cache.update(zip(new, counts, strict=True))


# ---- a second process that counts beside this one ----------------------------------------
# bpe-openai's `count` holds the interpreter's lock: two threads counting took 1.39 s where
# one took 1.25 (measured). A second process overlaps the counting with the check's own
# Python work (issue 21: a first check at 100,000 examples was 1.6x the encoder's time).

HELPER_FROM = 1_000  # new texts: fewer are counted here (a message each way, ~0.2 ms)
HELPER_WAIT_S = 60.0  # for one batch's answer (4,000 texts take ~25 ms): else counted here
HELPER_IDLE_S = 30.0  # a helper that counted nothing this long is let go (`let_helper_go`)
WAITED_S = 0.001  # an answer later than this: the helper is behind, and gets less next time
SHARE_STEP, SHARES = 0.05, (0.3, 0.95)


class _Helper:
    """This process's end of the pipe to a `serve_counts` process, and that process. One caller
    at a time (the check's thread); answers come in the order asked. It is given a `share` of
    each batch, balanced as it goes: two processes counting on this 2-core machine each ran
    ~1.3x slower (measured), so a fixed split left one side waiting."""

    def __init__(self, conn: Connection, process: BaseProcess | None = None) -> None:
        self.conn = conn
        self.process = process
        self.seq = 0
        self.share = 0.75

    def balance(self, waited: float) -> None:
        """The last answer came `waited` seconds after this process had done its part."""
        low, high = SHARES
        if waited > WAITED_S:
            self.share = max(low, self.share - SHARE_STEP)
        else:
            self.share = min(high, self.share + SHARE_STEP)

    def ask(self, encoding_name: str, texts: list[str]) -> int:
        self.seq += 1
        self.conn.send((self.seq, encoding_name, texts))
        return self.seq

    def answer(self, seq: int) -> list[int] | None:
        """The counts asked as `seq`, or None if the helper could not count them."""
        while self.conn.poll(HELPER_WAIT_S):
            answered, counts = self.conn.recv()
            if answered == seq:
                return counts
            # older: asked by a check that stopped before it read its answer
        raise TimeoutError(f"no token counts from the helper process in {HELPER_WAIT_S:.0f} s")

    def close(self) -> None:
        """Close the pipe: the process ends (it reads nothing more), and is waited for."""
        self.conn.close()
        if self.process is not None:
            self.process.join(5)
            if self.process.exitcode is None:  # stuck in a count: its answer is not wanted
                self.process.kill()
                self.process.join(5)


_helper: _Helper | None = None
_helping = False  # `count_beside(True)`: a helper is started again when a large batch comes


def count_beside(on: bool) -> None:
    """From now on (`on`), count large batches (`count_soon`) partly in a `serve_counts`
    process, started by the first such batch (or `ready_helper`), and again by a large batch
    after `let_helper_go`. Off: let it go, and count here again."""
    global _helping
    let_helper_go()
    _helping = on


def ready_helper() -> None:
    """Start the helper now, if counting beside and none runs: a large batch is coming, and
    the helper's start (~0.3 s) can overlap what comes before it."""
    if _helping and _helper is None:
        _start_helper()


def let_helper_go() -> None:
    """End the helper process, if any (until a large batch starts another): the encodings'
    tables stay loaded in a process until it ends (~66 MB for o200k, ~30 MB for cl100k,
    measured), and most batches after a first check are an edit's few texts, counted here."""
    global _helper
    helper, _helper = _helper, None
    if helper is not None:
        helper.close()


def _start_helper() -> _Helper | None:
    global _helper, _helping
    try:
        process, conn = start_helper()
    except (OSError, RuntimeError, AssertionError) as exc:  # asserted: a daemonic process
        log.warning("counting tokens in this process: the helper did not start (%s)", exc)
        _helping = False
        return None
    _helper = _Helper(conn, process)
    return _helper


def _without_helper(exc: BaseException) -> None:
    global _helping
    log.warning("counting tokens in this process: the helper process failed (%r)", exc)
    _helping = False  # whatever broke it would break the next one
    let_helper_go()


def count_soon(
    texts: set[str], encoding_name: str = "o200k_base"
) -> Callable[[], Mapping[str, int]]:
    """`count_many(texts)` as a call to make later. With a helper process (`count_beside`) and
    many new texts, its share of them is sent to it now, so that it counts them while this
    process works; the call counts the rest here, then takes its answer. If the helper fails,
    they are all counted here. (Ask for the next batch after taking this one's answer: a batch
    larger than the pipe's buffer waits in `send` while the helper counts.)"""
    later = partial(count_many, texts, encoding_name)
    if not _helping:
        return later
    missing = list(filterfalse(_counts.get(encoding_name, {}).__contains__, texts))
    if len(missing) < HELPER_FROM:
        return later
    helper = _helper or _start_helper()
    if helper is None:
        return later
    import pickle  # with a helper only: the window starts without it

    split = round(len(missing) * helper.share)
    there, here = missing[:split], missing[split:]
    try:
        seq = helper.ask(encoding_name, there)
    except (OSError, ValueError, pickle.PickleError) as exc:
        _without_helper(exc)
        return later

    def result() -> Mapping[str, int]:
        cache = _counts.setdefault(encoding_name, {})
        if here:
            _remember(cache, texts, here, _counter(encoding_name)(here))
        done = time.perf_counter()
        try:
            counts = helper.answer(seq)
        except (EOFError, OSError, TimeoutError, pickle.UnpicklingError) as exc:
            _without_helper(exc)
            counts = None
        helper.balance(time.perf_counter() - done)
        if counts is not None and len(counts) == len(there):
            _remember(cache, texts, there, counts)
        return later()  # counts here what is still missing: none, unless the helper failed

    return result


def serve_counts(conn: Connection) -> None:
    """The helper process: counts each batch asked (seq, encoding, texts) and answers (seq,
    counts), or (seq, None) when it cannot; until the other end closes."""
    while True:
        try:
            seq, encoding_name, texts = conn.recv()
        except (EOFError, OSError):
            return
        try:
            counts: list[int] | None = _counter(encoding_name)(texts)
        except Exception:  # an encoding it cannot load: the asker counts them itself
            log.exception("the token-count helper could not count")
            counts = None
        try:
            conn.send((seq, counts))
        except (EOFError, OSError):
            return


def start_helper() -> tuple[BaseProcess, Connection]:
    """A `serve_counts` process, spawned (no copy of this process's memory, nothing of Qt),
    and the end of its pipe. It exits when that end is closed (or this process ends). A
    daemonic process cannot start it (multiprocessing's rule): the check's worker is not one."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(
        target=serve_counts, args=(theirs,), name="persona-studio-count", daemon=True
    )
    try:
        process.start()
    finally:
        theirs.close()
    return process, ours


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
