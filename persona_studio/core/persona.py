"""The character: its fields, and the system prompt composed from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TONE_AXES: dict[str, tuple[str, str]] = {
    "formal_casual": ("formal", "casual"),
    "serious_playful": ("serious", "playful"),
    "concise_detailed": ("concise", "detailed"),
    "reserved_warm": ("reserved", "warm"),
}
TONE_NEUTRAL = 50


def _default_tone() -> dict[str, int]:
    return dict.fromkeys(TONE_AXES, TONE_NEUTRAL)


@dataclass
class Persona:
    """Everything that defines who the character is. Unknown keys survive in `extensions`."""

    name: str = ""
    description: str = ""
    traits: list[str] = field(default_factory=list)
    tone: dict[str, int] = field(default_factory=_default_tone)
    style_do: list[str] = field(default_factory=list)
    style_dont: list[str] = field(default_factory=list)
    background: str = ""
    avoid_topics: list[str] = field(default_factory=list)
    greeting: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    example_dialogue: str = ""
    scenario: str = ""
    creator_notes: str = ""
    creator: str = ""
    character_version: str = ""
    tags: list[str] = field(default_factory=list)
    system_prompt_override: str | None = None
    chat_model: str = ""
    fine_tuned_model: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Persona:
        """Build from stored or imported data; keys we do not know go to `extensions`."""
        known = set(cls.field_names())
        values = {k: v for k, v in data.items() if k in known}
        unknown = {k: v for k, v in data.items() if k not in known}
        persona = cls(**values)
        tone = _default_tone()
        tone.update({k: int(v) for k, v in (persona.tone or {}).items() if k in TONE_AXES})
        persona.tone = tone
        if unknown:
            persona.extensions = {**persona.extensions, **unknown}
        return persona

    @property
    def prompt_is_detached(self) -> bool:
        """True when the creator edited the system prompt by hand."""
        return self.system_prompt_override is not None

    def system_prompt(self) -> str:
        """The prompt training examples and chat use: the hand-written one, or the composed one."""
        if self.system_prompt_override is not None:
            return self.system_prompt_override
        return composed_system_prompt(self)


def _tone_phrase(axis: str, value: int) -> str | None:
    low, high = TONE_AXES[axis]
    if value <= 20:
        return f"very {low}"
    if value < 40:
        return f"rather {low}"
    if value > 80:
        return f"very {high}"
    if value > 60:
        return f"rather {high}"
    return None


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item.strip()}" for item in items if item.strip())


def composed_system_prompt(persona: Persona) -> str:
    """Compose the system prompt from the persona's fields, skipping the empty ones."""
    name = persona.name.strip() or "the character"
    parts = [f"You are {name}."]
    if persona.description.strip():
        parts.append(persona.description.strip())
    if persona.traits:
        parts.append(
            "Personality: " + ", ".join(t.strip() for t in persona.traits if t.strip()) + "."
        )
    tone = [
        p for axis, v in persona.tone.items() if axis in TONE_AXES and (p := _tone_phrase(axis, v))
    ]
    if tone:
        parts.append("Tone: " + ", ".join(tone) + ".")
    if persona.background.strip():
        parts.append("Background:\n" + persona.background.strip())
    if persona.scenario.strip():
        parts.append("Scenario:\n" + persona.scenario.strip())
    if _bullets(persona.style_do):
        parts.append("Always:\n" + _bullets(persona.style_do))
    if _bullets(persona.style_dont):
        parts.append("Never:\n" + _bullets(persona.style_dont))
    if _bullets(persona.avoid_topics):
        parts.append("Politely decline to discuss:\n" + _bullets(persona.avoid_topics))
    parts.append(f"Stay in character as {name} and answer in the language of the user's message.")
    return "\n\n".join(parts)
