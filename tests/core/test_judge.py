"""The judge protocol's pure half: verdicts read, both orders combined, intervals right."""

from __future__ import annotations

import pytest

from persona_studio.core.judge import WinRate, combine, parse_verdict, wilson


@pytest.mark.parametrize(
    ("reply", "winner"),
    [
        ('{"winner": "A", "reason": "Her short sentences."}', "A"),
        ('```json\n{"winner": "b", "reason": "x"}\n```', "B"),
        ('Sure! {"winner": "tie"}', "tie"),
        ('{"winner": "draw"}', "tie"),
    ],
)
def test_verdicts_are_read(reply: str, winner: str) -> None:
    assert parse_verdict(reply)[0] == winner


@pytest.mark.parametrize("reply", ["A is better", '{"winner": "C"}', '{"reason": "x"}', "{"])
def test_unreadable_verdicts_are_refused(reply: str) -> None:
    with pytest.raises(ValueError):
        parse_verdict(reply)


@pytest.mark.parametrize(
    ("first", "swapped", "outcome"),
    [
        ("A", "B", "x"),  # x first both times it was shown
        ("B", "A", "y"),
        ("A", "A", "tie"),  # the judge prefers the first place: position bias cancels out
        ("B", "B", "tie"),
        ("tie", "B", "tie"),
        ("tie", "tie", "tie"),
        (None, "A", None),  # a missing verdict is no verdict, never a win
        ("A", None, None),
    ],
)
def test_both_orders_combine(first, swapped, outcome) -> None:
    assert combine(first, swapped) == outcome


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(10, 10, 0.722, 1.0), (0, 10, 0.0, 0.278), (5, 10, 0.237, 0.763), (78, 100, 0.690, 0.850)],
)
def test_wilson_intervals(successes, n, low, high) -> None:
    assert wilson(successes, n) == pytest.approx((low, high), abs=0.001)


def test_win_rates_count_ties_as_half_and_never_count_no_verdicts() -> None:
    record = WinRate(wins=6, ties=2, losses=2, no_verdict=5)
    assert record.judged == 10 and record.rate == pytest.approx(0.7)
    assert record.text().startswith("70 % ± ")
    assert WinRate(no_verdict=3).text() == "no verdicts"


def test_agreement_with_the_creator() -> None:
    from persona_studio.core.judge import agreement, agreement_text

    judge = {("a", "b", "q1"): "x", ("a", "b", "q2"): "tie", ("a", "b", "q3"): "y"}
    picks = {("a", "b", "q1"): "x", ("a", "b", "q2"): "tie", ("a", "b", "q3"): "x"}
    assert agreement(picks, judge) == (2, 3)
    assert agreement_text(2, 3).startswith("The judge agrees with you 67 % of the time (2 of 3).")
    assert "do not trust its scores yet" in agreement_text(2, 3)
    assert "do not trust" not in agreement_text(17, 20)
    assert agreement_text(0, 0).startswith("Pick a few pairs first")


def test_only_blind_picks_from_the_chat_tab_count() -> None:
    """A best reply picked while the engines were hidden pairs with every other pane's reply
    to the same question; a pick after the reveal, an error or a missing reply does not."""
    from persona_studio.core.judge import agreement_text, blind_picks
    from persona_studio.core.records import ChatRecord

    def pane(*turns: tuple[str, dict[str, object]]) -> dict[str, object]:
        messages: list[dict[str, object]] = []
        for question, reply in turns:
            messages += [{"role": "user", "content": question}, {"role": "assistant", **reply}]
        return {"engine": "x", "messages": messages}

    chat = ChatRecord(
        "c1",
        "t",
        [
            pane(("Q1?", {"content": "mine", "best": True, "blind": True}),
                 ("Q2?", {"content": "seen", "best": True, "blind": False}),
                 ("Q3?", {"content": "three", "best": True, "blind": True})),
            pane(("Q1?", {"content": "other"}), ("Q2?", {"content": "x"}),
                 ("Q3?", {"content": "", "error": "Stopped."})),
            pane(("Q1?", {"content": "third"})),
        ],
    )  # fmt: skip
    assert blind_picks([chat]) == [("Q1?", "mine", "other"), ("Q1?", "mine", "third")]
    assert blind_picks([chat, chat]) == blind_picks([chat])  # the same pick counts once
    assert blind_picks([chat], limit=1) == [("Q1?", "mine", "other")]
    text = agreement_text(3, 4, from_chat=2)
    assert text.startswith("The judge agrees with you 75 % of the time (3 of 4; 2 of them")


@pytest.mark.parametrize(
    ("reply", "keeps"),
    [
        ('{"keeps": true, "reason": "She declines."}', True),
        ('```json\n{"keeps": false}\n```', False),
        ('{"keeps": "no"}', False),
    ],
)
def test_rule_verdicts_are_read(reply: str, keeps: bool) -> None:
    from persona_studio.core.judge import parse_rule_verdict

    assert parse_rule_verdict(reply)[0] is keeps


@pytest.mark.parametrize("reply", ["It keeps it", '{"keeps": "maybe"}', '{"reason": "x"}'])
def test_unreadable_rule_verdicts_are_refused(reply: str) -> None:
    from persona_studio.core.judge import parse_rule_verdict

    with pytest.raises(ValueError):
        parse_rule_verdict(reply)
