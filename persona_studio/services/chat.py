"""One reply of the test chat: rules first, then an engine, streamed as events.

Engines: the offline one (the nearest dataset example, no account needed) and any
OpenAI-compatible server through a provider profile. Modes for a server: the fine-tuned model,
the base model with the persona prompt, or that plus the most similar dataset examples as
few-shot turns (the no-training way to the character).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.config import ProviderProfile
from persona_studio.core.persona import Persona
from persona_studio.core.records import ChatTarget
from persona_studio.core.retrieval import MIN_CONFIDENCE, Hit, IndexWithout, RetrievalIndex
from persona_studio.core.rules import Decision, Rule, evaluate, turn_system_prompt

MODE_LABELS = {
    "offline": "Offline: answer from the dataset",
    "finetuned": "Fine-tuned model",
    "persona": "Base model + persona prompt",
    "retrieval": "Base model + persona prompt + similar examples",
}
FEW_SHOT = 3
UNREADABLE = (
    "The server's reply could not be read (it sent something that is not valid JSON). The "
    "part above is all that arrived; try Regenerate, or check the server."
)
STOPPED_MIDWAY = (
    "The server stopped in the middle of the reply. The part above is all that "
    "arrived; try Regenerate."
)


@dataclass
class ChatSettings:
    mode: str = "offline"
    profile: ProviderProfile | None = None
    model: str = ""
    temperature: float = 0.7
    # where the character's fine-tuned model answers (the job that trained it registered it):
    # the fine-tuned mode asks that profile, whichever profile the pane shows
    target: ChatTarget | None = None


@dataclass
class ChatEvent:
    """`kind`: rule (a rule decided), delta (text), done (finished), error (plain message)."""

    kind: str
    text: str = ""
    decision: Decision | None = None
    hits: list[Hit] = field(default_factory=list)
    usage: dict[str, int] | None = None
    latency: float = 0.0
    model: str = ""


ClientFactory = Callable[[ProviderProfile], Awaitable[Any]]


def few_shot_messages(hits: list[Hit]) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for hit in hits:
        turns += [
            {"role": "user", "content": hit.example.question},
            {"role": "assistant", "content": hit.example.answer},
        ]
    return turns


def model_for(settings: ChatSettings, persona: Persona, decision: Decision) -> str:
    if decision.model:
        return decision.model
    if settings.mode == "finetuned":
        return persona.fine_tuned_model
    return settings.model or (settings.profile.chat_model if settings.profile else "")


# an index, or a coroutine function that gives one (the window builds it off the UI thread)
Index = RetrievalIndex | IndexWithout
IndexSource = Index | Callable[[], Awaitable[RetrievalIndex]]


async def resolve_index(source: IndexSource) -> Index:
    return source if isinstance(source, Index) else await source()


async def reply(
    persona: Persona,
    rules: list[Rule],
    history: list[dict[str, str]],
    message: str,
    settings: ChatSettings,
    index: IndexSource,
    client_for: ClientFactory,
    profiles: Callable[[str], ProviderProfile] | None = None,
) -> AsyncIterator[ChatEvent]:
    """Stream one reply: the rules decide first, then the offline engine or a server answers.
    Never raises for provider trouble: that becomes an `error` event. `index` may be a way to
    get the index (awaited only when this reply needs it: building one takes seconds at
    100,000 examples, and a provider pane in persona mode never does)."""
    started = time.monotonic()
    is_first = not any(m.get("role") == "user" for m in history)
    decision = evaluate(rules, message, is_first=is_first, char=persona.name)
    if any(step.fired for step in decision.trace):
        yield ChatEvent("rule", decision=decision)
    if decision.reply is not None:
        answer = _rule_reply(decision, started)
    elif settings.mode == "offline":
        answer = _offline_reply(message, await resolve_index(index), decision, started)
    else:
        answer = _remote_reply(
            persona, history, message, settings, index, client_for, profiles, decision, started
        )
    async for event in answer:
        yield event


async def _rule_reply(decision: Decision, started: float) -> AsyncIterator[ChatEvent]:
    """A rule's fixed reply."""
    assert decision.reply is not None
    yield ChatEvent("delta", decision.reply)
    yield ChatEvent("done", decision=decision, latency=time.monotonic() - started, model="rule")


async def _offline_reply(
    message: str, index: Index, decision: Decision, started: float
) -> AsyncIterator[ChatEvent]:
    """The offline engine: the answer of the nearest dataset example, when it is near enough.
    The search runs in a worker thread: a common word's postings at 100,000 examples are a
    pure-Python loop of ~0.2 s, which there leaves the UI thread the lock every few ms."""
    hits = await asyncio.to_thread(index.search, message, 3)
    if hits and hits[0].confidence >= MIN_CONFIDENCE:
        text = hits[0].example.answer
    else:
        text = (
            "I don't have an answer for that in my examples yet. (Offline mode answers "
            "only from the dataset: add an example for this question, or choose a "
            "model.)"
        )
    yield ChatEvent("delta", text)
    yield ChatEvent(
        "done", decision=decision, hits=hits, latency=time.monotonic() - started, model="offline"
    )


