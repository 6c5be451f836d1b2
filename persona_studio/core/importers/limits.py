"""Size limits checked before a file is read, from what the file declares about itself.

A few kilobytes can declare gigabytes: a ZIP entry that inflates 1,000-fold, an XLSX sheet whose
one cell sits at XFD1048576, a PNG text chunk compressed from 2 GB. Each reader asks here first
and refuses, with a plain message and the documented limit, before allocating anything.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from persona_studio.core.importers import ImportFileError

MAX_ENTRY_BYTES = 256 * 1024 * 1024  # one file inside a ZIP, XLSX or DOCX, once unpacked
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024  # all of them together
MAX_RATIO = 200  # unpacked / packed, for an entry over 1 MB (text packs ~10×, bombs ~1000×)
MAX_COLUMNS = 1_000  # a dataset with more columns is not a dataset
MAX_ROWS = 2_000_000
MAX_CELLS = 20_000_000  # a sheet's rows × columns: its reader holds every cell of that rectangle
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
    """Refuse a table whose size is out of bounds (an XLSX sheet's cells, a CSV header)."""
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
    if rows is not None and columns is not None and rows * columns > MAX_CELLS:
        raise ImportFileError(
            f"“{name}” spans {rows:,} rows of {columns:,} columns (the limit is "
            f"{MAX_CELLS:,} cells).",
            "Delete the empty rows and columns around the table, or split it into parts.",
        )


# ---- the cells an XLSX sheet really spans ---------------------------------------------------
# Its reader (calamine) holds a sheet as one rectangle from its first cell to its last: one
# cell at XFD1048576 is 17 billion cells, and the process aborts allocating them. The sheet's
# <dimension> may say anything (or nothing), so the cells' own places are read first.

# A tag is read attribute by attribute, each value whole (a value may hold ">" or ' r="A1"'),
# to its end: a tag that does not end so (a "<" in a value, which XML forbids and a lenient
# reader may take) leaves a tag's start unmatched, and the sheet is read a tag at a time, or
# refused. The XML is read in parts cut before a "<": in XML that is one, no tag is cut.
_ATTRIBUTES = rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*"""
_OTHERS = rb"""(?:\s+(?!r[\s=])[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*"""  # none named r
_END = rb"\s*/?>"
_CELL = rb"<(?:[A-Za-z_][\w.-]*:)?c(?=[\s/>])"  # a cell's tag, maybe with a namespace prefix
_CELL_TAG = re.compile(_CELL)
_PLACED_CELL = re.compile(  # a cell's whole tag with one place: its column's letters, its row
    _CELL + _OTHERS + rb"""\s+r\s*=\s*["']([A-Z]{1,3})(\d{1,7})["']""" + _OTHERS + _END
)
_TAG_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:row|c)(?=[\s/>])")
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])(" + _ATTRIBUTES + rb")" + _END)
_ATTRIBUTE = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_PLACE = re.compile(rb"([A-Z]{0,3})(\d{1,7})")  # a place: "B12", a row's "12"
_PART = 1 << 20  # bytes of the sheet's XML read at a time


