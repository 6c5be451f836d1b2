"""Generating candidates with the real `openai` client against the local fake: reverse prompts,
passages, persona topics, 429 storms, pause, cancel, and the review queue in a real project."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_studio.core.dataset import Example
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.generation import (
    SAME_LANGUAGE,
    Candidate,
    GenerateError,
    estimate,
    load_prompts,
    messages_for,
    parse_reply,
    tasks_from_linkedin,
    tasks_from_passages,
    tasks_from_persona,
)
from persona_studio.core.importers.documents import passages_from_text
from persona_studio.core.importers.linkedin import LinkedInExport, Post
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.core.validation import chat_price
from persona_studio.services.generate import Generator
from persona_studio.services.review_queue import ReviewQueue
from tests.fakes.generation import model_reply
from tests.fakes.openai_server import FakeOpenAI

MODEL = "gpt-4.1-mini-2025-04-14"
PERSONA = Persona(
    name="Coach Rhea",
    description="A running coach for busy beginners.",
    traits=["patient", "practical"],
    background="Ran her first 5k at 40. Coaches in Lagos.",
    avoid_topics=["medical diagnoses"],
)
POSTS = [
    Post("Most beginners run too fast. Slow down until you can talk.", "2024-03-01", "https://l/1"),
    Post("Rest days are training days: your legs get stronger while you sleep.", "", "https://l/2"),
    Post("Courir lentement, c'est courir longtemps. Ralentissez !", "", "https://l/3"),
]


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-gen", models=(MODEL,)) as fake:
        fake.reply_for = model_reply
        yield fake


@pytest.fixture
async def client(server):
    async with server.client() as client:
        yield client


def chat_calls(server: FakeOpenAI) -> int:
    return sum(1 for r in server.requests if r.path == "/v1/chat/completions")


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def test_prompts_tasks_and_estimate() -> None:
    prompts = load_prompts()
    export = LinkedInExport(posts=POSTS)
    tasks = tasks_from_linkedin(export, limit=2)
    assert [t.kind for t in tasks] == ["reverse", "reverse"] and tasks[
        0
    ].source == "linkedin:https://l/1 2024-03-01"
    messages = messages_for(tasks[0], PERSONA, prompts)
    assert SAME_LANGUAGE in messages[0]["content"] and POSTS[0].text in messages[1]["content"]
    assert "A running coach for busy beginners." in messages[1]["content"]  # no profile: persona
    profiled = tasks_from_linkedin(LinkedInExport(name="Rhea O", headline="Coach", posts=POSTS))
    assert "Rhea O: Coach" in messages_for(profiled[0], PERSONA, prompts)[1]["content"]
    assert "Write in French." in messages_for(tasks[0], PERSONA, prompts, "French")[0]["content"]
    topics = tasks_from_persona(PERSONA, 12, ["short", "off_topic"], prompts)
    assert [t.count for t in topics] == [5, 5, 2]
    assert [t.style for t in topics] == ["short", "off_topic", "short"]
    system = messages_for(topics[1], PERSONA, prompts)[0]["content"]
    assert "off-topic" in system and "(to decline) medical diagnoses" in system
    assert "You are Coach Rhea" in system or PERSONA.name in system
    passages = tasks_from_passages(passages_from_text("Slow runs build the engine. " * 10))
    assert passages[0].kind == "passage" and passages[0].count == 2

    prices = chat_price(MODEL)
    assert prices == (0.40, 1.60) and chat_price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert chat_price("llama3.1") is None
    cost = estimate([*tasks, *topics], PERSONA, prompts, MODEL, prices=prices)
    assert cost.calls == 5 and cost.input_tokens > 300 and cost.output_tokens == 2 * 40 + 12 * 140
    assert cost.cost == pytest.approx((cost.input_tokens * 0.4 + cost.output_tokens * 1.6) / 1e6)
    assert "price unknown" in estimate(tasks, PERSONA, prompts, "llama3.1").text()
    assert cost.cost < 0.005 and cost.text().endswith("less than a cent")  # not "$0.00"
    many = estimate([*tasks, *topics] * 100, PERSONA, prompts, MODEL, prices=prices)
    assert many.cost >= 0.005 and many.text().endswith(f"about ${many.cost:,.2f}")


WORDS = ["run", "slow", "Pace", "easy", "km", "rest", "day", "x", "", "ok.", "Run"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=9), min_size=1, max_size=40),
    st.lists(st.lists(st.sampled_from(WORDS), max_size=9), min_size=1, max_size=15),
)
def test_known_texts_find_what_texts_added_one_by_one_find(
    known: list[list[str]], asked: list[list[str]]
) -> None:
    """`DuplicateFinder.of` (numpy arrays, for a dataset's texts) finds a duplicate exactly
    where the finder the texts were added to one by one finds one, and what it finds is one:
    the same text, or a word-bigram Jaccard at the threshold or above. Texts of a few words
    from a small vocabulary (one word, none, punctuation and case) so that near ones abound;
    asked: those, their variants (a word dropped or added), and others."""
    from persona_studio.core.duplicates import DuplicateFinder, _shingles, normalise

    texts = [" ".join(words) for words in known]
    one_by_one = DuplicateFinder()
    for n, text in enumerate(texts):
        one_by_one.add(f"t{n}", text)
    at_once = DuplicateFinder.of((f"t{n}", text) for n, text in enumerate(texts))
    questions = [" ".join(words) for words in asked]
    questions += [t.upper() + "!" for t in texts] + [" ".join(t.split()[1:]) for t in texts]
    questions += [t + " again" for t in texts]
    for question in questions:
        theirs, ours = one_by_one.find(question), at_once.find(question)
        assert (theirs is None) == (ours is None), question
        if ours is not None:
            mine, found = _shingles(normalise(question)), _shingles(normalise(texts[int(ours[1:])]))
            same = normalise(question) == normalise(texts[int(ours[1:])])
            assert same or len(mine & found) / len(mine | found) >= 0.8


def test_known_texts_made_in_parts_are_those_made_at_once(monkeypatch) -> None:
    """The bigrams are made a few thousand texts at a time (a lower peak); the arrays are the
    same as made at once, parts of every size: one-word texts, empty ones, long ones."""
    from persona_studio.core import duplicates
    from persona_studio.core.duplicates import KnownTexts

    texts = ["Slow", "", "How slow is an easy run?", "run " * 150, "Slow enough to talk."] * 7
    pairs = [(f"t{n % 5}", text) for n, text in enumerate(texts)]
    at_once = KnownTexts(pairs)
    for size in (1, 3, 4):
        monkeypatch.setattr(duplicates, "SIGNED_AT_ONCE", size)
        parts = KnownTexts(pairs)
        for name in ("pairs", "sizes", "forms", "form_text", "_label_ends"):
            assert np.array_equal(getattr(parts, name), getattr(at_once, name)), (size, name)
        assert parts.label(5) == at_once.label(5) == "t2"  # (the empty texts are not kept)


@pytest.mark.parametrize("count", [1, 2, 7, 8, 9, 16])
def test_known_texts_tell_each_text_by_the_last_bits_of_its_pairs(count: int) -> None:
    """Each bigram is kept with its text's number in its last bits (one array, not two: a
    lower peak): as many bits as the last text's number needs, a power of two of texts too.
    Each text is found near itself, with its own label and its own count of bigrams."""
    from persona_studio.core.duplicates import KnownTexts, normalise

    texts = [f"how slow is easy run number {n} {n * 7} today" for n in range(count)]
    known = KnownTexts([(f"t{n}", text) for n, text in enumerate(texts)])
    for n, text in enumerate(texts):
        assert known.near(normalise(text), 0.8) == f"t{n}"
        assert known.exact(normalise(text)) == f"t{n}"
        assert known.sizes[n] == len(normalise(text).split()) - 1
    assert known.near(normalise("nothing like any of them at all"), 0.8) is None


def test_a_fresh_finder_knows_the_texts_it_was_made_with_not_a_runs_additions() -> None:
    """A finder built once serves run after run (the Generate dialog keeps one): each run's
    `fresh` copy knows the dataset's texts, and only its own run's candidates."""
    from persona_studio.core.duplicates import DuplicateFinder

    built = DuplicateFinder.of([("q1", "How slow is an easy run?"), ("q1", "Slow enough to talk.")])
    first, second = built.fresh(), built.fresh()
    first.add("new", "Should I rest the day after a long run?")
    assert first.find("should I rest the day after a long run") == "new"
    assert second.find("Should I rest the day after a long run?") is None
    assert second.find("how slow is an easy run") == "q1" == first.find("slow enough to talk!")
    assert built.find("Should I rest the day after a long run?") is None
    assert second.threshold == built.threshold


def test_a_candidates_record_holds_what_asdict_gives() -> None:
    from dataclasses import asdict

    from persona_studio.core.generation import Candidate
    from persona_studio.services.review_queue import candidates_data, candidates_from_data

    candidate = Candidate("Why slow?", "Talk-test pace.", "persona", "persona", duplicate_of="Q")
    candidate.status = "accepted"
    whole = asdict(candidate)
    del whole["compared"]  # (written only where False: a version before it refuses it)
    assert candidates_data([candidate]) == [whole]
    assert candidates_from_data(candidates_data([candidate])) == [candidate]
    candidate.compared = False
    assert candidates_data([candidate]) == [asdict(candidate)]
    assert candidates_from_data(candidates_data([candidate])) == [candidate]
    later = {**asdict(candidate), "a_later_field": 1}  # a later version's record still reads
    assert candidates_from_data([later]) == [candidate]


def test_parse_reply_is_tolerant_but_strict_about_content() -> None:
    task = tasks_from_linkedin(LinkedInExport(posts=POSTS))[0]
    assert parse_reply(task, 'Here:\n```json\n{"question": "Why slow?"}\n```') == [
        ("Why slow?", POSTS[0].text)
    ]
    for bad in ("no json", '{"question": ""}', '{"question": "x"'):
        with pytest.raises(ValueError):
            parse_reply(task, bad)


@pytest.mark.parametrize(
    "reply",
    [
        "How do I keep going when motivation fades?",  # plain text, no JSON
        'Sure! A reader might ask:\n\n"How do I keep going when motivation fades?"',
        "**Question:** How do I keep going when motivation fades?",
        'Thinking {briefly}... {"question": "How do I keep going when motivation fades?"} :)',
        '```json\n{"question": "How do I keep going when motivation fades?"}\n```\nHope it helps!',
    ],
)
def test_a_reverse_prompt_answered_in_any_form_still_yields_its_question(reply: str) -> None:
    """Seen from real models: plain text, a quoted line, a labelled line, JSON amid chatter
    that has braces of its own, a fence with words after it."""
    task = tasks_from_linkedin(LinkedInExport(posts=POSTS))[0]
    assert parse_reply(task, reply) == [
        ("How do I keep going when motivation fades?", POSTS[0].text)
    ]


def test_pairs_written_as_labelled_lines_are_read() -> None:
    from persona_studio.core.generation import Task

    task = Task("topics", "persona", text="pacing", count=2)
    reply = (
        "Here you go.\nQ: Why slow?\nA: To last.\n\nQuestion: And hills?\nAnswer: Short,\nsteep."
    )
    assert parse_reply(task, reply) == [("Why slow?", "To last."), ("And hills?", "Short, steep.")]


async def test_json_mode_where_the_server_has_it_and_plain_where_not(server, client) -> None:
    generator = Generator(client, MODEL, PERSONA, load_prompts())
    tasks = tasks_from_linkedin(LinkedInExport(posts=POSTS))
    progress = await generator.run(tasks[:1], lambda _batch: None)
    assert progress.failed == 0 and generator.json_mode
    assert server.response_formats and all(
        f == {"type": "json_object"} for f in server.response_formats
    )

    server.json_mode = False  # e.g. an older local server: refused once, then asked plainly
    server.response_formats.clear()
    plain = Generator(client, MODEL, PERSONA, load_prompts())
    got: list[Candidate] = []
    progress = await plain.run(tasks, got.extend)
    assert (progress.done, progress.failed, progress.candidates) == (3, 0, 3)
    assert server.response_formats and plain.json_mode is False  # refused once, then plain
    server.response_formats.clear()
    await plain.run(tasks[:1], lambda _batch: None)
    assert server.response_formats == []


async def test_reverse_prompts_keep_the_post_and_flag_duplicates(server, client) -> None:
    existing = [Example.from_qa("How fast should I run?", POSTS[1].text)]
    generator = Generator(client, MODEL, PERSONA, load_prompts(), existing=existing)
    got: list[Candidate] = []
    progress = await generator.run(tasks_from_linkedin(LinkedInExport(posts=POSTS)), got.extend)
    assert (progress.done, progress.failed, progress.candidates) == (3, 0, 3)
    by_answer = {c.answer: c for c in got}
    assert set(by_answer) == {p.text for p in POSTS}  # verbatim
    first = by_answer[POSTS[0].text]
    assert first.question == f"What about: {POSTS[0].text[:20]}?"
    assert first.source == "linkedin:https://l/1 2024-03-01" and first.kind == "reverse"
    assert by_answer[POSTS[1].text].duplicate_of == ""  # a reverse answer is the post itself
    example = first.to_example("e1", "2026-12-06T09:00:00.000+00:00")
    assert (example.status, example.source, example.tags) == ("draft", first.source, ["generated"])
    assert (example.id, example.updated_at) == ("e1", "2026-12-06T09:00:00.000+00:00")


async def test_passages_and_persona_make_pairs_flagging_repeats(server, client) -> None:
    existing = [Example.from_qa("Q0 1?", "Something else entirely, about shoes.")]
    generator = Generator(client, MODEL, PERSONA, load_prompts(), existing=existing)
    prompts = load_prompts()
    tasks = [
        *tasks_from_passages(passages_from_text("Slow runs build the engine. " * 10)),
        *tasks_from_persona(PERSONA, 5, ["short"], prompts),
        *tasks_from_persona(PERSONA, 5, ["short"], prompts),  # the same prompt again
    ]
    got: list[Candidate] = []
    await generator.run(tasks, got.extend)
    assert len(got) == 2 + 5 + 5
    repeats = [c for c in got if c.duplicate_of]
    assert len(repeats) == 5  # the second identical call repeats the first one's questions


async def test_a_429_storm_is_waited_out_within_the_concurrency_limit(server, client) -> None:
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def slow_reply(messages: list[dict[str, Any]]) -> str:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        return model_reply(messages)

    server.reply_for = slow_reply
    for _ in range(12):
        server.fail_next(429, "Rate limit reached", type_="requests", headers={"retry-after": "3"})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    notes: list[str] = []
    generator = Generator(client, MODEL, PERSONA, load_prompts(), concurrency=3, sleep=sleep)
    tasks = tasks_from_linkedin(LinkedInExport(posts=POSTS * 4))
    got: list[Candidate] = []
    progress = await generator.run(tasks, got.extend, lambda p: notes.append(p.note))
    assert (progress.done, progress.failed, len(got)) == (12, 0, 12)
    assert waits.count(3.0) == 12  # Retry-After honoured, every time
    assert chat_calls(server) == 24 and peak <= 3
    assert any("slow down" in n for n in notes)


async def test_a_refused_key_stops_the_run_plainly(server) -> None:
    async with server.client("sk-wrong") as c:
        generator = Generator(c, MODEL, PERSONA, load_prompts())
        with pytest.raises(GenerateError, match="refused the API key"):
            await generator.run(tasks_from_linkedin(LinkedInExport(posts=POSTS)), lambda _b: None)


async def test_an_unreachable_server_stops_the_run_with_what_to_check() -> None:
    import socket

    import openai

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    base_url = f"http://127.0.0.1:{port}/v1"
    async with openai.AsyncOpenAI(api_key="sk-x", base_url=base_url, max_retries=0) as c:
        generator = Generator(c, MODEL, PERSONA, load_prompts(), concurrency=1, sleep=sleep)
        with pytest.raises(GenerateError, match=f"Could not reach the provider at {base_url}"):
            await generator.run(tasks_from_linkedin(LinkedInExport(posts=POSTS)), lambda _b: None)
    assert waits == [1.0, 2.0, 4.0]  # a few tries with backoff, not every call in turn


async def test_bad_replies_fail_that_task_only(server, client) -> None:
    server.reply_for = lambda m: (
        "I'd rather not." if "Rest days" in m[-1]["content"] else model_reply(m)
    )
    got: list[Candidate] = []
    generator = Generator(client, MODEL, PERSONA, load_prompts(), sleep=no_sleep)
    progress = await generator.run(tasks_from_linkedin(LinkedInExport(posts=POSTS)), got.extend)
    assert (progress.done, progress.failed, len(got)) == (3, 1, 2)
    assert "expected form" in progress.failures[0]


async def test_pause_holds_new_calls_and_cancel_leaves_only_whole_candidates(
    server, client, tmp_path: Path
) -> None:
    server.reply_for = lambda m: (time.sleep(0.05), model_reply(m))[1]
    with Project.open(ensure_demo_project(tmp_path)) as project:
        before = project.counts().examples
        queue = ReviewQueue(project)
        run_id = queue.start_run(source="linkedin", model=MODEL)
        generator = Generator(client, MODEL, PERSONA, load_prompts(), concurrency=1)
        task = asyncio.ensure_future(
            generator.run(
                tasks_from_linkedin(LinkedInExport(posts=POSTS * 10)),
                lambda batch: queue.add(run_id, batch),
            )
        )
        while generator.progress.done < 2:
            await asyncio.sleep(0.01)
        generator.pause()
        await asyncio.sleep(0.1)  # the call in flight ends; no new one starts
        calls = chat_calls(server)
        await asyncio.sleep(0.2)
        assert chat_calls(server) == calls and generator.paused
        generator.resume()
        while generator.progress.done < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        queue.finish(run_id, "cancelled")
        assert project.counts().examples == before  # nothing reaches the dataset unasked

    with Project.open(tmp_path / "Demo - Coach Rhea.persona") as project:
        queue = ReviewQueue(project)
        pending = queue.pending()
        assert 5 <= len(pending) < 30
        assert all(c.question and c.answer for c in pending)  # whole, never half-written
        first, second = pending[0], pending[1]
        added = queue.decide([first.id], "accepted", {first.id: ("Edited question?", first.answer)})
        queue.decide([second.id], "rejected")
        project.add_examples(added)
        assert project.counts().examples == before + 1
        assert project.examples()[-1].question == "Edited question?"
    with Project.open(tmp_path / "Demo - Coach Rhea.persona") as project:
        queue = ReviewQueue(project)
        assert len(queue.pending()) == len(pending) - 2
        assert next(iter(queue.runs.values()))["status"] == "cancelled"
        queue.reopen([first.id, second.id])  # the decisions were undone
    with Project.open(tmp_path / "Demo - Coach Rhea.persona") as project:
        back = {c.id: c for c in ReviewQueue(project).pending()}
        assert len(back) == len(pending)
        assert back[first.id].question == "Edited question?"  # the edit made when accepting


def test_candidates_accepted_at_once_become_examples_with_their_own_ids(tmp_path: Path) -> None:
    with Project.open(ensure_demo_project(tmp_path)) as project:
        queue = ReviewQueue(project)
        run_id = queue.start_run(source="persona")
        candidates = [Candidate(f" Q{i}? ", f"A{i}.", "persona", "forward") for i in range(3)]
        queue.add(run_id, candidates)
        added = queue.decide([c.id for c in candidates], "accepted")
    assert [(e.question, e.answer, e.status, e.tags) for e in added] == [
        (f"Q{i}?", f"A{i}.", "draft", ["generated"]) for i in range(3)
    ]
    assert len({e.id for e in added}) == 3 and all(len(e.id) == 32 for e in added)
    assert {e.id for e in added}.isdisjoint(c.id for c in candidates)
    assert len({e.updated_at for e in added}) == 1  # one decision, one time


def _linkedin_run(server: FakeOpenAI, queue: ReviewQueue, key: str, **options: Any) -> Any:
    """A generation run from LinkedIn posts against the fake, with this API key."""
    from persona_studio.services.generate import GenerationRun

    async def client():
        return server.client(key)

    return GenerationRun(
        queue,
        client,
        source="linkedin",
        profile="gateway",
        model=MODEL,
        persona=PERSONA,
        prompts=load_prompts(),
        **options,
    )


async def test_a_runs_calls_go_out_while_the_texts_it_compares_with_are_learnt(
    server, tmp_path: Path
) -> None:
    """The dataset's texts take seconds to learn at 100,000 examples: a run started as the
    Generate dialog opened waited for them before its first call. The calls go out now, and
    their candidates wait for them, handed on in order once learnt. A run stopped first keeps
    the candidates it paid for, not compared; one that fails first leaves them unlearnt."""
    from persona_studio.core.duplicates import DuplicateFinder
    from persona_studio.services.generate import GenerationRun

    existing = [Example.from_qa(f"What about: {POSTS[0].text[:20]}?", "Slowly.")]
    learnt = asyncio.Event()
    calls_before: list[int] = []

    async def known() -> DuplicateFinder:
        await learnt.wait()
        calls_before.append(chat_calls(server))
        return DuplicateFinder.of((e.question, e.question) for e in existing)

    with Project.open(ensure_demo_project(tmp_path)) as project:

        def new_run(key: str) -> GenerationRun:
            # (one call after another: each goes out while the texts wait)
            return _linkedin_run(server, ReviewQueue(project), key, known=known, concurrency=1)

        run = new_run("sk-gen")
        going = asyncio.ensure_future(run.execute(tasks_from_linkedin(LinkedInExport(posts=POSTS))))
        for _ in range(500):
            if chat_calls(server) == 3:
                break
            await asyncio.sleep(0.01)
        assert chat_calls(server) == 3 and not run.candidates  # asked, waiting for the texts
        while run.generator.progress.done < 3:
            await asyncio.sleep(0.01)
        assert run.generator.progress.uncompared > 0 == run.generator.progress.candidates
        learnt.set()
        progress = await going
        assert progress.uncompared == 0 and progress.candidates == len(run.candidates)
        assert calls_before == [3] and progress.done == 3 and run.outcome == "done"
        tasks = tasks_from_linkedin(LinkedInExport(posts=POSTS))
        assert list(dict.fromkeys(c.source for c in run.candidates)) == [t.source for t in tasks]
        assert len([c for c in run.candidates if c.duplicate_of]) == 1  # compared, as before

        learnt.clear()
        stopped = new_run("sk-gen")
        going = asyncio.ensure_future(
            stopped.execute(tasks_from_linkedin(LinkedInExport(posts=POSTS)))
        )
        for _ in range(500):
            if stopped.generator is not None and stopped.generator.progress.done == 3:
                break  # (every call answered)
            await asyncio.sleep(0.01)
        going.cancel()
        with pytest.raises(asyncio.CancelledError):
            await going
        assert stopped.outcome == "cancelled" and calls_before == [3]
        assert len(stopped.candidates) == len(run.candidates)  # kept
        assert not any(c.duplicate_of or c.compared for c in stopped.candidates)  # (not yet)
        assert stopped.accept_new() == []  # (not known to repeat nothing)
        saved = ReviewQueue(project).pending()
        assert len(saved) == 2 * len(run.candidates)  # saved, marked so
        assert sum(not c.compared for c in saved) == len(run.candidates)

        refused = new_run("sk-wrong")
        with pytest.raises(GenerateError, match="refused the API key"):
            await refused.execute(tasks_from_linkedin(LinkedInExport(posts=POSTS)))
        await asyncio.sleep(0)
        assert calls_before == [3]  # its learning stopped with it


async def test_a_generation_run_always_records_how_it_ended(server, tmp_path: Path) -> None:
    from persona_studio.services.generate import GenerationRun

    with Project.open(ensure_demo_project(tmp_path)) as project:
        queue = ReviewQueue(project)
        existing = [Example.from_qa(f"What about: {POSTS[0].text[:20]}?", "Slowly.")]

        def new_run(key: str) -> GenerationRun:
            return _linkedin_run(server, queue, key, existing=existing)

        refused = new_run("sk-wrong")
        with pytest.raises(GenerateError, match="refused the API key"):
            await refused.execute(tasks_from_linkedin(LinkedInExport(posts=POSTS)))
        assert refused.outcome == "failed" and "refused the API key" in refused.note

        good = new_run("sk-gen")
        progress = await good.execute(tasks_from_linkedin(LinkedInExport(posts=POSTS)))
        assert progress.done == 3 and good.outcome == "done" and "3 candidates" in good.note
        repeats = [c for c in good.candidates if c.duplicate_of]
        assert len(repeats) == 1  # the first post's question is one the project has
        added = good.accept_new()
        assert len(added) == 2 and all(e.status == "draft" for e in added)
        kept = ReviewQueue(project)  # as saved in the project
        assert kept.runs[refused.run_id]["status"] == "failed"
        assert kept.runs[good.run_id]["status"] == "done"
        assert [c.id for c in kept.pending()] == [repeats[0].id]
