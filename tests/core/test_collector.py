"""How long passes in worker threads share the interpreter lock with the window: they pause
between two slices, longer when the window wanted the lock meanwhile, and not at all where
no window waits (the command line)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from persona_studio.core import collector
from persona_studio.core.collector import GIVE_WAY_S, RELEASE_PAUSE_S, Pacer, with_pauses


class _Clock:
    """`time` as the pacer reads it: a wall clock and this thread's CPU time, moved by hand;
    its sleeps are recorded (and move the wall clock)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.slept: list[float] = []

    def perf_counter(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        return self.cpu

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.wall += seconds

    def work(self, cpu: float, kept_waiting: float = 0.0) -> None:
        self.cpu += cpu
        self.wall += cpu + kept_waiting


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr(collector, "time", clock)
    return clock


def in_a_worker_thread(work: Callable[[], object]) -> None:
    """`work` as a long pass runs it: in a thread other than the window's."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # (re-raised here, in the test's thread)
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def test_a_pass_gives_way_longer_once_it_was_kept_waiting(clock, monkeypatch) -> None:
    monkeypatch.setattr(collector, "_window", True)

    def work() -> None:
        pacer = Pacer()
        clock.work(0.004)  # alone: a short pause
        pacer.pause()
        clock.work(0.004, kept_waiting=0.003)  # the window wanted the lock: it goes on alone
        pacer.pause()
        clock.work(0.004, kept_waiting=0.0005)  # a timer's tick: a short pause again
        pacer.pause()

    in_a_worker_thread(work)
    assert clock.slept == [RELEASE_PAUSE_S, GIVE_WAY_S, RELEASE_PAUSE_S]


def test_on_the_windows_own_thread_nothing_pauses(clock, monkeypatch) -> None:
    """A pass the window's thread makes itself (a few rows, picked at once) never sleeps."""
    monkeypatch.setattr(collector, "_window", True)
    pacer = Pacer()
    clock.work(0.004, kept_waiting=0.003)
    pacer.pause()
    assert list(with_pauses(range(1_000), every=10)) == list(range(1_000))
    assert clock.slept == []


def test_without_a_window_nothing_pauses(clock, monkeypatch) -> None:
    monkeypatch.setattr(collector, "_window", False)

    def work() -> None:
        pacer = Pacer()
        clock.work(0.004, kept_waiting=0.003)
        pacer.pause()
        assert list(with_pauses(range(1_000), every=10)) == list(range(1_000))

    in_a_worker_thread(work)
    assert clock.slept == []


def test_with_pauses_pauses_after_every_slice(clock, monkeypatch) -> None:
    monkeypatch.setattr(collector, "_window", True)
    passed: list[int] = []
    in_a_worker_thread(lambda: passed.extend(with_pauses(range(1_000), every=100)))
    assert passed == list(range(1_000))
    assert clock.slept == [RELEASE_PAUSE_S] * 10
