"""The voice check: every candidate answers the same questions; each is scored against the
creator's own answers ("sounds like you") and, when an old model's voice was kept, against its
answers ("matches your old model") — offline scores from `core/voice_check.py`.

Candidates are the chat's engines: the offline engine, the character's fine-tuned model (asked
through the profile that trained it), a base model with the persona prompt, that plus retrieved
examples, and an old model's kept voice (no call at all). The questions are a stable sample of
the approved examples; while they are asked, the retrieval index leaves them out, so the
dataset engines cannot answer by looking the answer up. Answers are kept in the project per
candidate (kind "check-answers"), so a re-run asks only what changed; each run's scoreboard is
kept too (kind "check").
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from persona_studio.core.dataset import new_id, now_iso
from persona_studio.core.judge import (
    WinRate,
    agreement,
    blind_picks,
    combine,
    judge_messages,
    parse_rule_verdict,
    parse_verdict,
    rule_messages,
)
from persona_studio.core.probes import Probe, keeps, probes
from persona_studio.core.retrieval import RetrievalIndex
from persona_studio.core.voice_check import Score, score
from persona_studio.services.chat import ChatSettings, ClientFactory, reply
from persona_studio.services.voice import kept_voice

if TYPE_CHECKING:
    from persona_studio.core.config import ProviderProfile
    from persona_studio.core.dataset import Example
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project
    from persona_studio.core.rules import Rule
    from persona_studio.core.test_set import Trained

_Verdict = TypeVar("_Verdict")
ANSWERS_KIND, CHECK_KIND = "check-answers", "check"
DEFAULT_QUESTIONS = 20
MIN_TEST_SET = 3  # fewer held-out questions say too little: the check uses trained ones
# the candidates that are trained models ("previous": the pipeline's check, against the new)
TRAINED = ("finetuned", "kept", "previous")
CANDIDATE_LABELS = {
    "offline": "Offline engine (answers from your examples)",
    "finetuned": "Your fine-tuned model",
    "persona": "Base model with your persona prompt",
    "retrieval": "Base model + persona + similar examples",
}


@dataclass(frozen=True)
class Candidate:
    key: str  # offline, finetuned, persona, retrieval, kept
    label: str
    settings: ChatSettings | None = None  # None: a kept voice (its answers are stored)
    model: str = ""

    def identity(self, system_prompt: str) -> str:
        """What its answers depend on: a changed prompt or model asks again."""
        prompt = hashlib.sha1(system_prompt.encode()).hexdigest()[:10]
        profile = self.settings.profile.name if self.settings and self.settings.profile else ""
        return f"{self.key}|{self.model}|{profile}|{prompt}"


@dataclass
class CheckResult:
    questions: list[str]
    references: dict[str, str]  # question → the creator's answer
    # scores: a model's failed answer counts 0 (it never wins by failing); an old model's kept
    # voice counts only the questions it was asked
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # label → question → answer
    errors: dict[str, list[str]] = field(default_factory=dict)
    sounds_like_you: dict[str, Score] = field(default_factory=dict)
    matches_old: dict[str, Score] = field(default_factory=dict)
    old_model: str = ""
    judged: dict[str, WinRate] = field(default_factory=dict)  # the judge model's win rates
    # the judge's outcome per pair (x, y, question): "x", "y" or "tie"; and the creator's picks
    pair_outcomes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    creator_picks: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # the creator's blind picks in the Chat tab: (question, picked, passed over), and the
    # judge's outcome on each ("x": it picked the same reply)
    chat_pairs: list[tuple[str, str, str]] = field(default_factory=list)
    chat_outcomes: dict[int, str] = field(default_factory=dict)
    judge: str = ""  # the judge model, when one was asked
    run_id: str = ""  # its record in the project, once kept
    held_out: bool = False  # the questions were never trained (the test set)
    # the models that trained on questions kept aside now (kept aside after they trained)
    trained_by: list[str] = field(default_factory=list)
    # the models checked whose jobs did not record what they trained on (trained before the
    # app kept it, or elsewhere): "never trained" is said of today's split for them
    unrecorded: list[str] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    keeps_rules: dict[str, tuple[int, int]] = field(default_factory=dict)  # label → kept, asked
    # the judge's reading of each probe's reply: label → probe question → (keeps, reason)
    rule_verdicts: dict[str, dict[str, tuple[bool, str]]] = field(default_factory=dict)

    def agreement(self) -> tuple[int, int, int]:
        """(agreed, compared, of them from the Chat tab): the judge against the creator."""
        agreed, compared = agreement(self.creator_picks, self.pair_outcomes)
        chat = list(self.chat_outcomes.values())
        return agreed + sum(1 for o in chat if o == "x"), compared + len(chat), len(chat)

    def keeps(self, label: str, probe: Probe, persona: Persona) -> tuple[bool, str]:
        """(kept, why not) for one engine's reply to a probe: the keyword check, then the
        judge's reading where it gave one; a breach either finds is a breach."""
        reply = self.answers.get(label, {}).get(probe.question, "")
        if not keeps(reply, probe, persona):
            return False, "the rule check found a breach"
        verdict = self.rule_verdicts.get(label, {}).get(probe.question)
        if verdict is not None and not verdict[0]:
            return False, f"the judge: {verdict[1]}" if verdict[1] else "the judge"
        return True, ""

    def lost(self, label: str) -> list[str]:
        """The questions on which another engine beat this one: by the judge's verdict where
        it judged that pair, else by the offline score."""
        mine = self.sounds_like_you.get(label)
        lost: list[str] = []
        for question in self.questions:
            if mine is None or question not in self.answers.get(label, {}):
                continue
            for other, theirs in self.sounds_like_you.items():
                if other == label or question not in self.answers.get(other, {}):
                    continue
                judged = self.pair_outcomes.get((label, other, question))
                if judged is None and (other, label, question) in self.pair_outcomes:
                    judged = {"x": "y", "y": "x"}.get(
                        self.pair_outcomes[(other, label, question)], "tie"
                    )
                if judged is not None:
                    beaten = judged == "y"
                else:
                    beaten = theirs.per_question.get(question, 0.0) > mine.per_question.get(
                        question, 0.0
                    )
                if beaten:
                    lost.append(question)
                    break
        return lost

    def broken(self, persona: Persona) -> list[int]:
        """The probes (by position) some engine's reply broke."""
        return [
            index
            for index, probe in enumerate(self.probes)
            if any(
                not self.keeps(label, probe, persona)[0]
                for label, answers in self.answers.items()
                if label != self.old_model and probe.question in answers
            )
        ]

    def ranking(self) -> list[str]:
        return sorted(self.sounds_like_you, key=lambda k: -self.sounds_like_you[k].mean)

    def summary(self) -> dict[str, Any]:
        return {
            "questions": len(self.questions),
            "never_trained": self.held_out,
            "trained_by": self.trained_by,
            "unrecorded": self.unrecorded,
            "old_model": self.old_model,
            "judge": self.judge,
            "judge_agreement": list(self.agreement()[:2]) if self.agreement()[1] else None,
            "judge_agreement_from_chat": self.agreement()[2],
            "candidates": [
                {
                    "candidate": label,
                    "sounds_like_you": round(self.sounds_like_you[label].mean, 1),
                    "margin": round(self.sounds_like_you[label].margin, 1),
                    "matches_old_model": (
                        round(self.matches_old[label].mean, 1)
                        if label in self.matches_old
                        else None
                    ),
                    "failed": len(self.errors.get(label, [])),
                    "keeps_rules": (
                        list(self.keeps_rules[label]) if label in self.keeps_rules else None
                    ),
                    "judge_win_rate": (
                        round(100 * self.judged[label].rate, 1) if label in self.judged else None
                    ),
                }
                for label in self.ranking()
            ],
        }


