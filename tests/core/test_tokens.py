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
