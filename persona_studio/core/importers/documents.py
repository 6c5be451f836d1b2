"""Documents the creator wrote (.txt, .md, .pdf with a text layer, .docx), cut into passages.

A passage is a few paragraphs about one thing, long enough to answer a question from and short
enough to keep a prompt cheap: paragraphs are joined up to `MAX_CHARS`, a heading starts a new
passage, and a paragraph longer than that is cut at sentence ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError
from persona_studio.core.importers.limits import check_archive, check_document_text

DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".docx")
MAX_CHARS = 1_500
MIN_CHARS = 40  # shorter passages (a lone title, a page number) say too little to ask about
SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


@dataclass
class Passage:
    text: str
    source: str  # "doc:guide.pdf p.3"


def _paragraphs_of_text(text: str) -> list[tuple[str, bool]]:
    """(paragraph, is_heading) from plain text or Markdown."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        block = block.strip()
        if not block:
            continue
        heading = block.startswith("#") and "\n" not in block
        out.append((block.lstrip("#").strip() if heading else block, heading))
    return out


def _split_long(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_CHARS:
        return [paragraph]
    pieces, current = [], ""
    for sentence in SENTENCE_END.split(paragraph):
        if current and len(current) + len(sentence) + 1 > MAX_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
        while len(current) > MAX_CHARS:  # one endless "sentence": cut at a space
            cut = current.rfind(" ", 0, MAX_CHARS)
            cut = cut if cut > MAX_CHARS // 2 else MAX_CHARS
            pieces.append(current[:cut])
            current = current[cut:].strip()
    if current:
        pieces.append(current)
    return pieces


def passages_from_paragraphs(paragraphs: list[tuple[str, bool, str]], name: str) -> list[Passage]:
    """(text, is_heading, where) in reading order → passages."""
    passages: list[Passage] = []
    current: list[str] = []
    where = ""
    heading = ""

    def flush() -> None:
        text = "\n\n".join(current).strip()
        if len(text) >= MIN_CHARS:
            passages.append(Passage(text, f"doc:{name}{where}"))
        current.clear()

    for text, is_heading, place in paragraphs:
        if is_heading:
            flush()
            heading, where = text, place
            current.append(heading)
            continue
        for piece in _split_long(text):
            size = sum(len(c) + 2 for c in current)
            if current and size + len(piece) > MAX_CHARS and current != [heading]:
                flush()
                where = place
                if heading:
                    current.append(heading)  # a continued section keeps its title
            if not current:
                where = place
            current.append(piece)
    flush()
    return passages


def _pdf_paragraphs(path: Path) -> list[tuple[str, bool, str]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ImportFileError(
                f"“{path.name}” is password-protected.",
                "Save an unprotected copy (or export it as text), then add that.",
            )
        out = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            # PDF lines end at the page edge: join lines inside a paragraph
            for paragraph, heading in _paragraphs_of_text(text):
                out.append(
                    (re.sub(r"(?<![.!?:])\n(?=\S)", " ", paragraph), heading, f" p.{number}")
                )
        return out
    except PdfReadError as exc:
        raise ImportFileError(
            f"“{path.name}” could not be read as a PDF ({exc}).", "Check that the file opens."
        ) from exc


def _docx_paragraphs(path: Path) -> list[tuple[str, bool, str]]:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx, zipfile, zlib and lxml raise many types on damage
        raise ImportFileError(
            f"“{path.name}” is not a Word document we can read.",
            "Open it in Word or LibreOffice and save it again as .docx.",
        ) from exc
    out = []
    section = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = (style or "").lower().startswith(("heading", "title"))
        section += heading
        out.append((text, heading, f" §{section}" if section else ""))
    return out


def read_passages(path: Path) -> list[Passage]:
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise ImportFileError(
            f"“{path.name}” is not a document we can read.",
            "Use .txt, .md, .pdf (with selectable text) or .docx.",
        )
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"“{path.name}” is too large.", "Split it into smaller files.")
        if suffix == ".pdf":
            paragraphs = _pdf_paragraphs(path)
        elif suffix == ".docx":
            check_archive(path, "Word document")
            paragraphs = _docx_paragraphs(path)
        else:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")  # old Windows text files
            check_document_text(path.name, text)
            paragraphs = [(p, h, "") for p, h in _paragraphs_of_text(text)]
    except OSError as exc:
        raise ImportFileError(
            f"Could not read “{path.name}”: {exc.strerror or exc}.", "Check the file."
        ) from exc
    passages = passages_from_paragraphs(paragraphs, path.name)
    if not passages:
        hint = (
            "It may be a scan: only PDFs with selectable text can be read."
            if suffix == ".pdf"
            else "Check that it has a few paragraphs of text."
        )
        raise ImportFileError(f"No text to use was found in “{path.name}”.", hint)
    return passages


def passages_from_text(text: str, name: str = "pasted text") -> list[Passage]:
    paragraphs = [(p, h, "") for p, h in _paragraphs_of_text(text)]
    return passages_from_paragraphs(paragraphs, name)
