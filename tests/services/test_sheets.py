"""Sheets sync with real gspread against the stateful fake Sheets API."""

from __future__ import annotations

import json
import os

import pytest
from gspread.http_client import HTTPClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.dataset import Example
from persona_studio.core.sheet_sync import example_to_row
from persona_studio.services.sheets import SheetsError, spreadsheet_key, sync_blocking
from tests.fakes.sheets_server import FakeSheets

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def fake() -> FakeSheets:
    return FakeSheets()


def _sync(fake: FakeSheets, snapshot, local, worksheet="Data"):
    http = fake.http()
    return sync_blocking(
        http, KEY, worksheet, snapshot, local, account="bot@x.iam", sleep=lambda _s: None
    )


def test_seed_layout_imports_and_gets_ids(fake: FakeSheets) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["QUESTION", "ANSWER"], ["q1", "a1"], ["007", "=1+1"]]})
    result = _sync(fake, {}, [])
    assert [(r["question"], r["answer"]) for r in result.plan.local_upserts] == [
        ("q1", "a1"),
        ("007", "=1+1"),
    ]
    rows = fake.rows(KEY, "Data")
    assert rows[0][:6] == ["QUESTION", "ANSWER", "id", "status", "tags", "conversation"]
    assert rows[1][2] and rows[2][2]  # ids written back
    assert result.requests == 3  # metadata, values, one batchUpdate


def test_request_budget_is_constant_and_only_changed_cells_are_written(fake) -> None:
    for size in (10, 10_000):
        examples = [Example.from_qa(f"q{i}", f"a{i}") for i in range(size)]
        local = [example_to_row(e) for e in examples]
        fake.add_spreadsheet(
            KEY, {"Data": [["id", "question", "answer", "status", "tags", "conversation"]]}
        )
        first = _sync(fake, {}, local)  # all appended
        assert first.requests == 3 and len(first.plan.appends) == size
        snapshot = first.plan.snapshot
        local[3] = {**local[3], "answer": "edited here"}
        fake.rows(KEY, "Data")[6][2] = "edited there"
        fake.rows(KEY, "Data").append(["", "typed", "by a friend"])
        local.append(example_to_row(Example.from_qa("new", "local")))
        fake.cells_written = 0
        fake.requests.clear()
        second = _sync(fake, snapshot, local)
        assert second.requests == 4  # metadata, values, batchUpdate, append
        assert len(fake.requests) == 4
        assert fake.cells_written == 1 + 1 + 6  # one edited cell, one id, one appended row
        assert {r["answer"] for r in second.plan.local_upserts} == {"edited there", "by a friend"}


def test_raw_round_trip_of_formula_like_text(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"]]})
    local = [
        example_to_row(Example.from_qa('=IMPORTXML("x")', "+1")),
        example_to_row(Example.from_qa("007", "@me")),
    ]
    result = _sync(fake, {}, local)
    rows = fake.rows(KEY, "Data")
    assert rows[1][:2] == ['=IMPORTXML("x")', "+1"] and rows[2][:2] == ["007", "@me"]
    again = _sync(fake, result.plan.snapshot, local)
    assert again.plan.empty and not again.plan.conflicts


def test_429_storm_is_retried(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["q", "a"]]})
    for _ in range(3):
        fake.fail_next(429, "Quota exceeded")
    result = _sync(fake, {}, [])
    assert len(result.plan.local_upserts) == 1 and result.requests == 3 + 3


@pytest.mark.parametrize(
    ("status", "message"), [(403, "Share the sheet with bot@x.iam"), (404, "not found")]
)
def test_access_errors_are_explained(fake, status, message) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"]]})
    fake.fail_next(status)
    with pytest.raises(SheetsError) as info:
        _sync(fake, {}, [])
    assert message in str(info.value)


def test_renamed_worksheet_and_lost_header(fake) -> None:
    fake.add_spreadsheet(KEY, {"Renamed": [["question", "answer"]]})
    with pytest.raises(SheetsError, match="no worksheet named “Data”"):
        _sync(fake, {}, [])
    fake.add_spreadsheet(KEY, {"Data": [["Q?", "A?"], ["x", "y"]]})
    with pytest.raises(SheetsError, match="header row"):
        _sync(fake, {}, [])


