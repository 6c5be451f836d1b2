"""Provider profiles against the local fake OpenAI server, through the real `openai` client."""

from __future__ import annotations

import socket

import pytest

from persona_studio.core.config import ProviderProfile, env_profile
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-good") as fake:
        yield fake


def _profile(server: FakeOpenAI) -> ProviderProfile:
    return ProviderProfile(name="fake", kind="openai-compatible", base_url=server.base_url)


async def test_connection_ok_lists_models(server: FakeOpenAI) -> None:
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-good")
    report = await providers.test_connection(_profile(server), store)
    assert report.ok and "2 models" in report.message
    assert report.models == ("gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18")
    assert report.can_train and "can train models" in report.message
    assert server.requests[-1].headers["authorization"] == "Bearer sk-good"
    assert server.requests[-1].path == "/v1/fine_tuning/jobs"


async def test_connection_says_a_chat_only_server_cannot_train(server: FakeOpenAI) -> None:
    server.fine_tuning = False  # as Ollama or LM Studio
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-good")
    report = await providers.test_connection(_profile(server), store)
    assert report.ok and report.can_train is False
    assert "can chat, but it has no fine-tuning API" in report.message
    assert "This computer" in report.message  # and what to choose instead


async def test_wrong_key_is_explained(server: FakeOpenAI) -> None:
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-wrong")
    report = await providers.test_connection(_profile(server), store)
    assert not report.ok and "refused the API key" in report.message


async def test_a_kept_key_with_a_character_no_key_has_is_said_not_sent(
    server: FakeOpenAI,
) -> None:
    """A key kept before keys were cleaned as they are saved: the request failed in the
    SDK's headers (UnicodeEncodeError, not a message). Invisible characters are taken out."""
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-go\u00f6d")
    report = await providers.test_connection(_profile(server), store)
    assert not report.ok and not server.requests
    assert report.message.startswith("The key holds a character no key has (“ö”)")
    assert "Settings → Providers" in report.message
    await store.set("provider:fake", "\ufeffsk-good \u200b")
    assert (await providers.test_connection(_profile(server), store)).ok


def test_a_key_is_cleaned_of_what_a_copy_brings() -> None:
    from persona_studio.services.credentials import CredentialError, cleaned_key

    assert cleaned_key(" sk-ab\u200bc\r\n\u2060") == "sk-abc"
    assert cleaned_key("hf_x", "token") == "hf_x" and cleaned_key(" \n") == ""
    for odd in ("sk-\u00e9", "sk-\u202fx"[:3] + "\u2014", "\u0430bc"):  # é, a dash, Cyrillic а
        with pytest.raises(CredentialError, match="no key has"):
            cleaned_key(odd)


async def test_missing_key_for_openai_kind_is_explained() -> None:
    report = await providers.test_connection(
        ProviderProfile(name="openai"), CredentialStore(MemoryKeyring())
    )
    assert not report.ok and "No API key is saved" in report.message


async def test_server_down_is_explained() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = ProviderProfile(
        name="down", kind="openai-compatible", base_url=f"http://127.0.0.1:{port}/v1"
    )
    report = await providers.test_connection(profile, CredentialStore(MemoryKeyring()), timeout=3)
    assert not report.ok and "Could not reach" in report.message


async def test_rate_limit_is_explained(server: FakeOpenAI) -> None:
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:fake", "sk-good")
    server.fail_next(429, "Rate limit reached", type_="requests", headers={"retry-after": "1"})
    report = await providers.test_connection(_profile(server), store)
    assert not report.ok and "too many requests" in report.message


async def test_env_profile_uses_environment_variables(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CredentialStore(MemoryKeyring())
    report = await providers.test_connection(env_profile(), store)
    assert not report.ok and "OPENAI_API_KEY is not set" in report.message
    monkeypatch.setenv("OPENAI_API_KEY", "sk-good")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    report = await providers.test_connection(env_profile(), store)
    assert report.ok


async def test_azure_profile_builds_an_azure_client() -> None:
    import openai

    store = CredentialStore(MemoryKeyring())
    await store.set("provider:az", "key")
    profile = ProviderProfile(name="az", kind="azure", base_url="https://x.openai.azure.com")
    client = await providers.client_for(profile, store)
    assert isinstance(client, openai.AsyncAzureOpenAI)
    assert client._api_version == providers.DEFAULT_AZURE_API_VERSION
    await client.close()


def test_the_sdk_is_imported_off_the_calling_thread_with_the_collector_paused() -> None:
    """The SDK's first import (~0.5 s) made tens of thousands of objects: the collector's
    passes over them held the interpreter lock 18–30 ms at a time beside the window (the first
    generation run at 500 examples stalled it 43–61 ms). It runs with the collector paused, its
    objects frozen after. And Test connection imported it on the window's own thread (the
    coroutine's), before `client_for` could in its thread. In a fresh interpreter."""
    import subprocess
    import sys

    script = """
import asyncio, gc, sys, threading
from persona_studio.core.config import ProviderProfile
from persona_studio.services import providers
from persona_studio.services.credentials import CredentialStore
from tests.fakes.memory_keyring import MemoryKeyring

collections, importers = [], []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "openai":
            importers.append(threading.current_thread().name)
sys.meta_path.insert(0, Spy())

async def main():
    store = CredentialStore(MemoryKeyring())
    await store.set("provider:p", "key")
    profile = ProviderProfile(name="p", kind="openai-compatible", base_url="http://127.0.0.1:9")
    frozen = gc.get_freeze_count()
    made = providers._make_client
    def counted(*args):
        collections.clear()
        client = made(*args)
        during.extend(collections)
        return client
    during = []
    providers._make_client = counted
    await providers.test_connection(profile, store, timeout=1.0)
    print(importers == ["MainThread"], len(during), gc.get_freeze_count() > frozen)

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "0", "True"], done.stdout + done.stderr


def test_a_client_is_made_with_what_its_first_call_would_import() -> None:
    """The SDK imports its resources and httpx's network backend at a client's first use: on
    the UI thread, 20–50 ms of a generation run's first call. The client's thread imports
    them. In a fresh interpreter, so that no other test imported them first."""
    import subprocess
    import sys

    script = """
import sys
from persona_studio.core.config import ProviderProfile
from persona_studio.services.providers import _make_client
wanted = ["openai.resources.chat.completions", "openai.resources.fine_tuning.jobs",
          "openai.resources.files", "anyio._backends._asyncio"]
before = [name in sys.modules for name in wanted]
_make_client(ProviderProfile(name="p", kind="openai-compatible", base_url="http://127.0.0.1:9"),
             "key", 0, 1.0)
print(before, [name in sys.modules for name in wanted])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split("] [") == ["[False, False, False, False", "True, True, True, True]\n"]
