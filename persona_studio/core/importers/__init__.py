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

    def without_ids(self, known: set[str]) -> ImportResult:
        """The result without the examples whose id is already in the project, said in a note
        (adding a file twice adds nothing twice; replacing takes them all)."""
        kept = [example for example in self.examples if example.id not in known]
        again = len(self.examples) - len(kept)
        note = (
            f"{again} example{' is' if again == 1 else 's are'} already in the project (same id):"
            " not added again."
        )
        return ImportResult(kept, list(self.skipped), self.notes + ([note] if again else []))

    def summary(self) -> str:
        text = f"{len(self.examples)} examples ready"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text