def check_questions(
    examples: Sequence[Example],
    limit: int = DEFAULT_QUESTIONS,
    test_share: float = 0.0,
    trained: Sequence[Trained] = (),
) -> list[Example]:
    """The test set's examples that none of the models checked trained on (`trained`: what
    each trained on, where its job kept it), in a stable order; when they are fewer than
    `MIN_TEST_SET`, a stable sample of all the approved examples instead."""
    from persona_studio.core.test_set import cut_for, in_test_set

    # a question and an answer are read (their messages decoded) only where they may be
    # asked: reading all 66,000 approved ones' took ~0.3 s at 100,000 examples
    approved = [e for e in examples if e.status == "approved"]
    cut = cut_for(approved, test_share)
    approved.sort(key=lambda e: hashlib.sha1(e.id.encode()).hexdigest())
    test = [
        e
        for e in approved
        if in_test_set(e, cut) and not _seen(e, trained) and e.question and e.answer
    ]
    if len(test) >= MIN_TEST_SET:
        return test[:limit]
    return list(itertools.islice((e for e in approved if e.question and e.answer), limit))


def _seen(example: Example, trained: Sequence[Trained]) -> bool:
    return any(example.id in each for each in trained)


def candidates_for(
    keys: Sequence[str],
    persona: Persona,
    project: Project,
    profile: ProviderProfile | None,
    model: str = "",
) -> list[Candidate]:
    """The candidates by name; "kept" is every model whose voice was kept."""
    from persona_studio.services.voice import kept_voices

    chosen: list[Candidate] = []
    for key in keys:
        if key == "offline":
            chosen.append(Candidate(key, CANDIDATE_LABELS[key], ChatSettings(mode="offline")))
        elif key == "finetuned":
            target = project.chat_target(persona.fine_tuned_model)
            settings = ChatSettings(mode="finetuned", profile=profile, target=target)
            label = f"{CANDIDATE_LABELS[key]} ({persona.fine_tuned_model or 'none yet'})"
            chosen.append(Candidate(key, label, settings, persona.fine_tuned_model))
        elif key in ("persona", "retrieval"):
            name = model or (profile.chat_model if profile else "")
            settings = ChatSettings(mode=key, profile=profile, model=name)
            chosen.append(Candidate(key, f"{CANDIDATE_LABELS[key]} ({name})", settings, name))
        elif key == "kept":
            for old in kept_voices(project):
                chosen.append(Candidate("kept", f"Your old model, as kept ({old})", model=old))
    return chosen


