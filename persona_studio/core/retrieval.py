"""The offline engine's memory: BM25 over the dataset's questions (answers weigh less).

Used to answer with the nearest example when there is no model at all, and to pick few-shot
examples for the "persona prompt + examples" chat mode.
"""

from __future__ import annotations

import heapq
import math
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from persona_studio.core.dataset import Example

# runs of two or more word characters, or a lone digit: what `\w+` finds, less single letters
_TERM = re.compile(r"\w\w+|\d")
K1, B = 1.2, 0.75
ANSWER_WEIGHT = 0.3  # a word in the answer counts for 0.3 of one in the question
# below this share of the query's best possible score, the nearest example is not an answer
MIN_CONFIDENCE = 0.25


def words(text: str) -> list[str]:
    return _TERM.findall(text.lower())


@dataclass(frozen=True)
class Hit:
    example: Example
    score: float
    confidence: float  # 0..1: the score relative to a perfect match of the query


class RetrievalIndex:
    """Postings are two arrays per word (positions, term frequencies), not a tuple per
    occurrence: at 100,000 examples that is thousands of objects instead of millions, so the
    index builds faster, takes less memory and is freed in milliseconds (dropping it happens
    on the UI thread after every edit). The arrays are filled as the examples are read: lists
    of numbers converted at the end left ~12 million number objects to free in one go, which
    held the interpreter lock for 0.3–0.5 s beside the window."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = [ex for ex in examples if ex.status != "rejected" and ex.answer.strip()]
        postings: dict[str, tuple[array[int], array[float]]] = {}
        lengths = array("d")
        for position, ex in enumerate(self.examples):
            counts: dict[str, float] = Counter(words(ex.question))  # type: ignore[assignment]
            for word, found in Counter(words(ex.answer)).items():
                counts[word] = counts.get(word, 0) + found * ANSWER_WEIGHT
            lengths.append(sum(counts.values()))
            for word, tf in counts.items():
                entry = postings.get(word)
                if entry is None:
                    entry = postings[word] = (array("i"), array("d"))
                entry[0].append(position)
                entry[1].append(tf)
        self._postings = postings
        self._lengths = lengths
        n = len(self.examples)
        self._average = (sum(lengths) / n) if n else 1.0
        self._idf = {
            w: math.log(1 + (n - len(p[0]) + 0.5) / (len(p[0]) + 0.5))
            for w, p in self._postings.items()
        }

    def __len__(self) -> int:
        return len(self.examples)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        query_words = Counter(words(query))
        if not query_words or not self.examples:
            return []
        scores: dict[int, float] = defaultdict(float)
        best_possible = 0.0
        for word, qtf in query_words.items():
            idf = self._idf.get(word)
            if idf is None:
                best_possible += qtf * math.log(1 + (len(self.examples) + 0.5) / 0.5)
                continue
            best_possible += qtf * idf * (K1 + 1) / (1 + K1)
            for position, tf in zip(*self._postings[word], strict=True):
                norm = K1 * (1 - B + B * self._lengths[position] / self._average)
                scores[position] += qtf * idf * tf * (K1 + 1) / (tf + norm)
        ranked = heapq.nsmallest(k, scores.items(), key=lambda item: (-item[1], item[0]))
        return [
            Hit(self.examples[pos], score, min(1.0, score / best_possible)) for pos, score in ranked
        ]
