"""The credential store against memory, broken backends and the real Secret Service."""

from __future__ import annotations

import time
import uuid

import pytest
from keyring.backends import fail, null

from persona_studio.services.credentials import (
    SERVICE,
    CredentialError,
    CredentialStore,
    KeyringUnavailable,
)
from tests.fakes.memory_keyring import HangingKeyring, LockedKeyring, MemoryKeyring


async def test_set_get_delete_in_the_service_namespace() -> None:
    backend = MemoryKeyring()
    store = CredentialStore(backend)
    assert await store.set("provider:openai", "sk-abc") == "keyring"
    assert backend.secrets == {(SERVICE, "provider:openai"): "sk-abc"}
    assert await store.get("provider:openai") == "sk-abc"
    await store.delete("provider:openai")
    await store.delete("provider:openai")  # deleting twice is fine
    assert await store.get("provider:openai") is None


async def test_empty_secret_is_refused() -> None:
    with pytest.raises(CredentialError, match="empty"):
        await CredentialStore(MemoryKeyring()).set("a", "")


async def test_hanging_keyring_times_out_with_a_clear_message() -> None:
    backend = HangingKeyring()
    store = CredentialStore(backend, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable, match=r"did not answer within 0\.2 seconds") as info:
        await store.get("provider:openai")
    assert time.monotonic() - started < 2
    assert "unlock" in info.value.hint
    backend.release.set()


async def test_default_timeout_is_three_seconds() -> None:
    assert CredentialStore().timeout == 3.0


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
async def test_no_usable_keyring_is_reported(backend: object) -> None:
    store = CredentialStore(backend)
    status = await store.status()
    assert not status.available and "No system password store" in status.message
    with pytest.raises(KeyringUnavailable):
        await store.set("provider:x", "secret")


async def test_locked_keyring_says_unlock() -> None:
    with pytest.raises(KeyringUnavailable, match="locked"):
        await CredentialStore(LockedKeyring()).get("provider:x")


async def test_session_memory_only_when_the_user_opts_in() -> None:
    store = CredentialStore(fail.Keyring())
    with pytest.raises(KeyringUnavailable):
        await store.set("provider:x", "sk-session")
    store.allow_session_memory()
    assert await store.set("provider:x", "sk-session") == "session"
    assert await store.get("provider:x") == "sk-session"
    assert await store.get("provider:other") is None
    await store.delete("provider:x")
    assert await store.get("provider:x") is None
    assert not store.in_session_memory("provider:x")


@pytest.mark.real_keyring
async def test_real_secret_service_round_trip(real_keyring) -> None:
    store = CredentialStore()  # the default: whatever keyring.get_keyring() says
    status = await store.status()
    assert status.available, status.message
    assert "SecretService" in type(real_keyring).__module__
    account = f"provider:test-{uuid.uuid4().hex}"
    secret = f"sk-real-{uuid.uuid4().hex}"
    assert await store.set(account, secret) == "keyring"
    assert await CredentialStore().get(account) == secret
    assert real_keyring.get_password(SERVICE, account) == secret
    await store.delete(account)
    assert await store.get(account) is None