def _target(
    persona: Persona,
    settings: ChatSettings,
    profiles: Callable[[str], ProviderProfile] | None,
    decision: Decision,
) -> tuple[ProviderProfile, str] | str:
    """The profile and model to ask, or why there is none (in plain words)."""
    profile = settings.profile
    if decision.profile and profiles is not None:
        try:
            profile = profiles(decision.profile)
        except Exception as exc:  # an unknown profile named by a rule
            return str(exc)
    model = model_for(settings, persona, decision)
    target = settings.target
    if (
        settings.mode == "finetuned"
        and not decision.model
        and target is not None
        and target.model == model
        and target.profile
        and profiles is not None
    ):
        try:
            profile = profiles(target.profile)
        except Exception:
            return (
                f"The fine-tuned model was trained with the provider profile “{target.profile}”, "
                "which is no longer in Settings → Providers: add it again (with its key) to "
                "chat with the model."
            )
    if profile is None:
        return (
            "Choose a provider profile for this pane (Settings → "
            "Providers), or use the offline engine."
        )
    if not model and profile.kind == "local" and settings.mode != "finetuned":
        # this computer's base model is the one its fine-tuned model was trained from
        from persona_studio.services.local_server import base_model_of

        fine_tuned = target.model if target is not None else persona.fine_tuned_model
        model = base_model_of(fine_tuned) if fine_tuned else ""
        if not model:
            return (
                "No model on this computer is chosen yet: train one (Train tab → This "
                "computer), or type a downloaded model's name or folder in this pane."
            )
    if not model:
        return (
            "This character has no fine-tuned model yet: train one in the Train tab, or "
            "choose another mode."
            if settings.mode == "finetuned"
            else "Choose a model for this pane, or set a chat model on the profile."
        )
    return profile, model


async def _remote_reply(
    persona: Persona,
    history: list[dict[str, str]],
    message: str,
    settings: ChatSettings,
    index: IndexSource,
    client_for: ClientFactory,
    profiles: Callable[[str], ProviderProfile] | None,
    decision: Decision,
    started: float,
) -> AsyncIterator[ChatEvent]:
    """A server's streamed reply: the fine-tuned model, or the base model with the persona
    prompt (and, in retrieval mode, the most similar examples as few-shot turns)."""
    target = _target(persona, settings, profiles, decision)
    if isinstance(target, str):
        yield ChatEvent("error", target)
        return
    profile, model = target
    system = turn_system_prompt(persona.system_prompt(), decision)
    hits = []
    shots: list[dict[str, str]] = []
    if settings.mode == "retrieval":
        # in a thread, as the offline reply's: a search takes in the edits made since the last
        # (~0.1 ms each) and reads postings (~15 ms at 100,000 examples)
        hits = await asyncio.to_thread((await resolve_index(index)).search, message, FEW_SHOT)
        shots = few_shot_messages(hits)
    messages = [
        {"role": "system", "content": system},
        *shots,
        *history,
        {"role": "user", "content": message},
    ]

    try:
        client = await client_for(profile)  # imports the SDK on a worker thread the first time
    except Exception as exc:  # a missing key and the like: already phrased for people
        yield ChatEvent("error", str(exc))
        return

    import openai

    from persona_studio.services.providers import explain_api_error

    usage: dict[str, int] | None = None
    received = finished = False
    try:
        async with client:
            stream = await client.chat.completions.create(
                model=model,
                messages=messages,
                stream=True,
                temperature=settings.temperature,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = {
                        "prompt": chunk.usage.prompt_tokens,
                        "completion": chunk.usage.completion_tokens,
                    }
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        received = True
                        yield ChatEvent("delta", choice.delta.content)
                    finished = finished or choice.finish_reason is not None
    except openai.NotFoundError:
        note = settings.target.note if settings.target and settings.target.model == model else ""
        yield ChatEvent(
            "error",
            note
            or f"The server does not know the model “{model}”. Check the "
            "model name in this pane or on the profile.",
        )
        return
    except openai.BadRequestError as exc:
        text = str(exc)
        hint = (
            "The conversation is too long for this model: clear the chat or start a new one."
            if "context" in text.lower()
            else f"The server refused the request: {exc}"
        )
        yield ChatEvent("error", hint)
        return
    except ValueError:  # a chunk that is not JSON (the SDK raises json's decode error)
        yield ChatEvent("error", UNREADABLE)
        return
    except (openai.APIConnectionError, openai.APIStatusError, openai.APITimeoutError) as exc:
        if received:
            yield ChatEvent("error", STOPPED_MIDWAY)
        else:
            yield ChatEvent("error", explain_api_error(exc, profile))
        return
    if not finished:  # the connection closed quietly before the reply was complete
        yield ChatEvent("error", STOPPED_MIDWAY)
        return
    yield ChatEvent(
        "done",
        decision=decision,
        hits=hits,
        usage=usage,
        latency=time.monotonic() - started,
        model=model,
    )
