"""The command line: exit codes, JSON output, plain errors, and keys that stay off disk."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from persona_studio.cli import main
from persona_studio.core.config import load_config
from persona_studio.core.project import Project
from persona_studio.services.credentials import SERVICE


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors and --version
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_new_then_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "new", str(tmp_path / "zed"), "--name", "Zed", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["path"].endswith("zed.persona") and created["examples"] == 0
    code, out, _ = run(capsys, "info", str(tmp_path / "zed.persona"), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["persona"]["name"] == "Zed"
    assert info["counts"] == {"examples": 0, "approved": 0, "rules": 0, "jobs": 0, "chats": 0}
    assert info["system_prompt"].startswith("You are Zed.")


def test_info_text_on_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persona_studio.core.demo import ensure_demo_project

    path = ensure_demo_project(tmp_path)
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0
    assert "Coach Rhea" in out and "examples: 30 (24 approved)" in out and "rules: 3" in out


@pytest.mark.parametrize("name", ["missing.persona", "notes.txt"])
def test_bad_paths_fail_with_one_plain_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, out, err = run(capsys, "info", str(tmp_path / name))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("persona-studio: ")


def test_new_refuses_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "new", str(tmp_path / "a.persona"), "--name", "A")[0] == 0
    code, _, err = run(capsys, "new", str(tmp_path / "a.persona"), "--name", "B")
    assert code == 1 and "already exists" in err


@pytest.mark.parametrize(
    "argv", [[], ["bogus"], ["new", "x.persona"], ["profile"], ["profile", "add"]]
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert run(capsys, *argv)[0] == 2


def test_profiles_add_list_remove_with_key_in_keyring(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-cli-secret\n"))
    code, out, err = run(
        capsys,
        "profile",
        "add",
        "local",
        "--kind",
        "openai-compatible",
        "--base-url",
        "http://127.0.0.1:11434/v1",
        "--chat-model",
        "llama3.1",
        "--key-stdin",
    )
    assert code == 0, err
    assert keyring.get_keyring().get_password(SERVICE, "provider:local") == "sk-cli-secret"
    assert load_config().profile("local").chat_model == "llama3.1"
    code, out, _ = run(capsys, "profile", "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["local"]["default"] and rows["env"]["builtin"]
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert b"sk-cli-secret" not in path.read_bytes(), path
    code, out, _ = run(capsys, "profile", "remove", "local")
    assert code == 0
    assert keyring.get_keyring().get_password(SERVICE, "provider:local") is None
    assert run(capsys, "profile", "remove", "local")[0] == 1


def test_invalid_profile_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "profile", "add", "az", "--kind", "azure")
    assert code == 1 and "needs a base URL" in err


def test_entry_points(tmp_path: Path) -> None:
    env = {**os.environ}
    exe = Path(sys.executable).parent / "persona-studio"
    for argv in ([str(exe)], [sys.executable, "-m", "persona_studio"]):
        result = subprocess.run([*argv, "--version"], capture_output=True, text=True, env=env)
        assert result.returncode == 0 and result.stdout.startswith("Persona Studio ")
        result = subprocess.run(
            [*argv, "info", str(tmp_path / "nope.persona")], capture_output=True, text=True, env=env
        )
        assert result.returncode == 1 and "does not exist" in result.stderr


def test_a_reader_that_stops_early_is_not_a_crash(tmp_path: Path) -> None:
    """`persona-studio info X --json | head -2`: the pipe closes before the output is written."""
    assert main(["new", str(tmp_path / "a.persona"), "--name", "Ana"]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)
    result = subprocess.run(
        [sys.executable, "-m", "persona_studio", "info", str(tmp_path / "a.persona"), "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    assert result.returncode == 1 and result.stderr == ""


@pytest.mark.real_keyring
def test_profile_key_goes_to_the_real_secret_service(
    secret_service_env: dict[str, str], real_keyring, isolated_home: Path
) -> None:
    """The installed command, with no test backend injected, stores into the OS keyring."""
    env = {**os.environ, **secret_service_env}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    result = subprocess.run(
        [sys.executable, "-m", "persona_studio", "profile", "add", "real", "--key-stdin"],
        input="sk-real-cli\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "system password store" in result.stdout
    assert real_keyring.get_password(SERVICE, "provider:real") == "sk-real-cli"
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert b"sk-real-cli" not in path.read_bytes(), path
    result = subprocess.run(
        [sys.executable, "-m", "persona_studio", "profile", "remove", "real"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert real_keyring.get_password(SERVICE, "provider:real") is None


def _seraphina(tmp_path: Path) -> Path:
    from tests.fakes.cards import foreign_v2_card

    path = tmp_path / "seraphina.json"
    path.write_text(json.dumps(foreign_v2_card()))
    return path


def test_import_card_creates_a_project_then_export_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_studio.core.cards import read_card

    project = tmp_path / "s.persona"
    code, out, err = run(capsys, "import", str(project), str(_seraphina(tmp_path)), "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "path": str(project),
        "created": True,
        "spec": "chara_card_v2",
        "name": "Seraphina",
        "rules": 2,
    }
    code, out, _ = run(capsys, "info", str(project), "--json")
    assert json.loads(out)["persona"]["greeting"] == "*Seraphina smiles.* You're awake!"
    for fmt in ("card-v2-png", "card-v2-json", "card-v3-json"):
        target = tmp_path / f"out-{fmt}"
        code, out, err = run(capsys, "export", str(project), "--format", fmt, "--out", str(target))
        assert code == 0, err
        card = read_card(target.read_bytes())
        assert card.persona.name == "Seraphina" and len(card.rules) == 2
    code, _, _ = run(
        capsys,
        "export",
        str(project),
        "--format",
        "naas-plugin",
        "--out",
        str(tmp_path / "plugin.json"),
    )
    plugin = json.loads((tmp_path / "plugin.json").read_text())
    assert set(plugin) == {
        "name",
        "model",
        "temperature",
        "max_tokens",
        "prompt",
        "commands",
        "description",
        "avatar",
        "prompt_type",
    }
    assert plugin["prompt"].startswith("You are Seraphina.") and plugin["prompt_type"] == "system"


def test_import_card_into_an_existing_project_keeps_its_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_studio.core.demo import ensure_demo_project

    demo = ensure_demo_project(tmp_path)
    code, out, err = run(capsys, "import", str(demo), str(_seraphina(tmp_path)))
    assert code == 0 and out.startswith("Updated"), err
    with Project.open(demo) as project:
        assert project.persona().name == "Seraphina" and project.counts().examples == 30


def test_bad_card_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"spec": "chara_card_v2", "data": {"name": 3}}')
    code, _, err = run(capsys, "import", str(tmp_path / "new.persona"), str(bad))
    assert code == 1 and "should be text" in err
    assert not (tmp_path / "new.persona").exists()
    code, _, err = run(capsys, "import", str(tmp_path / "new.persona"), str(tmp_path / "nope.png"))
    assert code == 1 and "Could not read" in err


def test_chat_offline_and_with_a_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persona_studio.core.demo import ensure_demo_project

    demo = ensure_demo_project(tmp_path)
    code, out, _ = run(capsys, "chat", str(demo), "which shoes should I buy?")
    assert code == 0 and out.startswith("Choose shoes that feel comfortable")
    code, out, err = run(capsys, "chat", str(demo), "send me a link to a plan")
    assert code == 0 and out.startswith("I don't share links") and "[rules: " in err


def test_chat_streams_from_a_server_via_the_env_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.openai_server import FakeOpenAI

    demo = ensure_demo_project(tmp_path)
    with FakeOpenAI(api_key="sk-env") as server:
        server.reply_for = lambda messages: "Three easy runs a week."
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = run(
            capsys,
            "chat",
            str(demo),
            "--profile",
            "env",
            "--model",
            "gpt-4.1-mini-2025-04-14",
            "--json",
            "how often should I run?",
        )
        assert code == 0, err
        result = json.loads(out)
        assert result["reply"] == "Three easy runs a week." and result["ok"]
        code, out, err = run(
            capsys, "chat", str(demo), "--profile", "env", "--model", "nope", "hello"
        )
        assert code == 1 and "does not know the model" in err


def test_train_wait_registers_the_model_then_jobs_and_cancel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.openai_server import FakeOpenAI

    demo = ensure_demo_project(tmp_path)
    model = "gpt-4.1-mini-2025-04-14"
    with FakeOpenAI(api_key="sk-env", models=(model,)) as server:
        server.total_steps = 3
        server.auto_advance = True
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = run(
            capsys,
            "train",
            str(demo),
            "--profile",
            "env",
            "--model",
            model,
            "--suffix",
            "rhea",
            "--wait",
            "--poll",
            "0.01",
            "--json",
        )
        assert code == 0, err
        result = json.loads(out)
        assert result["status"] == "succeeded"
        assert result["model"] == f"ft:{model}:fake-org:rhea:abc123"
        with Project.open(demo) as project:
            assert project.persona().fine_tuned_model == result["model"]
            (job,) = project.jobs()
            assert [m["step"] for m in job.metrics] == [1, 2, 3]
        code, out, _ = run(capsys, "jobs", str(demo), "--json")
        rows = json.loads(out)
        assert rows[0]["status"] == "succeeded" and rows[0]["final_train_loss"] == 0.6667

        server.auto_advance = False
        code, out, err = run(
            capsys, "train", str(demo), "--profile", "env", "--model", model, "--json"
        )
        job_id = json.loads(out)["job"]
        assert json.loads(out)["status"] == "validating_files"
        code, out, err = run(capsys, "cancel", str(demo), job_id)
        assert code == 0 and "cancelled" in out
        code, _, err = run(capsys, "cancel", str(demo), "ftjob-nope")
        assert code == 1 and "no job" in err


def test_train_refuses_a_dataset_that_is_not_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "new", str(tmp_path / "empty.persona"), "--name", "E")
    code, _, err = run(
        capsys,
        "train",
        str(tmp_path / "empty.persona"),
        "--profile",
        "env",
        "--model",
        "gpt-4.1-mini-2025-04-14",
    )
    assert code == 1 and "not ready" in err and "at least 10" in err


def test_sync_with_a_sheet_then_conflicts_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    import persona_studio.cli.sheets as cli
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.sheets_server import FakeSheets

    key = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    fake = FakeSheets()
    fake.add_spreadsheet(key, {"Data": [["QUESTION", "ANSWER"], ["Typed in the sheet?", "Yes."]]})
    monkeypatch.setattr(cli, "sheets_http_client", lambda config: fake.http())
    demo = ensure_demo_project(tmp_path)
    url = f"https://docs.google.com/spreadsheets/d/{key}/edit"
    code, out, err = run(capsys, "sync", str(demo), "--sheet", url, "--worksheet", "Data", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["pulled"], result["appended"], result["conflicts"]) == (1, 30, 0)
    assert result["requests"] == 4
    with Project.open(demo) as project:
        assert project.counts().examples == 31
        first = project.examples()[0]
        assert project.examples()[-1].status == "approved"  # a seed-shaped sheet trains as is
    rows = fake.rows(key, "Data")
    assert len([r for r in rows[1:] if any(r)]) == 31
    # the same row edited differently on both sides → a conflict, reported, exit 1
    with Project.open(demo) as project:
        first.messages[1]["content"] = "Edited in the app."
        project.update_example(first)
    row = next(r for r in rows if first.id in r)
    row[1] = "Edited in the sheet."
    code, out, _ = run(capsys, "sync", str(demo))
    assert code == 1 and f"conflict on {first.id}" in out
    with Project.open(demo) as project:  # nothing was silently resolved
        assert project.example(first.id).answer == "Edited in the app."
    assert row[1] == "Edited in the sheet."


def test_sync_without_a_link_or_account_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_studio.core.demo import ensure_demo_project

    demo = ensure_demo_project(tmp_path)
    code, _, err = run(capsys, "sync", str(demo))
    assert code == 1 and "not linked to a Google Sheet" in err
    code, _, err = run(
        capsys,
        "sync",
        str(demo),
        "--sheet",
        "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz01234/",
    )
    assert code == 1 and "No Google account" in err


def test_pipeline_no_wait_then_resume_then_refuse_a_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    import persona_studio.cli.sheets as cli
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.sheets_server import FakeSheets

    key = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    sheets = FakeSheets()
    sheets.add_spreadsheet(key, {"Sheet1": [["question", "answer"]]})
    monkeypatch.setattr(cli, "sheets_http_client", lambda config: sheets.http())
    demo = ensure_demo_project(tmp_path)
    model = "gpt-4.1-mini-2025-04-14"
    out = tmp_path / "published"
    with FakeOpenAI(api_key="sk-env", models=(model,)) as server:
        server.total_steps = 2
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        base = ["pipeline", str(demo), "--profile", "env", "--poll", "0.01"]
        code, out_text, err = run(
            capsys,
            *base,
            "--model",
            model,
            "--sheet",
            f"https://docs.google.com/spreadsheets/d/{key}/edit",
            "--out",
            str(out),
            "--no-wait",
        )
        assert code == 0, err
        assert "training at the provider" in out_text
        assert "done      Sync with the Google Sheet" in err and "waiting   Train" in err
        # a new run now would train twice: refused, with the way forward
        code, _, err = run(capsys, *base, "--model", model)
        assert code == 1 and "--resume" in err and "--restart" in err
        server.auto_advance = True
        code, out_text, err = run(capsys, *base, "--resume", "--json", "--out", str(out / "x"))
        assert code == 0, err
        result = json.loads(out_text)
        assert result["status"] == "succeeded"
        assert [s["status"] for s in result["steps"]] == ["done"] * 8 + ["skipped"]
        assert len(server.jobs) == 1
        plugin = json.loads(Path(result["outputs"]["plugin_path"]).read_text("utf-8"))
        assert plugin["model"] == result["outputs"]["fine_tuned_model"]
        assert Path(result["outputs"]["card_path"]).parent == out / "x"  # --out on resuming
        assert Path(result["outputs"]["train_path"]).parent == out  # written before
        assert "trained_examples" not in result["outputs"]  # kept with the job, not printed
        code, _, err = run(capsys, *base, "--resume")
        assert code == 1 and "no unfinished pipeline run" in err
    assert len([r for r in sheets.rows(key, "Sheet1")[1:] if any(r)]) == 30


def test_generate_from_linkedin_and_persona(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    from persona_studio.core.demo import ensure_demo_project
    from persona_studio.services.review_queue import ReviewQueue
    from tests.fakes.generation import model_reply
    from tests.fakes.openai_server import FakeOpenAI

    demo = ensure_demo_project(tmp_path)
    export = tmp_path / "linkedin.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr(
            "Shares.csv",
            "Date,ShareLink,ShareCommentary\n"
            '2024-01-02,https://l/9,"Run slow, run often, and the speed comes by itself."\n'
            "2024-01-03,https://l/10,https://only.a/link\n",
        )
    with FakeOpenAI(api_key="sk-env", models=("gpt-4.1-mini",)) as server:
        server.reply_for = model_reply
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        base = ["generate", str(demo), "--profile", "env"]
        code, out, err = run(capsys, *base, "--from", str(export), "--accept-all", "--json")
        assert code == 0, err
        result = json.loads(out)
        assert (result["candidates"], result["added"], result["to_review"]) == (1, 1, 0)
        assert result["estimate"]["cost_usd"] > 0
        with Project.open(demo) as project:
            added = project.examples()[-1]
            assert added.answer == "Run slow, run often, and the speed comes by itself."
            assert (added.status, added.source) == ("draft", "linkedin:https://l/9 2024-01-02")

        code, out, err = run(
            capsys, *base, "--from", "persona", "--limit", "6", "--styles", "short"
        )
        assert code == 0, err
        assert "Estimate with gpt-4.1-mini: 2 calls" in err
        assert "6 candidates: 0 added as drafts, 6 waiting for review" in out
        with Project.open(demo) as project:
            assert len(ReviewQueue(project).pending()) == 6
            assert project.counts().examples == 31

        (tmp_path / "empty.txt").write_text("", "utf-8")
        code, _, err = run(capsys, *base, "--from", str(tmp_path / "empty.txt"))
        assert code == 1 and "No text to use" in err


def test_importing_the_same_file_twice_adds_nothing_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15 item 9: re-importing a CSV whose ids exist printed a traceback."""
    data = tmp_path / "d.csv"
    data.write_text("id,question,answer\nabc123,Q1?,A1.\nabc124,Q2?,A2.\n")
    project = tmp_path / "r.persona"
    assert run(capsys, "import", str(project), str(data))[0] == 0
    data.write_text("id,question,answer\nabc123,Q1?,A1.\nnew9,Q3?,A3.\n")
    code, out, err = run(capsys, "import", str(project), str(data))
    assert code == 0, err
    assert "Added 1 examples" in out and "1 example is already in the project" in out
    with Project.open(project) as opened:
        assert sorted(e.question for e in opened.examples()) == ["Q1?", "Q2?", "Q3?"]


