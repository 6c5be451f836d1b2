"""The voice check's report and the comparison of two runs."""

from __future__ import annotations

import json

from persona_studio.core.voice_report import as_json, compare, markdown

RUN = {
    "questions": 2,
    "never_trained": True,
    "when": "2026-12-02T20:00:00",
    "candidates": [
        {
            "candidate": "Your fine-tuned model (v3)",
            "sounds_like_you": 80.0,
            "margin": 6.0,
            "matches_old_model": 70.0,
            "keeps_rules": [4, 4],
            "judge_win_rate": 75.0,
        },
        {
            "candidate": "Offline engine",
            "sounds_like_you": 30.0,
            "margin": 2.0,
            "matches_old_model": None,
            "keeps_rules": [3, 4],
            "judge_win_rate": None,
        },
    ],
    "references": {"Why slow?": "Easy runs build the engine.", "Shoes?": "Comfort first."},
    "answers": {
        "Your fine-tuned model (v3)": {"Why slow?": "Easy runs build it.", "Shoes?": "Comfy."}
    },
    "per_question": {"Your fine-tuned model (v3)": {"Why slow?": 85.0, "Shoes?": 75.0}},
}


def test_the_markdown_report_has_the_board_the_bars_and_every_answer() -> None:
    text = markdown(RUN)
    assert text.startswith("# Does it sound like me?\n\n2 questions (never trained)")
    assert "| Your fine-tuned model (v3) | 80 % ± 6 | 70 % | 4 of 4 | 75 % |" in text
    assert "█" * 24 + "·" * 6 + "  80.0 %  Your fine-tuned model (v3)" in text
    assert "## Why slow?\n\n**You:** Easy runs build the engine." in text
    assert "**Your fine-tuned model (v3)** (85 %): Easy runs build it." in text
    assert json.loads(as_json(RUN)) == RUN


def test_two_runs_compare_question_by_question() -> None:
    older = {"per_question": {"Your fine-tuned model (v2)": {"Why slow?": 60.0, "Shoes?": 90.0}}}
    line = compare(RUN, older, "Your fine-tuned model (v3)", "Your fine-tuned model (v2)")
    assert line == (
        "Your fine-tuned model (v3) scores higher than Your fine-tuned model (v2) did on 1 of 2 "
        "questions (lower on 1)."
    )
    assert "share no question" in compare(RUN, {}, "Your fine-tuned model (v3)", "x")


def test_the_web_page_escapes_every_reply_and_loads_nothing() -> None:
    from persona_studio.core.voice_report import html, report_text

    hostile = {**RUN, "answers": {"Your fine-tuned model (v3)": {
        "Why slow?": "<script>alert(1)</script><img src=https://evil.example/x.png>"}}}  # fmt: skip
    page = html(hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "&lt;img src=https://evil.example/x.png&gt;" in page
    assert "default-src 'none'" in page  # nothing is fetched even if something slipped through
    assert "width:80%" in page and "80 % ± 6" in page
    assert report_text(RUN, ".HTML") == html(RUN)
    # a kept run's fields are texts from the project file, whoever wrote it
    odd = {**RUN, "never_trained": False, "trained_by": ["<u>ft:x</u>", 7], "questions": "<i>"}
    page = html(odd)
    assert "<u>" not in page and "<i>" not in page
    assert "(trained on: &lt;u&gt;ft:x&lt;/u&gt; trained before they were kept aside" in page
    assert report_text(RUN, ".json").startswith("{") and report_text(RUN, ".md").startswith("#")


def test_the_markdown_report_makes_no_link_image_or_html_of_a_reply() -> None:
    reply = "![x](https://evil.example/x.png) [click](https://evil.example) <b>hi</b>\n## Fake"
    hostile = {**RUN, "answers": {"Your fine-tuned model (v3)": {"Why slow?": reply}}}
    text = markdown(hostile)
    assert "![x](" not in text and "[click](" not in text and "<b>" not in text
    assert "\\!\\[x\\](https://evil.example/x.png)" in text and "\\<b\\>" in text
    assert "\n## Fake" not in text  # a reply cannot open a heading of its own
    named = markdown({**RUN, "never_trained": False, "trained_by": ["ft:[x](y)"]})
    assert "2 questions (trained on: ft:\\[x\\](y) trained before they were kept aside" in named
    assert "2 questions (trained on)," in markdown({**RUN, "never_trained": False})
    unknown = markdown({**RUN, "unrecorded": ["ft:old", 3]})
    assert "2 questions (kept aside now; what ft:old trained on was not recorded" in unknown
    assert "\\<i\\> questions" in markdown({**RUN, "questions": "<i>", "when": 3})


def test_the_reports_say_how_often_the_judge_agreed_with_the_creator() -> None:
    from persona_studio.core.voice_report import html

    judged = {**RUN, "judge": "judge-1", "judge_agreement": [6, 7], "judge_agreement_from_chat": 2}
    line = (
        "Judge: judge-1. The judge agrees with you 86 % of the time (6 of 7; 2 of them your "
        "blind picks in the Chat tab)."
    )
    assert line in markdown(judged) and line in html(judged)
    assert "not yet compared with your own picks" in markdown({**RUN, "judge": "judge-1"})
    assert "agrees with you" not in markdown(RUN) and "Judge: judge" not in markdown(RUN)