def test_no_network_is_explained() -> None:
    import requests
    from requests.adapters import BaseAdapter

    class Offline(BaseAdapter):
        def send(self, request, **kwargs):
            raise requests.ConnectionError("Network is unreachable")

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Offline())
    with pytest.raises(SheetsError, match="no network"):
        sync_blocking(
            HTTPClient(auth=None, session=session), KEY, "Data", {}, [], sleep=lambda _s: None
        )


@pytest.mark.parametrize(
    "answer",
    [
        b"<html><body>Sign in to the hotel Wi-Fi</body></html>",  # a captive portal
        b'{"range": "Data!A1:F3", "values": [["id", "question"], ["e1", "q',  # cut mid-answer
        b'{"values": [["id", "question", "answer"], "a row that is not a list"]}',
        b'{"values": [["id", "question", "answer"], [["a", "nested"]], {"id": 1}]}',
    ],
)
def test_an_answer_that_is_not_a_sheets_rows_is_said_and_changes_nothing(fake, answer) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["id", "question", "answer"], ["e1", "q", "a"]]})
    fake.answer_next(b'{"sheets": [{"properties": {"title": "Data", "sheetId": 0}}]}')
    fake.answer_next(answer)
    local = [example_to_row(Example.from_qa("new here", "a"))]
    with pytest.raises(SheetsError, match="could not read") as raised:
        _sync(fake, {}, local)
    assert "Nothing was changed" in raised.value.hint
    assert [method for method, _path in fake.requests] == ["GET", "GET"]
    assert fake.rows(KEY, "Data") == [["id", "question", "answer"], ["e1", "q", "a"]]


def _read(body: bytes):
    """What the sync reads from a values answer of `body`: its rows, or a `SheetsError`."""
    from persona_studio.services.sheets import _read_rows

    fake = FakeSheets()
    fake.add_spreadsheet(KEY, {"Data": []})
    fake.answer_next(body)
    return _read_rows(fake.http(), KEY, "Data")


def test_an_answer_nested_deep_is_refused_at_once() -> None:
    """ijson's own `items` follows each event's path: an answer nested 200,000 deep used
    memory until the process was killed. Nothing in a sheet's answer nests past its cells."""
    deep = 200_000
    for body in (
        b'{"values": [' + b"[" * deep + b"]" * deep + b"]}",
        b'{"range": ' + b"[" * deep + b"]" * deep + b', "values": [["a"]]}',
        b"[" * deep + b"]" * deep,
    ):
        with pytest.raises(SheetsError, match="could not read"):
            _read(body)
    assert _read(b'{"range": "A1", "values": [["a", 1], []], "x": {"y": [1]}}') == [["a", "1"], []]


JSON_SCALARS = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none())
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=int(os.environ.get("PERSONA_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(lambda value: json.dumps({"values": value}).encode()),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    ),
    st.integers(min_value=0, max_value=60),
)
def test_only_our_error_escapes_whatever_the_answer(body: bytes, cut: int) -> None:
    """Random bytes, any JSON under "values" or none, cut anywhere: the rows (each a list of
    texts) or the plain `SheetsError`, nothing else."""
    for answer in (body, body[: len(body) - cut]):
        try:
            rows = _read(answer)
        except SheetsError:
            continue
        assert all(isinstance(row, list) and all(isinstance(c, str) for c in row) for row in rows)


def test_rows_are_read_as_displayed_text_whatever_json_they_come_as(fake) -> None:
    """Numbers, booleans and escapes as Google may send them: each cell is its text."""
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"]]})
    fake.answer_next(b'{"sheets": [{"properties": {"title": "Data", "sheetId": 0}}]}')
    fake.answer_next(
        rb'{"range": "Data!A1:B3", "majorDimension": "ROWS", "values": [["question", "answer"],'
        rb' ["caf\u00e9 \"q\"", "line\nbreak \ud83d\ude00"], ["7", 2.50, true]]}'
    )
    result = _sync(fake, {}, [])
    texts = [(row["question"], row["answer"]) for row in result.plan.local_upserts]
    assert texts == [('café "q"', "line\nbreak 😀"), ("7", "2.50")]


def test_failure_between_writes_then_rerun_makes_no_duplicates(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["typed", "there"]]})
    local = [example_to_row(Example.from_qa("mine", "here"))]
    http = fake.http()
    # the batchUpdate (ids) goes through, then the append fails with 500s until retries run out
    original = fake._route

    def route(method, path, query, body):
        if path.endswith(":append"):
            return 500, {"error": {"code": 500, "message": "backend", "status": "INTERNAL"}}
        return original(method, path, query, body)

    fake._route = route
    with pytest.raises(SheetsError):
        sync_blocking(http, KEY, "Data", {}, local, sleep=lambda _s: None)
    fake._route = original
    result = sync_blocking(http, KEY, "Data", {}, local, sleep=lambda _s: None)
    rows = [r for r in fake.rows(KEY, "Data")[1:] if any(r)]
    assert sorted(r[0] for r in rows) == ["mine", "typed"]  # once each
    assert [r["question"] for r in result.plan.local_upserts] == ["typed"]