def test_train_at_together_then_chat_with_the_fine_tuned_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's "done when" on the command line: a Together key only, from the demo project
    to a trained model, then `chat --mode fine-tuned` reaches it through the profile it was
    trained with (even when another profile is named)."""
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.contract import check_requests
    from tests.fakes.together_server import FakeTogether

    demo = ensure_demo_project(tmp_path)
    base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    with FakeTogether(api_key="tg-cli") as server:
        server.total_steps = 3
        server.auto_advance = True
        monkeypatch.setattr(sys, "stdin", io.StringIO("tg-cli\n"))
        add = ("profile", "add", "together", "--kind", "together", "--base-url", server.base_url)
        assert run(capsys, *add, "--key-stdin")[0] == 0
        assert run(capsys, "profile", "add", "other", "--kind", "openai-compatible",
                   "--base-url", "http://127.0.0.1:9/v1")[0] == 0  # fmt: skip
        code, out, err = run(
            capsys, "train", str(demo), "--profile", "together", "--model", base,
            "--suffix", "rhea", "--wait", "--poll", "0.01", "--json",
        )  # fmt: skip
        assert code == 0, err
        result = json.loads(out)
        assert result["status"] == "succeeded" and result["model"].startswith("fake-user/")
        code, out, err = run(
            capsys, "chat", str(demo), "Hello there", "--profile", "other", "--mode",
            "fine-tuned", "--json",
        )  # fmt: skip
        assert code == 0, err
        answer = json.loads(out)
        assert answer["reply"] == "Echo: Hello there" and answer["model"] == result["model"]
        assert check_requests("together-openapi.json.gz", server.requests) == []


@pytest.mark.parametrize("kind", ["nebius", "fireworks"])
def test_train_at_nebius_or_fireworks_then_chat_with_the_fine_tuned_model(
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The "done when" with only a Nebius or a Fireworks key: `train --wait` from the demo
    project, then `chat --mode fine-tuned`. Nebius deploys the result itself; Fireworks serves
    it only once the creator deploys it, and until then the chat says how, in plain words."""
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.contract import check_requests
    from tests.fakes.fireworks_server import FakeFireworks
    from tests.fakes.nebius_server import FakeNebius

    demo = ensure_demo_project(tmp_path)
    fake: FakeNebius | FakeFireworks
    if kind == "nebius":
        fake = FakeNebius(api_key="key-cli")
        base, where = "meta-llama/Meta-Llama-3.1-8B-Instruct", ("--base-url", fake.base_url)
    else:
        fake = FakeFireworks(api_key="key-cli", account="rhea-studio")
        base = "accounts/fireworks/models/llama-v3p1-8b-instruct"
        where = ("--base-url", fake.inference_url, "--account", "rhea-studio")
    with fake as server:
        server.total_steps, server.checkpoint_every = 4, 2
        server.auto_advance = True
        monkeypatch.setattr(sys, "stdin", io.StringIO("key-cli\n"))
        assert run(capsys, "profile", "add", kind, "--kind", kind, *where, "--key-stdin")[0] == 0
        code, out, err = run(
            capsys, "train", str(demo), "--profile", kind, "--model", base,
            "--suffix", "rhea", "--wait", "--poll", "0.01", "--json",
        )  # fmt: skip
        assert code == 0, err
        result = json.loads(out)
        assert result["status"] == "succeeded" and result["model"], result
        chat = ("chat", str(demo), "Hello there", "--mode", "fine-tuned", "--json")
        if isinstance(server, FakeFireworks):
            code, out, err = run(capsys, *chat)
            assert code == 1 and "Deploy" in json.loads(out)["error"]  # served once deployed
            server.deploy(result["model"])
        code, out, err = run(capsys, *chat)
        assert code == 0, err
        answer = json.loads(out)
        assert answer["reply"] == "Echo: Hello there" and answer["model"] == result["model"]
        if isinstance(server, FakeNebius):  # its /v0 control plane is Nebius's own
            sent = [r for r in server.requests if r.path.startswith("/v1/")]
            assert check_requests("openai-openapi.json.gz", sent) == []
        else:
            assert server.violations == []


