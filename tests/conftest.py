"""Every test runs offscreen, with its own config/data folders and an in-memory keyring."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
import pytest

from tests import threads_check
from tests.fakes import secret_service
from tests.fakes.memory_keyring import MemoryKeyring

REQUIRE_REAL_KEYRING = "PERSONA_STUDIO_REQUIRE_REAL_KEYRING"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every per-user folder at tmp_path and the default keyring at memory."""
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(var, str(home / sub))
    # No test may reach the developer's own session bus (and so their real keyring).
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield home
    keyring.set_keyring(previous)


threads_check.install()  # PySide names made off the main thread fail the test (below)


@pytest.fixture(autouse=True)
def no_pyside_name_made_in_a_thread() -> Iterator[None]:
    yield
    made, threads_check.MADE[:] = list(threads_check.MADE), []
    assert not made, f"PySide names made off the main thread: {made}"


@pytest.fixture(scope="session")
def secret_service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private gnome-keyring on its own D-Bus; CI requires it, elsewhere it may be skipped."""
    if not secret_service.available():
        if os.environ.get(REQUIRE_REAL_KEYRING):
            pytest.fail("gnome-keyring-daemon and dbus-daemon are required (see .ci/run)")
        pytest.skip("gnome-keyring-daemon / dbus-daemon not installed")
    with secret_service.private_secret_service(tmp_path_factory.mktemp("secret-home")) as env:
        yield env


@pytest.fixture
def real_keyring(secret_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """The OS Secret Service backend, talking to the private gnome-keyring."""
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring

    for key, value in secret_service_env.items():
        monkeypatch.setenv(key, value)
    backend = SecretServiceKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture(scope="session")
def qasync_loop():
    """One qasync loop for the whole run, like the app's (closing loops between tests would
    leave Qt signal objects behind that late worker threads could still signal)."""
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    yield loop
    loop.close()


@pytest.fixture
def run_async(qasync_loop) -> Iterator[Callable]:
    """Run a coroutine on the qasync loop that GUI slots use.

    In the app that loop runs whenever Qt handles events. Tests also let Qt handle events
    outside `run` (qtbot.keyClicks, waitUntil), so for the whole test the loop is marked as
    the running one, as it would be in the app; otherwise a timer-started task would fail
    with "no running event loop".
    """
    asyncio.set_event_loop(qasync_loop)
    asyncio.events._set_running_loop(qasync_loop)

    def run(coro, timeout: float = 10.0):
        # Not qasync's run_until_complete: after run_forever it processes Qt events "one last
        # time" with asyncio's running loop already unset, so a task step dispatched there
        # fails with "no running event loop" (an app never sees that: it runs in one
        # run_forever for its whole life). This runs the loop until the future is done and
        # marks it running again before Qt handles anything else.
        future = asyncio.ensure_future(asyncio.wait_for(coro, timeout), loop=qasync_loop)
        future.add_done_callback(lambda _f: qasync_loop.stop())
        try:
            qasync_loop.run_forever()
        finally:
            asyncio.events._set_running_loop(qasync_loop)  # run_forever cleared it
        if not future.done():
            raise RuntimeError("the event loop stopped before the coroutine finished")
        return future.result()

    yield run
    # Cancel what the test left running (slots still awaiting), and let it unwind.
    pending = [t for t in asyncio.all_tasks(qasync_loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        run(asyncio.gather(*pending, return_exceptions=True))
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def counted_here(monkeypatch) -> list[str]:
    """The texts this process (the window's) counts tokens of: its encodings' only door. The
    counts earlier tests left in the cache are set aside, so every count goes through it."""
    from persona_studio.core import tokens

    texts: list[str] = []
    real = tokens._counter

    def counter(name: str):
        count = real(name)
        return lambda batch: texts.extend(batch) or count(batch)

    monkeypatch.setattr(tokens, "_counter", counter)
    monkeypatch.setattr(tokens, "_counts", {})
    return texts


def threads_calling(monkeypatch: Any, owner: Any, name: str) -> list[str]:
    """`owner.name` (a module's function, a class's method) wrapped for the test: the name of
    each calling thread goes to the list returned (is this work off the UI thread?)."""
    threads: list[str] = []
    original = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return threads


def copy_held_at(monkeypatch: Any, percent: int) -> threading.Event:
    """A model folder's copy (`local_export.copy_folder`) waits once it has said `percent`,
    until the returned event is set: a test stops it there, however fast the disk (a copy
    left to run can end between two looks of the test's)."""
    from persona_studio.services import local_export

    gate, copy = threading.Event(), local_export._copy_files

    def held(*args: Any) -> None:
        *rest, said = args

        def then_wait(done: int) -> None:
            said(done)
            if done >= percent:
                gate.wait(30)

        copy(*rest, then_wait)

    monkeypatch.setattr(local_export, "_copy_files", held)
    return gate


@contextlib.contextmanager
def file_taken(project: Any) -> Iterator[threading.Event]:
    """A worker thread has the project's file for the block (as an export's read or a copy
    has it, for seconds at 1,000,000 examples), or until the event it yields is set; the
    test fails after the block if the window's thread waited for it meanwhile (the worker
    then gave up after 10 s, not released)."""
    taken, release = threading.Event(), threading.Event()
    gave_up: list[bool] = []

    def hold() -> None:
        with project.held():
            taken.set()
            gave_up.append(not release.wait(10))

    worker = threading.Thread(target=hold, name="holds-the-file")
    worker.start()
    assert taken.wait(5)
    try:
        yield release
    finally:
        release.set()
        worker.join()
    assert gave_up == [False], "the window's thread waited for a worker that had the file"


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Await on the running loop until `predicate()` is true (GUI tests: async slots finish)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def ids_by_share(share: float, below: int, above: int) -> tuple[list[str], list[str]]:
    """Fixed example ids, the first of `f"{n:032x}"`: `below` of them whose bucket the voice
    check's `share` keeps aside, `above` of them it does not."""
    from persona_studio.core.test_set import bucket

    low: list[str] = []
    high: list[str] = []
    n = 0
    while len(low) < below or len(high) < above:
        example_id = f"{n:032x}"
        side = low if bucket(example_id) < share else high
        side.append(example_id)
        n += 1
    return low[:below], high[:above]


def approved_with_ids(ids: list[str]) -> list[Any]:
    """Approved question/answer examples with these ids."""
    from persona_studio.core.dataset import Example

    return [Example.from_qa(f"Q {i}?", "A.", status="approved", id=i) for i in ids]


def fill_the_disk(project: Any) -> int:
    """Cap an open project's file at its current size: the next page SQLite needs is refused
    with its own "database or disk is full" (SQLITE_FULL)."""
    db = project._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    return int(pages)


def damage_an_index(path: Path) -> None:
    """Scribble over a project's status index's root page: its examples still read (in
    position order, without that index), but SQLite's damage check finds it."""
    import sqlite3

    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'examples_by_status'")
    offset = (root.fetchone()[0] - 1) * page_size
    db.close()
    data = bytearray(path.read_bytes())
    data[offset + 8 : offset + page_size] = b"\xab" * (page_size - 8)
    path.write_bytes(bytes(data))
