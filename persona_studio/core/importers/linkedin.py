"""A LinkedIn data export (the ZIP from "Settings → Get a copy of your data"), read offline.

What we take: posts (`Shares.csv`), the profile's headline and summary (`Profile.csv`),
positions (`Positions.csv`) and, optionally, the creator's comments (`Comments.csv`). LinkedIn
has changed these files over the years, so headers are matched loosely ("ShareCommentary",
"Share Commentary", "Commentary"…), a preamble before the header row is skipped, and posts
that are empty or only a link are skipped with a reason. No scraping: only the user's file.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from persona_studio.core.importers import MAX_IMPORT_BYTES, ImportFileError
from persona_studio.core.importers.limits import check_archive

POST_TEXT = ("sharecommentary", "commentary", "text", "content", "post", "message")
POST_DATE = ("date", "createddate", "created", "publishedat")
POST_LINK = ("sharelink", "link", "url", "postlink")
URL = re.compile(r"https?://\S+|www\.\S+")
MIN_WORDS = 3  # fewer words than this once links are removed: not a post worth answering
MIN_CHARACTERS = 12  # the same for scripts written without spaces (Chinese, Japanese, Thai…)
# Chinese, Japanese and Korean letters, and Thai, Lao, Khmer and Myanmar: no spaces between words
UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff]"
)
# Shares.csv, or with the member's id as newer exports name it: Shares_123456789.csv
MEMBER_FILE = re.compile(r"^(shares|comments|profile|positions)(?:[_ -][^./\\]*)?\.csv$")


@dataclass
class Post:
    text: str
    date: str = ""
    link: str = ""
    kind: str = "post"  # post or comment

    @property
    def source(self) -> str:
        """Where the example came from: the post's link and date (as in the export)."""
        where = " ".join(part for part in (self.link, self.date) if part) or self.kind
        return f"linkedin:{where}"


@dataclass
class LinkedInExport:
    name: str = ""
    headline: str = ""
    summary: str = ""
    positions: list[str] = field(default_factory=list)  # "Title at Company (2019–2023)"
    posts: list[Post] = field(default_factory=list)
    comments: list[Post] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    notes: list[str] = field(default_factory=list)  # how files were read (an encoding…)

    def profile_text(self) -> str:
        """What the export says about the person, for prompts (and the persona's background)."""
        lines = [f"{self.name}: {self.headline}".strip(": ")] if self.name or self.headline else []
        if self.summary:
            lines.append(self.summary)
        if self.positions:
            lines.append("Positions: " + "; ".join(self.positions[:8]))
        return "\n".join(lines)

    def persona_fields(self) -> dict[str, str]:
        """What the profile can fill in a persona: the name, the headline as its short
        description, the About text and positions as its background (only what is there)."""
        career = "Career: " + "; ".join(self.positions[:8]) + "." if self.positions else ""
        fields = {
            "name": self.name,
            "description": self.headline,
            "background": "\n\n".join(part for part in (self.summary.strip(), career) if part),
        }
        return {key: value.strip() for key, value in fields.items() if value.strip()}


