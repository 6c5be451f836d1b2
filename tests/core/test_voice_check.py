"""The offline voice score: no model, no network, and it ranks like a reader would."""

from __future__ import annotations

import pytest

from persona_studio.core.voice_check import habits, score, similarity

RHEA = {
    "Why run slowly?": "Slow down until you can talk. Easy runs build the engine; speed later!",
    "Which shoes?": "Shoes that feel comfy the moment you put them on. Comfort beats brand!",
    "How often should I rest?": "Rest days are training days. Two a week at first, no guilt!",
}


def test_the_reference_itself_scores_full_marks() -> None:
    result = score(RHEA, RHEA)
    assert result.mean == pytest.approx(100) and result.questions == 3
    assert result.margin == pytest.approx(0)


def test_her_voice_beats_a_generic_one_and_unrelated_text() -> None:
    close = {
        "Why run slowly?": "Slow down until you can chat. Easy runs build an engine; speed later!",
        "Which shoes?": "Shoes that feel comfy when you put them on. Comfort beats brand!",
        "How often should I rest?": "Rest days are training days. Take two a week, no guilt!",
    }
    generic = {
        "Why run slowly?": "Running at a lower intensity improves aerobic capacity according to "
        "multiple studies conducted by exercise physiologists.",
        "Which shoes?": "Consider consulting a specialist retailer to evaluate gait and pronation "
        "characteristics prior to purchasing footwear.",
        "How often should I rest?": "Recovery frequency depends on numerous individual factors "
        "including age, training history and overall health status.",
    }
    unrelated = {q: "The quarterly invoice is attached; please remit payment." for q in RHEA}
    her, formal, other, nothing = (score(c, RHEA).mean for c in (close, generic, unrelated, {}))
    assert her > 70 and formal < 35 and other < 35 and nothing == 0
    assert score(close, RHEA).margin < 10  # three consistent answers: a tight interval


def test_habits_hear_emoji_exclamations_and_length() -> None:
    calm = habits("I think that works. Try it tomorrow.")
    loud = habits("YES!!! Do it now 🔥🔥 Let's go!")
    assert loud["exclamations"] > calm["exclamations"] and loud["emoji"] > calm["emoji"] == 0
    assert loud["capitals"] > calm["capitals"]
    assert similarity("", "anything") == 0 and similarity("text", "") == 0


def test_one_question_says_almost_nothing() -> None:
    assert score({"q": "a b"}, {"q": "a b"}).margin == 100
    assert score({}, {}).text() == "no answers"
