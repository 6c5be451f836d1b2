"""The end-to-end pipeline: real gspread against the fake Sheets API, real openai against the
fake server, a real project file. Happy path, failure then resume, cancel then resume."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from persona_studio.core.cards import read_card
from persona_studio.core.dataset import Example
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.project import Project
from persona_studio.services.pipeline import (
    Pipeline,
    PipelineOptions,
    PipelineRun,
    file_stem,
    latest_run,
)
from persona_studio.services.sheets import sync_project
from persona_studio.services.training import TrainingJobs
from persona_studio.services.training.openai_api import OpenAIBackend
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sheets_server import FakeSheets

MODEL = "gpt-4.1-mini-2025-04-14"
KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def server():
    with FakeOpenAI(api_key="sk-pipe", models=(MODEL,)) as fake:
        fake.total_steps = 3
        fake.auto_advance = True
        yield fake


@pytest.fixture
def sheets() -> FakeSheets:
    fake = FakeSheets()
    fake.add_spreadsheet(
        KEY,
        {"Data": [["QUESTION", "ANSWER", "STATUS"], ["Typed in the sheet?", "Yes.", "approved"]]},
    )
    return fake


@pytest.fixture
def project(tmp_path: Path):
    with Project.open(ensure_demo_project(tmp_path)) as opened:
        yield opened


def make_pipeline(
    project: Project, run: PipelineRun, server: FakeOpenAI, sheets: FakeSheets, **hooks: Any
) -> Pipeline:
    async def backend(_profile: str) -> Any:
        return OpenAIBackend(server.client())

    async def sync_sheet(link: dict[str, Any]) -> Any:
        return await sync_project(sheets.http(), project, link, project.examples())

    jobs = TrainingJobs(project, backend, poll=0.01)
    return Pipeline(project, run, jobs=jobs, sync_sheet=sync_sheet, **hooks)


def new_run(tmp_path: Path, **options: Any) -> PipelineRun:
    defaults: dict[str, Any] = {
        "profile": "env",
        "base_model": MODEL,
        "out_dir": str(tmp_path / "out"),
        "sheet": {"key": KEY, "worksheet": "Data"},
        "suffix": "rhea",
    }
    return PipelineRun.new(PipelineOptions(**{**defaults, **options}))


def posts(server: FakeOpenAI, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == path)


async def test_happy_path_from_sheet_to_plugin_and_card(project, server, sheets, tmp_path) -> None:
    seen: list[str] = []
    run = new_run(tmp_path)
    pipeline = make_pipeline(
        project,
        run,
        server,
        sheets,
        on_change=lambda r: seen.append(r.current.name if r.current else "end"),
    )
    result = await pipeline.execute()

    assert result.status == "succeeded", [(s.name, s.status, s.error) for s in result.steps]
    assert [s.status for s in result.steps] == ["done"] * 8 + ["skipped"]  # no check asked
    assert seen.index("validate") < seen.index("upload") < seen.index("wait") < seen.index("end")
    model = f"ft:{MODEL}:fake-org:rhea:abc123"
    assert result.outputs["fine_tuned_model"] == model
    assert project.persona().fine_tuned_model == model
    # the sheet's row came in, and the local examples went out to the sheet
    assert any(e.question == "Typed in the sheet?" for e in project.examples())
    assert len([r for r in sheets.rows(KEY, "Data")[1:] if any(r)]) == project.counts().examples
    # the training files: every approved example but the voice check's test set, split 90/10,
    # with the composed prompt
    from persona_studio.core.test_set import split_test_set

    usable, test = split_test_set(project.examples(), project.test_share)
    approved = sum(1 for e in usable if e.status == "approved")
    assert test and approved + len(test) == project.counts().approved
    train = Path(result.outputs["train_path"]).read_text("utf-8").splitlines()
    validation = Path(result.outputs["validation_path"]).read_text("utf-8").splitlines()
    assert len(train) + len(validation) == approved and len(validation) >= 1
    system = json.loads(train[0])["messages"][0]
    assert system == {"role": "system", "content": project.persona().system_prompt()}
    uploaded = server.files[result.outputs["train_file"]]["_data"].decode().splitlines()
    assert uploaded == train
    assert (posts(server, "/v1/files"), posts(server, "/v1/fine_tuning/jobs")) == (2, 1)
    # the job is recorded like one started from the Train tab
    (job,) = project.jobs()
    assert job.status == "succeeded" and job.fine_tuned_model == model
    assert [m["step"] for m in job.metrics] == [1, 2, 3]
    # with which examples it trained on (the voice check asks it only the others)
    trained = project.trained_on(model)
    assert trained is not None and len(trained) == approved
    assert not any(e.id in trained for e in test)
    # plugin and card, re-read
    stem = file_stem(project.persona().name)
    plugin = json.loads((tmp_path / "out" / f"{stem} plugin.json").read_text("utf-8"))
    assert plugin["model"] == model and plugin["prompt"] == project.persona().system_prompt()
    card = read_card((tmp_path / "out" / f"{stem}.png").read_bytes())
    assert card.persona.name == project.persona().name
    assert card.persona.fine_tuned_model == model
    # the record is kept in the project
    kept = latest_run(project)
    assert kept is not None and kept.status == "succeeded" and not kept.resumable
    assert kept.outputs == result.outputs


async def test_failure_at_upload_then_resume_sends_nothing_twice(
    project, server, sheets, tmp_path
) -> None:
    def inject(run: PipelineRun) -> None:
        if run.step("upload").detail == "Uploading the validation file…" and not injected:
            injected.append(True)
            server.fail_next(503, "overloaded")

    injected: list[bool] = []
    run = await make_pipeline(
        project, new_run(tmp_path), server, sheets, on_change=inject
    ).execute()
    assert run.status == "failed" and run.current is not None
    assert run.current.name == "upload" and "provider" in run.current.error
    assert "train_file" in run.outputs and "validation_file" not in run.outputs
    assert posts(server, "/v1/fine_tuning/jobs") == 0
    before = posts(server, "/v1/files")

    kept = latest_run(project)
    assert kept is not None and kept.resumable and kept.id == run.id
    sheet_reads = len(sheets.requests)
    resumed = await make_pipeline(project, kept, server, sheets).execute()
    assert resumed.status == "succeeded"
    assert posts(server, "/v1/files") == before + 1  # only the validation file
    assert posts(server, "/v1/fine_tuning/jobs") == 1
    assert len(sheets.requests) == sheet_reads  # the sync was not redone
    job = server.jobs[resumed.outputs["job_id"]]
    assert job["training_file"] == run.outputs["train_file"]


async def test_cancel_while_waiting_then_resume_reattaches_to_the_same_job(
    project, server, sheets, tmp_path
) -> None:
    server.auto_advance = False
    run = new_run(tmp_path)
    task = asyncio.ensure_future(make_pipeline(project, run, server, sheets).execute())
    for _ in range(500):
        await asyncio.sleep(0.01)
        if run.step("wait").status == "running":
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = latest_run(project)
    assert kept is not None and kept.status == "cancelled"
    assert kept.step("wait").status == "cancelled" and kept.current.name == "wait"
    job_id = kept.outputs["job_id"]
    assert server.jobs[job_id]["status"] != "cancelled"  # the job goes on at the provider

    server.auto_advance = True
    resumed = await make_pipeline(project, kept, server, sheets).execute()
    assert resumed.status == "succeeded"
    assert resumed.outputs["job_id"] == job_id
    assert posts(server, "/v1/fine_tuning/jobs") == 1 and posts(server, "/v1/files") == 2
    assert project.persona().fine_tuned_model == server.jobs[job_id]["fine_tuned_model"]


async def test_blocking_problems_stop_at_the_check_and_a_fix_resumes(
    project, server, sheets, tmp_path
) -> None:
    bad = Example.from_qa("   ", "An answer to nothing.", status="approved")
    project.set_test_share(0.0)  # a random id could put it in the test set (never trained)
    project.add_examples([bad])
    run = await make_pipeline(project, new_run(tmp_path, sheet=None), server, sheets).execute()
    assert run.status == "failed" and run.current.name == "validate"
    assert "not ready" in run.current.error and "Dataset tab" in run.current.error
    assert run.step("sync").status == "skipped"
    assert not server.requests  # nothing was sent

    project.delete_examples([bad.id])
    resumed = await make_pipeline(project, latest_run(project), server, sheets).execute()
    assert resumed.status == "succeeded"


async def test_a_sheet_conflict_stops_the_run_before_anything_is_sent(
    project, server, sheets, tmp_path
) -> None:
    link = {"key": KEY, "worksheet": "Data"}
    await make_pipeline(project, new_run(tmp_path), server, sheets)._step_sync(
        new_run(tmp_path).step("sync")
    )
    first = project.examples()[0]
    first.messages[1]["content"] = "Edited in the app."
    project.update_example(first)
    row = next(r for r in sheets.rows(KEY, "Data") if first.id in r)
    row[1] = "Edited in the sheet."
    run = await make_pipeline(project, new_run(tmp_path), server, sheets).execute()
    assert run.status == "failed" and run.current.name == "sync"
    assert "changed differently" in run.current.error and "Settle" in run.current.error
    assert not server.requests
    assert project.sync_value("sheet")["key"] == link["key"]


async def test_a_job_failed_at_the_provider_resumes_with_a_new_job_on_the_same_files(
    project, server, sheets, tmp_path
) -> None:
    server.auto_advance = False
    run = new_run(tmp_path, sheet=None)

    def fail_job(r: PipelineRun) -> None:
        job_id = r.outputs.get("job_id")
        if (
            job_id
            and server.jobs[job_id]["status"] != "failed"
            and r.step("wait").status == "running"
        ):
            server.fail_job(job_id, "invalid_training_file", "Line 3 is too long.")

    run = await make_pipeline(project, run, server, sheets, on_change=fail_job).execute()
    assert run.status == "failed" and run.current.name == "wait"
    assert "rejected the training file" in run.current.error
    first_job = run.outputs["job_id"]

    server.auto_advance = True
    resumed = await make_pipeline(project, latest_run(project), server, sheets).execute()
    assert resumed.status == "succeeded" and resumed.outputs["job_id"] != first_job
    assert posts(server, "/v1/files") == 2 and posts(server, "/v1/fine_tuning/jobs") == 2


async def test_no_wait_stops_after_the_job_starts_and_a_resume_finishes(
    project, server, sheets, tmp_path
) -> None:
    run = await make_pipeline(
        project, new_run(tmp_path, sheet=None, wait=False), server, sheets
    ).execute()
    assert run.status == "waiting" and run.resumable and "training at the provider" in run.summary()
    kept = latest_run(project)
    kept.options.wait = True
    resumed = await make_pipeline(project, kept, server, sheets).execute()
    assert resumed.status == "succeeded" and posts(server, "/v1/fine_tuning/jobs") == 1


async def test_an_unwritable_folder_fails_plainly(project, server, sheets, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = new_run(tmp_path, sheet=None)
    run.options.out_dir = str(blocker / "out")
    run = await make_pipeline(project, run, server, sheets).execute()
    assert run.status == "failed" and run.current.name == "export"
    assert "Could not write" in run.current.error and not server.requests


def test_file_stem_is_safe() -> None:
    assert file_stem('Rhea: the "coach"/v2') == "Rhea the coachv2"
    assert file_stem("...") == "character"


async def test_the_pipeline_trains_at_together_and_resumes_without_uploading_twice(
    project, sheets, tmp_path
) -> None:
    """Every backend is the same path: a failure after the upload resumes at the job, and
    epochs left on auto are chosen from the dataset (Together would train one)."""
    from persona_studio.core.validation import default_epochs
    from persona_studio.services.training.together import TogetherBackend
    from tests.fakes.contract import check_requests
    from tests.fakes.together_server import FakeTogether

    base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    with FakeTogether(api_key="tg-pipe") as fake:
        fake.total_steps = 3
        fake.auto_advance = True

        async def backend(_profile: str) -> Any:
            return TogetherBackend(fake.client(), profile="together", base_url=fake.base_url)

        async def sync_sheet(link: dict[str, Any]) -> Any:
            return await sync_project(sheets.http(), project, link, project.examples())

        run = new_run(tmp_path, profile="together", base_model=base)
        jobs = TrainingJobs(project, backend, poll=0.01)
        uploads_then_fail = {"left": 1}  # the job's creation fails once, after the uploads
        original = fake._create_job

        def create_after_uploads(body: bytes):
            if uploads_then_fail["left"]:
                uploads_then_fail["left"] = 0
                return 500, {"error": {"message": "busy", "type": "server_error"}}
            return original(body)

        fake._create_job = create_after_uploads
        first = await Pipeline(project, run, jobs=jobs, sync_sheet=sync_sheet).execute()
        assert first.status == "failed" and first.resumable
        uploads = len(fake.files)
        again = await Pipeline(project, first, jobs=jobs, sync_sheet=sync_sheet).execute()
        assert again.status == "succeeded", [(s.name, s.error) for s in again.steps]
        assert len(fake.files) == uploads == 2  # training and validation, once each
        (job,) = fake.jobs.values()
        assert job["_request"]["n_epochs"] == default_epochs(again.outputs["train_count"])
        assert project.persona().fine_tuned_model == job["model_output_name"]
        assert check_requests("together-openapi.json.gz", fake.requests) == []


async def test_a_failed_deploy_stops_the_run_and_a_resume_deploys_without_training_again(
    project, sheets, tmp_path
) -> None:
    """Nebius trained the model but its deploy call failed: the run stops at the wait step in
    plain words; the resume deploys the same job and goes on, nothing uploaded twice."""
    from persona_studio.services.training.nebius import NebiusBackend
    from tests.fakes.nebius_server import FakeNebius

    with FakeNebius(api_key="nb-pipe") as fake:
        fake.total_steps, fake.checkpoint_every = 4, 2
        fake.auto_advance = True
        deploy = fake._deploy
        fake._deploy = lambda _request: (500, {"error": {"message": "deploy broke"}})

        async def backend(_profile: str) -> Any:
            return NebiusBackend(fake.client(), profile="nebius", base_url=fake.base_url)

        async def sync_sheet(link: dict[str, Any]) -> Any:
            return await sync_project(sheets.http(), project, link, project.examples())

        base = "meta-llama/Meta-Llama-3.1-8B-Instruct"
        run = new_run(tmp_path, profile="nebius", base_model=base)
        jobs = TrainingJobs(project, backend, poll=0.01)
        first = await Pipeline(project, run, jobs=jobs, sync_sheet=sync_sheet).execute()
        failed = next(s for s in first.steps if s.status == "failed")
        assert first.status == "failed" and first.resumable and failed.name == "wait"
        assert "trained, but deploying it failed" in failed.error
        uploads, trained = len(fake.files), len(fake.jobs)
        fake._deploy = deploy
        again = await Pipeline(project, first, jobs=jobs, sync_sheet=sync_sheet).execute()
        assert again.status == "succeeded", [(s.name, s.error) for s in again.steps]
        assert (len(fake.files), len(fake.jobs)) == (uploads, trained)
        (deployed,) = fake.custom_models.values()
        assert project.persona().fine_tuned_model == deployed["name"]


async def test_the_last_step_compares_the_new_model_with_the_previous_one(
    project, server, sheets, tmp_path
) -> None:
    """Opted in: both models answer the kept-aside questions (the previous one through the
    profile that reaches it) that neither trained on; the step says which sounds more like
    the creator."""
    from persona_studio.core.config import ProviderProfile
    from persona_studio.core.records import JobRecord
    from persona_studio.core.test_set import split_test_set, trained_digest

    answers = {  # every reply of the demo, by the message it answers (multi-turn ones too)
        before["content"]: after["content"]
        for e in project.examples()
        for before, after in zip(e.messages, e.messages[1:], strict=False)
        if before["role"] == "user" and after["role"] == "assistant"
    }
    old = "ft:gpt-4o-mini-2024-07-18:fake-org:rhea:old"
    project.set_persona_fields(fine_tuned_model=old)
    project.set_test_share(0.25)  # 6 of the demo kept aside, 18 still trained
    # the previous model trained on one of them (it was trained before it was kept aside)
    seen = next(e for e in split_test_set(project.examples(), 0.25)[1] if e.question)
    project.save_job(JobRecord("old", "env", "gpt-4o-mini", "succeeded", old,
                               trained=trained_digest([seen.id])))  # fmt: skip
    new = f"ft:{MODEL}:fake-org:rhea:abc123"
    server.models += [old, new]
    asked_models: list[str] = []
    asking = threading.local()  # the fake answers each request on its own thread
    original = server.chat_request

    asked: set[str] = set()

    def remember(body: bytes):
        request = original(body)
        if isinstance(request, dict):
            asked_models.append(request["model"])
            asked.add(request["messages"][-1]["content"])
            asking.model = request["model"]
        return request

    server.chat_request = remember
    server.reply_for = lambda messages: (
        answers.get(messages[-1]["content"], "?") if asking.model == new else "Hmm, maybe."
    )
    profile = ProviderProfile(name="env", kind="openai-compatible", base_url=server.base_url)

    async def chat_client(_profile: ProviderProfile) -> Any:
        return server.client()

    run = new_run(tmp_path, check=True)
    pipeline = make_pipeline(project, run, server, sheets)
    pipeline.chat_client, pipeline.profiles = chat_client, lambda _name: profile
    result = await pipeline.execute()
    check = result.step("check")
    assert check.status == "done", check.detail
    assert check.detail.startswith("The new model sounds more like you than the previous one")
    assert {old, new} <= set(asked_models)
    assert seen.question not in asked and result.outputs["check"]["never_trained"]
    rows = result.outputs["check"]["candidates"]
    # word for word on every question; the habits part of the score compares with all of the
    # creator's answers, so a sample of six lands between about 85 and 100 (ids are random)
    assert rows[0]["candidate"] == f"New model ({new})" and rows[0]["sounds_like_you"] > 75


async def test_a_seed_shaped_sheet_trains_a_new_project_as_is(server, tmp_path) -> None:
    """The seed's own flow: a sheet with just `question` and `answer` (no status column),
    linked to a new, empty project, runs through to a registered model — its rows are the
    creator's curated data, so they arrive approved. A link that asks for review keeps them
    as drafts and the pipeline stops at the check, saying why."""
    from persona_studio.core.persona import Persona

    rows = [["question", "answer"]] + [
        [f"How should I pace long run {i}?", f"Slower than you think: talk-test pace, run {i}."]
        for i in range(14)
    ]
    sheets = FakeSheets()
    sheets.add_spreadsheet(KEY, {"Data": rows})
    with Project.create(tmp_path / "new.persona", Persona(name="Rhea")) as project:
        project.set_test_share(0.0)
        result = await make_pipeline(project, new_run(tmp_path), server, sheets).execute()
        assert result.status == "succeeded", [(s.name, s.status, s.error) for s in result.steps]
        assert {e.status for e in project.examples()} == {"approved"}
        assert project.counts().approved == 14
        assert project.persona().fine_tuned_model == f"ft:{MODEL}:fake-org:rhea:abc123"

    review = FakeSheets()
    review.add_spreadsheet(KEY, {"Data": rows})
    with Project.create(tmp_path / "review.persona", Persona(name="Rhea")) as project:
        run = new_run(tmp_path / "r", sheet={"key": KEY, "worksheet": "Data", "new_rows": "draft"})
        result = await make_pipeline(project, run, server, review).execute()
        assert result.status == "failed"
        assert {e.status for e in project.examples()} == {"draft"}
        assert "0 approved examples" in (result.step("validate").error or "")