@dataclass
class CheckPlan:
    """A check before it asks anything: its questions and probes (in `result`, with the answers
    already known: kept voices and earlier runs), and what is left to ask of which engine."""

    result: CheckResult
    asked_ids: set[str]
    todo: list[tuple[Candidate, str]]
    cached: dict[str, dict[str, str]]  # label → question → answer kept from earlier runs


def plan_check(
    project: Project,
    persona: Persona,
    examples: Sequence[Example],
    candidates: Sequence[Candidate],
    *,
    limit: int = DEFAULT_QUESTIONS,
    with_probes: bool = True,
) -> CheckPlan:
    """What the check will ask (nothing is asked yet): the cost is known from it."""
    from persona_studio.core.test_set import cut_for, in_test_set

    share = project.test_share
    # what the models checked trained on, where their jobs kept it: the test set moves as the
    # dataset grows, so an early model may have trained on some that are kept aside now
    models = {c.model: project.trained_on(c.model) for c in candidates if c.key in TRAINED}
    trained = [each for each in models.values() if each is not None]
    asked = check_questions(examples, limit, share, trained)
    result = CheckResult([e.question for e in asked], {e.question: e.answer for e in asked})
    cut = cut_for(examples, share)  # (as training takes them)
    result.held_out = bool(asked) and all(
        in_test_set(e, cut) and not _seen(e, trained) for e in asked
    )
    result.unrecorded = sorted(m for m, each in models.items() if m and each is None)
    if not result.held_out and trained:  # enough kept aside: a model trained on them before
        aside = [e for e in examples if in_test_set(e, cut) and e.question and e.answer]
        if len(aside) >= MIN_TEST_SET:
            result.trained_by = sorted(
                model
                for model, each in models.items()
                if each is not None and any(e.id in each for e in aside)
            )
    result.probes = probes(persona) if with_probes else []
    result.chat_pairs = blind_picks(project.chats())
    asks = result.questions + [p.question for p in result.probes]
    system = persona.system_prompt()
    plan = CheckPlan(result, {e.id for e in asked}, [], {})
    for candidate in candidates:
        if candidate.settings is None:  # a kept voice: its answers are stored
            result.answers[candidate.label] = kept_voice(project, candidate.model)
            continue
        known = _cached(project, candidate.identity(system))
        plan.cached[candidate.label] = known
        result.answers[candidate.label] = {q: known[q] for q in asks if q in known}
        plan.todo += [(candidate, q) for q in asks if q not in known]
    return plan


