"""Sync the dataset with a Google Sheet through gspread, in a constant number of requests.

One sync = the spreadsheet's metadata, one values read, at most one `values:batchUpdate` (every
changed cell and every id given to a row a collaborator typed) and at most one append (new local
rows): 4 requests whatever the sheet's size. Values are written RAW (a cell "=IMPORTXML(...)" or
"+1" stays text) and read as displayed text ("007" stays "007"). 429 and 5xx are retried with
backoff on the worker thread; everything else becomes a plain message, and nothing local changes
unless the sheet accepted every write (a failed sync is safe to run again).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from persona_studio.core.collector import FREEZE_FROM, collector_paused, release
from persona_studio.core.errors import UserFacingError
from persona_studio.core.sheet_sync import COLUMNS, Row, SheetRow, SyncPlan, plan_sync

if TYPE_CHECKING:
    from persona_studio.core.dataset import Example
    from persona_studio.core.project import Project

T = TypeVar("T")
RETRIES = 6
REQUEST_TIMEOUT = 30.0  # seconds for any one request to Google Sheets
READ_PIECE = 65_536  # bytes of the rows' answer read and parsed at a time
HEADER_ALIASES = {
    "id": ("id",),
    "question": ("question",),
    "answer": ("answer",),
    "status": ("status",),
    "tags": ("tags",),
    "conversation": ("conversation", "messages"),
}


class SheetsError(UserFacingError):
    pass


def spreadsheet_key(text: str) -> str:
    """The key from a sheet's address (…/spreadsheets/d/KEY/…) or the key itself."""
    text = text.strip()
    match = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", text)
    if match:
        return match.group(1)
    if re.fullmatch(r"[A-Za-z0-9_-]{20,}", text):
        return text
    raise SheetsError(
        "This is not a Google Sheets address.",
        "Copy the address from your browser while the sheet is open.",
    )


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _quoted(worksheet: str) -> str:
    return "'" + worksheet.replace("'", "''") + "'"


@dataclass
class SyncResult:
    plan: SyncPlan
    requests: int
    account: str = ""
    notes: list[str] = field(default_factory=list)  # what the creator should know (plain words)


CELL_LIMIT = 50_000  # characters Google Sheets keeps in one cell
# Characters of cell text per write request: Google recommends payloads of at most 2 MB
# (developers.google.com/sheets/api/limits, "Request payload", read 2026-12-03). A first link
# of 100,000 examples was one 60 MB request; now about 30, each well under the limit.
PAYLOAD_LIMIT = 1_500_000
QUOTA_WAIT = 61.0  # seconds: a per-minute quota is over once its minute is


class _Retryable(Exception):
    """A call that may or may not have been applied (429, 5xx, a timeout, a dropped line)."""

    def __init__(self, wait: float | None, cause: Exception) -> None:
        super().__init__(str(cause))
        self.wait, self.cause = wait, cause


