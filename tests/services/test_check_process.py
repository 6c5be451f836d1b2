"""The readiness check in its worker process (large datasets): the same report as the check
in the app, cancelled between two steps, and a worker that dies or cannot start costs the
creator nothing but speed: the check runs in the app instead."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from array import array

import pytest

from persona_studio.core.dataset import Example, held_pair
from persona_studio.core.persona import Persona
from persona_studio.core.validation import PreflightCancelled, model_spec, preflight
from persona_studio.services import check_process
from persona_studio.services.check_process import MAX_RESTARTS, CheckProcess

SPEC = model_spec("gpt-4.1-mini-2025-04-14", {})
PERSONA = Persona(name="Rhea", avoid_topics=["medical dosage"], style_dont=["Never say 'as an AI'"])


def dataset(n: int = 1_200) -> list[Example]:
    examples = [
        Example.from_qa(
            f"How do I train for race {i}?", f"Start slow, week {i}.", status="approved"
        )
        for i in range(n)
    ]
    examples += [
        Example.from_qa("Same?", "The same answer twice.", status="approved"),
        Example.from_qa("Same?", "The same answer twice.", status="approved"),  # a duplicate
        Example.from_qa("", "An empty question.", status="approved"),
        Example.from_qa("Dose?", "Take a medical dosage of 5 mg.", status="approved"),
        Example(messages=[{"role": "user", "content": "only a question"}], status="approved"),
        Example.from_qa("Long?", "word " * 70_000, status="approved"),
    ]
    return examples


@pytest.fixture
def worker():
    process = CheckProcess()
    yield process
    process.close()


def test_the_worker_reports_what_the_app_would(worker) -> None:
    examples = dataset()
    here = preflight(examples, PERSONA, SPEC, test_share=0.1)
    progress: list[float] = []
    there = worker.run(
        examples, PERSONA, SPEC, test_share=0.1, progress=lambda f, _w: progress.append(f)
    )
    assert worker.pid is not None and worker.pid != os.getpid()
    assert there.tokens == here.tokens and list(there.tokens) == list(here.tokens)
    assert there.trained_ids == here.trained_ids and there.held_out == here.held_out
    assert there.issues == here.issues and len(there.issues) >= 4
    assert there.duplicate_groups == here.duplicate_groups != []
    assert there.summary() == here.summary()
    assert progress and progress == sorted(progress)  # the worker said how far it was
    pid = worker.pid
    again = worker.run(examples[:10], PERSONA, SPEC)  # the same warm process, a new dataset
    assert worker.pid == pid and len(again.tokens) == 10


def children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (Linux's /proc)."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                found += map(int, listed.read().split())
    return found


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        user, system = stat.read().rsplit(")", 1)[1].split()[11:13]
    return int(user) + int(system)


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads Linux's /proc")
def test_the_worker_has_a_helper_that_counts_and_is_let_go_when_idle(worker) -> None:
    """Issue 21: a large check's tokens are counted in part by a second process, which the
    worker starts; its encodings' tables (~85 MB) go with it once it is idle, and a later large
    check starts another."""
    examples = dataset(20_000)
    expected = preflight(examples, PERSONA, SPEC)
    worker.helper_idle_s = 2.0  # from the last message
    assert worker.run(examples, PERSONA, SPEC).tokens == expected.tokens
    [helper] = children(worker.pid)  # started as the first check's examples came
    assert helper not in (worker.pid, os.getpid())
    assert cpu_ticks(helper) >= 5  # it counted: 40,000 texts take ~0.2 s

    assert wait_for(lambda: children(worker.pid) == [])  # idle: let go
    # an edit's few texts are counted in the worker: no helper starts for them
    edited = [Example.from_qa("How far today?", "Ten minutes, easy."), *examples[1:]]
    assert worker.run(edited, PERSONA, SPEC).tokens == preflight(edited, PERSONA, SPEC).tokens
    assert children(worker.pid) == []
    # many new texts: a new helper counts its share of them
    more = dataset(20_000)[:-6] + [
        Example.from_qa(f"Which shoe for trail {i}?", f"A grippy one, size {i}.")
        for i in range(4_000)
    ]
    counted_here = preflight(more, PERSONA, SPEC).tokens  # before: the helper idles 2 s at most
    assert worker.run(more, PERSONA, SPEC).tokens == counted_here
    [newer] = children(worker.pid)
    assert newer != helper and cpu_ticks(newer) >= 1

    # the worker dies: its helper goes too (its pipe closed), and a new worker checks; a
    # project of 50 examples has no helper at all
    worker_pid = worker.pid
    os.kill(worker_pid, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{newer}") or _zombie(newer))
    assert worker.run(examples[:50], PERSONA, SPEC).tokens == dict(
        list(expected.tokens.items())[:50]
    )
    assert worker.pid != worker_pid and children(worker.pid) == []
    last = worker.pid
    worker.close()
    assert not os.path.exists(f"/proc/{last}") or _zombie(last)


def _zombie(pid: int) -> bool:
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    return True


def test_python_exits_with_a_worker_running() -> None:
    """The worker is not daemonic (it starts its helper): Python's exit stops it, and does not
    wait for it."""
    code = (
        "from persona_studio.services.check_process import CheckProcess\n"
        "worker = CheckProcess()\n"
        "print(worker.count_tokens('Hello world', ['o200k_base'])['o200k_base'], worker.pid)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    counted, pid = done.stdout.split()
    assert counted == "2"
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(int(pid)), 5)


def test_python_exits_while_a_thread_still_asks_the_worker() -> None:
    """A thread counting for the window as the app closes (a daemon thread: Python does not
    wait for it) started a new worker once the exit had stopped the last one, and the exit
    then waited for that one forever. No new worker starts then. (The thread's ask is made
    here by an exit hook that runs between the worker's and multiprocessing's, where the
    thread's landed when the exit hung.)"""
    code = (
        "import atexit, multiprocessing.util\n"
        "from persona_studio.services.check_process import CheckProcess\n"
        "worker = CheckProcess()\n"
        "atexit.register(lambda: print(worker.count_tokens('Hi there', ['o200k_base'])))\n"
        "print(worker.count_tokens('Hello', ['o200k_base']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["{'o200k_base':", "1}", "{'o200k_base':", "2}"]


def test_a_stopped_check_stops_in_the_worker_and_the_next_one_runs(worker) -> None:
    examples = dataset(30_000)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(PreflightCancelled):
        worker.run(examples, PERSONA, SPEC, cancel=cancel)
    assert time.monotonic() - started < 10  # the whole check takes far longer cold
    report = worker.run(examples[:50], PERSONA, SPEC)
    assert len(report.tokens) == 50  # not the stopped check's answer


def test_a_worker_that_dies_is_replaced_and_the_check_still_answers(worker) -> None:
    examples = dataset(300)
    expected = preflight(examples, PERSONA, SPEC).tokens
    worker.run(examples, PERSONA, SPEC)
    os.kill(worker.pid, signal.SIGKILL)
    worker._process.join(5)  # it died while the app was not checking
    assert worker.run(examples, PERSONA, SPEC).tokens == expected  # a new worker
    assert worker.failures == 0

    # killed while it checks: this check runs in the app, the next one in a new worker
    cancel = threading.Event()
    big = dataset(30_000)
    killer = threading.Timer(0.3, lambda: os.kill(worker.pid, signal.SIGKILL))
    killer.start()
    assert len(worker.run(big, PERSONA, SPEC, cancel=cancel).tokens) == len(big)
    assert worker.failures == 1 and worker.usable


def test_a_worker_that_cannot_start_leaves_the_check_in_the_app(worker, monkeypatch) -> None:
    import multiprocessing.context

    starts: list[int] = []

    def refuse(self) -> None:
        starts.append(1)
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refuse)
    examples = dataset(100)
    expected = preflight(examples, PERSONA, SPEC).tokens
    for _ in range(MAX_RESTARTS + 2):
        assert worker.run(examples, PERSONA, SPEC).tokens == expected
    assert len(starts) == MAX_RESTARTS and not worker.usable  # it stops trying


def test_the_worker_counts_a_prompt_between_checks_and_the_app_when_it_cannot(
    worker, monkeypatch
) -> None:
    """A prompt is counted in the worker, so the window never loads the encodings (~90 MB);
    the counts are the app's own, before and after a check; many texts, in their order."""
    from persona_studio.core.tokens import ENCODINGS, count_tokens

    prompt = "You are Rhea, a running coach. <|endoftext|> Émoji 🏃‍♀️ " * 40
    expected = {name: count_tokens(prompt, name) for name in ENCODINGS}
    assert worker.count_tokens(prompt, ENCODINGS) == expected
    pid = worker.pid
    assert pid is not None and pid != os.getpid()
    examples = dataset(50)
    assert worker.run(examples, PERSONA, SPEC).tokens == preflight(examples, PERSONA, SPEC).tokens
    assert worker.count_tokens("Hello world", ["cl100k_base"]) == {"cl100k_base": 2}
    texts = ["Hello world", prompt, "", "Hello world"]
    many = {name: [count_tokens(text, name) for text in texts] for name in ENCODINGS}
    assert worker.count_texts(texts, ENCODINGS) == many
    assert worker.pid == pid  # the same warm process

    os.kill(pid, signal.SIGKILL)  # dies while idle: a new worker counts
    worker._process.join(5)
    assert worker.count_tokens(prompt, ENCODINGS) == expected and worker.pid != pid

    import multiprocessing.context

    def refuse(self) -> None:
        raise OSError("Resource temporarily unavailable")

    worker.close()
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refuse)
    assert worker.count_tokens(prompt, ENCODINGS) == expected  # counted here instead
    assert worker.count_texts(texts, ENCODINGS) == many
    assert worker.failures == 2


