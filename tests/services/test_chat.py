"""Chat replies through rules, the offline engine and a real `openai` client on the fake."""

from __future__ import annotations

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.retrieval import RetrievalIndex
from persona_studio.core.rules import Rule, keywords
from persona_studio.services import providers
from persona_studio.services.chat import ChatSettings, reply
from persona_studio.services.credentials import CredentialStore
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAI

MODEL = "gpt-4.1-mini-2025-04-14"
PERSONA = Persona(name="Rhea", description="A running coach.", fine_tuned_model="ft:rhea")
EXAMPLES = [
    Example.from_qa("How do I start running?", "Walk-run intervals, three times a week."),
    Example.from_qa("What shoes should I buy?", "The most comfortable pair you try on."),
    Example.from_qa("Should I stretch before running?", "Warm up by walking instead."),
]
RULES = [
    Rule(trigger=keywords(["doping"]), action={"kind": "refuse", "text": "I can't help there."}),
    Rule(trigger=keywords(["pain"]), action={"kind": "inject_context", "text": "No diagnosis."}),
]


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-good", models=(MODEL, "ft:rhea")) as fake:
        yield fake


@pytest.fixture
async def store() -> CredentialStore:
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-good")
    return store


def _profile(server: FakeOpenAI) -> ProviderProfile:
    return ProviderProfile(
        name="fake", kind="openai-compatible", base_url=server.base_url, chat_model=MODEL
    )


async def _collect(message: str, settings: ChatSettings, store, history=None, rules=RULES):
    async def client_for(profile):
        return await providers.client_for(profile, store, max_retries=0, timeout=5)

    return [
        e
        async for e in reply(
            PERSONA, rules, history or [], message, settings, RetrievalIndex(EXAMPLES), client_for
        )
    ]


def _text(events) -> str:
    return "".join(e.text for e in events if e.kind == "delta")


async def test_offline_answers_from_the_nearest_example(store) -> None:
    events = await _collect("what running shoes to buy", ChatSettings(mode="offline"), store)
    assert _text(events) == "The most comfortable pair you try on."
    done = events[-1]
    assert done.kind == "done" and done.hits[0].example.question == "What shoes should I buy?"
    unknown = await _collect("tell me about quantum physics", ChatSettings(), store)
    assert "don't have an answer" in _text(unknown)


async def test_a_refusal_rule_answers_without_any_engine(store, server) -> None:
    events = await _collect(
        "any doping tips?", ChatSettings(mode="persona", profile=_profile(server)), store
    )
    assert [e.kind for e in events] == ["rule", "delta", "done"]
    assert _text(events) == "I can't help there." and events[-1].model == "rule"
    assert not [r for r in server.requests if r.path == "/v1/chat/completions"]


async def test_streams_from_the_server_with_context_and_usage(server, store) -> None:
    import json

    server.reply_for = lambda messages: "Rest, then see a physio."
    events = await _collect(
        "my knee pain", ChatSettings(mode="persona", profile=_profile(server)), store
    )
    assert events[0].kind == "rule"
    assert _text(events) == "Rest, then see a physio."
    assert len([e for e in events if e.kind == "delta"]) == 5  # streamed word by word
    assert events[-1].usage == {"prompt": 10, "completion": 5} and events[-1].model == MODEL
    sent = json.loads(server.requests[-1].body)
    assert sent["stream"] is True and sent["model"] == MODEL
    assert sent["messages"][0]["role"] == "system"
    assert "You are Rhea." in sent["messages"][0]["content"]
    assert "No diagnosis." in sent["messages"][0]["content"]


async def test_retrieval_mode_adds_similar_examples_as_turns(server, store) -> None:
    import json

    await _collect(
        "how should I start running",
        ChatSettings(mode="retrieval", profile=_profile(server)),
        store,
    )
    messages = json.loads(server.requests[-1].body)["messages"]
    assert messages[1] == {"role": "user", "content": "How do I start running?"}
    assert messages[2]["role"] == "assistant" and messages[-1]["content"].startswith("how should")


async def test_finetuned_mode_uses_the_registered_model(server, store) -> None:
    import json

    events = await _collect("hi", ChatSettings(mode="finetuned", profile=_profile(server)), store)
    assert events[-1].kind == "done"
    assert json.loads(server.requests[-1].body)["model"] == "ft:rhea"


@pytest.mark.parametrize(
    ("status", "kwargs", "message"),
    [
        (401, {"type_": "invalid_request_error"}, "refused the API key"),
        (429, {"headers": {"retry-after": "2"}}, "too many requests"),
        (500, {}, "error (500)"),
    ],
)
async def test_errors_become_plain_messages(server, store, status, kwargs, message) -> None:
    server.fail_next(status, "boom", **kwargs)
    events = await _collect("hi", ChatSettings(mode="persona", profile=_profile(server)), store)
    assert events[-1].kind == "error" and message in events[-1].text


async def test_unknown_model_and_dropped_stream(server, store) -> None:
    events = await _collect(
        "hi", ChatSettings(mode="persona", profile=_profile(server), model="nope"), store
    )
    assert events[-1].kind == "error" and "does not know the model “nope”" in events[-1].text
    server.reply_for = lambda m: "one two three four five six"
    server.drop_stream_after = 3
    events = await _collect("hi", ChatSettings(mode="persona", profile=_profile(server)), store)
    assert _text(events) == "one two three "
    assert events[-1].kind == "error" and "stopped in the middle" in events[-1].text


async def test_no_profile_or_no_fine_tune_is_explained(store, server) -> None:
    events = await _collect("hi", ChatSettings(mode="persona"), store)
    assert "Choose a provider profile" in events[-1].text
    untrained = Persona(name="New")

    async def client_for(profile):
        return await providers.client_for(profile, store)

    events = [
        e
        async for e in reply(
            untrained,
            [],
            [],
            "hi",
            ChatSettings(mode="finetuned", profile=_profile(server)),
            RetrievalIndex([]),
            client_for,
        )
    ]
    assert "no fine-tuned model yet" in events[-1].text


async def test_context_too_long_is_explained(server, store) -> None:
    server.fail_next(
        400,
        "This model's maximum context length is 8192 tokens.",
        type_="invalid_request_error",
        code="context_length_exceeded",
    )
    events = await _collect("hi", ChatSettings(mode="persona", profile=_profile(server)), store)
    assert events[-1].kind == "error" and "too long for this model" in events[-1].text


async def test_a_malformed_stream_ends_the_reply_plainly(server, store) -> None:
    """Issue 15 item 9: a chunk that is not JSON ended in a traceback."""
    server.reply_for = lambda m: "one two three four five six"
    server.malformed_stream_after = 2
    events = await _collect("hi", ChatSettings(mode="persona", profile=_profile(server)), store)
    assert events[-1].kind == "error"
    assert "could not be read" in events[-1].text and _text(events)  # what arrived is kept


async def test_this_computer_with_no_model_yet_says_what_to_do(store) -> None:
    """The base-model modes on this computer ask the model the fine-tune started from; with no
    fine-tune and no model typed, the pane says what to do (and no server is started)."""
    from persona_studio.core.config import local_profile

    async def client_for(profile):
        raise AssertionError("no server is needed to say this")

    events = [
        e
        async for e in reply(
            Persona(name="New"),
            [],
            [],
            "hi",
            ChatSettings(mode="persona", profile=local_profile()),
            RetrievalIndex([]),
            client_for,
        )
    ]
    assert "No model on this computer is chosen yet" in events[-1].text
