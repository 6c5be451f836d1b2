"""Cards and plugins to and from a project: what the CLI and the GUI both call."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

from persona_studio.core.cards import ImportedCard, card_json_bytes, card_png, card_v2, card_v3
from persona_studio.core.collector import release
from persona_studio.core.dataset import Example, dataset_hash
from persona_studio.core.exports import examples_csv_parts, naas_plugin, openai_jsonl_lines
from persona_studio.core.project import Project
from persona_studio.core.test_set import split_test_set
from persona_studio.resources_path import resource_path

EXPORT_FORMATS = {
    "card-v2-png": ("Character Card (PNG)", ".png"),
    "card-v2-json": ("Character Card V2 (JSON)", ".json"),
    "card-v3-json": ("Character Card V3 (JSON)", ".json"),
    "naas-plugin": ("Naas Chat plugin (JSON)", ".json"),
    "openai-jsonl": ("Training data for OpenAI fine-tuning (JSONL)", ".jsonl"),
    "csv": ("Examples as a spreadsheet (CSV)", ".csv"),
}


def default_avatar_png() -> bytes:
    return resource_path("default-avatar.png").read_bytes()


def apply_card(project: Project, card: ImportedCard) -> None:
    """Make the project's character the card's: persona, rules and avatar (examples stay)."""
    project.replace_character(card.persona, card.rules, card.avatar_png)


def create_from_card(path: Path, card: ImportedCard, *, overwrite: bool = False) -> Project:
    """A new project from a card, written atomically (a replaced file is whole until the new one
    takes its place)."""
    return Project.create(
        path, card.persona, rules=card.rules, avatar_png=card.avatar_png, overwrite=overwrite
    )


EXPORT_CHUNK_LINES = 2_048
READ_SHARE = 0.4  # of a dataset export's time, its read (1,000,000 examples: ~5 of ~12 s)
CARD_READ_SHARE = 0.6  # of a card's, its read (the rest, the fingerprint: ~2.5 of ~7 s)


def export_bytes(project: Project, fmt: str) -> bytes:
    return b"".join(export_chunks(project, fmt))


def export_chunks(
    project: Project, fmt: str, progress: Callable[[float], None] | None = None
) -> list[bytes]:
    """The export file's bytes in pieces, for a worker thread: a JSONL file is made and
    encoded `EXPORT_CHUNK_LINES` lines at a time (joining 100,000 lines into one text held
    the interpreter lock ~40 ms), and the examples read for it are let go a slice at a time.
    `progress` is told the share done (0 to 1) as it goes, in this thread: at 1,000,000
    examples a JSONL file takes ~12 s, a CSV ~18, a card ~7 (the fingerprint reads them all);
    an exception it raises (`core.errors.Stopped`) stops the export there."""
    told = progress or _untold
    if fmt in ("openai-jsonl", "csv"):
        examples = project.examples(lambda share: told(READ_SHARE * share))
        try:
            return _dataset_chunks(
                project, fmt, examples, lambda share: told(READ_SHARE + (1 - READ_SHARE) * share)
            )
        finally:
            release(examples)
    return [_export_file(project, fmt, told)]


def _untold(_share: float) -> None:
    pass


def _dataset_chunks(
    project: Project, fmt: str, examples: list[Example], told: Callable[[float], None]
) -> list[bytes]:
    if fmt == "csv":
        parts = examples_csv_parts(examples, EXPORT_CHUNK_LINES)
        return [_told(part, at, told, len(examples)) for at, part in enumerate(parts)]
    persona = project.persona()
    # as they would be trained: not those kept aside for the voice check (`core.test_set`)
    usable, _kept_aside = split_test_set(examples, project.test_share)
    approved = [ex for ex in usable if ex.status == "approved"]
    lines = openai_jsonl_lines(approved, persona.system_prompt(), persona.name)
    chunks: list[bytes] = []
    while chunk := "".join(itertools.islice(lines, EXPORT_CHUNK_LINES)):
        chunks.append(_told(chunk, len(chunks), told, len(approved)))
    release(approved)
    return chunks


def _told(part: str, at: int, told: Callable[[float], None], rows: int) -> bytes:
    """The `at`-th part (`EXPORT_CHUNK_LINES` rows each) encoded, the share made told first."""
    told(min(1.0, at * EXPORT_CHUNK_LINES / max(1, rows)))
    return part.encode("utf-8")


def _export_file(project: Project, fmt: str, told: Callable[[float], None] = _untold) -> bytes:
    persona, rules = project.persona(), project.rules()
    avatar = project.avatar()
    avatar_png = avatar[0] if avatar and avatar[1] == "image/png" else None
    if fmt == "naas-plugin":
        plugin = naas_plugin(persona, avatar_png=avatar_png)
        return json.dumps(plugin, ensure_ascii=False, indent=2).encode("utf-8")
    # only the cards carry the dataset's fingerprint
    examples = project.examples(lambda share: told(CARD_READ_SHARE * share))
    fingerprint = dataset_hash(
        examples, lambda share: told(CARD_READ_SHARE + (1 - CARD_READ_SHARE) * share)
    )
    release(examples)
    if fmt == "card-v2-png":
        return card_png(
            persona, rules, avatar_png or default_avatar_png(), dataset_hash=fingerprint
        )
    if fmt == "card-v2-json":
        return card_json_bytes(card_v2(persona, rules, dataset_hash=fingerprint))
    if fmt == "card-v3-json":
        return card_json_bytes(card_v3(persona, rules, dataset_hash=fingerprint))
    raise ValueError(f"unknown export format {fmt!r}")