def test_the_worker_learns_what_candidates_are_compared_with(worker) -> None:
    """The Generate dialog's comparison texts, made by the worker from the examples its last
    check held, find what the same texts learnt here find; for other examples it declines."""
    from persona_studio.core.duplicates import DuplicateFinder
    from persona_studio.core.generation import known_examples

    examples = [*dataset(300), Example.from_qa("Émile’s tempo run?", "Run it 🏃 at a talk pace.")]
    assert worker.known_texts(examples) is None  # no check has sent it these yet
    worker.run(examples, PERSONA, SPEC)
    known = worker.known_texts(examples)
    assert known is not None
    there, here = DuplicateFinder.knowing(known), known_examples(examples)
    asked = [
        "How do I train for race 7?",  # exactly one
        "how do i train for RACE 7",  # the same, once normalised
        "Start slow, week 12!",  # an answer: labelled with its question
        "Run it 🏃 at a talk pace",
        "émile’s tempo run",
        "How do I train for race 7 and rest?",  # near one
        "Something else entirely, about shoes.",  # none
        "",
    ]
    assert [there.find(text) for text in asked] == [here.find(text) for text in asked]
    assert [there.find(text) for text in asked[:5]] == [
        "How do I train for race 7?",
        "How do I train for race 7?",
        "How do I train for race 12?",
        "Émile’s tempo run?",
        "Émile’s tempo run?",
    ]
    changed = [*examples[:-1], Example.from_qa("New?", "A new one.")]
    assert worker.known_texts(changed) is None  # not what it holds: the caller learns them
    stop = threading.Event()
    stop.set()
    assert worker.known_texts(examples, stop) is None  # stopped: the examples changed
    assert worker.known_texts(examples) is not None  # and the pipe is in step after it
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    worker._process.join(5)
    assert worker.known_texts(examples) is None  # not an empty one from a new worker