class _Calls:
    """gspread calls with backoff on 429/5xx and plain errors for everything else."""

    def __init__(self, http: Any, account: str, sleep: Callable[[float], None]) -> None:
        self.http, self.account, self.sleep, self.count = http, account, sleep, 0
        self.notes: list[str] = []
        if hasattr(http, "set_timeout"):
            http.set_timeout(REQUEST_TIMEOUT)  # every request: a silent server never hangs a sync

    def once(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """One attempt: the result, a `_Retryable`, or a plain `SheetsError`."""
        import google.auth.exceptions
        import gspread
        import requests

        self.count += 1
        try:
            return fn(*args)
        except gspread.exceptions.APIError as exc:
            status = exc.response.status_code
            if status == 429 and _retry_after(exc.response) is None and "per minute" in str(exc):
                # Google's per-minute quota: a minute's wait, said, and the sync goes on
                note = "Google's per-minute request limit was reached: the sync waited a minute."
                if note not in self.notes:
                    self.notes.append(note)
                raise _Retryable(QUOTA_WAIT, exc) from exc
            if status == 429 or status >= 500:
                raise _Retryable(_retry_after(exc.response), exc) from exc
            raise self._explain(status, what) from exc
        except google.auth.exceptions.RefreshError as exc:  # expired, revoked, or deleted key
            raise SheetsError(
                "Google refused the saved sign-in (it expired or was revoked).",
                "Sign in again in Settings → Google Sheets (in the app), then sync. Nothing was "
                "changed.",
            ) from exc
        except google.auth.exceptions.TransportError as exc:  # the refresh could not get out
            raise SheetsError(
                "Could not reach Google to renew the sign-in (no network?).",
                "Nothing was changed. Sync again when you are online.",
            ) from exc
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout) or not _was_sent(exc):
                raise SheetsError(
                    "Could not reach Google Sheets (no network?).",
                    "Nothing was changed. Sync again when you are online.",
                ) from exc
            raise _Retryable(None, exc) from exc
        except requests.exceptions.RequestException as exc:
            raise SheetsError(
                "Could not reach Google Sheets (no network?).",
                "Nothing was changed. Sync again when you are online.",
            ) from exc

    def __call__(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """For reads and idempotent writes (the same cells set again): retried as they are."""
        delay = 1.0
        for attempt in range(RETRIES):
            try:
                return self.once(what, fn, *args)
            except _Retryable as retry:
                if attempt == RETRIES - 1:
                    raise self._gave_up(retry, what) from retry.cause
                self.sleep(retry.wait if retry.wait is not None else delay)
                delay = min(32.0, delay * 2)
        raise AssertionError("unreachable")

    def _gave_up(self, retry: _Retryable, what: str) -> SheetsError:
        import gspread

        if isinstance(retry.cause, gspread.exceptions.APIError):
            return self._explain(retry.cause.response.status_code, what)
        return SheetsError(
            f"Google Sheets stopped answering while {what}.",
            "Sync again later: nothing is lost, and nothing is added twice.",
        )

    def _explain(self, status: int, what: str) -> SheetsError:
        if status == 403:
            who = f" with {self.account}" if self.account else ""
            return SheetsError(
                "Google refused access to this spreadsheet.",
                f"Share the sheet{who} as Editor, then sync again.",
            )
        if status == 404:
            return SheetsError(
                "The spreadsheet was not found (deleted, or a wrong address).",
                "Open it in your browser and copy its address again.",
            )
        if status == 429:
            return SheetsError(
                "Google Sheets is busy (too many requests).",
                "Wait a minute, then sync again. Nothing was lost.",
            )
        return SheetsError(
            f"Google Sheets answered with an error ({status}) while {what}.",
            "Nothing local was changed. Try again later.",
        )


def _unusable_sign_in(what: str, exc: Exception) -> SheetsError:
    return SheetsError(
        f"The {what} saved for Google Sheets cannot be used ({type(exc).__name__}).",
        "Choose it again in Settings → Google Sheets (in the app), then sync.",
    )


def _retry_after(response: Any) -> float | None:
    """Seconds Google asks us to wait (Retry-After), within one quota minute."""
    try:
        value = float(response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return min(60.0, max(0.0, value))


def _was_sent(exc: Exception) -> bool:
    """A read timeout or a line dropped after sending: the server may have applied it."""
    import requests

    return isinstance(exc, requests.exceptions.ReadTimeout) or "Connection aborted" in str(exc)


def _append_once_each(
    call: _Calls,
    http: Any,
    key: str,
    worksheet: str,
    rows: list[list[str]],
    ids: list[str],
    id_column: int,
) -> None:
    """Append rows so each lands exactly once: after an attempt that may have been applied
    (a 5xx, a timeout), the id column is read again and only the rows missing are sent."""
    pending = list(zip(ids, rows, strict=True))
    delay = 1.0
    for attempt in range(RETRIES):
        try:
            call.once(
                "adding the new rows",
                http.values_append,
                key,
                f"{_quoted(worksheet)}!A1",
                {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                {"values": [row for _id, row in pending]},
            )
            return
        except _Retryable as retry:
            if attempt == RETRIES - 1:
                raise call._gave_up(retry, "adding the new rows") from retry.cause
            call.sleep(retry.wait if retry.wait is not None else delay)
            delay = min(32.0, delay * 2)
        letter = column_letters(id_column)
        present = call(
            "checking which new rows arrived",
            http.values_get,
            key,
            f"{_quoted(worksheet)}!{letter}:{letter}",
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "COLUMNS"},
        )
        arrived = {str(v) for column in present.get("values", []) for v in column}
        pending = [(row_id, row) for row_id, row in pending if row_id not in arrived]
        if not pending:
            return


def _header_map(header: list[str]) -> dict[str, int]:
    lowered = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for column, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                found[column] = lowered.index(alias)
                break
    return found


def sync_blocking(
    http: Any,
    key: str,
    worksheet: str,
    snapshot: dict[str, Row],
    local_rows: Iterable[Row],
    *,
    account: str = "",
    create: bool = False,
    sleep: Callable[[float], None] | None = None,  # default: time.sleep (seen at call time)
) -> SyncResult:
    """The whole sync on the calling (worker) thread. Does not touch the project.
    `create`: add the worksheet if the spreadsheet has none of that name (when linking)."""
    call = _Calls(http, account, sleep or time.sleep)
    metadata = call("reading the spreadsheet", http.fetch_sheet_metadata, key)
    titles = [s["properties"]["title"] for s in metadata.get("sheets", [])]
    if worksheet not in titles and create:
        call(
            "adding the worksheet",
            http.batch_update,
            key,
            {"requests": [{"addSheet": {"properties": {"title": worksheet}}}]},
        )
        titles.append(worksheet)
    if worksheet not in titles:
        raise SheetsError(
            f"The spreadsheet has no worksheet named “{worksheet}” any more.",
            f"It may have been renamed: choose one of {', '.join(titles)}.",
        )
    values = call("reading the rows", _read_rows, http, key, worksheet)
    header = values[0] if values else []
    columns = _header_map(header)
    has_data = any(any(cell.strip() for cell in row) for row in values[1:])
    if has_data and not ({"question", "answer"} <= set(columns) or "conversation" in columns):
        raise SheetsError(
            "The sheet's header row no longer has “question” and “answer” columns.",
            "Put the headers back in row 1 (any capitalisation), then sync again.",
        )
    writes: list[tuple[str, str]] = []  # (A1 cell, value)
    # missing columns go after the last column any row uses: a column with data but no header
    # is never taken as ours
    width = max((len(row) for row in values), default=0)
    for column in COLUMNS:
        if column not in columns:
            columns[column] = width
            writes.append((f"{column_letters(width)}1", column))
            width += 1
    remote = []
    for number, row in enumerate(values[1:]):
        cells = {c: (row[i] if i < len(row) else "") for c, i in columns.items()}
        remote.append(SheetRow(number, cells))
    plan = plan_sync(snapshot, local_rows, remote)
    too_long = _too_long(plan, remote)
    for index, column, value in plan.cell_writes:
        if remote[index].cells.get("id") not in too_long:
            writes.append((f"{column_letters(columns[column])}{index + 2}", value))
    plan.appends = [row for row in plan.appends if row["id"] not in too_long]
    if too_long:
        # the shared state stays what the sheet holds, so the next sync tries them again and
        # never reads their absence as a deletion
        from persona_studio.core.sheet_sync import normalise

        in_sheet = {str(r.cells.get("id")): r.cells for r in remote}
        for row_id in too_long:
            if row_id in in_sheet:
                plan.snapshot[row_id] = normalise(in_sheet[row_id])
            else:
                plan.snapshot.pop(row_id, None)
        call.notes.append(
            f"{len(too_long)} example{'s are' if len(too_long) != 1 else ' is'} longer than "
            f"the {CELL_LIMIT:,} characters a Google Sheets cell holds and stayed out of the "
            f"sheet: {', '.join(sorted(too_long)[:5])}. Shorten "
            f"{'them' if len(too_long) != 1 else 'it'} here; the rest synced."
        )
    _widen_grid(call, http, key, metadata, worksheet, width)
    for piece in _pieces(writes, lambda write: len(write[1])):
        call(
            "writing the changes",
            http.values_batch_update,
            key,
            {
                "valueInputOption": "RAW",
                "data": [
                    {"range": f"{_quoted(worksheet)}!{cell}", "values": [[value]]}
                    for cell, value in piece
                ],
            },
        )
    if plan.appends:
        ordered = sorted(columns.items(), key=lambda item: item[1])
        rows = [[""] * width for _ in plan.appends]
        for row, appended in zip(rows, plan.appends, strict=True):
            for column, i in ordered:
                row[i] = appended[column]
        ids = [appended["id"] for appended in plan.appends]
        pairs = list(zip(ids, rows, strict=True))
        for run in _pieces(pairs, lambda pair: sum(map(len, pair[1]))):
            run_ids, run_rows = [i for i, _r in run], [r for _i, r in run]
            _append_once_each(call, http, key, worksheet, run_rows, run_ids, columns["id"])
    release(remote)  # freed a slice at a time, as `plan_sync`'s own rows
    release(values)
    return SyncResult(plan, call.count, account, call.notes)


def _read_rows(http: Any, key: str, worksheet: str) -> list[list[str]]:
    """The worksheet's rows as displayed text, parsed as Google's answer arrives, a row at a
    time. gspread's `values_get` reads the whole answer (52 MB at 100,000 rows), joins it in
    one piece and parses it in one `json.loads`: each held the interpreter lock beside the
    window (120–135 ms for the parse alone). Here the socket is read 64 KB at a time (the lock
    let go meanwhile) and ijson's C parser holds it well under a millisecond a piece; the
    answer's bytes are never held whole."""
    import gspread
    import ijson
    from gspread.urls import SPREADSHEET_VALUES_URL
    from gspread.utils import quote

    response = http.session.request(  # as gspread's `HTTPClient.request`, streamed
        "get",
        SPREADSHEET_VALUES_URL % (key, quote(_quoted(worksheet))),
        params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        timeout=http.timeout,
        stream=True,
    )
    with response:
        if not response.ok:
            raise gspread.exceptions.APIError(response)
        try:
            rows = list(_sheet_rows(ijson.from_iter(response.iter_content(READ_PIECE))))
        except ijson.JSONError as exc:
            raise SheetsError(
                "Google Sheets sent an answer the app could not read.",
                "Nothing was changed. Sync again; if it happens again, a proxy or a sign-in "
                "page on your network may be answering instead of Google.",
            ) from exc
    return rows


def _sheet_rows(pieces: Any) -> Iterator[list[str]]:
    """The rows of a values answer (`{"values": [[cell, …], …], …}`), each cell as its text,
    from ijson's events. Nothing in the answer may nest deeper than a row's cells: ijson's
    own `items` tracks each event's path, whose cost grows with the depth, and an answer
    nested 200,000 deep used memory until the process was killed. Raises `ijson.JSONError`
    for what is not a sheet's rows."""
    import ijson

    depth, key, in_values = 0, None, False
    row: list[str] | None = None
    for event, value in ijson.basic_parse(pieces):
        if row is not None:  # a row's cells
            if event == "end_array":
                yield row
                row, depth = None, depth - 1
            elif event in ("start_array", "start_map"):
                raise ijson.JSONError("a cell that is not a text")
            else:
                row.append(str(value))
        elif event in ("start_array", "start_map"):
            depth += 1
            if depth > 3:
                raise ijson.JSONError("nested deeper than a sheet's rows")
            if in_values and depth == 3:
                if event == "start_map":
                    raise ijson.JSONError("a row that is not a list")
                row = []
            elif depth == 2 and key == "values" and event == "start_array":
                in_values = True
        elif event in ("end_array", "end_map"):
            depth -= 1
            in_values = in_values and depth > 1
        elif event == "map_key":
            if depth == 1:
                key = value
        elif in_values and depth == 2:
            raise ijson.JSONError("a row that is not a list")


def _pieces(items: list[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """`items` in order, in runs whose `size` adds up to at most `PAYLOAD_LIMIT` (an item
    larger than that goes alone): one write request each."""
    piece: list[T] = []
    total = 0
    for item in items:
        cost = size(item) + 16  # the range or the row's brackets and quotes
        if piece and total + cost > PAYLOAD_LIMIT:
            yield piece
            piece, total = [], 0
        piece.append(item)
        total += cost
    if piece:
        yield piece


def _too_long(plan: SyncPlan, remote: list[SheetRow]) -> set[str]:
    """Ids of the examples with a cell over Google's limit: they are not written at all (a
    half-written row would be worse than none)."""
    found = {
        str(remote[index].cells.get("id"))
        for index, _column, value in plan.cell_writes
        if len(value) > CELL_LIMIT
    }
    found |= {
        str(row["id"]) for row in plan.appends if any(len(v) > CELL_LIMIT for v in row.values())
    }
    return found


def _widen_grid(
    call: _Calls, http: Any, key: str, metadata: dict[str, Any], worksheet: str, width: int
) -> None:
    """Add columns to the worksheet's grid when ours do not fit in it: the API refuses writes
    past the grid ("exceeds grid limits")."""
    for sheet in metadata.get("sheets", []):
        properties = sheet.get("properties", {})
        if properties.get("title") != worksheet:
            continue
        have = int(properties.get("gridProperties", {}).get("columnCount", width))
        if width > have:
            call(
                "widening the worksheet",
                http.batch_update,
                key,
                {
                    "requests": [
                        {
                            "appendDimension": {
                                "sheetId": properties.get("sheetId", 0),
                                "dimension": "COLUMNS",
                                "length": width - have,
                            }
                        }
                    ]
                },
            )


async def sync(
    http: Any,
    key: str,
    worksheet: str,
    snapshot: dict[str, Row],
    local_rows: list[Row],
    *,
    account: str = "",
    create: bool = False,
) -> SyncResult:
    """`sync_blocking` on a worker thread: gspread blocks, the window must not."""
    return await asyncio.to_thread(
        sync_blocking, http, key, worksheet, snapshot, local_rows, account=account, create=create
    )


async def sync_project(
    http: Any,
    project: Project,
    link: dict[str, Any],
    examples: list[Example],
    *,
    account: str = "",
    apply: Callable[..., Awaitable[None]] | None = None,
) -> SyncResult:
    """Sync the project's examples with the linked sheet and save the result.

    `link` is {"key", "worksheet"} (+ "create" when linking a new worksheet); a link to another
    sheet than last time starts a fresh three-way merge. `apply` saves the result (default: the
    project's own `apply_sync`, in a worker thread; the GUI passes its session's, which also
    refreshes the views), with the snapshot's rows that changed. Everything that grows with
    the rows (the snapshot, every example as a row, the rows taken from the sheet) is done in
    worker threads, never the caller's.
    """

    link = dict(link)
    create = bool(link.pop("create", False))
    if not link.get("key"):
        raise SheetsError(
            "This project is not linked to a Google Sheet yet.",
            "Link one first (Sheet → Link a Google Sheet…, or --sheet URL).",
        )
    link.setdefault("worksheet", "Sheet1")
    previous = project.sheet_link()
    same = (previous.get("key"), previous.get("worksheet")) == (link["key"], link["worksheet"])

    # no collector passes while ~1 million rows are made (each held the lock ~0.1 s), and what
    # lives on frozen at a large sync's end: its first pass after, over all of it, held the
    # lock ~0.1 s in the next step (an export)
    with collector_paused(freeze=len(examples) >= FREEZE_FROM):
        return await _synced(http, project, link, examples, same, create, account, apply)


async def _synced(
    http: Any,
    project: Project,
    link: dict[str, Any],
    examples: list[Example],
    same: bool,
    create: bool,
    account: str,
    apply: Callable[..., Awaitable[None]] | None,
) -> SyncResult:
    from persona_studio.core.sheet_sync import example_to_row, row_to_example

    def ours() -> tuple[dict[str, Row], list[Row]]:
        snapshot = project.sync_snapshot() if same else {}
        return snapshot, [example_to_row(e) for e in examples]

    snapshot, local_rows = await asyncio.to_thread(ours)
    result = await sync(
        http, link["key"], link["worksheet"], snapshot, local_rows, account=account, create=create
    )
    plan = result.plan

    def taken() -> tuple[list[Example], dict[str, Row | None]]:
        changes: dict[str, Row | None] = {
            row_id: row for row_id, row in plan.snapshot.items() if snapshot.get(row_id) != row
        }
        changes.update({row_id: None for row_id in snapshot if row_id not in plan.snapshot})
        if not plan.local_upserts:
            return [], changes
        by_id = {e.id: e for e in examples}
        new_rows = link.get("new_rows", "approved")
        upserts = [row_to_example(r, by_id.get(r["id"]), new_rows) for r in plan.local_upserts]
        return upserts, changes

    upserts, changes = await asyncio.to_thread(taken)
    outcome = (upserts, plan.local_deletes, changes, link)
    if apply is None:
        await asyncio.to_thread(project.apply_sync, *outcome, new_snapshot=not same)
    else:
        await apply(*outcome, new_snapshot=not same)
    project.set_sync_value("synced_at", time.strftime("%H:%M"))

    def let_go() -> None:  # here, not in the caller's thread: ~1 million objects at 100,000
        plan.slim()
        for rows in (snapshot, local_rows, changes):
            release(rows)

    await asyncio.to_thread(let_go)
    return result


def service_account_client(credentials_json: str) -> Any:
    """gspread's HTTP client for a service-account key (from the keyring)."""
    import json

    from google.oauth2.service_account import Credentials
    from gspread.http_client import HTTPClient

    scopes = ["https://www.googleapis.com/auth/spreadsheets"]
    try:
        return HTTPClient(
            Credentials.from_service_account_info(json.loads(credentials_json), scopes=scopes)
        )
    except (ValueError, KeyError, TypeError) as exc:  # a damaged or wrong key file
        raise _unusable_sign_in("service-account key", exc) from exc


def oauth_client(client_json: str, token_json: str | None) -> tuple[Any, str]:
    """gspread's HTTP client for the user's own account, and the token to keep.

    With no token yet this opens the browser for consent (gspread's local-server flow) and
    blocks until it is given: call it on a worker thread. The token goes back to the keyring,
    never to gspread's plain-text token file."""
    import json

    import gspread
    from google.auth.exceptions import GoogleAuthError

    try:
        client, token = gspread.oauth_from_dict(
            credentials=json.loads(client_json),
            authorized_user_info=json.loads(token_json) if token_json else None,
        )
    except (ValueError, KeyError, TypeError, GoogleAuthError) as exc:  # damaged or refused
        raise _unusable_sign_in("Google sign-in", exc) from exc
    # gspread annotates a dict but returns `creds.to_json(...)`: the JSON text we store
    return client.http_client, str(token)
