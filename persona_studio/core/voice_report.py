"""A voice check's report, as the creator keeps or shares it: Markdown with a bar chart in
text, or the run's JSON; and how two runs compare, question by question."""

from __future__ import annotations

import json
from typing import Any

BAR = 30  # characters for 100 %


def markdown(run: dict[str, Any], title: str = "Does it sound like me?") -> str:
    """The scoreboard, a bar per engine, then every question with each engine's answer."""
    kind = "never trained" if run.get("never_trained") else "trained on"
    lines = [
        f"# {title}",
        "",
        f"{run.get('questions', 0)} questions ({kind}), checked {run.get('when', '')[:16]}.",
        "",
        "| Engine | Sounds like you | Matches old model | Keeps the rules | Judge: wins |",
        "|---|---|---|---|---|",
    ]
    for row in run.get("candidates", []):
        rules = row.get("keeps_rules")
        lines.append(
            f"| {row['candidate']} | {row['sounds_like_you']:.0f} % ± {row['margin']:.0f} | "
            + (
                f"{row['matches_old_model']:.0f} %"
                if row.get("matches_old_model") is not None
                else ""
            )
            + " | "
            + (f"{rules[0]} of {rules[1]}" if rules else "")
            + " | "
            + (f"{row['judge_win_rate']:.0f} %" if row.get("judge_win_rate") is not None else "")
            + " |"
        )
    lines += ["", "```"]
    for row in run.get("candidates", []):
        filled = round(BAR * row["sounds_like_you"] / 100)
        lines.append(f"{'█' * filled}{'·' * (BAR - filled)} {row['sounds_like_you']:5.1f} %  "
                     f"{row['candidate']}")  # fmt: skip
    lines += ["```", ""]
    references: dict[str, str] = run.get("references", {})
    answers: dict[str, dict[str, str]] = run.get("answers", {})
    scores: dict[str, dict[str, float]] = run.get("per_question", {})
    for question, reference in references.items():
        lines += [f"## {question}", "", f"**You:** {reference}", ""]
        for label, given in answers.items():
            if question in given:
                points = scores.get(label, {}).get(question)
                mark = f" ({points:.0f} %)" if points is not None else ""
                lines += [f"**{label}**{mark}: {given[question]}", ""]
    return "\n".join(lines).rstrip() + "\n"


def as_json(run: dict[str, Any]) -> str:
    return json.dumps(run, ensure_ascii=False, indent=2) + "\n"


def compare(newer: dict[str, Any], older: dict[str, Any], label: str, old_label: str) -> str:
    """ "X scores higher than Y on N of M questions both answered" (two runs, one engine each)."""
    new_scores = newer.get("per_question", {}).get(label, {})
    old_scores = older.get("per_question", {}).get(old_label, {})
    shared = [q for q in new_scores if q in old_scores]
    if not shared:
        return "The two checks share no question: compare them on the scoreboards."
    better = sum(1 for q in shared if new_scores[q] > old_scores[q])
    worse = sum(1 for q in shared if new_scores[q] < old_scores[q])
    return (
        f"{label} scores higher than {old_label} did on {better} of {len(shared)} questions "
        f"(lower on {worse})."
    )
