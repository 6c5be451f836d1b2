"""Exports that other tools read: the Naas Chat plugin JSON (Character Cards: cards.py)."""

from __future__ import annotations

import base64
from typing import Any

from persona_studio.core.persona import Persona

DEFAULT_CHAT_MODEL = "gpt-4.1-mini"
DEFAULT_TEMPERATURE = 0.7  # the seed used 0, which made characters terse ("Yup")
DEFAULT_MAX_TOKENS = 1024


def plugin_model(persona: Persona) -> str:
    return persona.fine_tuned_model or persona.chat_model or DEFAULT_CHAT_MODEL


def naas_plugin(
    persona: Persona,
    *,
    avatar_png: bytes | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> dict[str, Any]:
    """The Naas Chat plugin: the keys the original notebooks wrote, with the composed prompt."""
    avatar = ""
    if avatar_png:
        avatar = "data:image/png;base64," + base64.b64encode(avatar_png).decode("ascii")
    return {
        "name": persona.name,
        "model": plugin_model(persona),
        "temperature": temperature,
        "max_tokens": max_tokens,
        "prompt": persona.system_prompt(),
        "commands": [],
        "description": persona.description,
        "avatar": avatar,
        "prompt_type": "system",
    }
