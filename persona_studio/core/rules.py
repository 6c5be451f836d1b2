"""Conversational rules: an ordered list of trigger → action pairs the chat applies.

`evaluate` is a pure function: given the rules and a user message it returns what to do (reply
without calling a model, refuse, add context to this turn, route to another model) and a trace
saying, rule by rule, whether it fired and why.

Triggers: keywords (any or all, case-insensitive, whole words), regex, first message, always.
Actions: fixed_reply and refuse end the evaluation (the model is not called); inject_context
accumulates; route picks the model for this turn (the first one that fires wins).
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.dataset import new_id

TRIGGER_KINDS = ("keywords", "regex", "first_message", "always")
ACTION_KINDS = ("fixed_reply", "inject_context", "refuse", "route")
TRIGGER_LABELS = {
    "keywords": "The message contains keywords",
    "regex": "The message matches a pattern (regex)",
    "first_message": "It is the first message of the chat",
    "always": "Always",
}
ACTION_LABELS = {
    "fixed_reply": "Reply with a fixed text (no model call)",
    "inject_context": "Add context for this reply",
    "refuse": "Politely refuse",
    "route": "Answer with another model",
}
MAX_REGEX_LENGTH = 2000


@dataclass
class Rule:
    """`trigger` and `action` are plain dicts with a `kind` key, so they store as JSON as is.

    `extras` keeps what a Character Card lorebook entry had beyond what a rule expresses
    (insertion order, comments, extensions...), so the entry exports as it was imported.
    """

    trigger: dict[str, Any]
    action: dict[str, Any]
    name: str = ""
    enabled: bool = True
    id: str = field(default_factory=new_id)
    extras: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.name:
            return self.name
        kind = self.trigger.get("kind")
        if kind == "keywords":
            what = ", ".join(trigger_words(self.trigger)) or "(no keywords)"
        elif kind == "regex":
            what = f"/{self.trigger.get('pattern', '')}/"
        else:
            what = TRIGGER_LABELS.get(str(kind), str(kind)).lower()
        return f"{what} → {ACTION_LABELS.get(str(self.action.get('kind')), '?').lower()}"


def keywords(words: list[str], match: str = "any") -> dict[str, Any]:
    return {"kind": "keywords", "words": words, "match": match}


def trigger_words(trigger: dict[str, Any]) -> list[str]:
    """A keywords trigger's words (texts only: a rule may come from a card or a file)."""
    words = trigger.get("words")
    if not isinstance(words, list):
        return []
    return [w for w in words if isinstance(w, str) and w.strip()]


def rule_errors(rule: Rule) -> list[str]:
    """What stops a rule from working, in plain words; empty when the rule is valid."""
    errors: list[str] = []
    trigger, action = rule.trigger, rule.action
    kind = trigger.get("kind")
    if kind not in TRIGGER_KINDS:
        errors.append(f"Unknown trigger “{kind}”.")
    elif kind == "keywords":
        if not trigger_words(trigger):
            errors.append("Add at least one keyword.")
        if trigger.get("match", "any") not in ("any", "all"):
            errors.append("Keywords match must be “any” or “all”.")
    elif kind == "regex":
        error = regex_error(str(trigger.get("pattern", "")))
        if error:
            errors.append(error)
    action_kind = action.get("kind")
    if action_kind not in ACTION_KINDS:
        errors.append(f"Unknown action “{action_kind}”.")
    elif action_kind in ("fixed_reply", "inject_context", "refuse"):
        if not str(action.get("text", "")).strip():
            errors.append("Write the text this rule uses.")
    elif action_kind == "route" and not (action.get("model") or action.get("profile")):
        errors.append("Choose the model (or provider profile) to route to.")
    elif action_kind == "route" and not all(
        type(action.get(key, "")) is str for key in ("model", "profile")
    ):
        errors.append("The model and provider profile to route to must be names.")
    return errors


def regex_error(pattern: str) -> str | None:
    if not pattern:
        return "Write a pattern."
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"The pattern is too long (over {MAX_REGEX_LENGTH} characters)."
    try:
        with warnings.catch_warnings():  # ("Possible nested set" for a creator's `[[`: noise)
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)  # for its precise messages ("at position 3: missing )")
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        return f"This pattern is not valid{where}: {exc.msg}."
    try:
        _linear(pattern)
    except ValueError:
        return (
            "This pattern uses look-around or back-references, which can make matching take "
            "minutes on some messages; rewrite it without them (or use keywords)."
        )
    return None


