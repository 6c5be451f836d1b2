"""The getting-started checklist: seven steps from an idea to a published character, each
ticked by the project's real state (never by having clicked something)."""

from __future__ import annotations

from dataclasses import dataclass

from persona_studio.core.dataset import MIN_EXAMPLES
from persona_studio.core.persona import Persona
from persona_studio.core.words import counted

EXPORTED_META = "last_export"  # the project's meta key: the format and time of the last export


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    note: str  # what is done, or what to do next and where


@dataclass(frozen=True)
class ProjectState:
    persona: Persona
    examples: int
    approved: int
    chats: int
    ready: bool | None  # the last readiness check: no problem to fix; None: not checked yet
    exported: bool


def checklist(state: ProjectState) -> list[Step]:
    persona = state.persona
    described = bool(persona.name.strip() and persona.description.strip())
    trained = bool(persona.fine_tuned_model)
    return [
        Step(
            "describe",
            "Describe your character",
            described,
            f"{persona.name} has a description."
            if described
            else "Their name, who they are and how they talk, in the Persona tab.",
        ),
        Step(
            "examples",
            "Add examples of how they answer",
            state.examples > 0,
            f"{counted(state.examples, 'example')}."
            if state.examples
            else "Import a spreadsheet or LinkedIn export, link a Google Sheet, or generate some.",
        ),
        Step(
            "approve",
            "Approve the ones that sound right",
            state.approved >= MIN_EXAMPLES,
            f"{counted(state.approved, 'example')} approved"
            + (
                "."
                if state.approved >= MIN_EXAMPLES
                else f": at least {MIN_EXAMPLES} to train (50 to 100 is better). Select rows and "
                "press Approve."
            ),
        ),
        Step(
            "check",
            "Check it is ready to train",
            bool(state.ready),
            "Nothing to fix."
            if state.ready
            else "The check found something to fix: see “Ready to fine-tune?”."
            if state.ready is False
            else "The Dataset tab checks your examples as you work.",
        ),
        Step(
            "train",
            "Train a model in their voice",
            trained,
            f"Trained: {persona.fine_tuned_model}."
            if trained
            else "In the Train tab: at a training service, or on this computer with no account.",
        ),
        Step(
            "chat",
            "Talk to it and compare",
            state.chats > 0,
            f"{counted(state.chats, 'conversation')} saved."
            if state.chats
            else "In the Chat tab: up to three engines side by side, blind if you like.",
        ),
        Step(
            "publish",
            "Publish it",
            state.exported,
            "Exported."
            if state.exported
            else "File → Export: a Character Card, a Naas Chat plugin or OpenAI JSONL.",
        ),
    ]