def _key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def decode(data: bytes, name: str, notes: list[str] | None = None) -> str:
    """UTF-8 as LinkedIn writes it; a file saved again by Excel on Windows is Windows-1252
    (said in `notes`); anything else is refused plainly, never read as U+FFFD."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(
            f"“{name}” is neither UTF-8 nor Windows-1252 text.",
            "Open it in a spreadsheet and save it as “CSV UTF-8”, or use the ZIP as LinkedIn "
            "sent it.",
        ) from None
    if notes is not None:
        notes.append(f"{name} was read as Windows-1252 (it is not UTF-8).")
    return text


def _rows(
    data: bytes, wanted: tuple[str, ...], name: str = "the file", notes: list[str] | None = None
) -> tuple[list[str], list[list[str]], int]:
    """Header (normalised) and rows, skipping any notes above the header row. A malformed file
    is a plain error naming the line, never a traceback."""
    reader = csv.reader(io.StringIO(decode(data, name, notes), newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        why = (
            "a quote is opened and never closed"
            if "unexpected end of data" in str(exc)
            else "a field is longer than 128 KB"
            if "field larger" in str(exc)
            else str(exc)
        )
        raise ImportFileError(
            f"“{name}” could not be read at line {reader.line_num}: {why}.",
            "Use the file as LinkedIn sent it; if you edited it, check that line.",
        ) from exc
    for start, row in enumerate(rows[:10]):
        keys = [_key(cell) for cell in row]
        if any(k in wanted for k in keys):
            return keys, rows[start + 1 :], start + 2  # data starts on this (1-based) line
    return [], [], 0


def _column(keys: list[str], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return None


def clean_post(text: str, kind: str = "post") -> str:
    """The post as written. LinkedIn quotes each line of a multi-line post on its own
    ("line one" / "" / "line two", a quote inside doubled): that quoting is undone; comments
    escape quotes with a backslash: undone too. Everything else stays verbatim (surrounding
    quotes of a one-line post, "" in code, non-breaking spaces, blank lines)."""
    text = text.replace("\r\n", "\n").strip("\n")
    lines = text.split("\n")
    if len(lines) > 1 and all(
        len(line) >= 2 and line[0] == line[-1] == '"' for line in lines if line
    ):
        text = "\n".join(line[1:-1].replace('""', '"') if line else line for line in lines)
    if kind == "comment":
        text = text.replace('\\"', '"')
    return text


def too_short(text: str) -> bool:
    """Only a link or a few words; for scripts without spaces, a few characters."""
    bare = URL.sub("", text)
    return len(bare.split()) < MIN_WORDS and len(UNSPACED.findall(bare)) < MIN_CHARACTERS


def _posts(
    data: bytes, name: str, kind: str, skipped: list[tuple[str, str]], notes: list[str]
) -> list[Post]:
    keys, rows, first_line = _rows(data, POST_TEXT, name, notes)
    text_col = _column(keys, POST_TEXT)
    if text_col is None:
        skipped.append((name, "no column with the post text (expected “ShareCommentary”)"))
        return []
    date_col, link_col = _column(keys, POST_DATE), _column(keys, POST_LINK)
    posts = []
    for number, row in enumerate(rows, start=first_line):

        def cell(col: int | None, row: list[str] = row) -> str:
            return row[col].strip() if col is not None and col < len(row) else ""

        text = clean_post(row[text_col] if text_col < len(row) else "", kind)
        where = f"{name} line {number}"
        if not text.strip():
            if any(c.strip() for c in row):
                skipped.append((where, f"empty {kind}"))
            continue
        if too_short(text):
            skipped.append((where, f"{kind} is only a link or a few words"))
            continue
        posts.append(Post(text, cell(date_col), cell(link_col), kind))
    return posts


def _profile(data: bytes, export: LinkedInExport) -> None:
    keys, rows, _ = _rows(data, ("headline", "summary", "firstname"), "Profile.csv", export.notes)
    if not rows:
        return
    row = rows[0]

    def cell(name: str) -> str:
        return row[keys.index(name)].strip() if name in keys and keys.index(name) < len(row) else ""

    export.name = " ".join(p for p in (cell("firstname"), cell("lastname")) if p)
    export.headline, export.summary = cell("headline"), clean_post(cell("summary"))


def _positions(data: bytes, notes: list[str]) -> list[str]:
    keys, rows, _ = _rows(data, ("title", "companyname"), "Positions.csv", notes)
    positions = []
    for row in rows:
        values = {k: (row[i].strip() if i < len(row) else "") for i, k in enumerate(keys)}
        title, company = values.get("title", ""), values.get("companyname", "")
        if not (title or company):
            continue
        years = "–".join(
            v for v in (values.get("startedon", ""), values.get("finishedon", "")) if v
        )
        role = " at ".join(part for part in (title, company) if part)
        positions.append(role + (f" ({years})" if years else ""))
    return positions


def read_linkedin_export(path: Path, *, include_comments: bool = False) -> LinkedInExport:
    """Read the ZIP. Raises ImportFileError when it is not a LinkedIn export at all."""
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFileError(
                f"“{path.name}” is larger than we read in one go.",
                "Use the smaller “basic” export from LinkedIn (posts and profile).",
            )
        check_archive(path, "LinkedIn export")
        with zipfile.ZipFile(path) as archive:
            # members by file name, in any folder and any case, with or without the member's id
            names: dict[str, str] = {}
            for info in archive.infolist():
                match = MEMBER_FILE.match(Path(info.filename).name.lower())
                if match:
                    names.setdefault(f"{match.group(1)}.csv", info.filename)
            shares = names.get("shares.csv")
            if shares is None:
                raise ImportFileError(
                    f"“{path.name}” has no Shares.csv, so it is not a LinkedIn export with posts.",
                    "On LinkedIn: Settings → Data privacy → Get a copy of your data, and include "
                    "posts (Shares).",
                )
            export = LinkedInExport()
            export.posts = _posts(
                archive.read(shares), Path(shares).name, "post", export.skipped, export.notes
            )
            if (profile := names.get("profile.csv")) is not None:
                _profile(archive.read(profile), export)
            if (positions := names.get("positions.csv")) is not None:
                export.positions = _positions(archive.read(positions), export.notes)
            if include_comments and (comments := names.get("comments.csv")) is not None:
                export.comments = _posts(
                    archive.read(comments),
                    Path(comments).name,
                    "comment",
                    export.skipped,
                    export.notes,
                )
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        zlib.error,
        EOFError,
        RuntimeError,
        UnicodeDecodeError,  # a name flagged UTF-8 that is not
    ) as exc:
        # a damaged, encrypted or unusual archive: zipfile and zlib say so in several ways
        raise ImportFileError(
            f"“{path.name}” is not a ZIP file (or it is damaged).",
            "Download the export from LinkedIn again and choose the ZIP as it came.",
        ) from exc
    except OSError as exc:
        raise ImportFileError(
            f"Could not read “{path.name}”: {exc.strerror or exc}.", "Check the file."
        ) from exc
    return export
