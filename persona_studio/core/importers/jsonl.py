"""JSONL conversations: OpenAI chat fine-tuning lines and ShareGPT lines, mixed freely."""

from __future__ import annotations

import json
from typing import Any

from persona_studio.core.dataset import Example
from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError, ImportResult

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "system": "system",
}


def _messages(line: Any) -> list[dict[str, Any]] | str:
    """Messages of one line, or why it cannot be used."""
    if not isinstance(line, dict):
        return "not a JSON object"
    if isinstance(line.get("messages"), list):
        raw = line["messages"]
        messages = []
        for m in raw:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
                return "a message has no role, or a role other than system/user/assistant"
            if not isinstance(m.get("content"), str):
                return "a message's content is missing or is not text"
            kept = {"role": m["role"], "content": m["content"]}
            if m["role"] == "assistant" and m.get("weight") in (0, 1):
                kept["weight"] = m["weight"]
            messages.append(kept)
        return messages
    if isinstance(line.get("conversations"), list):
        messages = []
        for turn in line["conversations"]:
            if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
                return "a ShareGPT turn has no text"
            role = SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
            if role is None:
                return f"unknown ShareGPT speaker “{str(turn.get('from'))[:20]}”"
            messages.append({"role": role, "content": turn["value"]})
        return messages
    return "no “messages” (OpenAI) or “conversations” (ShareGPT) list"


def examples_from_jsonl(
    data: bytes, source: str, *, keep_system_prompts: bool = False, default_status: str = "approved"
) -> ImportResult:
    """OpenAI chat or ShareGPT lines as examples, each with `default_status` (a fine-tuning
    file is curated data: approved unless the creator asks to review it)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError("The file is larger than 512 MB.", "Split it into parts.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text.", "Save it as UTF-8 and try again."
        ) from None
    result = ImportResult()
    dropped_prompts = 0
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            line = json.loads(raw_line)
        except json.JSONDecodeError:
            result.skipped.append((number, "not valid JSON"))
            continue
        messages = _messages(line)
        if isinstance(messages, str):
            result.skipped.append((number, messages))
            continue
        system = [m["content"] for m in messages if m["role"] == "system"]
        turns = [m for m in messages if m["role"] != "system"]
        if not any(m["role"] == "assistant" for m in turns):
            result.skipped.append((number, "no answer (assistant message)"))
            continue
        if not any(m["role"] == "user" for m in turns):
            result.skipped.append((number, "no question (user message)"))
            continue
        example = Example(messages=turns, source=source, status=default_status)
        if system and keep_system_prompts:
            example.system_prompt = system[0]
        elif system:
            dropped_prompts += 1
        result.examples.append(example)
    if dropped_prompts:
        result.notes.append(
            f"{dropped_prompts} examples had their own system prompt; the "
            "persona's prompt is used instead."
        )
    if not result.examples and not result.skipped:
        raise ImportFileError(
            "The file is empty.", "Choose a JSONL file with one example per line."
        )
    return result