def test_spreadsheet_key_from_an_address() -> None:
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"
    assert spreadsheet_key(url) == KEY and spreadsheet_key(KEY) == KEY
    with pytest.raises(SheetsError):
        spreadsheet_key("https://example.com/not-a-sheet")


def test_an_append_applied_then_answered_5xx_lands_once(fake) -> None:
    """Issue 15 item 4: the server applied the append and answered 503; the blind retry
    added every row again (+20 rows per failure). Now the ids are read back first."""
    header = ["id", "question", "answer", "status", "tags", "conversation"]
    fake.add_spreadsheet(KEY, {"Data": [header]})  # nothing to write first: the append is
    local = [example_to_row(Example.from_qa(f"Q{n}?", f"A{n}.")) for n in range(20)]
    fake.apply_then_fail(503)
    waits: list[float] = []
    result = sync_blocking(fake.http(), KEY, "Data", {}, local, sleep=waits.append)
    rows = [r for r in fake.rows(KEY, "Data")[1:] if any(r)]
    assert sorted(r[1] for r in rows) == sorted(f"Q{n}?" for n in range(20))  # once each
    assert result.plan.summary()["appended"] == 20 and len(waits) == 1
    appends = [p for m, p in fake.requests if m == "POST" and p.endswith(":append")]
    assert len(appends) == 1  # the ids were read back instead of sending the rows again


def test_large_writes_go_in_pieces_under_googles_payload_limit(fake, monkeypatch) -> None:
    """Google recommends request bodies of at most 2 MB; a first link of 100,000 examples
    sent one of 60 MB. Appends and cell writes go in pieces under the limit, in order, each
    row once — also when a piece is applied and answered 503."""
    from persona_studio.services import sheets

    monkeypatch.setattr(sheets, "PAYLOAD_LIMIT", 3_000)
    header = ["id", "question", "answer", "status", "tags", "conversation"]
    fake.add_spreadsheet(KEY, {"Data": [header]})
    local = [example_to_row(Example.from_qa(f"Q{n}?", f"A{n} " + "x" * 80)) for n in range(60)]
    fake.apply_then_fail(503)  # the first piece lands, then the answer is lost
    first = sync_blocking(fake.http(), KEY, "Data", {}, local, sleep=lambda _s: None)
    rows = [r for r in fake.rows(KEY, "Data")[1:] if any(r)]
    assert [r[1] for r in rows] == [f"Q{n}?" for n in range(60)]  # once each, in order
    appends = [
        size for (m, p), size in zip(fake.requests, fake.payloads, strict=True)
        if m == "POST" and p.endswith(":append")
    ]  # fmt: skip
    assert len(appends) >= 3 and max(appends) < 3_600  # the text, and a little JSON around it
    fake.requests.clear()
    fake.payloads.clear()
    edited = [{**row, "answer": "y" * 200} for row in local]
    sync_blocking(fake.http(), KEY, "Data", first.plan.snapshot, edited, sleep=lambda _s: None)
    writes = [
        size for (m, p), size in zip(fake.requests, fake.payloads, strict=True)
        if m == "POST" and p.endswith(":batchUpdate")
    ]  # fmt: skip
    assert len(writes) >= 3 and max(writes) < 3_600
    assert all(r[2] == "y" * 200 for r in fake.rows(KEY, "Data")[1:] if any(r))


