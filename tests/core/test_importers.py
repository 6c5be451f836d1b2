"""Importers with real-shaped files, and fuzzed bytes: never a crash, never a partial import."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.dataset import Example
from persona_studio.core.exports import examples_csv, openai_jsonl
from persona_studio.core.importers import ImportFileError
from persona_studio.core.importers.files import import_file
from persona_studio.core.importers.jsonl import examples_from_jsonl
from persona_studio.core.importers.tabular import guess_mapping, read_table


@pytest.mark.parametrize(
    ("header", "question", "answer"),
    [
        ("question,answer", "question", "answer"),
        ("QUESTION,ANSWER", "QUESTION", "ANSWER"),
        ("Prompt,Response", "Prompt", "Response"),
        ("instruction,output", "instruction", "output"),
        ("input,output", "input", "output"),
    ],
)
def test_headers_are_recognised_in_any_case(header: str, question: str, answer: str) -> None:
    mapping = guess_mapping(header.split(","))
    assert (mapping["question"], mapping["answer"]) == (question, answer)


def test_seed_style_csv_imports_with_skips_explained(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(
        "QUESTION,ANSWER,status,tags\n"
        '"Multi\nline?","Yes, it works.",approved,"a, b"\n'
        '007,=IMPORTXML("x"),,\n'
        ",lonely answer,,\n"
        ",,,\n"
        "Emoji? 🏃,Sure 🙂,weird,\n",
        encoding="utf-8",
    )
    result = import_file(path)
    assert [(e.question, e.answer, e.status, e.tags) for e in result.examples] == [
        ("Multi\nline?", "Yes, it works.", "approved", ["a", "b"]),
        ("007", '=IMPORTXML("x")', "approved", []),  # no status: the creator's data trains
        ("Emoji? 🏃", "Sure 🙂", "draft", []),  # a status we do not know: reviewed first
    ]
    assert result.skipped == [(4, "no question"), (5, "empty row")]
    review = import_file(path, default_status="draft")
    assert [e.status for e in review.examples] == ["approved", "draft", "draft"]
    assert all(e.source == "import:sheet.csv" for e in result.examples)
    # a plain row holds its two texts, read as the two messages, and is saved as them
    from persona_studio.core.dataset import held_pair
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project

    first = result.examples[0]
    assert held_pair(first) == ("Multi\nline?", "Yes, it works.")
    assert first.read_messages() == [
        {"role": "user", "content": "Multi\nline?"},
        {"role": "assistant", "content": "Yes, it works."},
    ]
    with Project.create(tmp_path / "t.persona", Persona(name="R")) as project:
        project.add_examples(result.examples)
        assert [e.read_messages() for e in project.examples()] == [
            e.read_messages() for e in result.examples
        ]


def test_semicolon_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("question;answer\nq1;a1\nq2;a2\n")
    (tmp_path / "b.tsv").write_text("prompt\tresponse\nq\tcomma, inside\n")
    assert [e.answer for e in import_file(tmp_path / "a.csv").examples] == ["a1", "a2"]
    assert [e.answer for e in import_file(tmp_path / "b.tsv").examples] == ["comma, inside"]


def test_xlsx_with_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
        pd.DataFrame({"Question": ["q", "007"], "Answer": ["a", "+1"]}).to_excel(
            writer, sheet_name="Data", index=False
        )
    table = read_table(path)
    assert table.sheets == ["Notes", "Data"]
    with pytest.raises(ImportFileError, match="Choose which column"):
        import_file(path)  # the first sheet has no question/answer columns
    result = import_file(path, sheet="Data")
    assert [(e.question, e.answer) for e in result.examples] == [("q", "a"), ("007", "+1")]


def test_a_sheets_cells_read_as_the_text_pandas_made_of_them(tmp_path: Path) -> None:
    """Read by calamine (~5× faster), every kind of cell gives the text pandas with openpyxl
    gave, which the app used before: numbers, dates, times, durations, booleans, a formula,
    empty rows and cells, repeated and empty headers; an error cell, empty."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["question", "answer", "question", None, "n", "when"])
    sheet.append(["007", 7, 1.5, True, dt.datetime(2024, 1, 2, 3, 4, 5, 123000), dt.time(9, 5)])
    sheet.append([None] * 6)
    sheet.append(["=1+1", "x", dt.date(2024, 5, 6), False, 1e20, dt.timedelta(hours=26)])
    sheet.append(["a", "b"])
    sheet.append([0.1 + 0.2, -0.0, 12345678901234567890, "#DIV/0!", "end", 1e-7])
    sheet["B8"] = "after a gap"
    path = tmp_path / "kinds.xlsx"
    book.save(path)
    frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    table = read_table(path)
    assert table.columns == [str(c) for c in frame.columns]
    # (an error cell is empty: pandas made it NaN, and the app the text "nan")
    assert table.cells == [frame.iloc[:, at].fillna("").tolist() for at in range(frame.shape[1])]
    assert table.cells[0][0] == "007" and table.cells[1][0] == "7" and table.cells[3][4] == ""


