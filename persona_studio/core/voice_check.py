"""The voice check, the pure half: how close a candidate's answers are to a reference's, with no
model and no network ("sounds like you, offline").

Each answer is compared with the reference answer to the same question on two things a reader
hears: the wording (character 3–4-grams, cosine) and the habits (sentence length, word length,
questions and exclamations, emoji, capitals, line breaks). The score of a candidate is the mean
over the questions, 0–100, with a 95 % interval from their spread, so "78 ± 6" says how much
to trust it. The same measure compares a new model with an old model's kept answers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

NGRAMS = (3, 4)  # 2-grams are shared by any English text
WORDING_WEIGHT = 0.75  # the rest is the habits
_SENTENCE = re.compile(r"[.!?…]+(?:\s|$)")
_WORD = re.compile(r"\w+", re.UNICODE)


def _ngrams(text: str) -> Counter[str]:
    folded = " ".join(text.lower().split())
    grams: Counter[str] = Counter()
    for n in NGRAMS:
        grams.update(folded[i : i + n] for i in range(max(0, len(folded) - n + 1)))
    return grams


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[gram] for gram, count in a.items() if gram in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F300 <= ord(char) <= 0x1FAFF


def habits(text: str) -> dict[str, float]:
    """What a reader hears besides the words: lengths and the marks a writer reaches for."""
    words = _WORD.findall(text)
    sentences = max(1, len(_SENTENCE.findall(text)) or 1)
    letters = [c for c in text if c.isalpha()]
    n = max(1, len(text))
    return {
        "sentence_words": len(words) / sentences,
        "word_length": sum(map(len, words)) / max(1, len(words)),
        "questions": text.count("?") / sentences,
        "exclamations": text.count("!") / sentences,
        "emoji": 100 * sum(1 for c in text if _is_emoji(c)) / n,
        "capitals": sum(1 for c in letters if c.isupper()) / max(1, len(letters)),
        "lines": text.count("\n") / sentences,
        "length": math.log1p(len(words)),
    }


def _habit_closeness(a: dict[str, float], b: dict[str, float]) -> float:
    """1 when the habits match, towards 0 as they part (each habit compared on its own scale)."""
    parts = [1 - abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-9) for k in a if a[k] or b[k]]
    return sum(parts) / len(parts) if parts else 1.0


def similarity(answer: str, reference: str) -> float:
    """How close one answer is to the reference answer, 0–1."""
    if not answer.strip() or not reference.strip():
        return 0.0
    wording = _cosine(_ngrams(answer), _ngrams(reference))
    return WORDING_WEIGHT * wording + (1 - WORDING_WEIGHT) * _habit_closeness(
        habits(answer), habits(reference)
    )


@dataclass
class Score:
    """A candidate's score against one reference: 0–100 and its 95 % half-interval."""

    mean: float
    margin: float
    questions: int
    per_question: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        return f"{self.mean:.0f} % ± {self.margin:.0f}" if self.questions else "no answers"


def score(answers: Mapping[str, str], references: Mapping[str, str]) -> Score:
    """Mean similarity over the questions both answered (a missing answer scores 0)."""
    per = {q: 100 * similarity(answers.get(q, ""), ref) for q, ref in references.items() if ref}
    if not per:
        return Score(0.0, 0.0, 0)
    values = list(per.values())
    mean = sum(values) / len(values)
    if len(values) > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        margin = 1.96 * sd / math.sqrt(len(values))
    else:
        margin = 100.0  # one question says almost nothing
    return Score(mean, margin, len(values), per)
