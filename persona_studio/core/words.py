"""Counts in plain words: "1 example", "2 examples" — never "example(s)"."""

from __future__ import annotations


def counted(n: int, word: str, many: str = "") -> str:
    """`n` and the word, singular or plural ("1 warning", "3 warnings"; `many` for an
    irregular plural: counted(2, "example was", "examples were"))."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
