from __future__ import annotations

import subprocess
import sys

import pytest

from persona_studio.core.tokens import count_tokens, encoding, prompt_length_warning


@pytest.mark.parametrize(
    ("name", "text", "ids"),
    [
        ("cl100k_base", "Hello world", [9906, 1917]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("o200k_base", "Hello world", [13225, 2375]),
    ],
)
def test_known_token_ids(name: str, text: str, ids: list[int]) -> None:
    assert encoding(name).encode(text) == ids
    assert count_tokens(text, name) == len(ids)


def test_special_token_text_is_counted_as_text() -> None:
    assert count_tokens("<|endoftext|>", "cl100k_base") == 7


def test_long_prompt_warnings() -> None:
    assert prompt_length_warning(500) is None
    assert prompt_length_warning(1500).startswith("Long")
    assert prompt_length_warning(5000).startswith("Very long")


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_fast_counts_equal_the_encoder(name: str) -> None:
    from persona_studio.core.tokens import count_many

    texts = {
        "Hello world",
        "<|endoftext|> is text here",
        "Émoji 🏃‍♀️ and 日本語",
        "broken \ud800 surrogate",
        "",
        "word " * 3000,
    }
    counts = count_many(texts, name)
    plain = encoding(name).encode_ordinary
    assert {t: counts[t] for t in texts} == {t: len(plain(t)) for t in texts}


def test_counting_loads_the_tokenizer_alone_and_the_package_still_works_after() -> None:
    """Importing bpe_openai decodes every table it ships (~0.8 s, ~66 MB): counting does
    without it. The package, imported afterwards, uses the same compiled module."""
    code = """if True:
        import sys
        from persona_studio.core.tokens import count_many, count_tokens, encoding
        texts = {"Hello world", "<|endoftext|> here", "broken \\ud800 surrogate", "", "w " * 999}
        counts = {name: dict(count_many(texts, name)) for name in ("o200k_base", "cl100k_base")}
        prompt = count_tokens("A prompt <|endoftext|>", "cl100k_base")
        assert "bpe_openai" not in sys.modules, "the package was imported"
        for name, got in counts.items():
            plain = encoding(name).encode_ordinary
            assert got == {t: len(plain(t)) for t in texts}, name
        assert prompt == len(encoding("cl100k_base").encode("A prompt <|endoftext|>",
                                                           disallowed_special=()))
    """
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_counts_fall_back_to_the_package_when_its_layout_differs(monkeypatch) -> None:
    from persona_studio.core import tokens

    monkeypatch.setattr(tokens, "_tokenizer", lambda _name: None)
    text = "Émoji 🏃‍♀️ and broken \ud800 surrogate <|endoftext|>"
    assert tokens.count_tokens(text, "o200k_base") == len(
        encoding("o200k_base").encode_ordinary(text)
    )


def test_past_the_cache_limit_only_texts_not_asked_about_are_forgotten(monkeypatch) -> None:
    """Issue 21: the cache was wiped past its limit, so a dataset larger than it (a million
    examples) recounted every text at every re-check."""
    from persona_studio.core import tokens

    counted: list[str] = []
    monkeypatch.setattr(tokens, "_CACHE_LIMIT", 10)
    monkeypatch.setattr(tokens, "_counts", {})
    monkeypatch.setattr(tokens, "_kept_for", 0)  # no check said its size
    monkeypatch.setattr(
        tokens,
        "_counter",
        lambda _name: lambda texts: [counted.extend(texts) or len(t) for t in texts],
    )
    dataset = {f"text {n}" for n in range(15)}  # more than the limit
    assert dict(tokens.count_many(dataset)) == {t: len(t) for t in dataset}
    counted.clear()
    edited = (dataset - {"text 3"}) | {"text 3, edited"}
    counts = tokens.count_many(edited)
    assert counted == ["text 3, edited"]  # the edit alone is counted again
    assert all(counts[t] == len(t) for t in edited)
    assert "text 3" not in counts  # no longer asked about: forgotten


def test_a_check_asking_a_chunk_at_a_time_keeps_every_chunks_counts(monkeypatch) -> None:
    """Issue 21: a check asks for its counts a chunk at a time; past the limit each chunk
    made room by forgetting the others, so at 1,000,000 examples every check after a prompt
    edit counted all 2,000,000 texts again. The check's size now sets the limit."""
    from persona_studio.core import tokens

    counted: list[str] = []
    monkeypatch.setattr(tokens, "_CACHE_LIMIT", 10)
    monkeypatch.setattr(tokens, "_counts", {})
    monkeypatch.setattr(tokens, "_kept_for", 0)
    monkeypatch.setattr(
        tokens,
        "_counter",
        lambda _name: lambda texts: counted.extend(texts) or [len(t) for t in texts],
    )
    dataset = [f"text {n}" for n in range(40)]  # 20 examples of two texts: past the limit
    chunks = [set(dataset[at : at + 8]) for at in range(0, 40, 8)]

    def check() -> None:
        tokens.keep_counts_for(20)
        for chunk in chunks:
            assert all(tokens.count_many(chunk)[t] == len(t) for t in chunk)

    check()
    assert sorted(counted) == sorted(dataset)
    counted.clear()
    check()  # a re-check, after a prompt edit say: every count is still there
    assert counted == []

    tokens.keep_counts_for(2)  # a small project's check: the large one's counts go
    assert tokens._counts["o200k_base"] == {}


@pytest.fixture
def helper(monkeypatch):
    """A real helper process, counting beside this one (as the check's worker has)."""
    from persona_studio.core import tokens

    monkeypatch.setattr(tokens, "_counts", {})
    tokens.count_beside(True)
    assert tokens._helper is None  # until a large batch comes, or:
    tokens.ready_helper()
    process = tokens._helper.process
    yield process
    tokens.count_beside(False)
    assert tokens._helper is None and process.exitcode is not None  # it stops with its pipe


def texts(n: int, tag: str = "") -> set[str]:
    return {f"Question {tag}{i}: how far should I run this week? 🏃" for i in range(n)}


def test_the_helper_counts_its_share_meanwhile_with_the_same_counts(helper, monkeypatch) -> None:
    """Issue 21: counting holds the interpreter's lock, so a first check overlaps it with its
    own work in a second process."""
    from persona_studio.core import tokens

    here: list[str] = []
    real = tokens._counter
    monkeypatch.setattr(
        tokens, "_counter", lambda name: lambda batch: here.extend(batch) or real(name)(batch)
    )
    batch = texts(3 * tokens.HELPER_FROM)
    result = tokens.count_soon(batch)
    share = tokens._helper.share
    counts = dict(result())
    assert 0 < len(here) < len(batch) * (1 - share) + 1  # this process counted only its part
    monkeypatch.setattr(tokens, "_counter", real)
    assert counts.keys() >= batch
    assert all(counts[t] == count_tokens(t) for t in batch)
    # a few new texts are counted here, without a message each way
    here.clear()
    monkeypatch.setattr(
        tokens, "_counter", lambda name: lambda batch: here.extend(batch) or real(name)(batch)
    )
    assert tokens.count_soon({"Hello world"})()["Hello world"] == 2 and here == ["Hello world"]


def test_a_helper_that_dies_leaves_the_counting_here(helper) -> None:
    from persona_studio.core import tokens

    batch = texts(2 * tokens.HELPER_FROM)
    result = tokens.count_soon(batch)
    helper.kill()
    helper.join(5)
    counts = result()
    assert all(counts[t] == count_tokens(t) for t in batch)
    assert tokens._helper is None and not tokens._helping  # the next batches: counted here
    later = texts(2 * tokens.HELPER_FROM, "b")
    assert all(tokens.count_soon(later)()[t] == count_tokens(t) for t in later)


def test_a_helper_let_go_is_started_again_by_a_large_batch_only(helper) -> None:
    """Issue 21: an idle helper is let go (the encodings' tables stay loaded in a process until
    it ends); a later large batch starts another, an edit's few texts are counted here."""
    from persona_studio.core import tokens

    assert all(tokens.count_soon(texts(2 * tokens.HELPER_FROM, "a "))().values())
    tokens.let_helper_go()
    assert tokens._helper is None and helper.exitcode == 0  # it ended when its pipe closed
    assert tokens.count_soon({"Hello world"})()["Hello world"] == 2
    assert tokens._helper is None  # not for one text
    batch = texts(2 * tokens.HELPER_FROM, "b ")
    counts = tokens.count_soon(batch)()
    assert tokens._helper is not None and tokens._helper.process is not helper
    assert tokens._helper.process.is_alive()
    assert all(counts[t] == count_tokens(t) for t in batch)


def test_an_answer_nobody_read_is_passed_over(helper) -> None:
    """A check stopped between asking and reading: the next batch gets its own answer."""
    from persona_studio.core import tokens

    tokens.count_soon(texts(2 * tokens.HELPER_FROM, "stopped "))  # asked, never read
    batch = texts(2 * tokens.HELPER_FROM, "next ")
    counts = tokens.count_soon(batch)()
    assert all(counts[t] == count_tokens(t) for t in batch)
    assert tokens._helper is not None


def test_the_helper_gets_less_when_it_was_waited_for_and_more_when_not() -> None:
    from persona_studio.core import tokens

    helper = tokens._Helper(conn=None)  # type: ignore[arg-type]
    start = helper.share
    helper.balance(waited=0.05)
    assert helper.share == pytest.approx(start - tokens.SHARE_STEP)
    for _ in range(40):
        helper.balance(waited=0.0)
    assert helper.share == tokens.SHARES[1]
    for _ in range(40):
        helper.balance(waited=1.0)
    assert helper.share == tokens.SHARES[0]
