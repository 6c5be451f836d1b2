"""Provider profiles at run time: their key, their client, and a connection test."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from persona_studio.core.config import DEFAULT_BASE_URLS, ProviderProfile
from persona_studio.core.errors import UserFacingError
from persona_studio.services.credentials import CredentialError, CredentialStore, cleaned_key
from persona_studio.services.provider_errors import ProviderError, key_hint, provider_error

DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    models: tuple[str, ...] = ()
    can_train: bool | None = None  # None: not known (the server did not say)


def base_url(profile: ProviderProfile) -> str | None:
    if profile.base_url_env and os.environ.get(profile.base_url_env):
        return os.environ[profile.base_url_env]
    return profile.base_url or DEFAULT_BASE_URLS.get(profile.kind) or None


async def api_key(profile: ProviderProfile, store: CredentialStore) -> str:
    """The profile's key, from its environment variable or the keyring."""
    if profile.key_env:
        key = os.environ.get(profile.key_env, "")
        if not key:
            raise ProviderError(
                f"The environment variable {profile.key_env} is not set.",
                f"Set {profile.key_env} to your API key, or use another profile.",
            )
        return _cleaned(key, profile)
    stored = await store.get(profile.keyring_account)
    if not stored:
        if profile.kind == "openai-compatible":
            return "not-needed"  # local servers (Ollama, LM Studio, vLLM) usually take no key
        raise ProviderError(
            f"No API key is saved for the profile “{profile.name}”.",
            key_hint(profile.name, missing=True),
        )
    return _cleaned(stored, profile)


def _cleaned(key: str, profile: ProviderProfile) -> str:
    """A key kept before the app cleaned keys as they are saved (`cleaned_key`), or one
    from an environment variable: a character no key has is said, never sent."""
    try:
        return cleaned_key(key)
    except CredentialError as exc:
        where = (
            f"Set {profile.key_env} to the key again, copied afresh."
            if profile.key_env
            else key_hint(profile.name)
        )
        raise ProviderError(exc.message, where) from None


async def client_for(
    profile: ProviderProfile, store: CredentialStore, *, max_retries: int = 2, timeout: float = 30.0
) -> Any:
    """An `openai` async client for the profile: AzureOpenAI for azure, else OpenAI.

    Built on a worker thread: importing the SDK (~0.5 s the first time) and loading the TLS
    certificates are blocking work the UI thread must not wait for; the first import with the
    cyclic collector paused (`collector.first_import_paused`).
    """
    import asyncio

    if profile.kind == "local":  # the chat server on this computer, started on first use
        from dataclasses import replace

        from persona_studio.services.local_server import local_server

        address = await local_server().address()
        local = replace(profile, base_url=address, base_url_env="")
        return await asyncio.to_thread(_make_client, local, "local", max_retries, timeout)
    key = await api_key(profile, store)
    return await asyncio.to_thread(_make_client, profile, key, max_retries, timeout)


def _make_client(profile: ProviderProfile, key: str, max_retries: int, timeout: float) -> Any:
    from persona_studio.core.collector import first_import_paused

    with first_import_paused("openai"):
        return _client(profile, key, max_retries, timeout)


def _client(profile: ProviderProfile, key: str, max_retries: int, timeout: float) -> Any:
    import openai

    client: Any
    if profile.kind == "azure":
        client = openai.AsyncAzureOpenAI(
            api_key=key,
            azure_endpoint=base_url(profile) or "",
            api_version=profile.api_version or DEFAULT_AZURE_API_VERSION,
            max_retries=max_retries,
            timeout=timeout,
        )
    else:
        client = openai.AsyncOpenAI(
            api_key=key, base_url=base_url(profile), max_retries=max_retries, timeout=timeout
        )
    _import_first_use(client)
    return client


def _import_first_use(client: Any) -> None:
    """Import here, in the client's thread, what the SDK imports at a client's first use: its
    resources (each a cached property that imports its modules) and the network backend that
    httpx loads at the first connection. On the UI thread, a generation run's or a rescue's
    first call spent ~20–50 ms importing them (chat 20 ms, fine-tuning 14, anyio's backend 14)."""
    import contextlib
    import importlib

    client.chat.completions, client.models, client.files, client.fine_tuning.jobs  # noqa: B018
    with contextlib.suppress(ImportError):  # another anyio: imported at the first call then
        importlib.import_module("anyio._backends._asyncio")


def explain_api_error(exc: BaseException, profile: ProviderProfile) -> str:
    """One plain sentence with a next step for an error from the `openai` SDK."""
    return str(
        provider_error(exc, where=base_url(profile) or "api.openai.com", profile=profile.name)
    )


async def _model_list(profile: ProviderProfile, client: Any) -> tuple[str, ...]:
    """The cheapest list that proves the key: the fine-tunable models where the provider's
    `/models` is not OpenAI-shaped (Together answers it with a bare array)."""
    if profile.kind == "together":
        answer = await client.get("/fine-tunes/models/supported", cast_to=object)
        names = answer.get("models") if isinstance(answer, dict) else None
        return tuple(sorted(str(m) for m in names or [] if isinstance(m, str)))
    page = await client.models.list()
    return tuple(sorted(m.id for m in page.data))


async def test_connection(
    profile: ProviderProfile, store: CredentialStore, *, timeout: float = 15.0
) -> ConnectionReport:
    """Ask the provider for its model list: proves the address, the key and the network."""
    try:
        client = await client_for(profile, store, max_retries=0, timeout=timeout)
    except UserFacingError as exc:
        return ConnectionReport(False, str(exc))
    import openai  # (here, not before: `client_for` imports it in its thread the first time;
    # imported first here, on the window's thread, it held the window for its ~0.5 s)

    try:
        async with client:
            models = await _model_list(profile, client)
            can_train, training = await _can_train(profile, client)
    except openai.OpenAIError as exc:
        return ConnectionReport(False, explain_api_error(exc, profile))
    shown = ", ".join(models[:5]) + (" …" if len(models) > 5 else "")
    return ConnectionReport(
        True,
        f"Connected: {len(models)} models available"
        + (f" ({shown})." if models else ".")
        + (f" {training}" if training else ""),
        models,
        can_train,
    )


async def _can_train(profile: ProviderProfile, client: Any) -> tuple[bool | None, str]:
    """Whether the profile can fine-tune, and a sentence that says so. The training services
    can by kind; a server speaking OpenAI's API is asked for its fine-tuning jobs."""
    import openai

    from persona_studio.services.provider_errors import CHAT_ONLY, is_missing_route
    from persona_studio.services.training import OPENAI_API_KINDS

    if profile.kind in ("together", "fireworks", "nebius"):
        return True, "It can train models."
    if profile.kind not in OPENAI_API_KINDS:
        return None, ""
    try:
        await client.fine_tuning.jobs.list(limit=1)
    except openai.OpenAIError as exc:
        if is_missing_route(exc):
            return False, " ".join(CHAT_ONLY)
        return None, "It did not say whether this account can train models."
    return True, "It can train models (its fine-tuning API answered)."
