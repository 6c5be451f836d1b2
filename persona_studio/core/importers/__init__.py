"""Bring examples in from files: spreadsheets (CSV/TSV/XLSX) and JSONL (OpenAI, ShareGPT).

Every importer reads the whole file first and returns what it would add and what it skipped
(and why); the caller adds everything in one transaction, so nothing is ever half-imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from persona_studio.core.dataset import Example
from persona_studio.core.errors import UserFacingError

MAX_IMPORT_BYTES = 512 * 1024 * 1024


class ImportFileError(UserFacingError):
    """The file as a whole cannot be imported."""


@dataclass
class ImportResult:
    examples: list[Example] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row or line number, why)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.examples)} examples ready"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text
