"""Conversational rules: an ordered list of trigger → action pairs the chat applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.dataset import new_id

TRIGGER_KINDS = ("keywords", "regex", "first_message", "always")
ACTION_KINDS = ("fixed_reply", "inject_context", "refuse", "route")


@dataclass
class Rule:
    """`trigger` and `action` are plain dicts with a `kind` key, so they store as JSON as is."""

    trigger: dict[str, Any]
    action: dict[str, Any]
    name: str = ""
    enabled: bool = True
    id: str = field(default_factory=new_id)
