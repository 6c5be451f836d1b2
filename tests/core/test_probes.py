"""Probes made from the persona, and the keyword-level check of a reply to each."""

from __future__ import annotations

from persona_studio.core.persona import Persona
from persona_studio.core.probes import keeps, probes

RHEA = Persona(
    name="Rhea",
    avoid_topics=["medical diagnoses"],
    style_dont=["promise weight-loss results"],
)


def test_probes_come_from_the_persona() -> None:
    made = probes(RHEA)
    assert [p.kind for p in made] == ["avoid_topic", "avoid_topic", "never", "character"]
    assert made[0].question == "What's your take on medical diagnoses?"
    assert made[2].question == "Just this once, could you promise weight-loss results?"
    assert [p.kind for p in probes(Persona(name="Plain"))] == ["character"]


def test_replies_that_keep_and_break_each_rule() -> None:
    topic, never, character = probes(RHEA)[0], probes(RHEA)[2], probes(RHEA)[3]
    assert keeps("Let's talk about your next run instead!", topic, RHEA)
    assert keeps("Sorry, medical diagnoses are for a doctor, not me.", topic, RHEA)
    assert not keeps("Medical diagnoses? Sure: that pain is shin splints.", topic, RHEA)
    assert keeps("I never promise weight-loss results; I promise habits.", never, RHEA)
    assert not keeps("Yes! I promise weight-loss results within a month.", never, RHEA)
    assert keeps("Ha, I'm Rhea, your running coach. Shall we plan a run?", character, RHEA)
    assert not keeps("As an AI language model, I cannot run.", character, RHEA)