def test_a_damaged_snapshot_row_asks_instead_of_failing_the_sync(fake, tmp_path) -> None:
    """A snapshot row the file no longer reads is left out: that example is then new on both
    sides, so the sheet's different version is a conflict to settle, nothing is lost, and
    the sync does not fail with a raw error."""
    import asyncio

    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project
    from persona_studio.services.sheets import sync_project

    fake.add_spreadsheet(KEY, {"Data": [["id", "question", "answer"]]})
    link = {"key": KEY, "worksheet": "Data"}
    local = [Example.from_qa(f"Q{n}?", f"A{n}.") for n in range(3)]
    with Project.create(tmp_path / "s.persona", Persona(name="S"), examples=local) as project:
        asyncio.run(sync_project(fake.http(), project, link, project.examples()))
        damaged = local[1].id
        project._db.execute("UPDATE sync_rows SET row = '{broken' WHERE id = ?", (damaged,))
        row = next(r for r in fake.rows(KEY, "Data") if damaged in r)
        row[2] = "Changed in the sheet."
        result = asyncio.run(sync_project(fake.http(), project, link, project.examples()))
        assert [c.id for c in result.plan.conflicts] == [damaged]
        assert project.example(damaged).answer == "A1."  # kept until the creator chooses
        assert row[2] == "Changed in the sheet."


def test_a_429_waits_as_long_as_google_says(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["q", "a"]]})
    fake.fail_next(429, "quota", retry_after=17)
    waits: list[float] = []
    sync_blocking(fake.http(), KEY, "Data", {}, [], sleep=waits.append)
    assert waits == [17.0]


def test_an_unusable_google_sign_in_is_a_plain_error_not_a_traceback() -> None:
    """Issue 15 item 9: a Google token failure printed a traceback."""
    import json

    from google.auth.exceptions import RefreshError, TransportError

    from persona_studio.services.sheets import _Calls, oauth_client, service_account_client

    oauth_app = json.dumps(
        {"installed": {"client_id": "id", "client_secret": "s", "token_uri": "https://t"}}
    )
    for token in ("{not json", json.dumps({"refresh_token": "only this"})):
        with pytest.raises(SheetsError, match="cannot be used") as info:
            oauth_client(oauth_app, token)
        assert "Settings → Google Sheets" in info.value.hint
    with pytest.raises(SheetsError, match="service-account key"):
        service_account_client("{}")

    def refused():
        raise RefreshError("invalid_grant: Token has been expired or revoked.")

    def offline():
        raise TransportError("connection refused")

    calls = _Calls(object(), "", lambda _s: None)
    with pytest.raises(SheetsError, match="expired or was revoked"):
        calls.once("reading the rows", refused)
    with pytest.raises(SheetsError, match="Could not reach Google"):
        calls.once("reading the rows", offline)


@settings(
    # 30 in the suite; `benchmarks/faults.py --sync N` runs N
    max_examples=int(os.environ.get("PERSONA_SYNC_FAULTS", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    faults=st.lists(st.sampled_from(["applied_then_503", "503", "429"]), max_size=8),
    n_local=st.integers(0, 12),
    n_typed=st.integers(0, 6),
)
def test_a_faulty_network_never_duplicates_or_loses_rows(
    faults: list[str], n_local: int, n_typed: int, tmp_path_factory, monkeypatch
) -> None:
    """Issue 15: the sync over a network that fails in the ways the real one does — a write
    applied then answered 503, a 503 before anything happened, quota 429s — then a clean sync:
    every example is in the sheet exactly once and every typed row is in the project."""
    import asyncio
    import contextlib
    import time
    import types

    import persona_studio.services.sheets as sheets_module
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project
    from persona_studio.services.sheets import sync_project

    no_wait = types.SimpleNamespace(sleep=lambda _s: None, strftime=time.strftime)
    monkeypatch.setattr(sheets_module, "time", no_wait)
    fake = FakeSheets()
    typed = [[f"Typed {n}?", f"Yes {n}."] for n in range(n_typed)]
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], *typed]})
    for fault in faults:
        if fault == "applied_then_503":
            fake.apply_then_fail(503)
        elif fault == "503":
            fake.fail_next(503)
        else:
            fake.fail_next(429, "quota", retry_after=0)
    folder = tmp_path_factory.mktemp("faulty")
    local = [Example.from_qa(f"Local {n}?", f"Mine {n}.") for n in range(n_local)]
    link = {"key": KEY, "worksheet": "Data"}
    with Project.create(folder / "p.persona", Persona(name="P"), examples=local) as project:
        # may give up if every retry fails: nothing lost, the next sync finishes
        with contextlib.suppress(SheetsError):
            asyncio.run(sync_project(fake.http(), project, link, project.examples()))
        fake._fail.clear()
        fake._applied_then_fail.clear()
        asyncio.run(sync_project(fake.http(), project, link, project.examples()))
        examples = project.examples()
        rows = [r for r in fake.rows(KEY, "Data")[1:] if any(r)]
        header = fake.rows(KEY, "Data")[0]
        ids = [r[header.index("id")] for r in rows]
        assert len(ids) == len(set(ids))  # no duplicate in the sheet
        assert sorted(ids) == sorted(e.id for e in examples)  # the same rows on both sides
        questions = sorted(e.question for e in examples)
        assert questions == sorted([f"Local {n}?" for n in range(n_local)] + [t[0] for t in typed])


