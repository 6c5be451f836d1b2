"""Keep a fine-tuned model's voice before OpenAI retires it: the old model (the real `openai`
client against the fake) answers the approved questions, asked exactly as it was trained; the
answers are kept in the project as they came, and offered as draft examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from persona_studio.core.dataset import Example
from persona_studio.core.generation import (
    Task,
    estimate,
    parse_reply,
    read_source,
    tasks_for_rescue,
)
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.trainers import retirement, retirement_note
from persona_studio.core.validation import chat_price
from persona_studio.services.generate import GenerationRun
from persona_studio.services.review_queue import ReviewQueue
from persona_studio.services.voice import kept_voice, kept_voices
from tests.fakes.openai_server import FakeOpenAI

OLD = "ft:gpt-4.1-mini-2025-04-14:coach-org:rhea:AbC123"
PERSONA = Persona(name="Coach Rhea", description="A running coach for busy beginners.")


@pytest.mark.parametrize(
    ("model", "ends"),
    [
        (OLD, date(2027, 1, 14)),
        ("ft:gpt-4o-mini-2024-07-18:org::x1", date(2027, 1, 14)),
        ("ft:gpt-4o-2024-08-06:org:tag:x2", date(2027, 1, 14)),
        ("ft:gpt-3.5-turbo-0125:org::x3", None),  # not in the retired families
        ("gpt-4.1-mini-2025-04-14", None),  # a base model, not a fine-tune
        ("fake-user/Meta-Llama-3.1-8B-Instruct-Reference-rhea", None),
        ("", None),
    ],
)
def test_which_models_are_retired(model: str, ends: date | None) -> None:
    assert retirement(model) == ends


@pytest.mark.parametrize(
    ("today", "words"),
    [
        (date(2026, 12, 2), "(in 43 days)"),
        (date(2027, 1, 13), "(in 1 day)"),
        (date(2027, 1, 14), "(today)"),
        (date(2027, 1, 15), "no longer answers"),
    ],
)
def test_the_banner_counts_the_days(today: date, words: str) -> None:
    assert words in retirement_note(OLD, today)
    assert retirement_note("gpt-4.1-mini", today) == ""


def test_a_fine_tunes_price_is_about_twice_its_base() -> None:
    base = chat_price("gpt-4.1-mini")
    assert base is not None and chat_price(OLD) == (base[0] * 2, base[1] * 2)
    assert chat_price("ft:unknown-base:org::x") is None


def test_rescue_tasks_ask_each_approved_question_once() -> None:
    read = read_source(
        "rescue", PERSONA, {}, questions=["Why slow?", " Why slow? ", "Shoes?", ""], model=OLD
    )
    assert [t.text for t in read.tasks] == ["Why slow?", "Shoes?"]
    assert read.summary == "2 questions from your approved examples"
    assert read_source("rescue", PERSONA, {}, questions=["Q?"], model="").tasks == []
    cost = estimate(read.tasks, PERSONA, {}, OLD, "", chat_price(OLD))
    assert cost.calls == 2 and cost.cost is not None and cost.cost > 0
    with pytest.raises(ValueError, match="empty"):
        parse_reply(Task("rescue", "rescue", text="Q?"), "   ")


def test_rescue_reads_the_questions_only_until_it_has_enough() -> None:
    """A large project's questions are read from each example as they are asked for: 100,000
    of them stalled the Generate dialog's opening ~95 ms, for the 5,000 a rescue asks at most."""
    read: list[str] = []

    def questions() -> Iterator[str]:
        for question in ["A?", " A? ", "", "B?", "C?", "D?"]:
            read.append(question)
            yield question

    assert [t.text for t in tasks_for_rescue(questions(), OLD, 2)] == ["A?", "B?"]
    assert read == ["A?", " A? ", "", "B?"]
    assert tasks_for_rescue(questions(), OLD, 0) == []
    assert [t.text for t in tasks_for_rescue(iter(["A?", "B?"]), OLD, None)] == ["A?", "B?"]


async def test_the_old_model_answers_and_its_voice_is_kept(tmp_path: Path) -> None:
    questions = ["Why run slowly?", "Which shoes should I buy?", "How often should I rest?"]
    examples = [Example.from_qa(q, f"Rhea's answer {i}", status="approved")
                for i, q in enumerate(questions)]  # fmt: skip
    with FakeOpenAI(api_key="sk-old", models=(OLD,)) as server:
        server.reply_for = lambda messages: f"Old voice: {messages[-1]['content']}"
        with Project.create(tmp_path / "r.persona", PERSONA) as project:
            project.add_examples(examples)
            tasks = read_source("rescue", PERSONA, {}, questions=questions, model=OLD).tasks
            run = GenerationRun(
                ReviewQueue(project),
                lambda: _client(server),
                source="rescue",
                profile="openai",
                model=OLD,
                persona=project.persona(),
                prompts={},
                existing=project.examples(),
                concurrency=2,
            )
            progress = await run.execute(tasks)
            assert progress.candidates == 3 and progress.failed == 0
            # asked exactly as trained: the persona's system prompt, then the question alone
            sent = [json.loads(r.body) for r in server.requests if r.path.endswith("/completions")]
            assert {s["model"] for s in sent} == {OLD}
            assert all(s["messages"][0] == {"role": "system",
                       "content": project.persona().system_prompt()} for s in sent)  # fmt: skip
            assert sorted(s["messages"][1]["content"] for s in sent) == sorted(questions)
            # the questions repeat the dataset's on purpose: none is flagged a duplicate
            assert not any(c.duplicate_of for c in run.candidates)
            kept = kept_voice(project, OLD)
            assert kept == {q: f"Old voice: {q}" for q in questions}
            assert kept_voices(project) == {OLD: 3}
            # the creator edits one while accepting: the kept voice stays as the model said it
            first = run.candidates[0]
            added = run.queue.decide([first.id], "accepted", {first.id: ("Edited?", "Edited.")})
            project.add_examples(added)
            assert added[0].status == "draft" and added[0].source == f"rescue:{OLD}"
            assert kept_voice(project, OLD) == kept
        with Project.open(tmp_path / "r.persona") as reopened:
            assert kept_voice(reopened, OLD) == kept  # saved in the file


async def _client(server: FakeOpenAI):
    return server.client()