def test_a_failed_nebius_deploy_is_said_and_tried_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained, but Nebius's deploy call failed: `train --wait` says so with the command that
    tries again (exit 1: nothing answers yet), and `deployment PATH JOB` deploys it."""
    from persona_studio.core.demo import ensure_demo_project
    from tests.fakes.nebius_server import FakeNebius

    demo = ensure_demo_project(tmp_path)
    with FakeNebius(api_key="key-cli") as server:
        server.total_steps, server.checkpoint_every = 4, 2
        server.auto_advance = True
        deploy = server._deploy
        server._deploy = lambda _request: (500, {"error": {"message": "deploy broke"}})
        monkeypatch.setattr(sys, "stdin", io.StringIO("key-cli\n"))
        add = ("profile", "add", "nebius", "--kind", "nebius", "--base-url", server.base_url)
        assert run(capsys, *add, "--key-stdin")[0] == 0
        code, out, _ = run(
            capsys, "train", str(demo), "--profile", "nebius", "--model",
            "meta-llama/Meta-Llama-3.1-8B-Instruct", "--wait", "--poll", "0.01", "--json",
        )  # fmt: skip
        result = json.loads(out)
        assert code == 1 and result["status"] == "succeeded" and result["model"] is None
        assert "deploying it failed" in result["error"]
        assert f"persona-studio deployment {demo} {result['job']}" in result["error"]
        server._deploy = deploy
        code, out, err = run(capsys, "deployment", str(demo), result["job"], "--json")
        assert code == 0, err
        model = json.loads(out)["deployment"]
        assert model in {m["name"] for m in server.custom_models.values()}
        code, out, err = run(capsys, "chat", str(demo), "Hi", "--mode", "fine-tuned", "--json")
        assert code == 0 and json.loads(out)["model"] == model, err
        code, _, err = run(capsys, "deployment", str(demo), result["job"])
        assert code == 1 and "needs no deploying" in err


def test_deployment_names_the_azure_deployment_chats_ask_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_studio.core.records import ChatTarget, JobRecord

    path = tmp_path / "a.persona"
    assert run(capsys, "new", str(path), "--name", "A")[0] == 0
    with Project.open(path) as project:
        project.save_job(
            JobRecord(
                "ftjob-1",
                "azure",
                "gpt-4.1-mini",
                "succeeded",
                fine_tuned_model="gpt-4.1-mini.ft-1",
                chat_target=ChatTarget("azure", "gpt-4.1-mini.ft-1", "", "deploy it first"),
            )
        )
    code, out, err = run(capsys, "deployment", str(path), "ftjob-1", "rhea-prod", "--json")
    assert code == 0, err
    assert json.loads(out) == {"job": "ftjob-1", "deployment": "rhea-prod"}
    with Project.open(path) as project:
        assert project.persona().fine_tuned_model == "rhea-prod"
        assert project.chat_target("rhea-prod").profile == "azure"
    code, _, err = run(capsys, "deployment", str(path), "ftjob-nope", "x")
    assert code == 1 and "no trained model" in err


def test_rescue_keeps_the_old_models_voice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona_studio.core.demo import ensure_demo_project
    from persona_studio.services.voice import kept_voice
    from tests.fakes.openai_server import FakeOpenAI

    demo = ensure_demo_project(tmp_path)
    old = "ft:gpt-4.1-mini-2025-04-14:coach:rhea:x9"
    code, _, err = run(capsys, "rescue", str(demo))
    assert code == 1 and "no fine-tuned model" in err
    with Project.open(demo) as project:
        project.set_persona_fields(fine_tuned_model=old)
    with FakeOpenAI(api_key="sk-env", models=(old,)) as server:
        server.reply_for = lambda messages: f"Old: {messages[-1]['content']}"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = run(capsys, "rescue", str(demo), "--profile", "env", "--estimate-only",
                             "--json")  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["calls"] == 24 and json.loads(out)["cost_usd"] > 0
        assert server.requests == []  # nothing sent for an estimate
        code, out, err = run(capsys, "rescue", str(demo), "--profile", "env", "--limit", "5",
                             "--json")  # fmt: skip
        assert code == 0, err
        result = json.loads(out)
        assert result["voice_kept"] == 5 and result["added"] == 0 and result["to_review"] == 5
    with Project.open(demo) as project:
        kept = kept_voice(project, old)
        assert len(kept) == 5 and all(a == f"Old: {q}" for q, a in kept.items())


def test_check_prints_the_scoreboard_and_can_require_better(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline and an old model's kept voice need no account; --require-better compares the
    fine-tuned model with the kept voice (and says what it needs)."""
    from persona_studio.core.demo import ensure_demo_project
    from persona_studio.services.voice import keep_voice
    from persona_studio.services.voice_check import check_questions

    demo = ensure_demo_project(tmp_path)
    with Project.open(demo) as project:
        asked = check_questions(project.examples(), 6)
        kept = [(e.question, e.answer) for e in asked]
        keep_voice(project, "ft:gpt-4o-mini-2024-07-18:c:r:v1", "openai", kept)
    code, out, err = run(capsys, "check", str(demo), "--candidates", "offline,kept", "--limit",
                         "6", "--json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["candidates"]
    assert rows[0]["candidate"].startswith("Your old model") and rows[0]["sounds_like_you"] == 100
    assert rows[1]["candidate"].startswith("Offline") and rows[1]["sounds_like_you"] < 100
    code, out, _ = run(capsys, "check", str(demo), "--candidates", "offline,kept", "--limit", "6")
    assert "Does it sound like you? 6 of your questions" in out and "100.0 %" in out
    code, _, err = run(capsys, "check", str(demo), "--candidates", "offline", "--require-better")
    assert code == 1 and "compares your fine-tuned model" in err
    code, _, err = run(capsys, "check", str(demo), "--candidates", "magic")
    assert code == 1 and "Unknown candidate" in err
    # the cost first, asking nothing: free engines, and a judge whose price is unknown
    with Project.open(demo) as project:
        runs = len(project.runs("check"))
    code, out, err = run(capsys, "check", str(demo), "--candidates", "offline,kept", "--limit",
                         "6", "--judge-model", "my-judge", "--estimate-only", "--json")  # fmt: skip
    assert code == 0, err
    estimate = json.loads(out)
    assert estimate["answers"] == 0 and estimate["answers_usd"] == 0.0
    assert estimate["judge_calls"] > 12 and estimate["judge_usd"] is None
    with Project.open(demo) as project:
        assert len(project.runs("check")) == runs  # the estimate ran nothing, kept nothing


def test_check_with_a_judge_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona_studio.core.demo import ensure_demo_project
    from persona_studio.core.probes import probes
    from persona_studio.services.voice import keep_voice
    from persona_studio.services.voice_check import CHECK_KIND, check_questions
    from tests.fakes.openai_server import FakeOpenAI

    demo = ensure_demo_project(tmp_path)
    with Project.open(demo) as project:
        asked = check_questions(project.examples(), 4)
        kept = [(e.question, e.answer) for e in asked]
        keep_voice(project, "ft:gpt-4o-mini-2024-07-18:c:r:v1", "openai", kept)
        n = len(probes(project.persona()))  # the offline engine's probe replies, read once each
    with FakeOpenAI(api_key="sk-env", models=("judge-1",)) as server:
        server.reply_for = lambda messages: (
            '{"keeps": false, "reason": "Off."}'  # a breach the keyword check cannot see
            if "The rule:\n" in messages[-1]["content"]
            else '{"winner": "tie", "reason": "Both fine."}'
        )
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = run(capsys, "check", str(demo), "--candidates", "offline,kept",
                             "--limit", "4", "--judge-model", "judge-1", "--judge-profile",
                             "env")  # fmt: skip
        assert code == 0, err
        assert "(judge: wins 50 %)" in out and f"(keeps the rules: 0 of {n})" in out
        assert f"The judge judge-1: {8 + n} calls" in err  # 4 questions × 2 orders, + probes
        assert sum(1 for r in server.requests if r.path.endswith("/completions")) == 8 + n
    with Project.open(demo) as project:
        (record,) = project.runs(CHECK_KIND)
        assert record.data["judge"] == "judge-1"
        assert {c["judge_win_rate"] for c in record.data["candidates"]} == {50.0}


def test_check_writes_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persona_studio.core.demo import ensure_demo_project

    demo = ensure_demo_project(tmp_path)
    code, _, err = run(capsys, "check", str(demo), "--candidates", "offline", "--limit", "3",
                       "--report", str(tmp_path / "voice.md"))  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "voice.md").read_text("utf-8").startswith("# Does it sound like me?")
    (tmp_path / "taken.md").mkdir()  # a folder where the report should go
    code, _, err = run(capsys, "check", str(demo), "--candidates", "offline", "--limit", "3",
                       "--report", str(tmp_path / "taken.md"))  # fmt: skip
    assert code == 1 and "Could not write" in err


