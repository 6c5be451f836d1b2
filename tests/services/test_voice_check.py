"""The voice check against the fake provider: candidates answer the same questions, the
scoreboard ranks them, a re-run asks only what is missing, the kept voice of an old model is
scored without a call, and the dataset engines cannot look the answers up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.generation import Candidate as Draft
from persona_studio.core.project import Project
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from persona_studio.services.voice import keep_voice
from persona_studio.services.voice_check import (
    CHECK_KIND,
    candidates_for,
    check_questions,
    run_check,
)
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAI

GOOD, BASE = "ft:gpt-4.1-mini-2025-04-14:coach:rhea:v2", "gpt-4.1-mini"


@pytest.fixture
def project(tmp_path: Path):
    with Project.open(ensure_demo_project(tmp_path)) as opened:
        yield opened


async def test_the_scoreboard_ranks_as_the_answers_deserve(project) -> None:
    examples = project.examples()
    answers = {e.question: e.answer for e in examples}
    with FakeOpenAI(api_key="sk-chk", models=(GOOD, BASE)) as server:
        # the fine-tune answers as Rhea does; the base model answers like a textbook
        def reply_for(messages):
            body = messages[-1]["content"]
            return (
                answers.get(body, "?")
                if server._model == GOOD
                else ("According to published guidance, individual requirements vary considerably.")
            )

        original = server.chat_request

        def remember(body: bytes):
            request = original(body)
            if isinstance(request, dict):
                server._model = request["model"]
            return request

        server.chat_request = remember
        server.reply_for = reply_for
        project.set_persona_fields(fine_tuned_model=GOOD)
        store = CredentialStore(MemoryKeyring())
        await store.set("provider:gw", "sk-chk")
        profile = ProviderProfile(
            name="gw", kind="openai-compatible", base_url=server.base_url, chat_model=BASE
        )
        old = "ft:gpt-4o-mini-2024-07-18:coach:rhea:v1"
        asked = check_questions(examples, 8)
        keep_voice(project, old, "gw", [Draft(e.question, e.answer[:40], "rescue", "rescue")
                                        for e in asked])  # fmt: skip

        async def client_for(p: ProviderProfile):
            return await providers.client_for(p, store, max_retries=0)

        persona = project.persona()
        chosen = candidates_for(["offline", "finetuned", "persona", "kept"], persona, project,
                                profile)  # fmt: skip
        progress: list[tuple[int, int]] = []
        result = await run_check(
            project,
            persona,
            project.rules(),
            examples,
            chosen,
            client_for,
            limit=8,
            on_progress=lambda d, t: progress.append((d, t)),
        )
        assert progress[0] == (0, 24) and progress[-1] == (24, 24)  # 8 questions × 3 engines
        board = {label.split(" (")[0]: s.mean for label, s in result.sounds_like_you.items()}
        assert board["Your fine-tuned model"] > 90
        assert board["Base model with your persona prompt"] < 40
        assert board["Your fine-tuned model"] > board["Your old model, as kept"]
        # the offline engine cannot look the asked questions up: it answers from the others
        offline = result.answers[next(k for k in result.answers if k.startswith("Offline"))]
        assert all(offline[q] != result.references[q] for q in result.questions)
        assert result.matches_old and result.old_model.startswith("Your old model")
        summary = result.summary()
        assert summary["candidates"][0]["candidate"].startswith("Your fine-tuned model")
        (run,) = project.runs(CHECK_KIND)
        assert run.data["questions"] == 8 and json.dumps(run.data)

        # a second run asks only what is missing: nothing, for the two models
        calls = sum(1 for r in server.requests if r.path == "/v1/chat/completions")
        again = await run_check(project, persona, project.rules(), examples, chosen,
                                client_for, limit=8)  # fmt: skip
        assert sum(1 for r in server.requests if r.path == "/v1/chat/completions") == calls
        assert again.sounds_like_you.keys() == result.sounds_like_you.keys()


async def test_failed_answers_are_counted_not_scored_as_wins(project) -> None:
    with FakeOpenAI(api_key="sk-chk", models=()) as server:  # knows no model: every call fails
        store = CredentialStore(MemoryKeyring())
        await store.set("provider:gw", "sk-chk")
        profile = ProviderProfile(name="gw", kind="openai-compatible", base_url=server.base_url,
                                  chat_model="missing")  # fmt: skip

        async def client_for(p: ProviderProfile):
            return await providers.client_for(p, store, max_retries=0)

        persona = project.persona()
        chosen = candidates_for(["persona"], persona, project, profile)
        result = await run_check(project, persona, [], project.examples(), chosen, client_for,
                                 limit=5)  # fmt: skip
        (label,) = result.answers
        assert (
            len(result.errors[label]) == 5 and "does not know the model" in result.errors[label][0]
        )
        assert result.sounds_like_you[label].mean == 0
