"""The whole way from a dataset to a character people can talk to, as one resumable run.

sync the sheet → check the dataset → write the training files → upload them → start the job →
wait for it → register the fine-tuned model → export the Naas Chat plugin and the card.

Every step's state and what it produced (file ids, the job id, paths) is saved in the project
after each step, so a failed or cancelled run resumes at the step that stopped: uploads that
went through are not sent again and a job that was created is not created twice. Cancelling
stops the run, not the fine-tuning job (it goes on at the provider and a resume waits for it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import new_id, now_iso
from persona_studio.core.errors import UserFacingError
from persona_studio.core.project.files import file_stem
from persona_studio.core.words import counted
from persona_studio.services.training import JobSpec, TrainingError, UploadedFiles, needs_deploy
from persona_studio.services.training.openai_api import explain_job_error

if TYPE_CHECKING:
    from persona_studio.core.config import ProviderProfile
    from persona_studio.core.project import Project
    from persona_studio.core.records import RunRecord
    from persona_studio.core.validation import ModelSpec, PreflightReport
    from persona_studio.services.chat import ClientFactory
    from persona_studio.services.sheets import SyncResult
    from persona_studio.services.training import TrainingBackend, TrainingJobs

log = logging.getLogger(__name__)

KIND = "pipeline"
STEPS: tuple[tuple[str, str], ...] = (
    ("sync", "Sync with the Google Sheet"),
    ("validate", "Check the dataset"),
    ("export", "Write the training files"),
    ("upload", "Upload the training files"),
    ("create", "Start the fine-tuning job"),
    ("wait", "Train the model"),
    ("register", "Register the fine-tuned model"),
    ("publish", "Export the chat plugin and the character card"),
    ("check", "Compare the new model with the previous one"),
)
STEP_LABELS = dict(STEPS)
FINISHED = ("done", "skipped")


class PipelineError(UserFacingError):
    pass


@dataclass
class PipelineOptions:
    profile: str
    base_model: str
    out_dir: str
    sheet: dict[str, Any] | None = None  # {"key", "worksheet"}; None: no sync step
    suffix: str = ""
    validation_split: float = 0.1
    seed: int = 42
    n_epochs: int | None = None  # None: "auto", as in the Train tab
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    wait: bool = True  # False: stop after starting the job (resume later to finish)
    check: bool = False  # ask both models the voice check's questions (model calls: opt in)


@dataclass
class Step:
    name: str
    status: str = "pending"  # pending, running, done, skipped, failed, cancelled, waiting
    detail: str = ""
    error: str = ""
    started_at: str = ""
    finished_at: str = ""

    @property
    def label(self) -> str:
        return STEP_LABELS[self.name]


@dataclass
class PipelineRun:
    id: str
    options: PipelineOptions
    steps: list[Step] = field(default_factory=lambda: [Step(name) for name, _ in STEPS])
    outputs: dict[str, Any] = field(default_factory=dict)
    status: str = "new"  # new, running, failed, cancelled, waiting, succeeded

    @classmethod
    def new(cls, options: PipelineOptions) -> PipelineRun:
        return cls(new_id(), options)

    @classmethod
    def from_record(cls, record: RunRecord) -> PipelineRun:
        """The run a record keeps. Raises ValueError where it is not one this version wrote
        (a field of another kind, a step missing: a file changed by hand, or damaged)."""
        data = record.data
        options, steps, outputs = data.get("options"), data.get("steps"), data.get("outputs")
        if not (
            _fits(options, PipelineOptions)
            and isinstance(steps, list)
            and all(_fits(step, Step) for step in steps)
            and [step["name"] for step in steps] == [name for name, _ in STEPS]
            and isinstance(outputs or {}, dict)
        ):
            raise ValueError(f"the pipeline run {record.id} is not one this version can resume")
        assert isinstance(options, dict)
        return cls(
            record.id,
            PipelineOptions(**options),
            [Step(**step) for step in steps],
            dict(outputs or {}),
            record.status,
        )

    def data(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "steps": [asdict(s) for s in self.steps],
            "outputs": self.outputs,
        }

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    @property
    def current(self) -> Step | None:
        """The first step not finished yet (where a resume starts)."""
        return next((s for s in self.steps if s.status not in FINISHED), None)

    @property
    def resumable(self) -> bool:
        """Anything but a finished run. A record still "running" when the project opens is
        from a process that died (the project file admits one process at a time)."""
        return self.status not in ("succeeded", "new")

    def summary(self) -> str:
        step = self.current
        if self.status == "succeeded":
            model = self.outputs.get("fine_tuned_model")
            return f"Done: {model} is registered; plugin and card are in {self.options.out_dir}."
        if self.status == "waiting":
            return (
                f"Job {self.outputs.get('job_id')} is training at the provider; resume the "
                "run to wait for it and finish."
            )
        if step is None:
            return self.status
        if self.status == "cancelled":
            return f"Stopped at “{step.label}”; resume to go on from there."
        if self.status == "failed":
            return f"Failed at “{step.label}”: {step.error}"
        return f"{step.label}…"


def latest_run(project: Project) -> PipelineRun | None:
    """The newest run (None where there is none, or its record cannot be read: a new run
    starts then, and the record stays in the file as it is)."""
    runs = project.runs(KIND)
    try:
        return PipelineRun.from_record(runs[0]) if runs else None
    except ValueError:
        log.warning("the newest pipeline run's record cannot be read: not offered to resume")
        return None


_KINDS = {"str": str, "float": float, "int": int, "bool": bool, "None": type(None)}


def _fits(value: object, kind: type) -> bool:
    """Whether `value` is an object with every required field of the dataclass `kind`, each of
    the type it is written as ("str", "int | None", "dict[str, Any] | None"…), and no other."""
    if not isinstance(value, dict):
        return False
    known = {f.name: f for f in dataclasses.fields(kind)}
    if not set(value) <= set(known):
        return False
    for name, found in known.items():
        if name not in value:
            required = dataclasses.MISSING is found.default is found.default_factory
            if required:
                return False
            continue
        allowed = tuple(
            dict if part.startswith("dict") else _KINDS[part]
            for part in str(found.type).split(" | ")
        )
        ok = type(value[name]) in allowed or (float in allowed and type(value[name]) is int)
        if not ok:
            return False
    return True


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    from persona_studio.core.config import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise PipelineError(
            f"Could not write “{path}”: {exc.strerror or exc}.",
            "Choose another folder (or free some space), then resume.",
        ) from exc


SyncHook = Callable[[dict[str, Any]], Awaitable["SyncResult"]]
# the project's check against a base model, with a share kept aside for the voice check
CheckHook = Callable[["ModelSpec", float], Awaitable["PreflightReport"]]


class Pipeline:
    """Runs (or resumes) one `PipelineRun` against an open project.

    The fine-tuning job is `jobs`'s: it uploads through the profile's backend, creates the job
    and follows it there, so the job's record, its poller and the model's registration are the
    same ones the Train tab and the CLI see. `sync_sheet` syncs the given link and saves the
    result (the window passes its own so its views follow); `check_data` checks the data (the
    window passes its own, run in the check's worker process; else `preflight` in a thread);
    `on_change` is called after every state change of the run.
    """

    def __init__(
        self,
        project: Project,
        run: PipelineRun,
        *,
        jobs: TrainingJobs,
        sync_sheet: SyncHook | None = None,
        check_data: CheckHook | None = None,
        model_specs: dict[str, ModelSpec] | None = None,
        on_change: Callable[[PipelineRun], None] = lambda _run: None,
        chat_client: ClientFactory | None = None,
        profiles: Callable[[str], ProviderProfile] | None = None,
        confirm_warnings: Callable[[list[str]], Awaitable[bool]] | None = None,
    ) -> None:
        self.project, self.run, self.jobs = project, run, jobs
        # asked before training with the data's warnings listed, as the Train tab asks;
        # None: go on (the command line prints the check and has no one to ask)
        self.confirm_warnings = confirm_warnings
        self.chat_client, self.profiles = chat_client, profiles  # the check step's
        self.sync_sheet, self.check_data = sync_sheet, check_data
        self.model_specs = model_specs
        self.on_change = on_change
        self._backend: TrainingBackend | None = None

    # ---- driving -------------------------------------------------------------------------

    def save(self) -> None:
        self.project.save_run(self.run.id, KIND, self.run.status, self.run.data())
        self.on_change(self.run)

    def _prepare_resume(self) -> None:
        run = self.run
        if run.outputs.get("job_status") in ("failed", "cancelled"):
            # the provider ended the job: a resume starts a new one with the same files
            for key in ("job_id", "job_status", "fine_tuned_model"):
                run.outputs.pop(key, None)
            run.step("create").status = "pending"
        for step in run.steps:
            if step.status not in FINISHED:
                step.status, step.error = "pending", ""

    async def execute(self) -> PipelineRun:
        """Run every step not finished yet. Returns the run (its status says how it ended);
        re-raises cancellation after saving the run as cancelled."""
        run = self.run
        self._prepare_resume()
        run.status = "running"
        self.save()
        step: Step | None = None
        try:
            for step in run.steps:
                if step.status in FINISHED:
                    continue
                step.status, step.started_at, step.finished_at = "running", now_iso(), ""
                self.save()
                await getattr(self, f"_step_{step.name}")(step)
                step.finished_at = now_iso()
                if step.status == "running":
                    step.status = "done"
                self.save()
                if step.status == "waiting":
                    run.status = "waiting"
                    break
            else:
                run.status = "succeeded"
        except asyncio.CancelledError:
            if step is not None:
                step.status, step.finished_at = "cancelled", now_iso()
            run.status = "cancelled"
            self.save()
            raise
        except UserFacingError as exc:
            self._fail(step, str(exc))
        except Exception as exc:  # a bug or an unforeseen answer: recorded, shown, resumable
            log.exception("pipeline step %s failed", step.name if step else "?")
            self._fail(step, f"Something unexpected went wrong ({type(exc).__name__}: {exc}).")
        finally:
            if self._backend is not None:
                await self._backend.aclose()
                self._backend = None
        self.save()
        return run

    def _fail(self, step: Step | None, message: str) -> None:
        if step is not None:
            step.status, step.error, step.finished_at = "failed", message, now_iso()
        self.run.status = "failed"

    async def backend(self) -> TrainingBackend:
        if self._backend is None:
            self._backend = await self.jobs.backend_for(self.run.options.profile)
        return self._backend

    # ---- the steps -----------------------------------------------------------------------

    async def _step_sync(self, step: Step) -> None:
        link = self.run.options.sheet
        if not link or not link.get("key"):
            step.status, step.detail = "skipped", "No Google Sheet is linked."
            return
        if self.sync_sheet is None:
            raise PipelineError("Syncing the sheet is not available here.", "Sync it first.")
        result = await self.sync_sheet(link)
        summary = result.plan.summary()
        step.detail = (
            f"{summary['pulled']} taken from the sheet, {summary['appended']} added to it "
            f"({result.requests} requests)."
        )
        if result.plan.conflicts:
            raise PipelineError(
                f"{counted(len(result.plan.conflicts), 'example was', 'examples were')} changed "
                "differently here and "
                "in the sheet.",
                "Settle them (Sheet → Settle Conflicts…), then resume the run.",
            )

    async def _step_validate(self, step: Step) -> None:
        from persona_studio.core.validation import model_spec, preflight, price_text, rounded_cost

        options, project = self.run.options, self.project
        spec = model_spec(options.base_model, self.model_specs)

        def check() -> Any:
            return preflight(
                project.examples(), project.persona(), spec, test_share=project.test_share
            )

        if self.check_data is not None:
            report = await self.check_data(spec, project.test_share)
        else:
            report = await asyncio.to_thread(check)
        summary = report.summary()
        self.run.outputs["estimated_cost_usd"] = rounded_cost(report.estimated_cost)
        step.detail = (
            f"{summary['trained_examples']} approved examples, {summary['trained_tokens']:,} "
            f"tokens, {price_text(report.estimated_cost)}."
        )
        if report.blocking:
            first = report.blocking[0][1].message
            raise PipelineError(
                f"The dataset is not ready: {counted(len(report.blocking), 'problem')}, "
                f"first: {first}",
                "Fix them in the Dataset tab (or see `persona-studio validate`), then resume.",
            )
        accepted = self.run.outputs.get("warnings_accepted")
        if report.warnings and self.confirm_warnings and accepted != len(report.warnings):
            shown = step.detail
            step.detail += f" {counted(len(report.warnings), 'warning')}: waiting for you."
            self.on_change(self.run)
            if not await self.confirm_warnings(report.warning_lines()):
                raise PipelineError(
                    "Stopped before training, to look at the warnings first.",
                    "The Dataset tab lists them (Only with issues); resume when ready.",
                )
            step.detail = f"{shown} {counted(len(report.warnings), 'warning')} accepted."
            self.run.outputs["warnings_accepted"] = len(report.warnings)

    async def _step_export(self, step: Step) -> None:
        from persona_studio.services.training import training_files

        options, project, outputs = self.run.options, self.project, self.run.outputs

        def build() -> tuple[str, str, int, int, str]:
            files = training_files(
                project.examples(),
                project.persona().system_prompt(),
                options.validation_split,
                options.seed,
                project.test_share,  # the voice check's questions are never trained
                project.persona().name,
            )
            return (
                files.train.decode("utf-8"),
                files.validation.decode("utf-8") if files.validation else "",
                files.train_count,
                files.validation_count,
                files.trained,
            )

        train, validation, n_train, n_validation, trained = await asyncio.to_thread(build)
        out = Path(options.out_dir)
        stem = file_stem(project.persona().name)
        for kind, text in (("train", train), ("validation", validation)):
            for key in ("path", "sha256", "file"):
                outputs.pop(f"{kind}_{key}", None)
            if text:
                path = out / f"{stem} {kind}.jsonl"
                data = text.encode("utf-8")
                await asyncio.to_thread(_write_atomic, path, data)  # fsync: off the loop
                outputs[f"{kind}_path"], outputs[f"{kind}_sha256"] = str(path), _sha256(data)
        outputs["train_count"], outputs["validation_count"] = n_train, n_validation
        outputs["trained_examples"] = trained  # kept with the job (the voice check reads it)
        step.detail = f"{n_train} training and {n_validation} validation examples in {out}."

    async def _step_upload(self, step: Step) -> None:
        outputs = self.run.outputs
        for kind in ("train", "validation"):
            path = outputs.get(f"{kind}_path")
            if not path or outputs.get(f"{kind}_file"):
                continue  # nothing to send, or sent by an earlier attempt
            try:
                data = await asyncio.to_thread(Path(path).read_bytes)  # may be tens of MB
            except OSError as exc:
                raise PipelineError(
                    f"The {kind} file “{path}” cannot be read any more ({exc.strerror}).",
                    "Start a new run to write it again.",
                ) from exc
            if await asyncio.to_thread(_sha256, data) != outputs[f"{kind}_sha256"]:
                raise PipelineError(
                    f"The {kind} file “{Path(path).name}” was changed after the check.",
                    "Start a new run so the data is checked again before training.",
                )
            step.detail = f"Uploading the {kind} file…"
            self.save()
            outputs[f"{kind}_file"] = await (await self.backend()).upload(Path(path).name, data)
            self.save()  # kept at once: a later failure must not upload it again
        step.detail = ", ".join(
            f"{kind}: {outputs[f'{kind}_file']}"
            for kind in ("train", "validation")
            if outputs.get(f"{kind}_file")
        )

    async def _step_create(self, step: Step) -> None:
        options, outputs = self.run.options, self.run.outputs
        # the model the character answers with before this run's (the check step compares them;
        # the job registers its own model as soon as it succeeds)
        outputs.setdefault("previous_model", self.project.persona().fine_tuned_model)
        spec = JobSpec(
            options.base_model,
            suffix=options.suffix,
            n_epochs=options.n_epochs,
            batch_size=options.batch_size,
            learning_rate_multiplier=options.learning_rate_multiplier,
            seed=options.seed,
        )
        record = await self.jobs.create_job(
            await self.backend(),
            options.profile,
            spec,
            UploadedFiles(outputs["train_file"], outputs.get("validation_file")),
            estimated_cost=outputs.get("estimated_cost_usd"),
            train_count=outputs.get("train_count"),
            validation_count=outputs.get("validation_count"),
            trained=outputs.get("trained_examples"),
        )
        outputs["job_id"], outputs["job_status"] = record.id, record.status
        step.detail = f"Job {record.id} on {record.base_model}."

    async def _step_wait(self, step: Step) -> None:
        outputs = self.run.outputs
        job_id = outputs["job_id"]
        if not self.run.options.wait:
            step.status = "waiting"
            step.detail = f"Job {job_id} is training at the provider."
            return
        record = None
        async for record in self.jobs.follow_job(job_id):  # the one poller of this job
            outputs["job_status"] = record.status
            label = self.jobs.warning(job_id) or record.status_label
            if record.metrics:
                last = record.metrics[-1]
                label += f" — step {last['step']} of {last['total_steps']}"
            step.detail = label
            self.save()
        assert record is not None
        if record.status == "failed":
            raise PipelineError(
                explain_job_error(record.error),
                "Fix the cause, then resume: a new job starts with the same uploaded files.",
            )
        if record.status == "cancelled":
            raise PipelineError(
                "The fine-tuning job was cancelled at the provider.",
                "Resume to start a new job with the same uploaded files.",
            )
        if needs_deploy(record):  # trained, but the service's deploy call failed: again
            try:
                record = await self.jobs.deploy_job(job_id)
            except TrainingError as exc:
                raise PipelineError(
                    f"The model is trained, but deploying it failed: {exc}",
                    "Resume to deploy it again; nothing is uploaded or trained twice.",
                ) from exc
        outputs["fine_tuned_model"] = record.fine_tuned_model
        step.detail = f"Done: {outputs['fine_tuned_model']}."

    async def _step_register(self, step: Step) -> None:
        model = self.run.outputs.get("fine_tuned_model")
        record = self.project.job(self.run.outputs.get("job_id", ""))
        if not model or record is None:
            raise PipelineError(
                "The provider finished the job without naming the new model.",
                "Look at the job in the Train tab; the provider's messages say more.",
            )
        self.jobs.register_model(record)
        step.detail = f"The character now answers with {model}."

    async def _step_publish(self, step: Step) -> None:
        from persona_studio.core.card_files import export_bytes

        project, outputs = self.project, self.run.outputs
        out = Path(self.run.options.out_dir)
        stem = file_stem(project.persona().name)
        plugin, card = await asyncio.to_thread(
            lambda: (export_bytes(project, "naas-plugin"), export_bytes(project, "card-v2-png"))
        )
        for key, path, data in (
            ("plugin_path", out / f"{stem} plugin.json", plugin),
            ("card_path", out / f"{stem}.png", card),
        ):
            await asyncio.to_thread(_write_atomic, path, data)  # fsync: off the loop
            outputs[key] = str(path)
        step.detail = f"{Path(outputs['plugin_path']).name} and {Path(outputs['card_path']).name}."

    async def _step_check(self, step: Step) -> None:
        """The voice check, new model against previous, on the kept-aside questions."""
        from persona_studio.services.chat import ChatSettings
        from persona_studio.services.voice_check import Candidate, run_check

        outputs, options = self.run.outputs, self.run.options
        new, previous = outputs.get("fine_tuned_model", ""), outputs.get("previous_model", "")
        previous = "" if previous == new else previous
        why = (
            "Not asked (the comparison asks both models your questions: opt in to run it)."
            if not options.check
            else "There was no previous model to compare with."
            if not previous
            else "The models cannot be reached from here."
            if self.chat_client is None or self.profiles is None
            else ""
        )
        if why:
            step.status, step.detail = "skipped", why
            return
        assert self.chat_client is not None and self.profiles is not None
        project, persona = self.project, self.project.persona()

        def reach(model: str) -> ProviderProfile:
            target = project.chat_target(model)
            assert self.profiles is not None
            return self.profiles(target.profile if target else options.profile)

        candidates = [
            Candidate(
                "finetuned",
                f"New model ({new})",
                ChatSettings(mode="finetuned", profile=reach(new), target=project.chat_target(new)),
                new,
            ),
            Candidate(
                "previous",
                f"Previous model ({previous})",
                ChatSettings(mode="persona", profile=reach(previous), model=previous),
                previous,
            ),
        ]
        result = await run_check(
            project,
            persona,
            project.rules(),
            project.examples(),
            candidates,
            self.chat_client,
            self.profiles,
            limit=10,
            with_probes=False,
        )
        a, b = (result.sounds_like_you[c.label] for c in candidates)
        outputs["check"] = result.summary()
        verdict = "sounds more like you" if a.mean > b.mean else "does not sound more like you"
        step.detail = (
            f"The new model {verdict} than the previous one: {a.text()} against {b.text()} "
            f"on {len(result.questions)} questions."
        )
