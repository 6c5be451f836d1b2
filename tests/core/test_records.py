"""Typed records: a project written by the previous version (schema 3, dict records) opens with
every job, run and chat, and what it had is written back unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

from persona_studio.core.project import Project
from persona_studio.core.records import ChatRecord, ChatTarget, JobRecord

# Written by the code at d1bd24a (the last version that kept records as dicts): three jobs (one
# succeeded with metrics, events and checkpoints, two still validating), a pipeline run waiting
# on its job, two chats, and the registered model on the persona.
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "v3-project.persona"
MODEL = "ft:gpt-4.1-mini-2025-04-14:fake-org:rhea:abc123"


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.persona"
    shutil.copy(FIXTURE, path)
    return path


def test_a_project_from_the_previous_version_has_all_its_records(tmp_path: Path) -> None:
    with Project.open(_copy(tmp_path)) as project:
        jobs = project.jobs()
        runs = project.runs("pipeline")
        chats = project.chats()
        persona = project.persona()
    assert len(jobs) == 3 and all(isinstance(j, JobRecord) for j in jobs)
    done = next(j for j in jobs if j.status == "succeeded")
    assert done.fine_tuned_model == MODEL and done.profile == "gateway"
    assert [m["step"] for m in done.metrics] == [1, 2, 3]
    assert done.final_train_loss is not None and done.checkpoints and done.last_event
    assert done.estimated_cost_usd == 0.12 and done.suffix == "rhea" and done.trained_tokens
    assert done.training_file and done.validation_file and done.hyperparameters
    assert done.events and done.events[-1]["id"] == done.last_event
    assert sum(1 for j in jobs if not j.terminal) == 2
    (run,) = runs
    assert run.status == "waiting" and run.data["outputs"]["job_id"]
    assert {c.title for c in chats} == {"Empty", "Shoes"}
    shoes = next(c for c in chats if c.title == "Shoes")
    assert isinstance(shoes, ChatRecord) and shoes.panes[0]["messages"][1]["rating"] == 1
    assert persona.fine_tuned_model == MODEL


def test_saving_a_record_keeps_what_it_had_and_what_this_version_does_not_know(
    tmp_path: Path,
) -> None:
    path = _copy(tmp_path)
    with Project.open(path) as project:
        before = {j.id: j.data() for j in project.jobs()}
        job = project.jobs()[0]
        job.extra["from_a_newer_version"] = {"kept": True}
        job.chat_target = ChatTarget("gateway", MODEL, "http://127.0.0.1:1/v1")
        project.save_job(job)
        for other in project.jobs()[1:]:
            project.save_job(other)  # an unchanged record writes back what it read
        after = {j.id: j for j in project.jobs()}
    assert after[job.id].extra == {"from_a_newer_version": {"kept": True}}
    assert after[job.id].chat_target == ChatTarget("gateway", MODEL, "http://127.0.0.1:1/v1")
    for job_id, data in before.items():
        if job_id != job.id:
            assert after[job_id].data() == data
    assert after[job.id].created_at == job.created_at  # a save never moves its creation time
