"""Rows to and from a spreadsheet's clipboard format (tab-separated, a line per example):
question, answer, then optionally status and tags (comma-separated)."""

from __future__ import annotations

from collections.abc import Iterable

from persona_studio.core.dataset import STATUSES, Example


def examples_tsv(examples: Iterable[Example]) -> str:
    """Question, answer, status, tags per line; tabs and line breaks inside a cell become
    spaces so every example stays one row in the spreadsheet."""
    lines = []
    for ex in examples:
        cells = [ex.question, ex.answer, ex.status, ", ".join(ex.tags)]
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    return "\n".join(lines)


def examples_from_tsv(text: str) -> tuple[list[Example], int]:
    """Examples from pasted rows, and how many rows (not blank) were left out: a row without
    both a question and an answer. An unknown status becomes a draft."""
    new, left_out = [], 0
    for line in text.splitlines():
        cells = line.split("\t")
        if len(cells) < 2 or not cells[0].strip() or not cells[1].strip():
            left_out += bool(line.strip())
            continue
        status = cells[2].strip().lower() if len(cells) > 2 else ""
        tags = [t.strip() for t in cells[3].split(",") if t.strip()] if len(cells) > 3 else []
        new.append(
            Example.from_qa(
                cells[0],
                cells[1],
                source="pasted",
                tags=tags,
                status=status if status in STATUSES else "draft",
            )
        )
    return new, left_out
