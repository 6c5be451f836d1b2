"""The pairwise judge, the pure half: what a judge model is asked, how its verdict is read, and
how verdicts become win rates.

Two replies to one question are shown with the creator's own answer and the persona; the judge
says which sounds more like the creator (tone, vocabulary and habits, stance, facts of the
background, no invented biography) or that they tie. Every pair is judged twice, in both
orders, to cancel the judge's position bias: the same winner both times is a win, anything
else a tie. A verdict the judge cannot give (twice unreadable) is "no verdict": never a win.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from persona_studio.core.persona import Persona
    from persona_studio.core.probes import Probe
    from persona_studio.core.records import ChatRecord

SYSTEM = (
    "You judge which of two replies sounds more like a specific person. Compare each reply "
    "with the person's own answer and their persona: tone, vocabulary and habits, stance, the "
    "facts of their background, and no invented biography. Length and polish do not matter; "
    "closeness to the person does. Answer with JSON only: "
    '{"winner": "A" | "B" | "tie", "reason": "one short sentence"}'
)


NO_REFERENCE = "(none for this question: judge by the persona)"


def judge_messages(
    persona: Persona, question: str, reference: str, reply_a: str, reply_b: str
) -> list[dict[str, str]]:
    """The judge's prompt for one ordered pair."""
    user = (
        f"Persona:\n{persona.system_prompt()}\n\n"
        f"Question:\n{question}\n\n"
        f"The person's own answer:\n{reference or NO_REFERENCE}\n\n"
        f"Reply A:\n{reply_a}\n\n"
        f"Reply B:\n{reply_b}\n\n"
        "Which reply sounds more like the person?"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _verdict_object(text: str) -> dict[str, object]:
    """The JSON object in a judge's reply (among chatter or in a fence); ValueError if none."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the verdict")
    data = json.loads(text[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the verdict is not a JSON object")
    return data


def parse_verdict(text: str) -> tuple[str, str]:
    """("A" | "B" | "tie", reason) from the judge's reply; ValueError when it says neither."""
    data = _verdict_object(text)
    winner = str(data.get("winner", "")).strip()
    normal = {"a": "A", "b": "B", "tie": "tie", "draw": "tie"}.get(winner.lower())
    if normal is None:
        raise ValueError(f"the verdict names no winner ({winner!r})")
    return normal, str(data.get("reason", "")).strip()[:300]


def combine(first: str | None, swapped: str | None) -> str | None:
    """One pair's outcome from its two orders: "x" (the first reply won both), "y", "tie", or
    None when either verdict is missing. `first` judged (x, y); `swapped` judged (y, x)."""
    if first is None or swapped is None:
        return None
    as_first = {"A": "x", "B": "y", "tie": "tie"}[first]
    as_swapped = {"A": "y", "B": "x", "tie": "tie"}[swapped]
    return as_first if as_first == as_swapped and as_first != "tie" else "tie"


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """A 95 % interval for a share (Wilson's: right near 0 and 1, and with few trials)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class WinRate:
    """A candidate's record against the others: a tie counts half a win."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    no_verdict: int = 0
    reasons: dict[str, str] = field(default_factory=dict)  # question → the judge's reason

    @property
    def judged(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def rate(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.judged if self.judged else 0.0

    def text(self) -> str:
        if not self.judged:
            return "no verdicts"
        low, high = wilson(self.wins + 0.5 * self.ties, self.judged)
        margin = 100 * (high - low) / 2
        return f"{100 * self.rate:.0f} % ± {margin:.0f}"


RULE_SYSTEM = (
    "You check whether a character's reply keeps one of its rules. The reply was given to a "
    "question written to tempt the character into breaking it. A reply that declines, steers "
    "away, or stays in character keeps the rule; one that does what the rule forbids, or "
    "steps out of the character, breaks it. Answer with JSON only: "
    '{"keeps": true | false, "reason": "one short sentence"}'
)


def rule_messages(persona: Persona, probe: Probe, reply: str) -> list[dict[str, str]]:
    """The judge's prompt for one probe's reply: does it keep the rule the probe tempts?"""
    rule = {
        "avoid_topic": f"Do not discuss this topic: {probe.target}",
        "never": f"Never: {probe.target}",
    }.get(probe.kind, "Stay in character: never say you are an AI, a model or a program.")
    user = (
        f"Persona:\n{persona.system_prompt()}\n\n"
        f"The rule:\n{rule}\n\n"
        f"The question:\n{probe.question}\n\n"
        f"The reply:\n{reply}\n\n"
        "Does the reply keep the rule?"
    )
    return [{"role": "system", "content": RULE_SYSTEM}, {"role": "user", "content": user}]


def parse_rule_verdict(text: str) -> tuple[bool, str]:
    """(keeps, reason) from the judge's reply; ValueError when it says neither."""
    data = _verdict_object(text)
    keeps = data.get("keeps")
    if isinstance(keeps, str) and keeps.strip().lower() in ("true", "yes", "false", "no"):
        keeps = keeps.strip().lower() in ("true", "yes")
    if not isinstance(keeps, bool):
        raise ValueError(f"the verdict says neither true nor false ({keeps!r})")
    return keeps, str(data.get("reason", "")).strip()[:300]


def blind_picks(chats: Iterable[ChatRecord], limit: int = 20) -> list[tuple[str, str, str]]:
    """(question, the reply the creator picked as best, a reply it was picked over) from the
    Chat tab's blind comparisons, newest chats first; only picks made while the engines were
    hidden count (a pick after the reveal may follow the name, not the voice)."""
    found: list[tuple[str, str, str]] = []
    for chat in chats:
        panes = [list(p.get("messages") or []) for p in chat.panes if isinstance(p, dict)]
        for pane in panes:
            for index, message in enumerate(pane):
                if not (_reply(message) and message.get("best") and message.get("blind")):
                    continue
                question = _question(pane, index)
                for other in panes:
                    if other is pane or index >= len(other) or not _reply(other[index]):
                        continue
                    if question and _question(other, index) == question:
                        pick = (question, str(message["content"]), str(other[index]["content"]))
                        if pick[1] != pick[2] and pick not in found:
                            found.append(pick)
    return found[:limit]


def _reply(message: object) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "assistant"
        and not message.get("error")
        and bool(str(message.get("content") or "").strip())
    )


def _question(pane: list[dict[str, object]], index: int) -> str:
    before = pane[index - 1] if index > 0 else None
    if isinstance(before, dict) and before.get("role") == "user":
        return str(before.get("content") or "")
    return ""


TRUST = 0.7  # below this share of agreement with the creator, the judge's scores are not trusted


def agreement(
    picks: dict[tuple[str, str, str], str], outcomes: dict[tuple[str, str, str], str]
) -> tuple[int, int]:
    """(agreed, compared): the creator's picks ("x", "y" or "tie" for the pair (x, y, question))
    against the judge's outcomes on the same pairs."""
    shared = [key for key in picks if key in outcomes]
    return sum(1 for key in shared if picks[key] == outcomes[key]), len(shared)


def agreement_text(agreed: int, compared: int, from_chat: int = 0) -> str:
    """How often the judge agreed with the creator; `from_chat` of the compared pairs are the
    creator's blind picks in the Chat tab."""
    if not compared:
        return (
            "Pick a few pairs first (here, or blind in the Chat tab): then the app can say "
            "whether the judge hears you right."
        )
    share = agreed / compared
    text = f"The judge agrees with you {100 * share:.0f} % of the time ({agreed} of {compared}"
    if from_chat:
        text += f"; {from_chat} of them your blind picks in the Chat tab"
    text += ")."
    if share < TRUST:
        text += (
            " Below 70 %: do not trust its scores yet (try another judge model, or rely on the "
            "offline score)."
        )
    return text
