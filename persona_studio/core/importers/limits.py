"""Size limits checked before a file is read, from what the file declares about itself.

A few kilobytes can declare gigabytes: a ZIP entry that inflates 1,000-fold, an XLSX sheet whose
one cell sits at XFD1048576, a PNG text chunk compressed from 2 GB. Each reader asks here first
and refuses, with a plain message and the documented limit, before allocating anything.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from persona_studio.core.importers import ImportFileError

MAX_ENTRY_BYTES = 256 * 1024 * 1024  # one file inside a ZIP, XLSX or DOCX, once unpacked
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024  # all of them together
MAX_RATIO = 200  # unpacked / packed, for an entry over 1 MB (text packs ~10×, bombs ~1000×)
MAX_COLUMNS = 1_000  # a dataset with more columns is not a dataset
MAX_ROWS = 2_000_000
MAX_DOCUMENT_CHARS = 5_000_000  # about 2,500 pages of text
MAX_INFLATED_BYTES = 64 * 1024 * 1024  # a compressed text chunk of a card, once inflated


def check_archive(path: Path, what: str) -> None:
    """Refuse a ZIP-based file (ZIP, XLSX, DOCX) whose entries declare too much."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return  # not a ZIP we can read (or not a ZIP): the reader says so in its own words
    total = 0
    for info in infos:
        total += info.file_size
        inflates = info.compress_size and info.file_size / info.compress_size > MAX_RATIO
        if info.file_size > MAX_ENTRY_BYTES or (info.file_size > 1024 * 1024 and inflates):
            raise ImportFileError(
                f"“{path.name}” holds “{info.filename}”, which unpacks to "
                f"{info.file_size / 1e6:,.0f} MB — more than a {what} needs.",
                f"This is refused so the app stays responsive (limit {MAX_ENTRY_BYTES // 2**20} MB"
                " per part). Check where the file comes from.",
            )
    if total > MAX_ARCHIVE_BYTES:
        raise ImportFileError(
            f"“{path.name}” unpacks to {total / 1e9:,.1f} GB.",
            f"The limit is {MAX_ARCHIVE_BYTES // 2**30} GB: split it, or export less.",
        )


def check_table_size(name: str, rows: int | None, columns: int | None) -> None:
    """Refuse a table whose declared size is out of bounds (an XLSX dimension, a CSV header)."""
    if columns is not None and columns > MAX_COLUMNS:
        raise ImportFileError(
            f"“{name}” has {columns:,} columns; a dataset has a few (the limit is "
            f"{MAX_COLUMNS:,}).",
            "Delete the empty columns far to the right (or copy the table to a new sheet), then "
            "import again.",
        )
    if rows is not None and rows > MAX_ROWS:
        raise ImportFileError(
            f"“{name}” has {rows:,} rows (the limit is {MAX_ROWS:,}).",
            "Delete the empty rows far below the table, or split it into parts.",
        )


def check_document_text(name: str, text: str) -> None:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ImportFileError(
            f"“{name}” has {len(text):,} characters of text (the limit is "
            f"{MAX_DOCUMENT_CHARS:,}, about 2,500 pages).",
            "Split it into smaller documents, or use the chapters you want examples from.",
        )


def inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib data inflated to at most `limit` bytes; more is refused (ValueError), not read."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than {limit // 2**20} MB")
    return out
