"""Secrets in the OS keyring (service `persona-studio`), behind a timeout.

Every keyring call runs on its own daemon thread: a keyring that hangs (a locked Secret Service
waiting for a prompt nobody sees, a D-Bus that never answers) costs the caller `timeout` seconds
and a clear error, never a frozen window or a process that cannot exit. When no keyring works
the caller may opt in to keeping secrets in memory for this session; nothing is ever written to
a plain-text file.
"""

from __future__ import annotations

import contextlib
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from persona_studio import APP_ID
from persona_studio.core.errors import UserFacingError

SERVICE = APP_ID
DEFAULT_TIMEOUT = 3.0
GOOGLE_SERVICE_ACCOUNT = "google:service_account"
GOOGLE_OAUTH_CLIENT = "google:oauth_client"
GOOGLE_OAUTH_TOKEN = "google:oauth_token"  # the user's token, from the browser consent

T = TypeVar("T")


class CredentialError(UserFacingError):
    """A secret could not be read or stored."""


def cleaned_key(text: str, what: str = "key") -> str:
    """An API key or token as a server takes it: a copy from a web page or a PDF brings
    spaces, line breaks and invisible characters (a zero-width space, a byte-order mark),
    which are taken out; any other character that is not plain ASCII is one no key has
    (an HTTP header cannot carry it: the request failed with an encoding error)."""
    kept = "".join(
        c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc")
    )
    odd = next((c for c in kept if not " " < c < "\x7f"), None)
    if odd is not None:
        raise CredentialError(
            f"The {what} holds a character no {what} has (“{odd}”): it was probably copied "
            "with it.",
            f"Copy the {what} again from the provider's page, and paste it here.",
        )
    return kept


class KeyringUnavailable(CredentialError):
    """No working OS keyring: the caller may offer session-only memory instead."""


@dataclass(frozen=True)
class KeyringStatus:
    available: bool
    backend: str
    message: str


def _default_backend() -> Any:
    import keyring  # imported lazily: its backend discovery costs ~100 ms at startup

    return keyring.get_keyring()


def _describe_backend(backend: Any) -> str:
    name = getattr(backend, "name", None) or type(backend).__name__
    return str(name)


def _is_unusable(backend: Any) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):  # null silently forgets what it is given
        return True
    return isinstance(backend, chainer.ChainerBackend) and not backend.backends


def _plain_error(exc: BaseException) -> CredentialError:
    from keyring import errors

    if isinstance(exc, errors.KeyringLocked):
        return KeyringUnavailable(
            "Your system password store is locked.",
            "Unlock it (log in to your desktop session), then try again.",
        )
    if isinstance(exc, errors.PasswordSetError | errors.PasswordDeleteError):
        return CredentialError(
            f"The system password store refused the change ({exc}).",
            "Check that it is unlocked, then try again.",
        )
    return KeyringUnavailable(
        f"The system password store is not working ({type(exc).__name__}: {exc}).",
        "You can keep the key in memory for this session only, or fix the password store "
        "(on Linux: GNOME Keyring or KWallet) and try again.",
    )


async def run_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run a blocking call on a daemon thread; give up after `timeout` seconds."""
    import asyncio  # here, not at the top: the GUI imports this module before its first paint

    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        # The loop may have closed while we were blocked: nobody is waiting any more, and some
        # loops (qasync) must not be signalled once closed.
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=f"keyring-{what}", daemon=True).start()
    try:
        return await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise KeyringUnavailable(
            f"The system password store did not answer within {timeout:g} seconds.",
            "It may be waiting for an unlock prompt: unlock it and try again, or keep the key "
            "in memory for this session only.",
        ) from None


class CredentialStore:
    """Async access to secrets. `backend` is a `keyring` backend; default: the OS one."""

    def __init__(
        self, backend: Any = None, *, timeout: float = DEFAULT_TIMEOUT, service: str = SERVICE
    ) -> None:
        self._backend = backend
        self.timeout = timeout
        self.service = service
        self._session: dict[str, str] = {}
        self.session_memory_allowed = False

    def allow_session_memory(self) -> None:
        """The user chose to keep secrets in memory until the app quits."""
        self.session_memory_allowed = True

    def in_session_memory(self, account: str) -> bool:
        return account in self._session

    async def _call(self, what: str, op: Callable[[Any], T]) -> T:
        def blocking() -> T:
            backend = self._backend if self._backend is not None else _default_backend()
            if _is_unusable(backend):
                raise KeyringUnavailable(
                    "No system password store was found on this computer.",
                    "You can keep the key in memory for this session only, or install one "
                    "(on Linux: GNOME Keyring or KWallet) and restart Persona Studio.",
                )
            self._backend = backend
            return op(backend)

        try:
            return await run_with_timeout(blocking, self.timeout, what)
        except CredentialError:
            raise
        except Exception as exc:
            raise _plain_error(exc) from exc

    async def status(self) -> KeyringStatus:
        try:
            name = await self._call("status", _describe_backend)
        except CredentialError as exc:
            return KeyringStatus(False, "", str(exc))
        return KeyringStatus(True, name, f"Keys are kept in your system password store ({name}).")

    async def get(self, account: str) -> str | None:
        if account in self._session:
            return self._session[account]
        try:
            return await self._call("get", lambda b: b.get_password(self.service, account))
        except KeyringUnavailable:
            if self.session_memory_allowed:
                return None
            raise

    async def set(self, account: str, secret: str) -> str:
        """Store a secret; returns where it went: "keyring" or "session"."""
        if not secret:
            raise CredentialError("The key is empty.", "Paste the key, then save again.")
        try:
            await self._call("set", lambda b: b.set_password(self.service, account, secret))
        except KeyringUnavailable:
            if not self.session_memory_allowed:
                raise
            self._session[account] = secret
            return "session"
        self._session.pop(account, None)
        return "keyring"

    async def delete(self, account: str) -> None:
        self._session.pop(account, None)

        def op(backend: Any) -> None:
            from keyring.errors import PasswordDeleteError

            with contextlib.suppress(PasswordDeleteError):  # nothing stored: already gone
                backend.delete_password(self.service, account)

        try:
            await self._call("delete", op)
        except KeyringUnavailable:
            if not self.session_memory_allowed:
                raise