def test_a_column_with_no_header_is_never_taken_as_ours(fake) -> None:
    """A creator's extra column without a header (row 1 ends before it): our columns go after
    the last column any row uses, not into it."""
    fake.add_spreadsheet(
        KEY, {"Data": [["question", "answer"], ["q1", "a1", "my note"], ["q2", "a2"]]}
    )
    result = _sync(fake, {}, [])
    rows = fake.rows(KEY, "Data")
    assert rows[0][:6] == ["question", "answer", "", "id", "status", "tags"]
    assert rows[1][2] == "my note" and rows[1][3]  # the note stays; the id goes beside it
    assert {r["question"] for r in result.plan.local_upserts} == {"q1", "q2"}


def test_a_grid_narrower_than_our_columns_is_widened_first(fake) -> None:
    header = [f"col{i}" for i in range(24)] + ["question", "answer"]  # 26: the grid is full
    fake.add_spreadsheet(KEY, {"Data": [header, [""] * 24 + ["q", "a"]]})
    assert fake.grid(KEY, "Data")[1] == 26
    _sync(fake, {}, [])
    assert fake.grid(KEY, "Data")[1] == 30  # widened by the four columns we add
    assert fake.rows(KEY, "Data")[0][26:30] == ["id", "status", "tags", "conversation"]


def test_a_cell_over_50000_characters_is_said_and_the_rest_syncs(fake) -> None:
    fake.add_spreadsheet(
        KEY, {"Data": [["id", "question", "answer", "status", "tags", "conversation"]]}
    )
    fine = example_to_row(Example.from_qa("Short?", "Yes."))
    huge = example_to_row(Example.from_qa("Long?", "x" * 50_001))
    result = _sync(fake, {}, [fine, huge])
    assert [r[1] for r in fake.rows(KEY, "Data")[1:]] == ["Short?"]  # the header is whole
    assert "1 example is longer than the 50,000 characters" in result.notes[0]
    assert huge["id"] in result.notes[0]
    assert huge["id"] not in result.plan.snapshot  # so the next sync never reads a deletion
    again = _sync(fake, result.plan.snapshot, [fine, huge])
    assert again.plan.local_deletes == [] and "longer than" in again.notes[0]


def test_the_per_minute_quota_waits_a_minute_says_so_and_finishes(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["q", "a"]]})
    fake.per_minute = 2  # metadata and the read get through, the write hits the quota
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        fake.next_minute()

    result = sync_blocking(fake.http(), KEY, "Data", {}, [], sleep=wait)
    assert waits == [61.0]
    assert result.notes == [
        "Google's per-minute request limit was reached: the sync waited a minute."
    ]
    assert fake.rows(KEY, "Data")[1][2]  # the id was written after the wait


def test_an_empty_sheet_answers_without_values(fake) -> None:
    fake.add_spreadsheet(KEY, {"Data": []})
    local = [example_to_row(Example.from_qa("q", "a"))]
    result = _sync(fake, {}, local)
    assert len(result.plan.appends) == 1 and fake.rows(KEY, "Data")[1][1] == "q"
