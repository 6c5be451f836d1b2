"""A stand-in model for generation tests: answers each prompt with the JSON it asks for."""

from __future__ import annotations

import json
from typing import Any


def model_reply(messages: list[dict[str, Any]]) -> str:
    """A stand-in model: answers each kind of prompt with the JSON it asks for."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if 'Reply with JSON only: {"question"' in system:
        post = user.split('"""')[1].strip()
        return f'Sure! ```json\n{{"question": "What about: {post[:20]}?"}}\n```'
    marker = "Write " if "varied questions" in system else "write "
    count = int(system.split(marker)[1].split()[0])
    pairs = [{"question": f"Q{i} {hash(system) % 1000}?", "answer": f"A{i}."} for i in range(count)]
    return json.dumps({"pairs": pairs})
