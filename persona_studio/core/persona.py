"""The character: its fields, and the system prompt composed from them."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from persona_studio.resources_path import resource_path

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
    post_history_instructions: str = ""
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
        """Build from stored or imported data, coercing types; unknown keys go to `extensions`."""
        defaults = cls()
        values: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        for key, value in data.items():
            if key not in defaults.__dataclass_fields__:
                unknown[key] = value
            else:
                values[key] = _coerce(key, value, getattr(defaults, key))
        persona = cls(**values)
        if unknown:
            persona.extensions = {**persona.extensions, **unknown}
        return persona

    @property
    def prompt_is_detached(self) -> bool:
        """True when the creator edited the system prompt by hand."""
        return self.system_prompt_override is not None

    def system_prompt(self) -> str:
        """The prompt training examples and chat use: the hand-written one (a card's, where
        `{{original}}` stands for the composed one), or the composed one; card macros
        (`{{char}}`, `{{user}}`, `<BOT>`, `<USER>`) are replaced, never sent to a model."""
        composed = composed_system_prompt(self)
        if self.system_prompt_override is not None:
            return expand_macros(self.system_prompt_override, self.name, original=composed)
        return expand_macros(composed, self.name)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Make imported values the shape the app expects; anything unusable becomes the default."""
    if key == "tone":
        tone = _default_tone()
        if isinstance(value, dict):
            for axis, level in value.items():
                if axis in TONE_AXES and isinstance(level, int | float):
                    tone[axis] = max(0, min(100, int(level)))
        return tone
    if key == "system_prompt_override":
        return value if isinstance(value, str) else None
    if isinstance(default, list):
        if isinstance(value, str):
            value = [value]
        return [str(item) for item in value if item is not None] if isinstance(value, list) else []
    if isinstance(default, dict):
        return dict(value) if isinstance(value, dict) else {}
    if isinstance(default, str):
        return value if isinstance(value, str) else "" if value is None else str(value)
    return value


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


TRAIT_SUGGESTIONS = (
    "analytical",
    "calm",
    "candid",
    "caring",
    "cheerful",
    "clear",
    "confident",
    "curious",
    "direct",
    "empathetic",
    "encouraging",
    "energetic",
    "friendly",
    "funny",
    "honest",
    "humble",
    "imaginative",
    "knowledgeable",
    "optimistic",
    "patient",
    "playful",
    "practical",
    "precise",
    "thoughtful",
    "trustworthy",
    "warm",
    "witty",
)


@dataclass(frozen=True)
class PersonaTemplate:
    key: str
    title: str
    summary: str
    persona: Persona


def persona_templates() -> list[PersonaTemplate]:
    """The starting points shipped in resources/templates, sorted by title."""
    templates = []
    for path in sorted(resource_path("templates").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        templates.append(
            PersonaTemplate(
                path.stem, data["title"], data["summary"], Persona.from_dict(data["persona"])
            )
        )
    return sorted(templates, key=lambda t: t.title)


# Character-card macros (the V2 spec's {{char}}/{{user}} and the older <BOT>/<USER>; in a card's
# system prompt {{original}} is the prompt the front end would have used: here, the composed one).
_MACRO = re.compile(r"\{\{\s*(char|user|original)\s*\}\}|<(BOT|USER)>", re.IGNORECASE)
USER_NAME = "User"  # who {{user}} is when no one is named (training files, the test chat)


def expand_macros(text: str, char: str, *, user: str = USER_NAME, original: str = "") -> str:
    """`text` with the card macros replaced by the character's and the user's names."""
    if "{" not in text and "<" not in text:
        return text

    def name(match: re.Match[str]) -> str:
        which = (match.group(1) or match.group(2)).lower()
        if which in ("char", "bot"):
            return char.strip() or "the character"
        return original if which == "original" else user

    return _MACRO.sub(name, text)