def test_learning_the_texts_pauses_for_a_count_and_goes_on(worker) -> None:
    """A count (or a check) asked for while the worker learns the texts is answered at once:
    the learning pauses for it, then goes on to the end."""
    from persona_studio.core.duplicates import DuplicateFinder

    examples = dataset(30_000)
    worker.run(examples, PERSONA, SPEC)
    learnt: list[object] = []
    learning = threading.Thread(target=lambda: learnt.append(worker.known_texts(examples)))
    learning.start()
    while not worker._lock.locked():
        time.sleep(0.001)
    assert worker.count_texts(["Hello world"], ["cl100k_base"]) == {"cl100k_base": [2]}
    assert learning.is_alive()  # (30,000 examples: seconds)
    learning.join()
    [known] = learnt
    assert known is not None
    finder = DuplicateFinder.knowing(known)
    assert finder.find("how do i train for race 29998") == "How do I train for race 29998?"
    assert finder.find("Start slow, week 3.") == "How do I train for race 3?"


def test_the_worker_loads_no_qt() -> None:
    code = (
        "import sys, persona_studio.services.check_process as c;"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt in the worker'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert check_process.serve.__module__ == "persona_studio.services.check_process"


def test_a_recheck_sends_only_what_changed_and_sees_every_change(worker, monkeypatch) -> None:
    examples = dataset(3_000)
    monkeypatch.setattr(check_process, "COMPARE_SLICE", 1_000)  # three slices and a short one
    sent: list[int] = []
    worker.run(examples, PERSONA, SPEC)
    real_send = worker._conn.send_bytes
    monkeypatch.setattr(worker._conn, "send_bytes", lambda b: sent.append(len(b)) or real_send(b))
    edited = Example.from_qa("How do I train for race 7?", "Walk first.", status="approved")
    edited.id = examples[7].id  # an edit: a new object in the old one's place
    added = Example.from_qa("New?", "A new answer.", status="approved")
    after = [*examples[:7], edited, *examples[9:], added]  # example 8 deleted
    report = worker.run(after, PERSONA, SPEC)
    assert report.tokens == preflight(after, PERSONA, SPEC).tokens
    assert examples[8].id not in report.tokens
    full = sum(len(pickle.dumps(e)) for e in after)
    assert sum(sent) < full / 3  # ids and two examples, not the dataset


def test_a_worker_out_of_step_is_answered_here_then_sent_everything(worker, monkeypatch) -> None:
    examples = dataset(200)
    worker.run(examples, PERSONA, SPEC)
    here: list[int] = []
    real = check_process.preflight
    monkeypatch.setattr(check_process, "preflight", lambda *a, **k: here.append(1) or real(*a, **k))
    unknown = Example.from_qa("Never sent?", "Never.", status="approved")
    worker._sent.append(unknown)  # the app believes the worker has it: it does not
    worker._sent_ids.append(unknown.id)
    after = [*examples, unknown]
    assert worker.run(after, PERSONA, SPEC).tokens == real(after, PERSONA, SPEC).tokens
    assert here == [1]  # the worker said it failed; this check ran in the app
    assert worker.run(after, PERSONA, SPEC).tokens == real(after, PERSONA, SPEC).tokens
    assert here == [1] and worker.failures == 0  # then everything was sent: back in step


def test_rechecks_through_the_worker_match_a_check_from_nothing(worker, monkeypatch) -> None:
    """Edits, approvals, deletes, inserts, a new order, a stopped check, another test share
    and another persona, in turn: each report from the worker, built from what changed on
    both sides, equals a check of everything in the app."""
    import dataclasses
    import random

    rng = random.Random(21)
    monkeypatch.setattr(check_process, "COMPARE_SLICE", 97)  # compared in many slices
    examples = dataset(1_500)
    examples += [Example.from_qa(e.question, e.answer + " again") for e in examples[:30:3]]
    answered: list[str] = []
    real_report = check_process._report
    monkeypatch.setattr(
        check_process, "_report", lambda *a: answered.append(a[1][0]) or real_report(*a)
    )
    sent: list[int] = []
    persona, share = PERSONA, 0.1

    def check(rounds: str) -> None:
        report = worker.run(examples, persona, SPEC, test_share=share)
        fresh = preflight(examples, persona, SPEC, test_share=share)
        assert report.tokens == fresh.tokens, rounds
        assert report.trained_ids == fresh.trained_ids and report.held_out == fresh.held_out
        assert report.issues == fresh.issues and list(report.issues) == list(fresh.issues)
        assert report.duplicate_groups == fresh.duplicate_groups
        assert report.summary() == fresh.summary()

    check("first")
    real_send, real_recv = worker._conn.send_bytes, worker._conn.recv
    monkeypatch.setattr(worker._conn, "send_bytes", lambda b: sent.append(len(b)) or real_send(b))
    reports: list[int] = []

    def recv():
        message = real_recv()
        if message[0] == "report":
            reports.append(len(pickle.dumps(message)))
        return message

    monkeypatch.setattr(worker._conn, "recv", recv)
    for round_ in range(8):
        sent.clear()
        reports.clear()
        examples = list(examples)
        for at in rng.sample(range(len(examples)), 3):  # edits: new objects, same ids
            examples[at] = dataclasses.replace(
                examples[at],
                messages=[
                    *examples[at].messages[:-1],
                    {"role": "assistant", "content": f"Edited {round_}."},
                ],
            )
        for at in rng.sample(range(len(examples)), 5):
            examples[at] = dataclasses.replace(examples[at], status="draft")
        check(f"edits {round_}")
        assert sum(sent) < 20_000 and answered[-1] == "changed"  # a few examples each way
        assert reports and max(reports) < 10_000  # no list of ids: the trained ones as a mask
        if round_ % 2:
            del examples[rng.randrange(len(examples))]
            examples.insert(rng.randrange(len(examples)), Example.from_qa("New?", "Yes, new."))
            check(f"delete and insert {round_}")
        if round_ == 3:
            examples.sort(key=lambda e: e.question)
            check("a new order")
        if round_ == 4:  # stopped before it could finish; then edited again
            cancel = threading.Event()
            cancel.set()
            examples[0] = dataclasses.replace(examples[0], status="approved")
            with contextlib.suppress(PreflightCancelled):
                worker.run(examples, persona, SPEC, test_share=share, cancel=cancel)
            examples[1] = dataclasses.replace(examples[1], status="approved")
            check("after a stopped check")
        if round_ == 5:
            share = 0.3
            check("another test share")
        if round_ == 6:
            persona = Persona(name="Rhea", description="Longer now.", avoid_topics=["race 7"])
            check("another persona")
    assert worker.failures == 0 and answered.count("all") == 1  # the first check only


def test_a_large_check_pauses_the_collector_here_and_freezes_what_it_keeps(
    worker, monkeypatch
) -> None:
    """Issue 21: sending 1,000,000 examples makes lists of all of them (their ids, the copy kept
    to compare the next check with), and the collector's passes over them held the lock beside
    the window 40–110 ms at a time. The worker process does the same with what it holds."""
    import gc

    monkeypatch.setattr(check_process, "FREEZE_FROM", 20)
    examples = dataset(30)
    paused: list[bool] = []
    real = check_process._changes
    monkeypatch.setattr(
        check_process, "_changes", lambda *a: paused.append(gc.isenabled()) or real(*a)
    )
    try:
        report = worker.run(examples, PERSONA, SPEC)
        assert report.tokens == preflight(examples, PERSONA, SPEC).tokens
        assert paused == [False] and gc.isenabled()
        assert id(worker._sent) not in {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()


def test_many_changed_counts_come_back_as_all_of_them(monkeypatch) -> None:
    """A few changed token counts cross as a dict of them; past `CHANGED_AT_MOST` (another
    base model changes every count), as all of them in order, which the app unpacks a slice at
    a time (a dict of a million is unpickled in one call that holds the app's lock ~0.5 s)."""
    monkeypatch.setattr(check_process, "CHANGED_AT_MOST", 3)
    held = check_process._Held()
    held.ids = [f"e{n}" for n in range(10)]
    held.cache.results = {i: (None, n, (), "") for n, i in enumerate(held.ids)}
    held.cache.moved = dict.fromkeys(held.ids)
    assert held.token_counts(0, 1)[0] == "all"  # the first report: the app holds none
    held.cache.moved = dict.fromkeys(held.ids[:2])
    assert held.token_counts(1, 2) == ("changed", 1, {"e0": 0, "e1": 1}, [])
    held.cache.moved = dict.fromkeys(held.ids[2:6])  # four since the app's report 2
    kind, counts = held.token_counts(2, 3)
    assert kind == "all" and list(array("q", counts)) == list(range(10))
    held.cache.moved = {"e9": None}
    assert held.token_counts(3, 4) == ("changed", 3, {"e9": 9}, [])


class _Part(bytes):
    """A part's bytes that say when they are let go."""

    freed: list[int]

    def __del__(self) -> None:
        self.freed.append(self.n)


def test_the_worker_takes_in_a_part_before_it_reads_the_next() -> None:
    """A check's examples are read from the pipe a part at a time: all of their bytes held at
    once added ~55 MB to the worker's peak at 100,000 examples (~0.6 GB at 1,000,000)."""
    examples = dataset(40)[:40]
    freed: list[int] = []

    def parts(kind: str):
        for n in range(4):
            chunk = examples[10 * n : 10 * n + 10]
            head = list(range(10 * n, 10 * n + 10)) if kind == "same" else [e.id for e in chunk]
            part = _Part(pickle.dumps((head, chunk)))
            part.n, part.freed = n, freed
            assert freed == list(range(n))  # the part before it was taken in, and let go
            yield part
            del part

    held = check_process._Held()
    received = held.receive("ids", parts("ids"))
    plain = [held_pair(e) for e in held.examples]  # each held as its pair as it came
    assert plain == [(e.question, e.answer) for e in examples]
    assert received == examples and held.examples == examples  # (`==` decodes them)
    assert held.ids == [e.id for e in examples]
    freed.clear()
    assert held.receive("same", parts("same")) == examples
    assert freed == [0, 1, 2, 3]


def test_a_check_that_fails_on_a_part_leaves_the_pipe_in_step(worker, monkeypatch) -> None:
    """The worker finds the app's examples are not its own in the first of several parts: it
    reads the rest before it answers, so its next message is the next check's, and the check
    after the one run in the app is the worker's again."""
    examples = dataset(300)
    worker.run(examples, PERSONA, SPEC)
    here: list[int] = []
    real = check_process.preflight
    monkeypatch.setattr(check_process, "preflight", lambda *a, **k: here.append(1) or real(*a, **k))
    monkeypatch.setattr(check_process, "SLICE", 10)
    # the app believes the worker holds example 1 first: its edit of it goes to position 0
    worker._sent_ids[0], worker._sent[0] = examples[1].id, examples[1]
    after = [Example.from_qa("Swapped?", "Yes.", status="approved"), *examples[1:]]
    after[0].id = examples[1].id
    after[1:60] = [Example.from_qa(e.question, "Edited.", status="approved") for e in after[1:60]]
    for edited, before in zip(after[1:60], examples[1:60], strict=True):
        edited.id = before.id
    assert worker.run(after, PERSONA, SPEC).tokens == real(after, PERSONA, SPEC).tokens
    assert here == [1]  # six parts were sent; the worker failed on the first
    fixed = [examples[0], *after[1:]]
    assert worker.run(fixed, PERSONA, SPEC).tokens == real(fixed, PERSONA, SPEC).tokens
    assert here == [1] and worker.failures == 0


def test_the_worker_keeps_the_band_keys_and_a_new_worker_reads_them(worker) -> None:
    """The near-duplicate search's band keys are kept in the user's cache folder; a new worker
    (the app run again) reads them instead of signing the texts: here, from a file changed to
    say no text has words, so it finds no near duplicates."""
    import sqlite3

    examples = dataset(400)
    expected = preflight(examples, PERSONA, SPEC)
    assert expected.duplicate_groups
    assert worker.run(examples, PERSONA, SPEC).duplicate_groups == expected.duplicate_groups

    def kept() -> int:  # written once the report is sent
        with contextlib.closing(sqlite3.connect(worker.store)) as db:
            return int(db.execute("SELECT COUNT(*) FROM band_keys").fetchone()[0])

    assert wait_for(lambda: kept() >= 400)
    worker.close()  # the app quits
    with contextlib.closing(sqlite3.connect(worker.store)) as db, db:
        db.execute("UPDATE band_keys SET value = x''")
    assert worker.run(examples, PERSONA, SPEC).duplicate_groups == []


def test_a_worker_that_crashes_leaves_its_stack_in_the_apps_log(worker, caplog) -> None:
    """A hard crash of the worker (a segmentation fault: no Python handler sees it) is written
    by faulthandler to its own record in the app's data folder; the app, finding it gone,
    logs the stack with its warning (the app's log file keeps it) and starts a new one."""
    worker.count_tokens("Warm it up.", ("o200k_base",))  # started, its record begun
    os.kill(worker.pid, signal.SIGSEGV)  # as a crash in its C code would
    worker._process.join(5)
    with caplog.at_level("WARNING", logger=check_process.__name__):
        assert worker.count_tokens("Still counted.", ("o200k_base",))["o200k_base"] > 0  # anew
    said = caplog.text
    assert "worker process had stopped (exit code -11); its record:" in said
    assert "Fatal Python error: Segmentation fault" in said and "in serve" in said
    record = worker.crashes / "crash-check-worker.log"
    assert record.is_file() and "=== started" in record.read_text("utf-8")