@pytest.mark.parametrize("tags", [b"c", b"row|c"])
def test_a_sheet_whose_cells_leave_out_their_places(tmp_path: Path, tags: bytes) -> None:
    """A cell may leave out its place (`r`): it is then the one after the cell before, and a
    row the one after the row before. Such a sheet is measured a tag at a time, and read as
    written."""
    import re
    import zipfile

    import openpyxl

    from persona_studio.core.importers.limits import sheet_extent

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for row in [["question", "answer", "tags"], ["Q1?", "A1."], ["Q2?", "A2.", "x"]]:
        sheet.append(row)
    placed = tmp_path / "placed.xlsx"
    book.save(placed)
    unplaced = tmp_path / "unplaced.xlsx"
    with zipfile.ZipFile(placed) as source, zipfile.ZipFile(unplaced, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(<(?:" + tags + rb')\b[^>]*?) r="[A-Z]*\d+"', rb"\1", data)
                assert b'<c r="' not in data
            out.writestr(info, data)
    assert sheet_extent(unplaced, "Data") == sheet_extent(placed, "Data") == (3, 3)
    assert read_table(unplaced).cells == read_table(placed).cells
    assert [(e.question, e.tags) for e in import_file(unplaced).examples] == [
        ("Q1?", []),
        ("Q2?", ["x"]),
    ]


def test_broken_files_are_refused_whole(tmp_path: Path) -> None:
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="Excel workbook"):
        import_file(tmp_path / "bad.xlsx")
    (tmp_path / "latin.csv").write_bytes("question,answer\ncaf\xe9,x\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        import_file(tmp_path / "latin.csv")
    (tmp_path / "notes.docx").write_bytes(b"x")
    with pytest.raises(ImportFileError, match="not a dataset file"):
        import_file(tmp_path / "notes.docx")


def test_openai_and_sharegpt_jsonl_with_bad_lines() -> None:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Old prompt"},
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1", "weight": 0},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "a2"},
            ]
        },
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hey"}]},
        {"messages": [{"role": "user", "content": "no answer"}]},
        {"conversations": [{"from": "alien", "value": "?"}]},
    ]
    data = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n\n"
    result = examples_from_jsonl(data.encode(), "import:x.jsonl")  # own prompts kept by default
    first, second = result.examples
    assert first.turn_count == 4 and first.messages[1]["weight"] == 0
    assert first.system_prompt == "Old prompt"
    assert (second.question, second.answer) == ("hi", "hey")
    assert [n for n, _ in result.skipped] == [3, 4, 5]
    persona = examples_from_jsonl(data.encode(), "s", keep_system_prompts=False)
    assert persona.examples[0].system_prompt is None
    assert "persona's prompt is used" in persona.notes[0]