@functools.lru_cache(maxsize=256)
def _linear(pattern: str) -> Any:
    """The pattern compiled by RE2: matching takes time in proportion to the message, never
    more (a card's `(a+)+$` cannot freeze the app). Raises ValueError for what RE2 refuses."""
    import re2  # imported on first use: rules load at startup, patterns are rare

    options = re2.Options()
    options.log_errors = False  # refusals are reported in plain words, not on stderr
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class TraceStep:
    rule_id: str
    label: str
    fired: bool
    why: str


@dataclass
class Decision:
    """What the chat does with one user message."""

    reply: str | None = None  # set: answer with this text, do not call a model
    refused: bool = False
    context: list[str] = field(default_factory=list)  # added to this turn's system prompt
    model: str | None = None
    profile: str | None = None
    trace: list[TraceStep] = field(default_factory=list)

    @property
    def calls_model(self) -> bool:
        return self.reply is None


def _word_pattern(word: str) -> re.Pattern[str]:
    escaped = re.escape(word.strip())
    left = r"\b" if re.match(r"\w", word.strip()) else ""
    right = r"\b" if re.search(r"\w$", word.strip()) else ""
    return re.compile(f"{left}{escaped}{right}", re.IGNORECASE)


def _trigger_fires(trigger: dict[str, Any], message: str, is_first: bool) -> tuple[bool, str]:
    kind = trigger.get("kind")
    if kind == "always":
        return True, "always fires"
    if kind == "first_message":
        return is_first, "first message" if is_first else "not the first message"
    if kind == "keywords":
        words = trigger_words(trigger)
        found = [w for w in words if _word_pattern(w).search(message)]
        if trigger.get("match", "any") == "all":
            missing = [w for w in words if w not in found]
            return (
                not missing,
                f"all keywords found ({', '.join(found)})"
                if not missing
                else f"missing {', '.join(missing)}",
            )
        return (bool(found), f"found “{found[0]}”" if found else "no keyword found")
    if kind == "regex":
        match = _linear(str(trigger.get("pattern", ""))).search(message)
        return (match is not None, f"matched “{match.group(0)}”" if match else "no match")
    return False, "unknown trigger"


def evaluate(
    rules: list[Rule], message: str, *, is_first: bool = False, char: str = ""
) -> Decision:
    """Apply the rules in order to one user message. Card macros in a reply or a context
    (`{{char}}`, `{{user}}`…) become the character's name (`char`) and the user's."""
    from persona_studio.core.persona import expand_macros

    decision = Decision()
    for rule in rules:
        label = rule.describe()
        if not rule.enabled:
            decision.trace.append(TraceStep(rule.id, label, False, "disabled"))
            continue
        errors = rule_errors(rule)
        if errors:
            decision.trace.append(TraceStep(rule.id, label, False, f"skipped: {errors[0]}"))
            continue
        if decision.reply is not None:
            decision.trace.append(TraceStep(rule.id, label, False, "not checked: already answered"))
            continue
        fired, why = _trigger_fires(rule.trigger, message, is_first)
        action = rule.action
        kind = action["kind"]
        if fired and kind == "route" and (decision.model or decision.profile):
            fired, why = False, f"{why}, but an earlier rule already chose the model"
        decision.trace.append(TraceStep(rule.id, label, fired, why))
        if not fired:
            continue
        if kind in ("fixed_reply", "refuse"):
            decision.reply = expand_macros(str(action["text"]), char)
            decision.refused = kind == "refuse"
        elif kind == "inject_context":
            decision.context.append(expand_macros(str(action["text"]), char))
        elif kind == "route":
            decision.model = action.get("model") or None
            decision.profile = action.get("profile") or None
    return decision


def turn_system_prompt(system_prompt: str, decision: Decision) -> str:
    """The system prompt for this turn: the persona's, plus any context the rules added."""
    if not decision.context:
        return system_prompt
    notes = "\n".join(f"- {text}" for text in decision.context)
    return f"{system_prompt}\n\nFor this reply, keep in mind:\n{notes}"
