"""A stateful in-memory Google Sheets API, mounted on a `requests` session for real gspread.

    fake = FakeSheets(); fake.add_spreadsheet("key", {"Data": [["question", "answer"], ...]})
    client = gspread.Client(auth=None, session=fake.session())

It serves what gspread calls for values (metadata, values get, values:batchUpdate, append,
spreadsheet batchUpdate to add a sheet), honours valueInputOption (USER_ENTERED evaluates a
simple "=1+1", RAW keeps text), counts requests, and fails on demand (429, 500, 403, 404).
"""

from __future__ import annotations

import json
import re
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


@dataclass
class Spreadsheet:
    title: str
    sheets: dict[str, list[list[str]]] = field(default_factory=dict)


class FakeSheets(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.cells_written = 0
        self._fail: list[tuple[int, str, float | None]] = []
        self._applied_then_fail: list[int] = []
        self.latency = 0.0

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
        response._content = json.dumps(payload).encode()
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
            for change in body.get("requests", []):
                if "addSheet" in change:
                    book.sheets[change["addSheet"]["properties"]["title"]] = []
                # other requests (resizing the grid…) change nothing the values API shows
            return 200, {"spreadsheetId": key, "replies": [{}]}
        if method == "GET" and rest.startswith("/values/"):
            sheet, top, left, bottom, right = self._range(book, rest[len("/values/") :])
            rows = book.sheets[sheet]
            values = [r[left:right] for r in rows[top:bottom]]
            while values and not any(values[-1]):
                values.pop()
            values = [self._trim(r) for r in values]
            return 200, {"range": f"'{sheet}'", "majorDimension": "ROWS", "values": values}
        if method == "PUT" and rest.startswith("/values/"):
            sheet, top, left, _b, _r = self._range(book, rest[len("/values/") :])
            user = query.get("valueInputOption") == "USER_ENTERED"
            for dr, row in enumerate(body.get("values", [])):
                for dc, value in enumerate(row):
                    self._set(book.sheets[sheet], top + dr, left + dc, value, user)
            return 200, {"spreadsheetId": key, "updatedRange": rest[len("/values/") :]}
        if method == "POST" and rest == "/values:batchUpdate":
            user = body.get("valueInputOption") == "USER_ENTERED"
            for item in body.get("data", []):
                sheet, top, left, _b, _r = self._range(book, item["range"])
                for dr, row in enumerate(item["values"]):
                    for dc, value in enumerate(row):
                        self._set(book.sheets[sheet], top + dr, left + dc, value, user)
            return 200, {"spreadsheetId": key, "totalUpdatedCells": self.cells_written}
        if method == "POST" and rest.startswith("/values/") and rest.endswith(":append"):
            sheet = self._range(book, rest[len("/values/") : -len(":append")])[0]
            user = query.get("valueInputOption") == "USER_ENTERED"
            rows = book.sheets[sheet]
            while rows and not any(rows[-1]):
                rows.pop()
            start = len(rows)
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
        return 404, {"error": {"code": 404, "message": "unknown URL", "status": "NOT_FOUND"}}

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
                        "gridProperties": {"rowCount": max(1000, len(rows)), "columnCount": 26},
                    }
                }
                for n, (title, rows) in enumerate(book.sheets.items())
            ],
        }