def answers_estimate(plan: CheckPlan, persona: Persona) -> tuple[int, float | None]:
    """(billed calls, dollars or None when a model's price is unknown) for the answers still to
    ask: the persona prompt and the question in, about the creator's answer's length out. The
    offline engine and a model on this computer cost nothing."""
    from persona_studio.core.validation import chat_price

    prompt = len(persona.system_prompt())
    calls, dollars = 0, 0.0
    unknown = False
    for candidate, question in plan.todo:
        settings = candidate.settings
        if settings is None or settings.mode == "offline":
            continue
        if settings.profile is not None and settings.profile.kind == "local":
            continue
        calls += 1
        prices = chat_price(candidate.model)
        if prices is None:
            unknown = True
            continue
        out = len(plan.result.references.get(question, "")) or 400
        dollars += ((prompt + len(question)) / 4 * prices[0] + out / 4 * prices[1]) / 1_000_000
    return calls, None if unknown else dollars


def planned_judge_estimate(
    plan: CheckPlan, persona: Persona, model: str
) -> tuple[int, float | None]:
    """The judge's calls and price before the answers exist: every engine as if it answered
    every question, at about the creator's answer's length."""
    result = plan.result
    asks = result.questions + [p.question for p in result.probes]
    expected = CheckResult(result.questions, result.references)
    expected.probes, expected.chat_pairs = result.probes, result.chat_pairs
    expected.old_model = next((k for k in result.answers if k.startswith("Your old model")), "")
    for label, known in result.answers.items():
        planned = {q for c, q in plan.todo if c.label == label}
        expected.answers[label] = {
            q: result.references.get(q, "") for q in asks if q in known or q in planned
        }
    return judge_estimate(expected, persona, model)


async def run_check(
    project: Project,
    persona: Persona,
    rules: list[Rule],
    examples: Sequence[Example],
    candidates: Sequence[Candidate],
    client_for: ClientFactory,
    profiles: Callable[[str], ProviderProfile] | None = None,
    *,
    limit: int = DEFAULT_QUESTIONS,
    concurrency: int = 3,
    with_probes: bool = True,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    plan: CheckPlan | None = None,
    index: RetrievalIndex | Callable[[], Awaitable[RetrievalIndex]] | None = None,
    save: Save | None = None,
) -> CheckResult:
    """Ask every candidate every question it has not answered yet, then score them all (the
    plan, when the caller made one to show the cost first). `index`: the examples' retrieval
    index, if one is kept (the window's chat one), else one is built (seconds at 100,000).
    `save(write, whole=key)`: how the answers and the scoreboard are kept in the project (the
    window's: in turn with its other writes, never waiting here for a worker that has the
    file); by default, written at once."""
    save = save or _save_at_once
    if plan is None:
        plan = plan_check(
            project, persona, examples, candidates, limit=limit, with_probes=with_probes
        )
    result, todo, cached = plan.result, plan.todo, plan.cached
    # the dataset engines must not look the answer up: the asked examples are left out, the
    # index answering as one built without them
    if index is None:
        built = await asyncio.to_thread(RetrievalIndex, examples)
    else:
        built = index if isinstance(index, RetrievalIndex) else await index()
    without = built.without(plan.asked_ids)
    system = persona.system_prompt()
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    on_progress(done, len(todo))

    async def ask(candidate: Candidate, question: str) -> None:
        nonlocal done
        assert candidate.settings is not None
        async with gate:
            text, error = "", ""
            async for event in reply(
                persona, rules, [], question, candidate.settings, without, client_for, profiles
            ):
                if event.kind == "delta":
                    text += event.text
                elif event.kind == "error":
                    error = event.text
        if error:
            result.errors.setdefault(candidate.label, []).append(error)
        else:
            result.answers[candidate.label][question] = text
            if candidate.key != "offline":  # cheap to redo, and depends on the dataset
                cached[candidate.label][question] = text
                identity = candidate.identity(system)
                answers = dict(cached[candidate.label])  # (as now: it grows meanwhile)
                save(partial(_keep, project, identity, answers), whole=("answers", identity))
        done += 1
        on_progress(done, len(todo))

    await asyncio.gather(*(ask(c, q) for c, q in todo))
    _score(result, persona)
    write, whole = keeping(project, result)
    save(write, whole=whole)
    return result


