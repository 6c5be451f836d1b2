"""A stateful in-memory Google Sheets API, mounted on a `requests` session for real gspread.

    fake = FakeSheets(); fake.add_spreadsheet("key", {"Data": [["question", "answer"], ...]})
    client = gspread.Client(auth=None, session=fake.session())

It serves what gspread calls for values (metadata, values get, values:batchUpdate, append,
spreadsheet batchUpdate to add a sheet or widen its grid), honours valueInputOption
(USER_ENTERED evaluates a simple "=1+1", RAW keeps text), counts requests, and fails on demand
(429, 500, 403, 404).

Limits as the real API has them (Sheets API v4 reference and "Usage limits", read 2026-12-02):
a worksheet's grid has a size (26 columns by default) and a write past it is refused with
"exceeds grid limits"; a cell holds at most 50,000 characters; a range with no values has no
`values` key at all; and a per-minute request quota answers 429 RESOURCE_EXHAUSTED until the
minute is over (`per_minute`, with `next_minute()` advancing the fake clock).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests
from requests.adapters import BaseAdapter

_A1 = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))(?:!([A-Z]+)?(\d+)?(?::([A-Z]+)?(\d+)?)?)?$")


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _pieces(payload: dict[str, Any]) -> Iterator[bytes]:
    """The answer's JSON, its "values" a row at a time: one `json.dumps` of a 100,000-row sheet
    (52 MB) holds the interpreter lock ~0.2 s, and joining it in one piece ~50 ms more, which a
    real server's work never does in the app's process (the benchmarks measure the app's). It
    empties the payload's "values" as it goes."""
    values = payload.get("values")
    if not isinstance(values, list):
        yield json.dumps(payload).encode()
        return
    rest = json.dumps({k: v for k, v in payload.items() if k != "values"})
    yield f'{rest[:-1]}{", " if len(rest) > 2 else ""}"values": ['.encode()
    values.reverse()  # each row let go once sent: 100,000 freed at the end held the lock too
    first = True
    while values:
        yield (b"" if first else b", ") + json.dumps(values.pop()).encode()
        first = False
    yield b"]}"


class _Streamed:
    """A response's body, made as it is read (`requests` reads `raw`: all at once, or a piece
    at a time for a request made with `stream=True`)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces, self._left = pieces, b""

    def read(self, size: int | None = -1, **_kwargs: Any) -> bytes:
        parts, have = [self._left], len(self._left)
        while size is None or size < 0 or have < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            parts.append(piece)
            have += len(piece)
        data = b"".join(parts)
        cut = len(data) if size is None or size < 0 else size
        self._left = data[cut:]
        return data[:cut]

    def close(self) -> None:
        self._pieces = iter(())


@dataclass
class Spreadsheet:
    title: str
    sheets: dict[str, list[list[str]]] = field(default_factory=dict)


class FakeSheets(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.payloads: list[int] = []  # each request's body size in bytes, in order
        self.cells_written = 0
        self._fail: list[tuple[int, str, float | None]] = []
        self._applied_then_fail: list[int] = []
        self._raw: list[tuple[str, bytes]] = []
        self.latency = 0.0
        self.grids: dict[tuple[str, str], list[int]] = {}  # (key, sheet) → [rows, columns]
        self.per_minute: int | None = None  # requests allowed in one quota minute
        self._this_minute = 0

    def next_minute(self) -> None:
        """The quota's minute is over (what a client's wait of a minute achieves)."""
        self._this_minute = 0

    def grid(self, key: str, sheet: str) -> list[int]:
        """[rows, columns] of the worksheet's grid; rows a test typed in directly are inside
        it, as they would be in the real sheet."""
        rows = self.spreadsheets[key].sheets[sheet]
        grid = self.grids.setdefault((key, sheet), [1000, 26])
        grid[0] = max(grid[0], len(rows))
        grid[1] = max(grid[1], max((len(r) for r in rows), default=0))
        return grid

    # ---- test controls -------------------------------------------------------------------

    def add_spreadsheet(
        self, key: str, sheets: dict[str, list[list[str]]], title: str = "Dataset"
    ) -> None:
        self.spreadsheets[key] = Spreadsheet(
            title, {k: [list(r) for r in v] for k, v in sheets.items()}
        )

    def rows(self, key: str, sheet: str) -> list[list[str]]:
        return self.spreadsheets[key].sheets[sheet]

    def fail_next(
        self, status: int, message: str = "injected", retry_after: float | None = None
    ) -> None:
        self._fail.append((status, message, retry_after))

    def answer_next(self, body: bytes, method: str = "GET") -> None:
        """The next `method` request is answered 200 with `body` as it is: what a captive
        portal's sign-in page, a proxy, or a line cut mid-answer hands the client."""
        self._raw.append((method, body))

    def apply_then_fail(self, status: int = 503) -> None:
        """The next write is applied, then answered with `status` — as the real API can do
        (a 5xx after the change was made), so a blind retry would make it twice."""
        self._applied_then_fail.append(status)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("https://", self)
        return session

    def http(self) -> Any:
        """gspread's HTTP client on this fake, as the app builds it from a Google account."""
        from gspread.http_client import HTTPClient

        return HTTPClient(auth=None, session=self.session())

    # ---- transport -----------------------------------------------------------------------

    def close(self) -> None:
        pass

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        import time

        if self.latency:
            time.sleep(self.latency)
        url = urlparse(request.url)
        self.requests.append((request.method or "", url.path))
        self.payloads.append(len(request.body or b""))
        if self._raw and self._raw[0][0] == request.method:
            response = self._response(request, 200, {})
            response.raw = _Streamed(iter([self._raw.pop(0)[1]]))
            return response
        if self._fail:
            status, message, retry_after = self._fail.pop(0)
            response = self._response(
                request,
                status,
                {
                    "error": {
                        "code": status,
                        "message": message,
                        "status": {
                            429: "RESOURCE_EXHAUSTED",
                            403: "PERMISSION_DENIED",
                            404: "NOT_FOUND",
                        }.get(status, "INTERNAL"),
                    }
                },
            )
            if retry_after is not None:
                response.headers["retry-after"] = f"{retry_after:g}"
            return response
        if self.per_minute is not None:
            self._this_minute += 1
            if self._this_minute > self.per_minute:
                return self._response(
                    request,
                    429,
                    {
                        "error": {
                            "code": 429,
                            "message": "Quota exceeded for quota metric 'Read requests' and "
                            "limit 'Read requests per minute per user' of service "
                            "'sheets.googleapis.com'.",
                            "status": "RESOURCE_EXHAUSTED",
                        }
                    },
                )
        body = json.loads(request.body) if request.body else {}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            status, payload = self._route(request.method or "", unquote(url.path), query, body)
        except KeyError as exc:
            status, payload = (
                404,
                {"error": {"code": 404, "message": f"Not found: {exc}", "status": "NOT_FOUND"}},
            )
        if self._applied_then_fail and request.method == "POST" and status == 200:
            status = self._applied_then_fail.pop(0)
            payload = {"error": {"code": status, "message": "backend", "status": "UNAVAILABLE"}}
        return self._response(request, status, payload)

    def _response(
        self, request: requests.PreparedRequest, status: int, payload: dict[str, Any]
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.raw = _Streamed(_pieces(payload))
        response.headers["content-type"] = "application/json"
        response.url = request.url or ""
        response.request = request
        response.reason = "OK" if status < 400 else "Error"
        return response

    # ---- the API -------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", path)
        if not match:
            return 404, {"error": {"code": 404, "message": "unknown URL", "status": "NOT_FOUND"}}
        key, rest = match.groups()
        book = self.spreadsheets[key]
        if method == "GET" and rest == "":
            return 200, self._metadata(key, book)
        if method == "POST" and rest == ":batchUpdate":
            return self._batch_update(key, book, body)
        if method == "GET" and rest.startswith("/values/"):
            sheet, top, left, bottom, right = self._range(book, rest[len("/values/") :])
            rows = book.sheets[sheet]
            values = [r[left:right] for r in rows[top:bottom]]
            while values and not any(values[-1]):
                values.pop()
            for n, row in enumerate(values):  # in place: each copy freed on its own
                values[n] = self._trim(row)
            answer: dict[str, Any] = {"range": f"'{sheet}'", "majorDimension": "ROWS"}
            if values:  # the real API leaves the key out for an empty range
                answer["values"] = values
            return 200, answer
        if method == "PUT" and rest.startswith("/values/"):
            sheet, top, left, _b, _r = self._range(book, rest[len("/values/") :])
            user = query.get("valueInputOption") == "USER_ENTERED"
            for dr, row in enumerate(body.get("values", [])):
                for dc, value in enumerate(row):
                    self._set(book.sheets[sheet], top + dr, left + dc, value, user)
            return 200, {"spreadsheetId": key, "updatedRange": rest[len("/values/") :]}
        if method == "POST" and rest == "/values:batchUpdate":
            user = body.get("valueInputOption") == "USER_ENTERED"
            refused = self._refuse(key, book, body.get("data", []))
            if refused:
                return 400, {
                    "error": {"code": 400, "message": refused, "status": "INVALID_ARGUMENT"}
                }
            for item in body.get("data", []):
                sheet, top, left, _b, _r = self._range(book, item["range"])
                for dr, row in enumerate(item["values"]):
                    for dc, value in enumerate(row):
                        self._set(book.sheets[sheet], top + dr, left + dc, value, user)
            return 200, {"spreadsheetId": key, "totalUpdatedCells": self.cells_written}
        if method == "POST" and rest.startswith("/values/") and rest.endswith(":append"):
            return self._append(key, book, rest, query, body)
        return 404, {"error": {"code": 404, "message": "unknown URL", "status": "NOT_FOUND"}}

    def _batch_update(
        self, key: str, book: Spreadsheet, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        titles = list(book.sheets)
        for change in body.get("requests", []):
            if "addSheet" in change:
                book.sheets[change["addSheet"]["properties"]["title"]] = []
            if "appendDimension" in change:
                grow = change["appendDimension"]
                grid = self.grid(key, titles[grow["sheetId"]])
                grid[0 if grow["dimension"] == "ROWS" else 1] += int(grow["length"])
        return 200, {"spreadsheetId": key, "replies": [{}]}

    def _append(
        self, key: str, book: Spreadsheet, rest: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        sheet = self._range(book, rest[len("/values/") : -len(":append")])[0]
        user = query.get("valueInputOption") == "USER_ENTERED"
        rows = book.sheets[sheet]
        append = [{"range": f"'{sheet}'!A1", "values": body["values"]}]
        refused = self._refuse(key, book, append, rows_grow=True)  # appends add rows, not columns
        if refused:
            return 400, {"error": {"code": 400, "message": refused, "status": "INVALID_ARGUMENT"}}
        while rows and not any(rows[-1]):
            rows.pop()
        start = len(rows)
        grid = self.grid(key, sheet)
        grid[0] = max(grid[0], start + len(body["values"]))
        for dr, row in enumerate(body.get("values", [])):
            for dc, value in enumerate(row):
                self._set(rows, start + dr, dc, value, user)
        return 200, {
            "spreadsheetId": key,
            "updates": {
                "updatedRange": f"'{sheet}'!A{start + 1}",
                "updatedRows": len(body["values"]),
            },
        }

    def _refuse(
        self, key: str, book: Spreadsheet, data: list[dict[str, Any]], rows_grow: bool = False
    ) -> str:
        """The real API's refusal of a whole write ("" when it is fine): nothing is written."""
        for item in data:
            sheet, top, left, _b, _r = self._range(book, item["range"])
            rows, columns = self.grid(key, sheet)
            for dr, row in enumerate(item["values"]):
                for dc, value in enumerate(row):
                    if len(str(value)) > 50_000:
                        return (
                            "Your input contains more than the maximum of 50000 characters "
                            "in a single cell."
                        )
                    if left + dc >= columns or (top + dr >= rows and not rows_grow):
                        return (
                            f"Range ('{sheet}'!{item['range'].split('!')[-1]}) exceeds grid "
                            f"limits. Max rows: {rows}, max columns: {columns}"
                        )
        return ""

    @staticmethod
    def _trim(row: list[str]) -> list[str]:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        return row

    def _set(self, rows: list[list[str]], r: int, c: int, value: Any, user: bool) -> None:
        while len(rows) <= r:
            rows.append([])
        while len(rows[r]) <= c:
            rows[r].append("")
        text = "" if value is None else str(value)
        if user and re.fullmatch(r"=\s*\d+\s*\+\s*\d+", text):
            a, b = text[1:].split("+")
            text = str(int(a) + int(b))  # USER_ENTERED evaluates formulas; RAW never does
        rows[r][c] = text
        self.cells_written += 1

    def _range(self, book: Spreadsheet, a1: str) -> tuple[str, int, int, int, int]:
        match = _A1.match(a1)
        if not match:
            raise KeyError(a1)
        quoted, plain, c1, r1, c2, r2 = match.groups()
        sheet = (quoted or "").replace("''", "'") if quoted else plain
        if sheet not in book.sheets:
            raise KeyError(sheet)
        top = int(r1) - 1 if r1 else 0
        left = column_index(c1) if c1 else 0
        bottom = int(r2) if r2 else (top + 1 if r1 and c2 is None and c1 else 10**9)
        right = column_index(c2) + 1 if c2 else (left + 1 if c1 and r1 and c2 is None else 10**6)
        return sheet, top, left, bottom, right

    def _metadata(self, key: str, book: Spreadsheet) -> dict[str, Any]:
        return {
            "spreadsheetId": key,
            "properties": {"title": book.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": [
                {
                    "properties": {
                        "sheetId": n,
                        "title": title,
                        "index": n,
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": self.grid(key, title)[0],
                            "columnCount": self.grid(key, title)[1],
                        },
                    }
                }
                for n, title in enumerate(book.sheets)
            ],
        }
