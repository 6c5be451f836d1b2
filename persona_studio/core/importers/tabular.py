"""CSV, TSV and XLSX: read as text (no type guessing), map columns, make examples."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import STATUSES, Example, new_ids, now_iso
from persona_studio.core.exports import unescape_cell
from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError, ImportResult
from persona_studio.core.importers.limits import check_archive, check_table_size, sheet_extent

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
# column roles and the header names that mean them, matched case-insensitively
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "question": (
        "question",
        "questions",
        "prompt",
        "prompts",
        "instruction",
        "input",
        "user",
        "query",
        "q",
    ),
    "answer": (
        "answer",
        "answers",
        "response",
        "responses",
        "output",
        "completion",
        "completions",
        "assistant",
        "reply",
        "a",
    ),
    "status": ("status",),
    "tags": ("tags", "tag", "labels"),
    "id": ("id",),
    "conversation": ("conversation", "messages"),
    "system_prompt": ("system_prompt", "system"),
    "source": ("source",),
}


@dataclass
class Table:
    """A table's cells column by column (`cells[c][r]`): pandas hands them over a column at a
    time, and the importer reads them a role (a column) at a time."""

    columns: list[str]
    cells: list[list[str]]  # one list per column, every row's cell in it
    sheets: list[str]  # XLSX sheet names (empty for CSV/TSV)


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheets, in its order (calamine reads only the workbook's own part)."""
    from python_calamine import CalamineWorkbook

    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception as exc:  # calamine's errors for a damaged or a locked workbook
        raise ImportFileError(
            f"“{path.name}” could not be opened as an Excel workbook ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from exc


def read_table(path: Path, sheet: str | None = None) -> Table:
    """Every cell as text, exactly as written (“007” stays “007”, “=1+1” stays a formula text)."""
    import pandas as pd

    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ImportFileError(f"“{path.name}” is larger than 512 MB.", "Split it into parts.")
    suffix = path.suffix.lower()
    sheets: list[str] = []
    try:
        if suffix in (".xlsx", ".xlsm"):
            check_archive(path, "workbook")
            sheets = sheet_names(path)
            if not sheets:
                raise ImportFileError(
                    f"“{path.name}” has no worksheets.", "Open it and check it has a table."
                )
            check_table_size(path.name, *sheet_extent(path, sheet or sheets[0]))
            return Table(*_read_sheet(path, sheet or sheets[0]), sheets)
        else:
            # the head tells the delimiter and the width; pandas reads the file itself (faster
            # than from memory) and says if it is not UTF-8
            with path.open("rb") as file:  # its size is bounded above
                first_line = file.readline()
                head = (first_line + file.read(20_000))[:20_000]
            delimiter = "\t" if suffix == ".tsv" else _sniff(head.decode("utf-8-sig", "ignore"))
            check_table_size(path.name, None, first_line.count(delimiter.encode()) + 1)
            columns, cells = _read_csv(path, delimiter)
            return Table(columns, cells, sheets)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"“{path.name}” is not UTF-8 text.", "Save it as “CSV UTF-8” from your spreadsheet app."
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise ImportFileError(
            f"“{path.name}” could not be read as a table ({exc}).",
            "Check that it has a header row and the same number of columns on every row.",
        ) from exc


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """The header and the cells column by column, every cell as text: blank lines skipped,
    short rows padded, unnamed and repeated headers named as pandas names them, a row longer
    than the header an error with its line. pandas' C parser reading the file, its object
    columns taken out whole (`tolist`), takes about 0.25 s for 100,000 rows where Python's
    `csv` module took 0.52–0.67 s. The header is read as a row so that pandas measures every
    row against it: with a header, a first row one cell longer silently became the index."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            encoding="utf-8-sig",
            sep=delimiter,
            header=None,
            dtype=object,
            na_filter=False,  # "NA", "null" and empty cells stay the text they are
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise ImportFileError(
            f"“{path.name}” is empty.", "Check that it has a header row."
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if not found:
            raise
        width, line, cells = found.groups()
        raise ImportFileError(
            f"“{path.name}” could not be read as a table (line {line} has {cells} cells, "
            f"the header {width}).",
            "Check that it has a header row and the same number of columns on every row.",
        ) from None
    cells = [frame.iloc[:, at].tolist() for at in range(frame.shape[1])]
    return _named([column.pop(0) for column in cells]), cells


def _named(header: list[str]) -> list[str]:
    """The columns' names as pandas gives them: "Unnamed: 3" for an empty one, "question.1"
    for the second of that name."""
    columns: list[str] = []
    for index, column in enumerate(header):
        label = column or f"Unnamed: {index}"
        seen = sum(1 for c in header[:index] if c == column)
        columns.append(f"{label}.{seen}" if column and seen else label)
    return [c.strip() for c in columns]


def _read_sheet(path: Path, sheet: str) -> tuple[list[str], list[list[str]]]:
    """The sheet's header and its cells column by column, every cell as the text pandas made
    of it with openpyxl (`read_excel(dtype=str)`; the test compares them). calamine reads the
    sheet in Rust with the interpreter lock let go, then hands its rows over one at a time: at
    100,000 rows ~0.5 s, where pandas with openpyxl took 4.6 s (its `to_python`, every row
    at once, held the lock beside the window ~70 ms). Call `sheet_extent` first: calamine
    holds the sheet as one rectangle, and aborts the process when that is too large."""
    from python_calamine import CalamineWorkbook

    try:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).iter_rows()
        header = list(map(_cell_text, next(rows, [])))
        columns: list[list[str]] = [[] for _ in header]  # (rows are all as wide as the sheet)
        for row in rows:  # one at a time: a transpose of all in one call held the lock 30 ms
            for column, value in zip(columns, row, strict=True):
                column.append(value if type(value) is str else _cell_text(value))
    except BaseException as exc:  # calamine's errors, and a panic in its Rust code
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit
        raise ImportFileError(
            f"“{path.name}” could not be read as an Excel workbook ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from exc
    return _named(header), columns  # (an empty sheet has none: the creator chooses another)


def _cell_text(value: Any) -> str:
    """A cell calamine read, as pandas' text of it: a whole number without ".0", a date as a
    time stamp at midnight."""
    if type(value) is str:
        return value
    if type(value) is float:
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    return str(value)  # a bool, an int, a time of day, a duration


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """Role → column, by header name (any case); question and answer are the ones that matter."""
    lowered = {c.lower().strip(): c for c in columns}
    mapping: dict[str, str] = {}
    for role, names in ROLE_NAMES.items():
        for name in names:
            if name in lowered and lowered[name] not in mapping.values():
                mapping[role] = lowered[name]
                break
    return mapping


def examples_from_table(
    table: Table, mapping: dict[str, str], source: str, default_status: str = "approved"
) -> ImportResult:
    """The table's rows as examples. A row without a status of its own gets `default_status`:
    "approved" for the creator's own curated file (it trains as is), or "draft" to review.
    Each role's column is unescaped whole, then the rows are made from the columns side by side
    (0.6 → 0.3 s at 100,000 rows against a cell look-up per role and row)."""
    if "conversation" not in mapping and not {"question", "answer"} <= set(mapping):
        raise ImportFileError(
            "Choose which column holds the questions and which the answers.",
            "Columns named question/answer, prompt/response, "
            "instruction/output or input/output are found automatically.",
        )
    index = {
        role: table.columns.index(col) for role, col in mapping.items() if col in table.columns
    }
    rows = len(table.cells[0]) if table.cells else 0

    def column(role: str) -> Iterable[str]:
        if role not in index:
            return repeat("")
        return [unescape_cell(c) if c[:1] == "'" else c for c in table.cells[index[role]]]

    statuses: dict[str, str] = {}  # the cell → the status (a column holds few distinct words)
    tag_lists: dict[str, tuple[str, ...]] = {}

    result = ImportResult()
    seen_ids: set[str] = set()
    stamp = now_iso()  # one time for the whole import (and 0.3 s less at 100,000 rows)
    ids = iter(new_ids(rows))
    given = zip(
        range(2, rows + 2),  # row 1 is the header
        *(column(role) for role in _ROW_ROLES),
        strict=False,  # a role without a column is an endless repeat of ""
    )
    # no cyclic collection while 100,000 examples are made (they hold no cycles): its full
    # passes held Python's lock beside the window, which stalled 0.1 s at a time
    with collector_paused(freeze=rows >= FREEZE_FROM):
        for number, conversation, question, answer, status, tags, given_id, system, origin in given:
            held: Any  # the messages, or (a plain row) the pair of their texts
            if conversation or not question.strip() or not answer.strip():
                held = _messages(conversation, question, answer, number, result)
                if held is None:
                    continue
            else:  # held as the pair of texts (`hold_pair`): read as the same two messages,
                # made at their first use (~0.05 s of 100,000 rows' import, and ~1 KB of
                # objects each, kept in the window until then)
                held = (question, answer)
            if status not in statuses:
                word = status.strip().lower()
                # an empty cell takes the default; a word we do not know is the creator's to
                # review
                statuses[status] = (
                    word if word in STATUSES else ("draft" if word else default_status)
                )
            if tags not in tag_lists:
                tag_lists[tags] = tuple(t.strip() for t in tags.split(",") if t.strip())
            example = Example(
                held,
                given_id.strip()[:64] or next(ids),
                statuses[status],
                list(tag_lists[tags]),
                None,
                origin or source,
                system or None,
                stamp,
            )
            if example.id in seen_ids:
                example.id = next(ids)  # a copied row: keep both, new id
            seen_ids.add(example.id)
            result.examples.append(example)
    return result


_ROW_ROLES = (
    "conversation",
    "question",
    "answer",
    "status",
    "tags",
    "id",
    "system_prompt",
    "source",
)


def _messages(
    conversation: str, question: str, answer: str, number: int, result: ImportResult
) -> list[dict[str, Any]] | None:
    """The row's messages, or None with the reason it is skipped noted in `result`."""
    conversation = conversation.strip()
    if conversation:
        try:
            messages = json.loads(conversation)
        except json.JSONDecodeError:
            result.skipped.append((number, "the conversation cell is not valid JSON"))
            return None
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            result.skipped.append((number, "the conversation cell is not a list of messages"))
            return None
        return messages
    if not question.strip() or not answer.strip():
        reason = "no question" if not question.strip() else "no answer"
        result.skipped.append(
            (number, reason if question.strip() or answer.strip() else "empty row")
        )
        return None
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
