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
