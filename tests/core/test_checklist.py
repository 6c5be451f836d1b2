"""The getting-started steps tick from the project's state alone."""

from __future__ import annotations

from dataclasses import replace

from persona_studio.core.checklist import ProjectState, checklist
from persona_studio.core.persona import Persona

EMPTY = ProjectState(Persona(name="Ada"), 0, 0, 0, None, False)


def _done(state: ProjectState) -> list[str]:
    return [step.key for step in checklist(state) if step.done]


def test_a_new_character_has_everything_to_do_and_says_where() -> None:
    steps = checklist(EMPTY)
    assert [s.key for s in steps] == [
        "describe", "examples", "approve", "check", "train", "chat", "publish",
    ]  # fmt: skip
    assert _done(EMPTY) == []
    assert "Persona tab" in steps[0].note and "Import" in steps[1].note
    assert "at least 10 to train" in steps[2].note


def test_each_step_ticks_from_its_own_state() -> None:
    described = replace(EMPTY, persona=Persona(name="Ada", description="A coach."))
    assert _done(described) == ["describe"]
    assert _done(replace(EMPTY, examples=3, approved=9)) == ["examples"]
    assert _done(replace(EMPTY, examples=12, approved=10)) == ["examples", "approve"]
    assert _done(replace(EMPTY, ready=True)) == ["check"]
    assert "something to fix" in checklist(replace(EMPTY, ready=False))[3].note
    trained = replace(EMPTY, persona=Persona(name="Ada", fine_tuned_model="ft:x"))
    assert _done(trained) == ["train"] and "ft:x" in checklist(trained)[4].note
    assert _done(replace(EMPTY, chats=1, exported=True)) == ["chat", "publish"]
    assert checklist(replace(EMPTY, examples=1))[1].note == "1 example."