def sheet_extent(path: Path, sheet: str) -> tuple[int, int]:
    """(rows, columns) from A1 to the sheet's last cell, as its cells place themselves, read
    through its XML a megabyte at a time, in C: ~0.5 s for 100,000 rows whose text the sheet
    holds, less when they are in the workbook's shared strings (Excel's way). A sheet whose
    cells leave out their places (allowed, rare) is read again a cell at a time."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) != len(set(names)):  # (which would its reader read?)
                raise ValueError("two parts of the same name")
            part = _sheet_part(archive, sheet)
            extent = _extent(archive, part, precise=False)
            return extent or _extent(archive, part, precise=True) or (0, 0)
    except (  # a damaged or locked archive, or a part it does not hold
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        KeyError,
        OSError,
        ValueError,
        StopIteration,
        ElementTree.ParseError,
    ) as exc:
        raise ImportFileError(
            f"“{path.name}” could not be opened as an Excel workbook ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from exc


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str:
    """The name of the sheet's XML in the workbook's archive: the package's relationships name
    the workbook, the workbook's relationships each sheet's part."""
    package = _related(archive, "_rels/.rels", "")
    workbook = next(target for kind, target in package.values() if kind.endswith("/officeDocument"))
    folder, name = posixpath.split(workbook)
    parts = _related(archive, posixpath.join(folder, "_rels", name + ".rels"), folder)
    found = [
        [value for key, value in element.attrib.items() if _local(key) == "id"]
        for element in ElementTree.fromstring(archive.read(workbook)).iter()
        if _local(element.tag) == "sheet" and element.get("name") == sheet
    ]
    if len(found) != 1 or len(found[0]) != 1 or found[0][0] not in parts:
        raise ValueError(f"no one part for the sheet “{sheet}”")
    return parts[found[0][0]][1]


def _related(archive: zipfile.ZipFile, rels: str, folder: str) -> dict[str, tuple[str, str]]:
    """A relationships part's (type, target) by id, each target as a name in the archive."""
    related = {}
    for element in ElementTree.fromstring(archive.read(rels)).iter():
        target = element.get("Target", "")
        if _local(element.tag) == "Relationship" and target:
            name = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            if element.get("Id", "") in related:
                raise ValueError("two relationships of the same id")
            related[element.get("Id", "")] = (element.get("Type", ""), posixpath.normpath(name))
    return related


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _extent(archive: zipfile.ZipFile, part: str, *, precise: bool) -> tuple[int, int] | None:
    """The sheet's extent from every cell's and row's own place, or (not `precise`) None when
    some leave it out: then a place follows the one before it, which only a read in order, a
    tag at a time, can follow (`_followed`)."""
    extent = (0, 0)
    place = (0, 0)  # the last row's, and the last cell's column in it (`precise`)
    with archive.open(part) as xml:
        tail = b""
        while True:
            chunk = xml.read(_PART)
            data, tail = _cut(tail + chunk) if chunk else (tail, b"")
            if precise:
                extent, place = _followed(data, extent, place)
            else:
                placed = _placed(data, extent)
                if placed is None:
                    return None
                extent = placed
            if not chunk:
                return extent


def _placed(data: bytes, extent: tuple[int, int]) -> tuple[int, int] | None:
    """`extent` widened to the cells in `data`, found in C, or None if one does not say its
    place once, as the usual "A1" (then `_followed` reads them: its reader takes the last)."""
    rows, columns = extent
    places = _PLACED_CELL.findall(data)
    if len(places) != len(_CELL_TAG.findall(data)):
        return None
    if places:
        letters, numbers = zip(*places, strict=True)
        rows = max(rows, *map(int, set(numbers)))
        columns = max(columns, *map(_column, set(letters)))
    return rows, columns


def _followed(
    data: bytes, extent: tuple[int, int], place: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """`extent` widened to the rows and cells in `data`, a tag at a time from `place`: a row
    without its place is the one after the row before, a cell without its place the one after
    the cell before in its row. A place that is not one is an error (ValueError)."""
    (rows, columns), (row, column) = extent, place
    tags = _TAG.findall(data)
    if len(tags) != len(_TAG_START.findall(data)):
        raise ValueError("a row or a cell whose tag is not one")
    for kind, attributes in tags:
        said = [d or s for name, d, s in _ATTRIBUTE.findall(attributes) if name == b"r"]
        at = [_PLACE.fullmatch(value.strip().replace(b"$", b"")) for value in said]
        if not all(at) or (kind == b"c" and any(not a[1] for a in at if a)):
            raise ValueError(f"a place that is not one: {said[:2]!r}")
        if kind == b"row":
            row = max((int(a[2]) for a in at if a), default=row + 1)
            column = 0
        elif at:
            column = max(_column(a[1]) for a in at if a)
            row = max(row, *(int(a[2]) for a in at if a))
        else:
            column += 1
        rows, columns = max(rows, row), max(columns, column)
    return (rows, columns), (row, column)


def _cut(data: bytes) -> tuple[bytes, bytes]:
    """`data` up to its last "<", and the rest (a tag that may go on in the next part)."""
    at = data.rfind(b"<")
    return (data, b"") if at < 0 else (data[:at], data[at:])


def _column(letters: bytes) -> int:
    """A column's number from its letters (A = 1, Z = 26, AA = 27)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


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
