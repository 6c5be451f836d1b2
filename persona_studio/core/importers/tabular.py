"""CSV, TSV and XLSX: read as text (no type guessing), map columns, make examples."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona_studio.core.dataset import STATUSES, Example, now_iso
from persona_studio.core.exports import unescape_cell
from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError, ImportResult
from persona_studio.core.importers.limits import check_archive, check_table_size

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
    columns: list[str]
    rows: list[list[str]]
    sheets: list[str]  # XLSX sheet names (empty for CSV/TSV)


def sheet_names(path: Path) -> list[str]:
    import pandas as pd

    try:
        return list(pd.ExcelFile(path, engine="openpyxl").sheet_names)
    except Exception as exc:  # openpyxl raises many types for damaged files
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
            check_table_size(path.name, *_declared_size(path, sheet or sheets[0]))
            frame = _read_sheet(path, sheet or sheets[0])
        else:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig")
            delimiter = "\t" if suffix == ".tsv" else _sniff(text)
            first_line = text[: text.find("\n") if "\n" in text else len(text)]
            check_table_size(path.name, None, first_line.count(delimiter) + 1)
            columns, rows = _read_csv(path.name, text, delimiter)
            return Table(columns, rows, sheets)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"“{path.name}” is not UTF-8 text.", "Save it as “CSV UTF-8” from your spreadsheet app."
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise ImportFileError(
            f"“{path.name}” could not be read as a table ({exc}).",
            "Check that it has a header row and the same number of columns on every row.",
        ) from exc
    columns = [str(c).strip() for c in frame.columns]
    rows = [[("" if v is None else str(v)) for v in row] for row in frame.itertuples(index=False)]
    return Table(columns, rows, sheets)


def _read_csv(name: str, text: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows, every cell as text, through Python's C `csv` reader: what
    pandas gave the importer before (blank lines skipped, short rows padded, unnamed and
    repeated headers named as pandas names them), in about a tenth of the time on 100,000
    rows (pandas' string columns are slow to read back one cell at a time)."""
    try:
        rows = [
            row for row in csv.reader(io.StringIO(text), delimiter=delimiter, strict=True) if row
        ]
    except csv.Error as exc:
        if "field larger than field limit" not in str(exc):
            raise
        # a cell over the csv module's 128 KB (a process-wide limit other readers rely on):
        # pandas reads it, as it read every file before
        return _read_csv_with_pandas(text, delimiter)
    if not rows:
        raise ImportFileError(f"“{name}” is empty.", "Check that it has a header row.")
    header, body = rows[0], rows[1:]
    width = len(header)
    for number, row in enumerate(body, start=2):
        if len(row) > width:
            raise ImportFileError(
                f"“{name}” could not be read as a table (line {number} has {len(row)} cells, "
                f"the header {width}).",
                "Check that it has a header row and the same number of columns on every row.",
            )
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    columns: list[str] = []
    for index, column in enumerate(header):
        label = column or f"Unnamed: {index}"
        repeat = sum(1 for c in header[:index] if c == column)
        columns.append(f"{label}.{repeat}" if column and repeat else label)
    return [c.strip() for c in columns], body


def _read_csv_with_pandas(text: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    import pandas as pd

    frame = pd.read_csv(
        io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter, engine="c"
    )
    columns = [str(c).strip() for c in frame.columns]
    return columns, [["" if v is None else str(v) for v in row] for row in frame.to_numpy()]


def _read_sheet(path: Path, sheet: str) -> Any:
    import pandas as pd

    try:
        return pd.read_excel(
            path, sheet_name=sheet, dtype=str, keep_default_na=False, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl, zipfile and lxml raise many types for damaged files
        raise ImportFileError(
            f"“{path.name}” could not be read as an Excel workbook ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from exc


def _declared_size(path: Path, sheet: str) -> tuple[int | None, int | None]:
    """(rows, columns) the sheet declares, read without loading its cells."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            worksheet = workbook[sheet]
            return worksheet.max_row, worksheet.max_column
        finally:
            workbook.close()
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ImportFileError(
            f"“{path.name}” could not be opened as an Excel workbook ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from exc


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
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
    "approved" for the creator's own curated file (it trains as is), or "draft" to review."""
    if "conversation" not in mapping and not {"question", "answer"} <= set(mapping):
        raise ImportFileError(
            "Choose which column holds the questions and which the answers.",
            "Columns named question/answer, prompt/response, "
            "instruction/output or input/output are found automatically.",
        )
    index = {
        role: table.columns.index(col) for role, col in mapping.items() if col in table.columns
    }
    result = ImportResult()
    seen_ids: set[str] = set()
    stamp = now_iso()  # one time for the whole import (and 0.3 s less at 100,000 rows)
    for number, row in enumerate(table.rows, start=2):  # row 1 is the header

        def cell(role: str, row: list[str] = row) -> str:
            return unescape_cell(row[index[role]]) if role in index else ""

        example = _example_from_cells(cell, number, result, default_status, stamp)
        if example is None:
            continue
        if example.id in seen_ids:
            example.id = Example(messages=[]).id  # a copied row: keep both, new id
        seen_ids.add(example.id)
        example.source = cell("source") or source
        result.examples.append(example)
    return result


def _example_from_cells(
    cell: Any, number: int, result: ImportResult, default_status: str, stamp: str
) -> Example | None:
    conversation = cell("conversation").strip()
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
    else:
        question, answer = cell("question"), cell("answer")
        if not question.strip() and not answer.strip():
            result.skipped.append((number, "empty row"))
            return None
        if not question.strip() or not answer.strip():
            result.skipped.append((number, "no question" if not question.strip() else "no answer"))
            return None
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    status = cell("status").strip().lower()
    example = Example(
        messages=messages,
        # an empty cell takes the default; a word we do not know is the creator's to review
        status=status if status in STATUSES else ("draft" if status else default_status),
        tags=[t.strip() for t in cell("tags").split(",") if t.strip()],
        system_prompt=cell("system_prompt") or None,
        updated_at=stamp,
    )
    given_id = cell("id").strip()
    if given_id:
        example.id = given_id[:64]
    return example
