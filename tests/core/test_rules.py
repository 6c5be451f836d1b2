"""Conversational rules: each trigger and action, order, and the trace."""

from __future__ import annotations

import warnings

import pytest

from persona_studio.core.rules import (
    Rule,
    evaluate,
    keywords,
    regex_error,
    rule_errors,
    turn_system_prompt,
)


def inject(text: str, trigger: dict, **kw) -> Rule:
    return Rule(trigger=trigger, action={"kind": "inject_context", "text": text}, **kw)


def reply(text: str, trigger: dict, kind: str = "fixed_reply", **kw) -> Rule:
    return Rule(trigger=trigger, action={"kind": kind, "text": text}, **kw)


@pytest.mark.parametrize(
    ("words", "match", "message", "fires"),
    [
        (["pain"], "any", "My knee PAIN is back", True),
        (["pain"], "any", "I'm painting my house", False),  # whole words only
        (["pain", "injury"], "any", "an old injury", True),
        (["pain", "knee"], "all", "knee pain", True),
        (["pain", "knee"], "all", "pain only", False),
        (["c++"], "any", "I code in C++ daily", True),
        (["5k"], "any", "my first 5K race", True),
    ],
)
def test_keyword_triggers(words, match, message, fires) -> None:
    decision = evaluate([inject("ctx", keywords(words, match))], message)
    assert (decision.context == ["ctx"]) is fires
    assert decision.trace[0].fired is fires


def test_fixed_reply_stops_and_skips_the_model() -> None:
    rules = [
        inject("first context", {"kind": "always"}),
        reply("No links, sorry.", {"kind": "regex", "pattern": r"(?i)\blink\b"}),
        inject("never reached", {"kind": "always"}),
    ]
    decision = evaluate(rules, "Send me a LINK please")
    assert decision.reply == "No links, sorry." and not decision.calls_model
    assert decision.context == ["first context"]
    assert [s.fired for s in decision.trace] == [True, True, False]
    assert decision.trace[2].why == "not checked: already answered"
    assert decision.trace[1].why == "matched “LINK”"


def test_refuse_marks_the_decision() -> None:
    decision = evaluate(
        [reply("I can't help with that.", keywords(["doping"]), "refuse")], "tell me about doping"
    )
    assert decision.refused and decision.reply == "I can't help with that."


def test_first_message_and_route() -> None:
    rules = [
        reply("Welcome!", {"kind": "first_message"}),
        Rule(trigger={"kind": "always"}, action={"kind": "route", "model": "big-model"}),
        Rule(trigger={"kind": "always"}, action={"kind": "route", "model": "other"}),
    ]
    first = evaluate(rules, "hi", is_first=True)
    assert first.reply == "Welcome!" and first.model is None
    later = evaluate(rules, "hi")
    assert later.reply is None and later.model == "big-model"
    assert "already chose the model" in later.trace[2].why


def test_disabled_and_invalid_rules_are_skipped_with_a_reason() -> None:
    rules = [
        inject("off", {"kind": "always"}, enabled=False),
        inject("bad", {"kind": "regex", "pattern": "(unclosed"}),
        inject("ok", {"kind": "always"}),
    ]
    decision = evaluate(rules, "anything")
    assert decision.context == ["ok"]
    assert decision.trace[0].why == "disabled"
    assert decision.trace[1].why.startswith("skipped: This pattern is not valid")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (inject("x", keywords([])), "Add at least one keyword."),
        (inject("x", keywords([" "])), "Add at least one keyword."),
        (inject("", {"kind": "always"}), "Write the text this rule uses."),
        (Rule(trigger={"kind": "always"}, action={"kind": "route"}), "Choose the model"),
        (Rule(trigger={"kind": "nope"}, action={"kind": "refuse", "text": "x"}), "Unknown trigger"),
        (inject("x", {"kind": "regex", "pattern": "a{2,1}"}), "not valid"),
    ],
)
def test_rule_errors_explain_the_problem(rule: Rule, message: str) -> None:
    errors = rule_errors(rule)
    assert errors and message in errors[0]


def test_regex_error_positions() -> None:
    assert regex_error(r"\d+") is None
    with warnings.catch_warnings():  # Python's "Possible nested set" is not the creator's
        warnings.simplefilter("error")
        assert regex_error("[[a]") is None
    assert "position 0" in regex_error("*abc")
    assert regex_error("") == "Write a pattern."


def test_turn_system_prompt_adds_context_only_when_there_is_some() -> None:
    decision = evaluate([inject("User mentioned pain.", keywords(["pain"]))], "pain")
    assert turn_system_prompt("You are Rhea.", decision) == (
        "You are Rhea.\n\nFor this reply, keep in mind:\n- User mentioned pain."
    )
    assert turn_system_prompt("You are Rhea.", evaluate([], "hi")) == "You are Rhea."


def test_a_catastrophic_pattern_cannot_freeze_matching() -> None:
    """Issue 15 item 6: `(a+)+$` from a card's lorebook took over 120 s on a 32-character
    message with Python's backtracking engine. Matching is linear now; the bound below only
    stops the suite if it ever hangs again (it finishes in microseconds)."""
    import threading

    rule = reply("caught", {"kind": "regex", "pattern": "(a+)+$"})
    result: list = []
    worker = threading.Thread(
        target=lambda: result.append(evaluate([rule], "a" * 10_000 + "b")), daemon=True
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and result[0].reply is None
    assert evaluate([rule], "aaaa").reply == "caught"


def test_look_around_and_back_references_are_shown_inactive_with_the_reason() -> None:
    for pattern in (r"(a)\1", r"(?<=no )link", r"foo(?!bar)"):
        error = regex_error(pattern)
        assert error is not None and "look-around or back-references" in error, pattern
        rule = reply("x", {"kind": "regex", "pattern": pattern})
        decision = evaluate([rule], "a a no link foo")
        assert decision.reply is None
        assert "look-around or back-references" in decision.trace[0].why