@pytest.mark.parametrize("block", [16, 1 << 20])
def test_jsonl_lines_are_read_as_written(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines end at "\\n" only, read a block of bytes at a time (here also 16 bytes: every
    line spans blocks, and 'é' and the emoji fall on their edges): a BOM, "\\r\\n", a line
    separator (U+2028) inside a text, an integer past 64 bits (json reads what orjson
    refuses), a blank line and a line nested too deep to read, each as before or better."""
    from persona_studio.core.importers import jsonl

    monkeypatch.setattr(jsonl, "_BLOCK", block)

    def line(question: str, answer: str, **more: object) -> str:
        pair = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return json.dumps({"messages": pair, **more}, ensure_ascii=False)

    lines = [
        line("Café?", "Oui \u2028 bien sûr 🙂"),
        "",
        line("Big?", "Yes", weight=2**70),
        "[" * 100_000,
        line("Last?", "Done"),
    ]
    result = examples_from_jsonl(b"\xef\xbb\xbf" + "\r\n".join(lines).encode(), "s")
    assert [(e.question, e.answer) for e in result.examples] == [
        ("Café?", "Oui \u2028 bien sûr 🙂"),
        ("Big?", "Yes"),
        ("Last?", "Done"),
    ]
    assert result.skipped == [(4, "not valid JSON")]
    assert result.examples[0].messages[0] == {"role": "user", "content": "Café?"}
    with pytest.raises(ImportFileError, match="not UTF-8"):
        examples_from_jsonl(("\n".join(lines) + "\n").encode() + b"\xff\n", "s")
    with pytest.raises(ImportFileError, match="broken"):  # a JSON array nested too deep
        examples_from_jsonl(b"[" * 100_000, "s")


def test_fine_tuning_files_from_other_tools(tmp_path: Path) -> None:
    """Shaped like the published formats: OpenAI chat lines with text parts, names and tool
    calls (platform.openai.com/docs/guides/fine-tuning), legacy prompt/completion lines,
    ShareGPT with function_call/observation turns, and Alpaca and ShareGPT `.json` arrays."""
    lines = [
        {"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "name": "sam", "content": [{"type": "text", "text": "Hi "},
                                                        {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello!"},
        ]},
        {"messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            {"role": "assistant", "content": "A cat."},
        ]},
        {"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                                                  "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ], "tools": [{"type": "function", "function": {"name": "w"}}]},
        {"prompt": "Best pace?", "completion": "Talk-test pace."},
        {"conversations": [{"from": "human", "value": "Weather?"},
                           {"from": "function_call", "value": "{}"},
                           {"from": "observation", "value": "sunny"},
                           {"from": "gpt", "value": "Sunny."}]},
    ]  # fmt: skip
    result = examples_from_jsonl("\n".join(json.dumps(x) for x in lines).encode(), "s")
    first, legacy = result.examples
    assert first.messages[0] == {"role": "user", "content": "Hi there", "name": "sam"}
    assert (
        first.system_prompt == "Be brief.\n\nBe kind."
        and "several system messages" in (result.notes[0])
    )
    assert (legacy.question, legacy.answer) == ("Best pace?", "Talk-test pace.")
    why = dict(result.skipped)
    assert "image" in why[2]
    assert why[3].startswith("a tool or function calling example") and why[5] == why[3]

    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([
        {"instruction": "Give a tip.", "input": "", "output": "Rest."},
        {"instruction": "Translate.", "input": "bonjour", "output": "hello"},
    ]))  # fmt: skip
    got = import_file(alpaca).examples
    assert [(e.question, e.answer) for e in got] == [
        ("Give a tip.", "Rest."),
        ("Translate.\n\nbonjour", "hello"),
    ]
    sharegpt = tmp_path / "sharegpt.json"
    sharegpt.write_text(
        json.dumps(
            [{"conversations": [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A."}]}]
        )
    )
    assert [(e.question, e.answer) for e in import_file(sharegpt).examples] == [("Q?", "A.")]


def test_exported_jsonl_reads_back_line_by_line() -> None:
    examples = [
        Example.from_qa("q “quoted”", "a\nnew line"),
        Example(
            messages=[
                {"role": "user", "content": "1"},
                {"role": "assistant", "content": "2", "weight": 0},
                {"role": "user", "content": "3"},
                {"role": "assistant", "content": "4"},
            ],
            system_prompt="Own prompt",
        ),
    ]
    text = openai_jsonl(examples, "Persona prompt")
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["messages"][0] == {"role": "system", "content": "Persona prompt"}
    assert lines[0]["messages"][2]["content"] == "a\nnew line"
    assert lines[1]["messages"][0]["content"] == "Own prompt"
    assert lines[1]["messages"][2]["weight"] == 0
    back = examples_from_jsonl(text.encode(), "s", keep_system_prompts=True).examples
    assert [e.messages for e in back] == [e.messages for e in examples]


def test_csv_export_is_formula_safe_and_round_trips(tmp_path: Path) -> None:
    examples = [
        Example.from_qa("=1+1", "@SUM(A1)", status="approved", tags=["x"]),
        Example.from_qa("-5 degrees?", "+cold"),
        Example(
            messages=[
                {"role": "user", "content": "1"},
                {"role": "assistant", "content": "2"},
                {"role": "user", "content": "3"},
                {"role": "assistant", "content": "4"},
            ]
        ),
    ]
    text = examples_csv(examples)
    assert "'=1+1" in text and "'@SUM(A1)" in text and "'+cold" in text
    (tmp_path / "out.csv").write_text(text, encoding="utf-8")
    back = import_file(tmp_path / "out.csv").examples
    assert [e.messages for e in back] == [e.messages for e in examples]
    assert [e.id for e in back] == [e.id for e in examples]
    assert back[0].status == "approved" and back[0].tags == ["x"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=600), st.sampled_from([".csv", ".tsv", ".jsonl", ".xlsx"]))
def test_fuzzed_bytes_never_crash(tmp_path_factory, data: bytes, suffix: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(ImportFileError):
        result = import_file(path)
        assert all(e.question.strip() and e.answer.strip() for e in result.examples)


def test_csv_rows_are_read_as_pandas_read_them(tmp_path) -> None:
    from persona_studio.core.importers.tabular import read_table

    path = tmp_path / "odd.csv"
    path.write_text(
        'question,answer,,answer\n\n"Two\nlines?",Yes.,x\n007,=1+1,,\n',
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.columns == ["question", "answer", "Unnamed: 2", "answer.1"]
    assert table.cells == [["Two\nlines?", "007"], ["Yes.", "=1+1"], ["x", ""], ["", ""]]
    long_answer = "word " * 60_000  # 300,000 characters in one cell
    path.write_text(f'question,answer\nLong?,"{long_answer}"\n', encoding="utf-8")
    assert read_table(path).cells == [["Long?"], [long_answer]]
    path.write_text("question,answer\nA?,B.,extra\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="line 2 has 3 cells, the header 2"):
        read_table(path)


def test_rows_keep_their_ids_statuses_and_tags_and_copies_get_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(
        "id,question,answer,status,tags\n"
        'a1,NA,null,Approved ,"x, y"\n'
        "a1,Copied?,Yes.,pending,x\n"
        ",'=SUM?,'=1+1,,x\n"
        "\n"
        "a4,Short?,Too,draft,,extra\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError, match="line 6 has 6 cells, the header 5"):
        import_file(path)  # the line as an editor numbers it, the blank line counted
    path.write_text(path.read_text("utf-8").replace(",extra", ""), "utf-8")
    found = import_file(path, default_status="draft").examples
    assert [(e.question, e.answer) for e in found] == [
        ("NA", "null"),  # words pandas would read as missing stay the text they are
        ("Copied?", "Yes."),
        ("=SUM?", "=1+1"),  # unescaped as the CSV export escaped them
        ("Short?", "Too"),
    ]
    assert found[0].id == "a1" and found[3].id == "a4"
    assert found[1].id not in ("a1", "a4") and len(found[1].id) == 32  # a copied row: a new id
    assert found[2].id != found[1].id and len(found[2].id) == 32
    # a word we do not know is the creator's to review; an empty cell takes the default
    assert [e.status for e in found] == ["approved", "draft", "draft", "draft"]
    assert [e.tags for e in found] == [["x", "y"], ["x"], ["x"], []]
    found[1].tags.append("mine")
    assert found[2].tags == ["x"]  # the same cell, yet no two examples share a tag list
