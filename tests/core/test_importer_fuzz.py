"""Every importer, fed random and mutated real-shaped files, raises only our error type
(issue 15 item 8: 160 crashes of 12 exception types and 5 hangs in a fuzz run). Bounded: a
few dozen examples per reader, so the suite stays fast; CI runs it on every change."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.clipboard import examples_from_tsv
from persona_studio.core.errors import UserFacingError
from persona_studio.core.importers.documents import read_passages
from persona_studio.core.importers.files import import_file
from persona_studio.core.importers.linkedin import read_linkedin_export

FUZZ = settings(
    # a few dozen per reader in the suite; `benchmarks/faults.py --fuzz N` runs N each
    max_examples=int(os.environ.get("PERSONA_FUZZ_EXAMPLES", "40")),
    deadline=None,  # the bound is the whole suite's time; a slow CI must not flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["question", "answer", "tags"])
    for n in range(5):
        sheet.append([f"Q{n}?", f"A{n}.", "x, y"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Running", 1)
    document.add_paragraph("Slow down until you can talk. " * 5)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _linkedin_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "Shares.csv",
            'Date,ShareLink,ShareCommentary\n2024-01-01,https://l/1,"A post, ""quoted"""\n',
        )
        archive.writestr("Profile.csv", "First Name,Last Name,Headline\nRhea,Coach,Runs\n")
    return out.getvalue()


SEEDS = {
    ".csv": b'question,answer,status\nQ?,A.,approved\n"multi\nline",x,draft\n',
    ".tsv": b"question\tanswer\nQ?\tA.\n",
    ".jsonl": (
        json.dumps({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant"}]})
        + "\n"
        + json.dumps({"conversations": [{"from": "human", "value": "Q"}]})
        + "\n"
        + json.dumps({"prompt": "Q", "completion": "A"})
        + "\n"
        + json.dumps(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Q"}]},
                    {"role": "assistant", "tool_calls": []},
                ],
                "tools": [],
            }
        )
        + "\n"
    ).encode(),
    # a list of examples: Alpaca and ShareGPT records
    ".json": json.dumps(
        [
            {"instruction": "Q", "input": "", "output": "A"},
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
        ]
    ).encode(),
    ".xlsx": _xlsx(),
}


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed with bytes flipped, cut, or random bytes spliced in."""

    def mutate(data: tuple[list[tuple[int, int]], int, bytes]) -> bytes:
        flips, cut, splice = data
        raw = bytearray(seed)
        for position, value in flips:
            if raw:
                raw[position % len(raw)] = value
        raw = raw[: max(1, cut % (len(raw) + 1))] if cut % 3 == 0 else raw
        return bytes(raw) + splice

    return st.tuples(
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
        st.integers(0, 10**6),
        st.binary(max_size=64),
    ).map(mutate)


def _only_ours(read, path: Path) -> None:
    with contextlib.suppress(UserFacingError):  # anything else fails the test
        read(path)


@FUZZ
@given(suffix=st.sampled_from(sorted(SEEDS)), data=st.data())
def test_dataset_files_raise_only_our_error(suffix: str, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(mutated(SEEDS[suffix]), st.binary(max_size=2048)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(raw)
        _only_ours(import_file, path)


@FUZZ
@given(raw=st.one_of(mutated(_linkedin_zip()), st.binary(max_size=2048)))
def test_linkedin_exports_raise_only_our_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.zip"
        path.write_bytes(raw)
        _only_ours(read_linkedin_export, path)


@FUZZ
@given(
    suffix=st.sampled_from([".docx", ".txt", ".md"]),
    data=st.data(),
)
def test_documents_raise_only_our_error(suffix: str, data: st.DataObject) -> None:
    seed = _docx() if suffix == ".docx" else b"# Title\n\nA paragraph.\n"
    raw = data.draw(st.one_of(mutated(seed), st.binary(max_size=2048)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"doc{suffix}"
        path.write_bytes(raw)
        _only_ours(read_passages, path)


@FUZZ
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(["\t", "\n", "\r", "\r\n", " ", ",", "approved", "\u2028", "\x0b"]),
            st.text(max_size=8),
        ),
        max_size=60,
    ).map("".join)
)
def test_pasted_text_raises_only_our_error(text: str) -> None:
    """A paste is any text at all: it raises nothing, and every row that is not blank is an
    example or counted as left out."""
    new, left_out = examples_from_tsv(text)
    assert len(new) + left_out == sum(1 for line in text.splitlines() if line.strip())
    assert all(ex.question.strip() and ex.answer.strip() for ex in new)


def _zip_with(central_patch: dict[int, bytes], name: bytes = b"Shares.csv") -> bytes:
    """A one-entry ZIP whose central directory record is patched at these offsets."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name.decode("latin-1"), "ShareLink,ShareCommentary\n")
    data = bytearray(out.getvalue())
    start = data.rfind(b"PK\x01\x02")
    for offset, value in central_patch.items():
        data[start + offset : start + offset + len(value)] = value
    return bytes(data)


def test_two_archives_the_4000_input_fuzz_run_found(tmp_path: Path) -> None:
    """`benchmarks/faults.py --fuzz 4000` found these: a ZIP needing "version 6.4" to extract
    (zipfile's NotImplementedError, from a .docx) and one whose entry name is flagged UTF-8 but
    is not (UnicodeDecodeError, from a LinkedIn export). Both are our error now."""
    import pytest

    newer = _zip_with({6: (64).to_bytes(2, "little")})  # "version needed to extract": 6.4
    not_utf8 = _zip_with({8: (0x800).to_bytes(2, "little")}, name=b"\x80hares.csv")
    for suffix, data, read in (
        (".docx", newer, read_passages),
        (".zip", newer, read_linkedin_export),
        (".zip", not_utf8, read_linkedin_export),
    ):
        path = tmp_path / f"damaged{suffix}"
        path.write_bytes(data)
        with pytest.raises(UserFacingError):
            read(path)
