"""A model's voice kept in the project: its answers to the creator's questions, asked before
the model goes away (OpenAI retires the gpt-4o and gpt-4.1 fine-tunes on 14 January 2027).

One record per model (kind "voice", id "voice:MODEL"), the answers as they came — never edited,
whatever the creator does with the draft examples made from them — so a new model can be
compared with the old one later. Written by `GenerationRun` as a rescue run's answers arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import now_iso

if TYPE_CHECKING:
    from persona_studio.core.project import Project

VOICE_KIND = "voice"


def keep_voice(
    project: Project, model: str, profile: str, answers: Iterable[tuple[str, str]]
) -> None:
    """Add these answers (question, answer) to the model's kept voice (a question asked again
    keeps the newest)."""
    run_id = f"{VOICE_KIND}:{model}"
    kept = kept_voice(project, model)
    kept.update(answers)
    data: dict[str, Any] = {
        "model": model,
        "profile": profile,
        "updated": now_iso(),
        "answers": [{"question": q, "answer": a} for q, a in kept.items()],
    }
    project.save_run(run_id, VOICE_KIND, "kept", data)


def kept_voice(project: Project, model: str) -> dict[str, str]:
    """The model's kept answers, question → answer ({} when none were kept; a row that is not
    a question and its answer is left out: the record may come from anywhere)."""
    from persona_studio.core.records import dict_rows

    for record in project.runs(VOICE_KIND):
        if record.data.get("model") == model:
            return {
                row["question"]: row["answer"]
                for row in dict_rows(record.data.get("answers"))
                if type(row.get("question")) is str and type(row.get("answer")) is str
            }
    return {}


def kept_voices(project: Project) -> dict[str, int]:
    """Every model whose voice is kept, with how many answers."""
    from persona_studio.core.records import dict_rows

    return {
        r.data["model"]: len(dict_rows(r.data.get("answers")))
        for r in project.runs(VOICE_KIND)
        if type(r.data.get("model")) is str and r.data["model"]
    }
