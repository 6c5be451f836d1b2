"""Records read as untrusted: a project file may come from anyone, or be changed by hand. A
job, run, conversation or sheet link of any shape is read without failing, what can be drawn
is drawn, and the row is left in the file as it is until the app saves that record again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.project import Project
from persona_studio.core.records import ChatRecord, JobRecord
from persona_studio.core.voice_report import as_json, compare, html, markdown

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=24,
)
JOB_KEYS = ["metrics", "events", "checkpoints", "error", "hyperparameters", "estimated_cost_usd",
            "trained_tokens", "estimated_finish", "last_event", "training_file", "chat_target",
            "user_provided_suffix", "trained_examples", "train_count",
            "validation_count"]  # fmt: skip


def _with_rows(fields: st.SearchStrategy, keys: list[str]) -> st.SearchStrategy:
    """Objects with some of `keys`, each any JSON value, or rows of them in a list."""
    row = st.fixed_dictionaries({}, optional={key: json_values for key in keys})
    return st.one_of(json_values, row, st.lists(row | json_values, max_size=3)) if fields else row


@settings(max_examples=300, deadline=None)
@given(data=st.fixed_dictionaries({}, optional={
    key: json_values | st.lists(st.fixed_dictionaries({}, optional={
        "step": json_values, "total_steps": json_values, "train_loss": json_values,
        "message": json_values, "model": json_values}), max_size=3)
    for key in JOB_KEYS}))  # fmt: skip
def test_a_job_of_any_shape_reads_and_draws(data) -> None:
    record = JobRecord.from_row(
        {"id": "j", "profile": "p", "base_model": "m", "status": "running", "data": data}
    )
    # what the Train tab and the poller read of it
    assert record.final_train_loss is None or isinstance(record.final_train_loss, (int, float))
    assert record.progress is None or 0 <= record.progress <= 1 or record.progress > 1
    assert all(isinstance(m["step"], (int, float)) for m in record.metrics)
    assert all(isinstance(e.get("message", ""), str) for e in record.events)
    assert all(isinstance(c["model"], str) for c in record.checkpoints)
    assert record.error is None or all(
        not isinstance(v, (list, dict)) for v in record.error.values()
    )
    for text in (record.training_file, record.suffix, record.trained, record.last_event):
        assert text is None or isinstance(text, str)
    for count in (record.train_count, record.validation_count, record.trained_tokens):
        assert count is None or type(count) is int
    json.dumps(record.data())  # and it can be written back


@settings(max_examples=300, deadline=None)
@given(panes=json_values | st.lists(st.fixed_dictionaries({}, optional={
    "engine": json_values, "mode": json_values, "model": json_values,
    "messages": json_values | st.lists(st.fixed_dictionaries({}, optional={
        k: json_values for k in ("role", "content", "error", "rating", "best", "meta")
    }) | st.fixed_dictionaries({"role": st.just("assistant"), "content": st.text(max_size=5)},
                               optional={"meta": st.fixed_dictionaries({}, optional={
        k: json_values for k in ("model", "latency", "usage", "rules", "matched", "confidence")
    })}), max_size=3)}), max_size=3))  # fmt: skip
def test_a_conversation_of_any_shape_reads_as_panes_can_draw_it(panes) -> None:
    record = ChatRecord.from_row({"id": "c", "title": "t", "data": {"panes": panes}})
    for pane in record.panes:
        assert isinstance(pane["model"], str)
        for message in pane["messages"]:
            assert isinstance(message["role"], str) and isinstance(message["content"], str)
            assert isinstance(message.get("error", ""), str)
            meta = message.get("meta", {})
            assert isinstance(meta, dict)
            if meta.get("latency") is not None:
                f"{meta['latency']:.1f}"
            if meta.get("usage"):
                f"{meta['usage']['prompt']}+{meta['usage']['completion']}"
            if meta.get("matched"):
                meta["matched"][0][:60]
            for rule in meta.get("rules") or []:
                assert isinstance(rule, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({}, optional={
    key: json_values for key in ("questions", "when", "never_trained", "trained_by", "judge",
                                 "judge_agreement", "judge_agreement_from_chat", "references",
                                 "answers", "per_question", "unrecorded")
} | {"candidates": json_values | st.lists(st.fixed_dictionaries({}, optional={
    k: json_values
    for k in ("candidate", "sounds_like_you", "margin", "matches_old_model", "failed",
              "keeps_rules", "judge_win_rate")}), max_size=3)}))  # fmt: skip
def test_a_kept_check_of_any_shape_makes_its_reports(data) -> None:
    from persona_studio.services.voice_check import read_kept_check

    run = read_kept_check(data)
    markdown(run), html(run), as_json(run)
    for row in run["candidates"]:
        compare(run, run, row["candidate"], row["candidate"])
        f"{row['sounds_like_you']:.0f}"


def _damaged_project(tmp_path: Path) -> Path:
    """The demo, with a record of every kind in a shape no version writes."""
    path = ensure_demo_project(tmp_path)
    db = sqlite3.connect(path)
    for run in (
        (
            "g",
            "generate",
            {
                "candidates": [
                    7,
                    {"question": 1},
                    {"id": "x"},
                    {"question": "Kept?", "answer": "Yes.", "source": "persona", "kind": "qa"},
                ]
            },
        ),
        ("g2", "generate", {"candidates": "all of them"}),
        ("c", "check", {"candidates": "x", "when": 3, "questions": "<i>"}),
        ("voice:m", "voice", {"model": "m", "answers": 7}),
        ("voice:n", "voice", {"model": "n", "answers": [{"question": "Q?", "answer": "A."}, 3]}),
        ("a", "check-answers", {"identity": "x", "answers": ["not", "a", "map"]}),
        ("p", "pipeline", {"options": 7, "steps": "none"}),
        ("nested", "generate", None),
    ):
        text = "[" * 100_000 if run[2] is None else json.dumps(run[2])
        db.execute("INSERT INTO runs VALUES (?, ?, 'done', ?, '2026', '2026')", (*run[:2], text))
    db.execute(
        "INSERT INTO jobs VALUES ('j', 'env', 'm', 'succeeded', 'ft:x', ?, '2026', '2026')",
        (json.dumps({"metrics": 7, "events": "x", "checkpoints": [1], "chat_target": 3}),),
    )
    db.execute("INSERT INTO jobs VALUES ('k', 'env', 'm', 'failed', NULL, 'not json', '1', '1')")
    db.execute("INSERT INTO chats VALUES ('c', 't', ?, '2026', '2026')",
               (json.dumps({"panes": [{"messages": 7, "model": 3}, 5]}),))  # fmt: skip
    db.execute("""UPDATE rules SET trigger = '{"kind": "keywords", "words": 7}' WHERE rowid = 1""")
    db.execute("""UPDATE rules SET action = '{"kind": "route", "model": [1]}' WHERE rowid = 2""")
    db.execute("UPDATE persona SET value = '{oops' WHERE key = 'description'")
    db.execute("INSERT OR REPLACE INTO sync_state VALUES ('sheet', '7')")
    db.execute("INSERT OR REPLACE INTO sync_state VALUES ('synced_at', '{not json')")
    db.commit()
    db.close()
    return path


def test_damaged_records_read_as_what_can_be_read(tmp_path: Path) -> None:
    from persona_studio.services.pipeline import latest_run
    from persona_studio.services.review_queue import ReviewQueue
    from persona_studio.services.voice import kept_voice, kept_voices
    from persona_studio.services.voice_check import _cached, earlier_runs

    path = _damaged_project(tmp_path)
    before = _rows(path)
    with Project.open(path) as project:
        assert [c.question for c in ReviewQueue(project).pending()] == ["Kept?"]
        (check,) = earlier_runs(project)
        assert check["candidates"] == [] and check["when"] == "" and check["questions"] == 0
        markdown(check), html(check)
        assert kept_voices(project) == {"m": 0, "n": 1} and kept_voice(project, "n") == {"Q?": "A."}
        assert _cached(project, "x") == {}
        assert latest_run(project) is None  # not offered to resume
        jobs = {job.id: job for job in project.jobs()}
        assert jobs["j"].metrics == [] and jobs["j"].events == [] and jobs["j"].checkpoints == []
        assert jobs["j"].chat_target is None and jobs["k"].metrics == []
        assert project.chats()[0].panes == [{"messages": [], "model": ""}]
        assert project.chat("c") == project.chats()[0] and project.chat("nope") is None
        assert project.chat_titles() == [("c", "t")]
        assert project.sheet_link() == {} and project.sync_value("synced_at", "") == ""
    # nothing was written back by reading
    assert _rows(path) == before


def _rows(path: Path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return [
            *db.execute("SELECT * FROM runs ORDER BY id"),
            *db.execute("SELECT * FROM jobs ORDER BY id"),
            *db.execute("SELECT * FROM chats ORDER BY id"),
        ]
    finally:
        db.close()


KINDS = ["keywords", "regex", "always", "first_message", "fixed_reply", "inject_context",
         "refuse", "route"]  # fmt: skip


def _obj(keys: tuple[str, ...]) -> st.SearchStrategy:
    """Objects with some of `keys`, of any JSON value; or of a known kind, with lists of texts
    likelier among their values."""
    anything = st.fixed_dictionaries({}, optional={k: json_values for k in keys})
    values = json_values | st.lists(st.text(max_size=5), max_size=3)
    known = st.fixed_dictionaries(
        {"kind": st.sampled_from(KINDS)}, optional={k: values for k in keys if k != "kind"}
    )
    return anything | known


@settings(max_examples=300, deadline=None)
@given(
    trigger=_obj(("kind", "words", "match", "pattern")),
    action=_obj(("kind", "text", "model", "profile")),
    extras=st.fixed_dictionaries({}, optional={k: json_values for k in ("had", "keys", "x")}),
)
def test_a_rule_of_any_shape_is_described_checked_applied_and_exported(
    trigger, action, extras
) -> None:
    from persona_studio.core.cards import card_v2, card_v3
    from persona_studio.core.persona import Persona
    from persona_studio.core.rules import Rule, evaluate, rule_errors

    rule = Rule(trigger=trigger, action=action, extras=extras)
    assert isinstance(rule.describe(), str)
    errors = rule_errors(rule)
    decision = evaluate([rule], "My knee hurts, is there a link to a plan?")
    assert decision.model is None or isinstance(decision.model, str)
    if errors:  # (a rule with a problem is skipped, never applied)
        assert decision.reply is None and not decision.context and decision.model is None
    persona = Persona(name="Rhea")
    json.dumps(card_v2(persona, [rule])), json.dumps(card_v3(persona, [rule]))


def test_a_damaged_persona_field_or_rule_reads_as_one_to_fix(tmp_path: Path) -> None:
    from persona_studio.core.rules import rule_errors

    path = ensure_demo_project(tmp_path)
    db = sqlite3.connect(path)
    db.execute("UPDATE persona SET value = '{oops' WHERE key = 'name'")
    db.execute("UPDATE rules SET trigger = 'oops' WHERE rowid = 1")
    db.execute("UPDATE rules SET action = '[1]' WHERE rowid = 2")
    db.commit()
    db.close()
    with Project.open(path) as project:
        assert project.persona().name == ""  # the field's default: the creator types it again
        first, second, *_ = project.rules()
        assert first.trigger == {} and rule_errors(first)[0] == "Unknown trigger “None”."
        assert second.action == {} and "Unknown action “None”." in rule_errors(second)
