"""The seed's flow with no GUI: a question/answer file from the creator → approved examples →
validate → the training JSONL → a training job, and the `examples` commands to review a
dataset (fixtures shaped like real exports: headers as spreadsheets write them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.cli import main
from persona_studio.core.project import Project


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def seed_csv(path: Path, header: str = "question,answer", rows: int = 12) -> Path:
    lines = [header] + [
        f'"How do I pace run {i}?","Start slow, then settle at a pace you can talk at ({i})."'
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_validate_export_train_with_no_gui(tmp_path, capsys, monkeypatch) -> None:
    from tests.fakes.openai_server import FakeOpenAI

    project = tmp_path / "rhea.persona"
    code, out, err = run(capsys, "import", str(project), str(seed_csv(tmp_path / "data.csv")))
    assert code == 0, err
    assert "Added 12 examples" in out and "12 ready to train, 0 to review" in out
    with Project.open(project) as opened:
        assert {e.status for e in opened.examples()} == {"approved"}
        opened.set_test_share(0.0)

    code, out, err = run(capsys, "validate", str(project))
    assert code == 0, out + err
    out_file = tmp_path / "train.jsonl"
    code, out, err = run(
        capsys, "export", str(project), "--format", "openai-jsonl", "--out", str(out_file)
    )
    assert code == 0, err
    assert len(out_file.read_text().splitlines()) == 12

    model = "gpt-4.1-mini-2025-04-14"
    with FakeOpenAI(api_key="sk-env", models=(model,)) as server:
        server.total_steps = 2
        server.auto_advance = True
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = run(
            capsys, "train", str(project), "--profile", "env", "--model", model, "--wait",
            "--poll", "0.01", "--json",
        )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "succeeded"


def test_draft_on_request_and_unrecognised_headers_mapped(tmp_path, capsys) -> None:
    project = tmp_path / "p.persona"
    data = seed_csv(tmp_path / "d.csv", header="Question_ID,Frage,Antwort", rows=3)
    data.write_text(
        "Question_ID,Frage,Antwort\n"
        + "".join(f"q{i},Wie laufe ich {i}?,Langsam {i}.\n" for i in range(3)),
        encoding="utf-8",
    )
    code, _, err = run(capsys, "import", str(project), str(data))
    assert code == 1 and "Choose which column holds the questions" in err
    code, _, err = run(capsys, "import", str(project), str(data), "--map", "question=Fragen")
    assert code == 1 and "has no column “Fragen”" in err and "Frage, Antwort" in err
    code, out, err = run(
        capsys, "import", str(project), str(data), "--map", "question=Frage",
        "--map", "answer=Antwort", "--status", "draft",
    )  # fmt: skip
    assert code == 0, err
    assert "0 ready to train, 3 to review" in out
    with Project.open(project) as opened:
        assert [e.question for e in opened.examples()] == [f"Wie laufe ich {i}?" for i in range(3)]


@pytest.mark.parametrize("header", ["Questions,Answers", "PROMPT,COMPLETION", "prompt,completion"])
def test_common_headers_are_recognised_in_any_case(tmp_path, capsys, header) -> None:
    project = tmp_path / "p.persona"
    code, out, err = run(
        capsys, "import", str(project), str(seed_csv(tmp_path / "d.csv", header, rows=2))
    )
    assert code == 0, err
    assert "Added 2 examples" in out


def test_examples_list_approve_reject_show_delete(tmp_path, capsys, monkeypatch) -> None:
    project = tmp_path / "p.persona"
    csv = tmp_path / "d.csv"
    csv.write_text(
        "question,answer,tags\n"
        "Best shoes?,Light ones.,gear\n"
        "Rest days?,One a week.,recovery\n"
        "Hill repeats?,Short and steep.,\n",
        encoding="utf-8",
    )
    run(capsys, "import", str(project), str(csv), "--status", "draft")

    code, out, _ = run(capsys, "examples", "list", str(project), "--json")
    rows = json.loads(out)
    assert [r["status"] for r in rows] == ["draft"] * 3 and rows[0]["tags"] == ["gear"]
    ids = [r["id"] for r in rows]

    code, out, _ = run(capsys, "examples", "approve", str(project), "--tag", "gear")
    assert code == 0 and "1 example marked approved (0 already were); 1 approved in all." in out
    code, out, _ = run(capsys, "examples", "reject", str(project), "--search", "HILL")
    assert "1 example marked rejected" in out
    code, out, _ = run(capsys, "examples", "approve", str(project), "--all")
    assert "2 examples marked approved (1 already were); 3 approved in all." in out
    code, out, _ = run(capsys, "examples", "draft", str(project), "--ids", ids[1], "--json")
    assert json.loads(out) == {"changed": 1, "matched": 1, "status": "draft", "approved": 2}
    code, _, err = run(capsys, "examples", "approve", str(project))
    assert code == 1 and "Say which examples" in err
    code, _, err = run(capsys, "examples", "approve", str(project), "--ids", "nope")
    assert code == 1 and "No example has the id nope" in err

    code, out, _ = run(capsys, "examples", "list", str(project), "--status", "draft")
    assert ids[1] in out and ids[0] not in out
    code, out, _ = run(capsys, "examples", "show", str(project), ids[0])
    assert out.splitlines()[0] == f"{ids[0]} · approved · gear"
    assert "user: Best shoes?" in out and "assistant: Light ones." in out

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = run(capsys, "examples", "delete", str(project), "--status", "draft")
    assert code == 1 and "Add --yes" in err
    code, out, _ = run(capsys, "examples", "delete", str(project), "--status", "draft", "--yes")
    assert code == 0 and "Deleted 1 example." in out
    with Project.open(project) as opened:
        assert len(opened.examples()) == 2


def test_own_system_prompts_are_kept_unless_the_persona_prompt_is_asked_for(
    tmp_path, capsys
) -> None:
    data = tmp_path / "d.jsonl"
    line = {
        "messages": [
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Arr."},
        ]
    }
    data.write_text(json.dumps(line) + "\n")
    for flags, expected in (((), "Answer like a pirate."), (("--use-persona-prompt",), None)):
        project = tmp_path / f"p{len(flags)}.persona"
        code, _, err = run(capsys, "import", str(project), str(data), *flags)
        assert code == 0, err
        with Project.open(project) as opened:
            assert opened.examples()[0].system_prompt == expected