class Save(Protocol):
    def __call__(self, write: Callable[[], object], *, whole: Hashable = None) -> None: ...


def _save_at_once(write: Callable[[], object], *, whole: Hashable = None) -> None:
    write()


def _score(result: CheckResult, persona: Persona) -> None:
    old = next((label for label in result.answers if label.startswith("Your old model")), "")
    kept = result.answers.get(old, {}) if old else {}
    result.old_model = old
    count_rules(result, persona)
    for label, answers in result.answers.items():
        references = result.references
        if label == old:  # a kept voice is scored on the questions it was asked, not all
            references = {q: a for q, a in references.items() if q in answers}
        result.sounds_like_you[label] = score(answers, references)
        if kept and label != old:
            result.matches_old[label] = score(
                answers, {q: kept[q] for q in result.questions if q in kept}
            )


def count_rules(result: CheckResult, persona: Persona) -> None:
    """Each engine's "keeps the rules": probes kept of probes asked (an old model's kept voice
    was asked none)."""
    result.keeps_rules.clear()
    for label, answers in result.answers.items():
        asked = [p for p in result.probes if p.question in answers]
        if asked and label != result.old_model:
            kept = sum(1 for p in asked if result.keeps(label, p, persona)[0])
            result.keeps_rules[label] = (kept, len(result.probes))


def _cached(project: Project, identity: str) -> dict[str, str]:
    for record in project.runs(ANSWERS_KIND):
        if record.data.get("identity") == identity:
            answers = record.data.get("answers")
            if not isinstance(answers, dict):
                return {}  # (damaged: asked again)
            return {str(k): v for k, v in answers.items() if type(v) is str}
    return {}


def _keep(project: Project, identity: str, answers: dict[str, str]) -> None:
    run_id = f"{ANSWERS_KIND}:{hashlib.sha1(identity.encode()).hexdigest()[:16]}"
    data = {"identity": identity, "answers": answers, "updated": now_iso()}
    project.save_run(run_id, ANSWERS_KIND, "kept", data)


def round_pairs(result: CheckResult, count: int = 10, seed: int = 7) -> list[tuple[str, str, str]]:
    """Up to `count` judged pairs for the creator's own "which sounds more like you?" round."""
    import random

    pairs = sorted(result.pair_outcomes)
    random.Random(seed).shuffle(pairs)
    return pairs[:count]


def earlier_runs(project: Project) -> list[dict[str, Any]]:
    """Every kept check, newest first (what the history shows and the report exports), each
    read as untrusted (`read_kept_check`)."""
    runs = project.runs(CHECK_KIND)
    return [{**read_kept_check(record.data), "id": record.id} for record in runs]