def test_sync_new_rows_as_drafts_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import persona_studio.cli.sheets as cli
    from persona_studio.core.persona import Persona
    from tests.fakes.sheets_server import FakeSheets

    key = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    fake = FakeSheets()
    fake.add_spreadsheet(key, {"Data": [["question", "answer"], ["Q?", "A."], ["R?", "B."]]})
    monkeypatch.setattr(cli, "sheets_http_client", lambda config: fake.http())
    path = tmp_path / "new.persona"
    Project.create(path, Persona(name="New")).close()
    url = f"https://docs.google.com/spreadsheets/d/{key}/edit"
    code, _, err = run(
        capsys, "sync", str(path), "--sheet", url, "--worksheet", "Data", "--new-rows", "draft"
    )
    assert code == 0, err
    with Project.open(path) as project:
        assert [e.status for e in project.examples()] == ["draft", "draft"]
        assert project.sync_value("sheet")["new_rows"] == "draft"


def test_a_read_only_project_reads_and_refuses_changes_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona_studio.core.demo import ensure_demo_project
    from tests.core.test_read_only_project import digest, make_read_only

    demo = ensure_demo_project(tmp_path)
    make_read_only(demo, monkeypatch)
    before = digest(demo)
    code, out, err = run(capsys, "info", str(demo), "--json")
    assert code == 0, err
    assert json.loads(out)["persona"]["name"] == "Coach Rhea"
    code, out, err = run(capsys, "validate", str(demo))
    assert code in (0, 1) and "Traceback" not in err
    target = tmp_path / "out.jsonl"
    code, _, err = run(
        capsys, "export", str(demo), "--format", "openai-jsonl", "--out", str(target)
    )
    assert code == 0, err
    assert target.read_text().count("\n") > 10
    csv = tmp_path / "more.csv"
    csv.write_text("question,answer\nHow far?,Not far.\n")
    code, out, err = run(capsys, "import", str(demo), str(csv))
    assert code != 0 and "read-only" in err and "Traceback" not in err
    assert digest(demo) == before


def test_azure_profile_says_where_it_trains(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("profile", "add", "az", "--kind", "azure", "--base-url", "https://r.openai.azure.com")
    code, _, _ = run(capsys, *args, "--training-type", "global")
    assert code == 0 and load_config().profile("az").training_type == "GlobalStandard"
    code, _, err = run(capsys, *args, "--training-type", "global", "--api-version", "2024-10-21")
    assert code == 1 and "needs API version 2025-04-01-preview" in err
