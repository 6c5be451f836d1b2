"""A voice check's report, as the creator keeps or shares it: Markdown with a bar chart in
text, one self-contained web page, or the run's JSON; and how two runs compare, question by
question."""

from __future__ import annotations

import json
from typing import Any

BAR = 30  # characters for 100 %
_MARKDOWN_SPECIAL = "\\`*_[]#!<>|~"  # no "[…](…)" link or image can form without "[" and "]"


def _md(text: str) -> str:
    """Untrusted text (a model's reply, a question) as plain Markdown: no image or link a viewer
    would fetch or follow, no HTML, no heading or table cell it could open; lines kept."""
    text = text.replace("&", "&amp;")
    for char in _MARKDOWN_SPECIAL:
        text = text.replace(char, "\\" + char)
    return "  \n".join(text.splitlines())


def questions_kind(run: dict[str, Any], hint: str = "", *, short: bool = False) -> str:
    """What a check's questions were to the models checked, in a few words, from its summary
    (`CheckResult.summary`, or a kept run read by `read_kept_check`); `hint`: where the share
    kept aside is set, for a check that asked trained questions for want of any; `short`: as
    a report's heading says it."""
    if run.get("never_trained"):
        unrecorded = names_in(run.get("unrecorded"))
        if unrecorded:  # (a model trained before the app kept what each job trained on)
            return (
                f"kept aside now; what {', '.join(unrecorded)} trained on was not recorded, "
                "so it may have seen some"
            )
        return "never trained" if short else "kept aside, never trained"
    trained_by = names_in(run.get("trained_by"))
    if trained_by:
        return (
            f"trained on: {', '.join(trained_by)} trained before they were kept aside; "
            "a new fine-tune leaves them out"
        )
    return "trained on" if short else f"trained on: too few are kept aside{hint}"


def names_in(value: object) -> list[str]:
    """Model names from a summary's list (a kept one may come from anywhere: texts only)."""
    return [m for m in value if type(m) is str] if isinstance(value, list) else []


def judge_line(run: dict[str, Any]) -> str:
    """Which model judged, and how often it agreed with the creator ("" without a judge)."""
    from persona_studio.core.judge import agreement_text

    judge = str(run.get("judge") or "")
    if not judge:
        return ""
    agreed = run.get("judge_agreement")
    if not agreed:
        return f"Judge: {judge} (not yet compared with your own picks)."
    text = agreement_text(
        int(agreed[0]), int(agreed[1]), int(run.get("judge_agreement_from_chat") or 0)
    )
    return f"Judge: {judge}. {text}"


def markdown(run: dict[str, Any], title: str = "Does it sound like me?") -> str:
    """The scoreboard, a bar per engine, then every question with each engine's answer."""
    kind = _md(questions_kind(run, short=True))
    lines = [
        f"# {title}",
        "",
        f"{_md(str(run.get('questions', 0)))} questions ({kind}), checked "
        f"{_md(str(run.get('when', ''))[:16])}.",
        "",
        *([_md(judge_line(run)), ""] if judge_line(run) else []),
        "| Engine | Sounds like you | Matches old model | Keeps the rules | Judge: wins |",
        "|---|---|---|---|---|",
    ]
    for row in run.get("candidates", []):
        rules = row.get("keeps_rules")
        lines.append(
            f"| {_md(str(row['candidate']))} | {row['sounds_like_you']:.0f} % ± "
            f"{row['margin']:.0f} | "
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
                     f"{str(row['candidate']).replace('`', chr(39))}")  # fmt: skip
    lines += ["```", ""]
    references: dict[str, str] = run.get("references", {})
    answers: dict[str, dict[str, str]] = run.get("answers", {})
    scores: dict[str, dict[str, float]] = run.get("per_question", {})
    for question, reference in references.items():
        lines += [f"## {_md(question)}", "", f"**You:** {_md(reference)}", ""]
        for label, given in answers.items():
            if question in given:
                points = scores.get(label, {}).get(question)
                mark = f" ({points:.0f} %)" if points is not None else ""
                lines += [f"**{_md(label)}**{mark}: {_md(given[question])}", ""]
    return "\n".join(lines).rstrip() + "\n"


def report_text(run: dict[str, Any], suffix: str) -> str:
    """The report in the format its file name asks for (.json, .html; else Markdown)."""
    suffix = suffix.lower()
    if suffix == ".json":
        return as_json(run)
    if suffix in (".html", ".htm"):
        return html(run)
    return markdown(run)


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


def html(run: dict[str, Any], title: str = "Does it sound like me?") -> str:
    """The same report as one self-contained HTML page: bars drawn with CSS, every text escaped
    (model replies are untrusted), nothing loaded from anywhere."""
    from html import escape

    kind = escape(questions_kind(run, short=True))
    rows = []
    for row in run.get("candidates", []):
        width = max(0.0, min(100.0, float(row["sounds_like_you"])))
        rules = row.get("keeps_rules")
        old = row.get("matches_old_model")
        judge = row.get("judge_win_rate")
        cells = [
            escape(str(row["candidate"])),
            f"<div class='bar'><span style='width:{width:.0f}%'></span></div>"
            f"{row['sounds_like_you']:.0f} % ± {row['margin']:.0f}",
            f"{old:.0f} %" if old is not None else "",
            f"{rules[0]} of {rules[1]}" if rules else "",
            f"{judge:.0f} %" if judge is not None else "",
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    sections = []
    answers: dict[str, dict[str, str]] = run.get("answers", {})
    for question, reference in run.get("references", {}).items():
        replies = "".join(
            f"<p><b>{escape(label)}</b>: {escape(given[question])}</p>"
            for label, given in answers.items()
            if question in given
        )
        sections.append(
            f"<h2>{escape(question)}</h2><p><b>You</b>: {escape(reference)}</p>{replies}"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:.3em .6em;border-bottom:1px solid #ddd}"
        ".bar{display:inline-block;width:10em;height:.8em;background:#eee;margin-right:.5em}"
        ".bar span{display:block;height:100%;background:#4c8bf5}"
        f"</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(str(run.get('questions', 0)))} questions ({kind}), checked "
        f"{escape(str(run.get('when', ''))[:16])}.</p>"
        + (f"<p>{escape(judge_line(run))}</p>" if judge_line(run) else "")
        + "<table><tr><th>Engine</th><th>Sounds like you</th><th>Matches old model</th>"
        "<th>Keeps the rules</th><th>Judge: wins</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(sections)
        + "</body></html>\n"
    )