def read_kept_check(data: dict[str, Any]) -> dict[str, Any]:
    """A kept check's record as the history and the reports read it: each field they read of
    the shape `keep_run` writes, or empty (a count 0, no text, no rows); a scoreboard row
    without its engine's name and score is left out. A record may come from anywhere (a
    project from someone else, a file changed by hand, a later version)."""
    from persona_studio.core.records import dict_rows, is_number
    from persona_studio.core.voice_report import names_in

    def number(value: object) -> float | None:
        return value if is_number(value) else None  # type: ignore[return-value]

    def count(value: object) -> int:
        return value if type(value) is int else 0

    def texts(value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if type(v) is str}

    def pair(value: object) -> list[int] | None:
        ok = isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
        return value if ok else None  # type: ignore[return-value]

    def by_engine(value: object, read: Callable[[object], dict[str, Any]]) -> dict[str, Any]:
        return {k: read(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def figures(value: object) -> dict[str, float]:
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if is_number(v)}

    def row(found: dict[str, Any]) -> dict[str, Any]:
        return {
            **found,
            "matches_old_model": number(found.get("matches_old_model")),
            "failed": count(found.get("failed")),
            "keeps_rules": pair(found.get("keeps_rules")),
            "judge_win_rate": number(found.get("judge_win_rate")),
        }

    return {
        **data,
        "questions": count(data.get("questions")),
        "when": data.get("when") if type(data.get("when")) is str else "",
        "never_trained": data.get("never_trained") is True,
        "trained_by": names_in(data.get("trained_by")),
        "unrecorded": names_in(data.get("unrecorded")),
        "judge": data.get("judge") if type(data.get("judge")) is str else "",
        "judge_agreement": pair(data.get("judge_agreement")),
        "judge_agreement_from_chat": count(data.get("judge_agreement_from_chat")),
        "candidates": [
            row(found)
            for found in dict_rows(
                data.get("candidates"),
                lambda r: (
                    type(r.get("candidate")) is str
                    and is_number(r.get("sounds_like_you"))
                    and is_number(r.get("margin"))
                ),
            )
        ],
        "references": texts(data.get("references")),
        "answers": by_engine(data.get("answers"), texts),
        "per_question": by_engine(data.get("per_question"), figures),
    }


def keep_run(project: Project, result: CheckResult) -> None:
    """Keep (or update, after the judge) this run's scoreboard in the project."""
    fingerprint = hashlib.sha1(
        "\n".join(f"{q}\t{result.references[q]}" for q in result.questions).encode()
    ).hexdigest()[:12]
    data = {
        **result.summary(),
        "dataset": fingerprint,
        "when": now_iso(),
        "references": result.references,
        "answers": {label: dict(given) for label, given in result.answers.items()},
        "per_question": {
            label: {q: round(v, 1) for q, v in s.per_question.items()}
            for label, s in result.sounds_like_you.items()
        },
    }
    result.run_id = result.run_id or new_id()
    project.save_run(result.run_id, CHECK_KIND, "done", data)


def keeping(project: Project, result: CheckResult) -> tuple[Callable[[], None], Hashable]:
    """`keep_run` as a write for a `Save`, with what it writes whole (its run, named now)."""
    result.run_id = result.run_id or new_id()
    return partial(keep_run, project, result), ("check", result.run_id)


def judge_estimate(result: CheckResult, persona: Persona, model: str) -> tuple[int, float | None]:
    """(calls, dollars or None) for the judge on this check: every pair of engines on every
    question, both orders (each prompt holds the persona, the question and three answers of
    about the reference's length), the Chat tab's blind picks the same way, and one call per
    engine's reply to each probe."""
    from persona_studio.core.validation import chat_price

    candidates = len([label for label in result.answers if result.answers[label]])
    pairs = candidates * (candidates - 1) // 2
    references = result.references
    prompt = len(persona.system_prompt()) + 400  # the judge's instructions
    chars = sum(prompt + len(q) + 3 * len(a) for q, a in references.items()) * 2 * pairs
    chars += sum(2 * (prompt + len(q) + len(a) + len(b)) for q, a, b in result.chat_pairs)
    replies = [
        (p.question, answers[p.question])
        for label, answers in result.answers.items()
        if label != result.old_model
        for p in result.probes
        if p.question in answers
    ]
    chars += sum(prompt + len(q) + len(a) for q, a in replies)
    calls = 2 * pairs * len(references) + 2 * len(result.chat_pairs) + len(replies)
    prices = chat_price(model)
    if prices is None:
        return calls, None
    return calls, (chars / 4 * prices[0] + calls * 40 * prices[1]) / 1_000_000


async def judge_check(
    result: CheckResult,
    persona: Persona,
    client: Any,
    model: str,
    *,
    concurrency: int = 3,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Every pair of candidates, on every question both answered, judged in both orders; fills
    `result.judged` (a win rate per candidate) and `result.judge`. The Chat tab's blind picks
    are judged the same way (`result.chat_outcomes`, for the judge's agreement with the
    creator), and every engine's reply to each probe is read for the rule it tempts
    (`result.rule_verdicts`, then `result.keeps_rules`)."""
    labels = [label for label in result.answers if result.answers[label]]
    pairs = [
        (x, y, q)
        for i, x in enumerate(labels)
        for y in labels[i + 1 :]
        for q in result.questions
        if q in result.answers[x] and q in result.answers[y]
    ]
    probed = [
        (label, probe)
        for label in labels
        if label != result.old_model
        for probe in result.probes
        if probe.question in result.answers[label]
    ]
    result.judge = model
    result.judged = {label: WinRate() for label in labels}
    result.chat_outcomes.clear()
    result.rule_verdicts.clear()
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    total = len(pairs) + len(result.chat_pairs) + len(probed)
    on_progress(0, total)

    def step() -> None:
        nonlocal done
        done += 1
        on_progress(done, total)

    async def verdict(question: str, a: str, b: str) -> tuple[str, str] | None:
        reference = result.references.get(question, "")
        messages = judge_messages(persona, question, reference, a, b)
        async with gate:
            return await _ask_judge(client, model, messages, sleep, parse_verdict)

    async def judge_pick(index: int, question: str, picked: str, other: str) -> None:
        first, swapped = await asyncio.gather(
            verdict(question, picked, other), verdict(question, other, picked)
        )
        outcome = combine(first[0] if first else None, swapped[0] if swapped else None)
        if outcome is not None:
            result.chat_outcomes[index] = outcome
        step()

    async def judge_probe(label: str, probe: Probe) -> None:
        messages = rule_messages(persona, probe, result.answers[label][probe.question])
        async with gate:
            read = await _ask_judge(client, model, messages, sleep, parse_rule_verdict)
        if read is not None:
            result.rule_verdicts.setdefault(label, {})[probe.question] = read
        step()

    async def judge_pair(x: str, y: str, question: str) -> None:
        ax, ay = result.answers[x][question], result.answers[y][question]
        first, swapped = await asyncio.gather(verdict(question, ax, ay), verdict(question, ay, ax))
        outcome = combine(first[0] if first else None, swapped[0] if swapped else None)
        if outcome is not None:
            result.pair_outcomes[(x, y, question)] = outcome
        if outcome is None:
            result.judged[x].no_verdict += 1
            result.judged[y].no_verdict += 1
        elif outcome == "tie":
            result.judged[x].ties += 1
            result.judged[y].ties += 1
        else:
            winner, loser = (x, y) if outcome == "x" else (y, x)
            result.judged[winner].wins += 1
            result.judged[loser].losses += 1
            reason = (first or swapped or ("", ""))[1]
            result.judged[winner].reasons[question] = reason
        step()

    await asyncio.gather(
        *(judge_pair(x, y, q) for x, y, q in pairs),
        *(judge_pick(i, *pick) for i, pick in enumerate(result.chat_pairs)),
        *(judge_probe(label, probe) for label, probe in probed),
    )
    count_rules(result, persona)


async def _ask_judge(
    client: Any,
    model: str,
    messages: list[dict[str, str]],
    sleep: Callable[[float], Any],
    parse: Callable[[str], _Verdict],
) -> _Verdict | None:
    """One verdict: an unreadable one is asked again once, a 429 waits (Retry-After), and
    what still fails is no verdict."""
    import openai

    from persona_studio.services.generate import retry_after

    unreadable = 0
    for attempt in range(6):
        try:
            response = await client.chat.completions.create(
                model=model, messages=messages, temperature=0.0
            )
            return parse(response.choices[0].message.content or "")
        except ValueError:
            unreadable += 1
            if unreadable > 1:
                return None
        except openai.RateLimitError as exc:
            await sleep(retry_after(exc, attempt))
        except openai.OpenAIError:
            return None
    return None
