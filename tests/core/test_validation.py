"""The preflight, rule by rule, with passing and failing examples."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from persona_studio.core.dataset import Example
from persona_studio.core.duplicates import near_duplicate_groups
from persona_studio.core.errors import UserFacingError
from persona_studio.core.exports import openai_jsonl
from persona_studio.core.persona import Persona
from persona_studio.core.test_set import PIN_TAG
from persona_studio.core.tokens import encoding
from persona_studio.core.validation import (
    ModelSpec,
    PreflightCancelled,
    default_epochs,
    format_errors,
    load_model_specs,
    model_spec,
    preflight,
    price_text,
    rule_conflicts,
    train_validation_split,
)

MINI = ModelSpec("gpt-4o-mini-2024-07-18", 65_536, "o200k_base", 3.0)


def qa(q: str, a: str, **kw) -> Example:
    return Example.from_qa(q, a, status=kw.pop("status", "approved"), **kw)


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "yo"},
                ]
            },
            [],
        ),
        ([1, 2], ["data_type"]),
        ({"prompt": "x"}, ["missing_messages_list"]),
        ({"messages": []}, ["missing_messages_list"]),
        (
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]},
            ["message_missing_key"],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q", "mood": 1},
                    {"role": "assistant", "content": "a"},
                ]
            },
            ["message_unrecognized_key"],
        ),
        (
            {
                "messages": [
                    {"role": "narrator", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            ["unrecognized_role"],
        ),
        (
            {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}]},
            ["missing_content"],
        ),
        ({"messages": [{"role": "user", "content": "q"}]}, ["example_missing_assistant_message"]),
    ],
)
def test_cookbook_format_checks(line, codes) -> None:
    assert format_errors(line) == codes


def cookbook_num_tokens(messages: list[dict], enc) -> int:
    """The OpenAI cookbook's reference function, verbatim in spirit."""
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            num_tokens += len(enc.encode(value))
            if key == "name":
                num_tokens += 1
    return num_tokens + 3


def test_token_counts_match_the_cookbook() -> None:
    persona = Persona(name="Rhea", description="Coach")
    examples = [qa("How do I start?", "Walk, then run. 🏃"), qa("Pace?", "Easy: you can talk.")]
    report = preflight(examples, persona, MINI)
    enc = encoding("o200k_base")
    for ex in examples:
        line = json.loads(openai_jsonl([ex], persona.system_prompt()))
        assert report.tokens[ex.id] == cookbook_num_tokens(line["messages"], enc)


@pytest.mark.parametrize("description", ["Coach", ""])
def test_every_shape_of_example_counts_as_the_cookbook_does(description: str) -> None:
    """Plain pairs take a shortcut; the others build their training messages. Same figures."""
    examples = [
        qa("How do I start?", "Walk, then run. 🏃"),
        qa("Own prompt?", "Yes.", system_prompt="You are terse."),
        qa("Empty own prompt?", "Then none is sent.", system_prompt=""),
        Example(
            messages=[
                {"role": "system", "content": "Inline system."},
                {"role": "user", "content": "One"},
                {"role": "assistant", "content": "Two", "weight": 0},
                {"role": "user", "content": "Three", "name": "sam"},
                {"role": "assistant", "content": "Four"},
            ],
            status="approved",
        ),
        Example(messages=[{"role": "assistant", "content": "Only an answer"}], status="approved"),
    ]
    persona = Persona(name="Rhea" if description else "", description=description)
    report = preflight(examples, persona, MINI)
    enc = encoding("o200k_base")
    for ex in examples:
        line = json.loads(openai_jsonl([ex], persona.system_prompt()))
        # a weight is not text: the cookbook's loop would stop on it, it adds no tokens
        texts = [{k: v for k, v in m.items() if k != "weight"} for m in line["messages"]]
        assert report.tokens[ex.id] == cookbook_num_tokens(texts, enc)
    assert report.issues.keys() <= {examples[4].id}


@pytest.mark.parametrize("rules", [False, True])
def test_a_large_check_finds_for_each_example_what_checking_it_alone_finds(rules: bool) -> None:
    """The check reads plain pairs in C passes and looks one by one only at the suspect ones:
    each finding must land on its own example, across chunks, among other shapes."""
    from persona_studio.core.validation import CHUNK

    tiny = ModelSpec("tiny", 60, "o200k_base", 1.0)
    examples = [qa(f"Question {i}?", f"Answer number {i}.") for i in range(CHUNK + 600)]
    odd = {
        0: qa("   ", "a blank question"),
        1: qa("Blank answer?", "\n"),
        CHUNK - 1: qa("Too long?", "word " * 80),
        CHUNK: Example(messages=[{"role": "user", "content": "only a question"}]),
        CHUNK + 1: qa("", ""),
        CHUNK + 2: qa("Own prompt?", "Mentions medical dosage.", system_prompt="Terse."),
        CHUNK + 3: qa("Rules?", "A medical dosage answer."),
        CHUNK + 599: Example(
            messages=[
                {"role": "user", "content": "One"},
                {"role": "assistant", "content": "word " * 80},
            ],
            system_prompt="",
        ),
    }
    for position, example in odd.items():
        examples[position] = example
    persona = Persona(name="R", avoid_topics=["medical dosage"] if rules else [])
    together = preflight(examples, persona, tiny, find_duplicates=False)
    flagged = set()
    for position, example in enumerate(examples):
        alone = preflight([example], persona, tiny, find_duplicates=False)
        assert together.tokens[example.id] == alone.tokens[example.id], position
        assert together.issues.get(example.id) == alone.issues.get(example.id), position
        if example.id in together.issues:
            flagged.add(position)
    assert flagged == set(odd) - (set() if rules else {CHUNK + 2, CHUNK + 3})


def test_empty_text_and_too_long_are_blocking() -> None:
    tiny = ModelSpec("tiny", 40, "o200k_base", 1.0)
    examples = [qa("ok?", "fine"), qa("   ", "answer"), qa("long?", "word " * 100)]
    report = preflight(examples, Persona(name="R"), tiny)
    codes = {i: [x.code for x in issues] for i, issues in report.issues.items()}
    assert examples[0].id not in codes
    assert "empty_text" in codes[examples[1].id]
    assert "too_long" in codes[examples[2].id]
    assert len([b for b in report.blocking if b[0]]) == 2


def test_duplicates_exact_and_near_are_grouped_warnings() -> None:
    base = "How many days a week should a beginner run if they have a busy job?"
    answer = "Three days with a rest day between them works well for most beginners."
    examples = [
        qa(base, answer),
        qa(base.upper() + "!!", answer + " "),
        qa(base.replace("busy", "demanding"), answer),
        qa("Unrelated?", "Totally."),
    ]
    report = preflight(examples, Persona(name="R"), MINI)
    assert len(report.duplicate_groups) == 1
    assert set(report.duplicate_groups[0]) == {e.id for e in examples[:3]}
    assert not report.blocking or all(not i.blocking for _, i in report.warnings)
    assert "Nearly the same" in report.issues[examples[2].id][0].message


def test_near_duplicate_engine_finds_edits_and_ignores_different_texts() -> None:
    texts = [
        "the quick brown fox jumps over the lazy dog near the river bank today",
        "The quick brown fox jumps over the lazy dog near the river bank today!",
        "the quick brown fox jumps over the lazy dog near the river bank now",
        "completely different words about running shoes and pace",
    ]
    assert sorted(map(sorted, near_duplicate_groups(texts))) == [[0, 1, 2]]
    assert near_duplicate_groups(texts) == near_duplicate_groups(texts)  # deterministic


def test_near_duplicates_of_one_word_and_empty_texts() -> None:
    texts = ["Yes", "", "yes!", "No", "  ", "no", "maybe"]
    assert sorted(map(sorted, near_duplicate_groups(texts))) == [[0, 2], [3, 5]]
    assert near_duplicate_groups(["", "only one"]) == []


def test_near_duplicate_groups_are_the_same_in_every_process() -> None:
    """Python's string hash changes per process; the groups must not."""
    import subprocess
    import sys

    script = (
        "import random\n"
        "from persona_studio.core.duplicates import near_duplicate_groups\n"
        "rng = random.Random(3)\n"
        "words = [f'w{i}' for i in range(40)]\n"
        "texts = [' '.join(rng.choices(words, k=12)) for _ in range(400)]\n"
        "texts += [t + ' w1' for t in texts[:60]]\n"
        "print(near_duplicate_groups(texts))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1 and outputs.pop().count("[") > 30


def test_exact_duplicates_say_same_as_and_keep_the_first_clean() -> None:
    examples = [qa("How far?", "Five km."), qa("how far", "FIVE km!"), qa("Other?", "No.")]
    report = preflight(examples, Persona(name="R"), MINI)
    assert examples[0].id not in report.issues
    assert [i.message for i in report.issues[examples[1].id]] == ["Same as 1 other example."]


def test_rule_conflicts_keyword_level_with_negation() -> None:
    persona = Persona(style_dont=["Promise weight-loss results"], avoid_topics=["politics"])
    assert [
        i.code for i in rule_conflicts("I promise results: weight loss guaranteed!", persona)
    ] == ["dont_rule"]
    assert rule_conflicts("I don't promise weight-loss results.", persona) == []
    assert [i.code for i in rule_conflicts("Let's talk politics.", persona)] == ["avoid_topic"]
    assert rule_conflicts("Let's talk about political running clubs", persona) == []


@pytest.mark.parametrize(
    ("n", "epochs"),
    [(0, 0), (10, 10), (24, 4), (34, 3), (100, 3), (9_000, 2), (30_000, 1), (3, 25)],
)
def test_default_epochs_follow_the_cookbook(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


def test_summary_counts_only_approved_and_prices_them() -> None:
    examples = [qa(f"q{i}", "a", status="approved") for i in range(12)] + [
        qa("draft?", "d", status="draft")
    ]
    report = preflight(examples, Persona(name="R"), MINI)
    assert report.status_counts == {"approved": 12, "draft": 1}
    assert len(report.trained_ids) == 12 and report.epochs == 8
    assert report.billed_tokens == report.trained_tokens * 8
    # added up where the check ran, as the window would
    assert report.trained_tokens == sum(report.tokens[i] for i in report.trained_ids) > 0
    assert report.estimated_cost == pytest.approx(report.billed_tokens * 3.0 / 1e6)
    assert not report.blocking  # 12 ≥ 10
    assert report.notes[0].code == "few"
    small = preflight(examples[:5], Persona(name="R"), MINI)
    assert [n.code for n in small.notes] == ["too_few"] and small.blocking
    assert small.notes[0].message.startswith("5 approved examples to train on: ")
    assert small.notes[0].message.endswith(" Approve 5 more.")
    # those kept aside for the voice check do not train: the creator approved 12
    for ex in examples[:3]:
        ex.tags = [PIN_TAG]
    aside = preflight(examples[:12], Persona(name="R"), MINI)
    assert aside.notes[0].message.startswith(
        "9 approved examples to train on: fine-tuning needs at least 10"
    )
    # and says what to do: one more, or fewer pinned (the share never keeps these aside)
    assert aside.notes[0].message.endswith(
        " Approve 1 more, or unpin some of the 3 questions pinned for the voice check"
        " (tagged “voice-check”: always kept aside)."
    )
    aside = preflight([*examples[:12], qa("q12", "a", status="approved")], Persona(name="R"), MINI)
    assert aside.notes[0].message.startswith("10 approved examples to train on: 50 to 100")


def test_a_kept_cache_follows_the_test_sets_cut_and_the_models_maximum() -> None:
    """The share never keeps aside what training needs (`test_set.cut_for`): a kept cache moves
    examples between trained and kept aside as approvals cross that line, and counts them
    again under another model's maximum (it took them out at the new maximum: billed tokens
    drifted), reporting what a fresh check reports."""
    from persona_studio.core.validation import CheckCache, PreflightReport
    from tests.conftest import ids_by_share

    low, high = ids_by_share(0.5, 20, 20)  # low: the share keeps these aside
    examples = [
        qa(f"Question {n}?", "word " * (5 + 60 * (n % 2)), id=i) for n, i in enumerate(low + high)
    ]
    big, small = (
        ModelSpec("big", 10_000, "o200k_base", 1.0),
        ModelSpec("small", 40, "o200k_base", 1.0),
    )
    cache = CheckCache()

    def same(spec: ModelSpec) -> PreflightReport:
        kept = preflight(examples, Persona(name="R"), spec, test_share=0.5, cache=cache)
        fresh = preflight(examples, Persona(name="R"), spec, test_share=0.5)
        assert kept.summary() == fresh.summary() and kept.trained_ids == fresh.trained_ids
        assert kept.billed_tokens == fresh.billed_tokens and kept.held_out == fresh.held_out
        return kept

    assert len(same(big).trained_ids) == 20  # the share's

    def mark(status: str) -> None:  # (new objects, as the session's edits are)
        examples[20:33] = [dataclasses.replace(ex, status=status) for ex in examples[20:33]]

    mark("draft")  # 7 left above the share's line: 3 of the 20 below it train
    report = same(big)
    assert len(report.trained_ids) == 10 and report.held_out == 17 and not report.blocking
    assert same(small).billed_tokens < report.billed_tokens  # each cut at 40 tokens
    mark("approved")
    assert len(same(small).trained_ids) == 20 and same(big).billed_tokens == same(big).billed_tokens


def test_model_table_and_user_overrides(tmp_path) -> None:
    specs = load_model_specs()
    assert specs["gpt-4o-mini-2024-07-18"].max_tokens == 65_536
    assert specs["gpt-3.5-turbo-0125"].max_tokens == 16_385
    assert specs["gpt-3.5-turbo-0125"].encoding == "cl100k_base"
    user = tmp_path / "models.toml"
    user.write_text(
        '[models."gpt-4o-mini-2024-07-18"]\nmax_tokens = 100\nencoding = "o200k_base"'
        '\nprice_per_million = 9.5\n[models."broken"]\nmax_tokens = "x"\n'
    )
    mine = load_model_specs(user)
    assert mine["gpt-4o-mini-2024-07-18"].price_per_million == 9.5 and "broken" not in mine
    assert model_spec("ft:gpt-4o-mini-2024-07-18:org::abc").max_tokens == 65_536
    # read once per change of the file (each check reads the table): an edit is seen at once
    user.write_text(user.read_text().replace("9.5", "7.25"))
    assert load_model_specs(user)["gpt-4o-mini-2024-07-18"].price_per_million == 7.25
    user.write_text("[models\n")  # and a broken one is said every time, never kept
    for _ in range(2):
        with pytest.raises(UserFacingError, match="could not be read"):
            load_model_specs(user)
    user.unlink()
    assert load_model_specs(user) == specs


def test_split_is_seeded_and_stratified_by_tag() -> None:
    examples = [qa(f"a{i}", "x", tags=["a"]) for i in range(50)] + [
        qa(f"b{i}", "x", tags=["b"]) for i in range(10)
    ]
    train, val = train_validation_split(examples, 0.2, seed=7)
    assert len(val) == 12 and len(train) == 48
    assert sum(1 for e in val if e.tags == ["b"]) == 2
    assert [e.id for e in train_validation_split(examples, 0.2, seed=7)[1]] == [e.id for e in val]
    assert train_validation_split(examples, 0.0) == (examples, [])


def test_prices_read_as_people_say_them() -> None:
    assert price_text(0) == "$0.00"
    assert price_text(0.0004) == "less than a cent"  # "$0.00" would read as free
    assert price_text(0.005) == "about $0.01"
    assert price_text(1234.5) == "about $1,234.50"


def test_preflight_reports_progress_and_stops_when_cancelled_even_while_finding_duplicates() -> (
    None
):
    import threading

    examples = [
        qa(f"Question number {i} about pacing?", f"Answer {i}: go slow.") for i in range(9000)
    ]
    seen: list[tuple[float, str]] = []
    cancel = threading.Event()

    def progress(fraction: float, what: str) -> None:
        seen.append((fraction, what))
        if what.startswith("Looking for duplicates") and fraction > 0.75:
            cancel.set()  # the user pressed Stop in the middle of the duplicate search

    with pytest.raises(PreflightCancelled):
        preflight(examples, Persona(name="R"), MINI, progress=progress, cancel=cancel)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] < 0.95
    assert any(0.7 < f < 0.95 for f, what in seen if what.startswith("Looking"))
    report = preflight(examples[:50], Persona(name="R"), MINI, progress=progress)
    assert seen[-1] == (1.0, "Done") and len(report.tokens) == 50


def test_an_unknown_model_has_an_unknown_price_never_zero() -> None:
    from persona_studio.core.validation import model_spec, price_text, rounded_cost

    spec = model_spec("someone/their-own-model-7b")
    assert spec.price_per_million is None
    report = preflight([Example.from_qa("Q?", "A.", status="approved")], Persona(), spec)
    assert report.estimated_cost is None and report.summary()["estimated_cost_usd"] is None
    assert price_text(report.estimated_cost) == "price unknown"
    assert price_text(0.0) == "$0.00" and rounded_cost(1.234) == 1.23


def test_warnings_read_as_a_few_lines_one_per_kind() -> None:
    from persona_studio.core.validation import Issue, model_spec

    report = preflight([], Persona(), model_spec("gpt-4.1-mini-2025-04-14"))
    report.issues = {
        f"e{i}": [Issue("avoid_topic", "Mentions “diets”, a topic to avoid.", False)]
        for i in range(3)
    } | {f"k{i}": [Issue(f"kind{i}", f"Kind {i}.", False)] for i in range(6)}
    report.notes = []
    lines = report.warning_lines()
    assert lines[0] == "Mentions “diets”, a topic to avoid (and 2 more examples like it)."
    assert lines[1:5] == ["Kind 0.", "Kind 1.", "Kind 2.", "Kind 3."]
    assert lines[5] == "And 2 other kinds of warning."


def test_a_kept_duplicate_index_reads_only_new_texts_and_finds_the_same_groups(
    monkeypatch,
) -> None:
    import random

    from persona_studio.core import duplicates

    rng = random.Random(5)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choices(words, k=14)) for _ in range(300)]
    texts += [t + " w1" for t in texts[:40]]  # near duplicates
    texts += [texts[50] + " w2", texts[50] + " w2 w3"]  # a chain: joined through its middle
    read: list[list[str]] = []
    original = duplicates._signatures

    def spy(new, hashes, progress):
        read.append(list(new))
        return original(new, hashes, progress)

    monkeypatch.setattr(duplicates, "_signatures", spy)
    monkeypatch.setattr(duplicates.DuplicateIndex, "BATCH", 37)  # many batches, some repeats
    index = duplicates.DuplicateIndex()
    stopped = duplicates.DuplicateIndex()
    calls = 0

    def stop_in_the_second_batch(_fraction: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("Stop")

    for text in texts:
        stopped.add(text)
    with pytest.raises(RuntimeError):
        stopped.update(stop_in_the_second_batch)
    assert 0 < len(stopped.keys) < len(set(texts)) and stopped.pending  # what was done stays
    assert near_duplicate_groups(texts, index=stopped) == near_duplicate_groups(texts)
    read.clear()
    for round_ in range(6):
        found = near_duplicate_groups(texts, index=index)
        if round_ == 0:  # signed a batch at a time, not all at once (the check's peak)
            assert len(read) == 10 and max(map(len, read)) == 37
        assert found == near_duplicate_groups(texts)  # the same as a search from nothing
        assert any(len(group) > 1 for group in found)
        kept = set(texts)
        # edit some, delete some (the middle of a group first), copy one, add some
        for at in rng.sample(range(len(texts)), 5):
            texts[at] = texts[at].replace("w", "v", 2)
        del texts[[n for group in found for n in group if len(group) > 2][1] if round_ == 0
                  else rng.randrange(len(texts))]  # fmt: skip
        texts.append(texts[3])
        texts += [" ".join(rng.choices(words, k=10)) for _ in range(3)]
        if round_ == 3:  # many gone at once (a large delete): taken out in one pass
            del texts[100:140]
        read.clear()
        near_duplicate_groups(texts, index=index)
        assert sorted(t for batch in read for t in batch) == sorted(set(texts) - kept)  # unseen
    assert set(index.keys) == set(texts) and not index.pending  # deleted texts are not kept
    assert index.similar and all(a in index.keys and b in index.keys
                                 for a in index.similar for b in index.similar[a])  # fmt: skip


def test_thousands_of_near_identical_texts_join_one_group_in_bounded_work(monkeypatch) -> None:
    """Templated answers share their buckets: each new one is compared with a few of them,
    not with every text before it."""
    from persona_studio.core import duplicates

    template = (
        "thanks for asking about {} here is what i would do first and what comes next when "
        "the week gets busy and the plan slips a little which it always does for everyone"
    )
    texts = [template.format(f"topic{n}") for n in range(3000)]
    compared = 0
    alike = duplicates.DuplicateIndex._alike

    def counting(self, a, b, sets):
        nonlocal compared
        compared += 1
        return alike(self, a, b, sets)

    monkeypatch.setattr(duplicates.DuplicateIndex, "_alike", counting)
    index = duplicates.DuplicateIndex()
    assert near_duplicate_groups(texts, index=index) == [list(range(3000))]
    assert compared < 3000 * 4
    compared = 0
    del texts[0], texts[1500]  # the rest of the group is compared again, a few each
    assert near_duplicate_groups(texts, index=index) == [list(range(2998))]
    assert compared < 3000 * duplicates.BANDS * 2


@pytest.mark.parametrize("hold_pairs", [False, True])
def test_a_kept_check_cache_checks_only_changed_examples_and_reports_the_same(
    monkeypatch, hold_pairs: bool
) -> None:
    """`hold_pairs`: as the check's worker process checks its own examples, a plain question
    and answer holding its messages as the pair the cache keeps for it (past the token-count
    cache's limit too)."""
    import copy
    import random

    from persona_studio.core import tokens, validation
    from persona_studio.core.dataset import held_messages
    from persona_studio.core.validation import CheckCache, hold_as_pairs, report_of, update

    rng = random.Random(11)
    words = ["pace", "run", "easy", "tempo", "rest", "hill", "promise", "results", "weight-loss"]

    def example() -> Example:
        if rng.random() < 0.2:  # a conversation, some with a turn of their own
            return Example(
                messages=[
                    {"role": "user", "content": " ".join(rng.choices(words, k=4))},
                    {"role": "assistant", "content": " ".join(rng.choices(words, k=8))},
                    {"role": "user", "content": "and then?"},
                    {"role": "assistant", "content": rng.choice(["", "rest"])},
                ],
                status="approved",
            )
        return qa(
            " ".join(rng.choices(words, k=5)), " ".join(rng.choices(words, k=rng.randint(0, 30)))
        )

    examples = [example() for _ in range(300)]
    examples += [qa(examples[3].question, examples[3].answer) for _ in range(2)]  # duplicates
    persona = Persona(name="R", style_dont=["promise weight-loss results"], avoid_topics=["hill"])
    spec = ModelSpec("tiny", 60, "o200k_base", 1.0)
    checked: list[int] = []
    shape = validation._plain_qa
    monkeypatch.setattr(validation, "_plain_qa", lambda ex: checked.append(1) or shape(ex))
    if hold_pairs:
        monkeypatch.setattr(tokens, "_CACHE_LIMIT", 100)
    cache = CheckCache()
    for round_ in range(6):
        checked.clear()
        made = copy.deepcopy(examples)  # their messages as they were made: lists
        if hold_pairs:
            ids = [ex.id for ex in examples]
            hold_as_pairs(examples)  # as the worker does as they come
            checked.clear()
            update(cache, examples, ids, None, persona, spec, hold_pairs=True)
            report = report_of(cache, ids, spec)
            plain = [ex for ex in examples if shape(ex) is not None]
            assert plain and all(held_messages(ex) is cache.results[ex.id][3] for ex in plain)
            assert [ex.messages for ex in made] == [ex.read_messages() for ex in examples]
        else:
            report = preflight(examples, persona, spec, cache=cache)
        assert len(checked) == (len(examples) if round_ in (0, 4) else 5)  # only what changed
        fresh = preflight(made, persona, spec)
        assert report.issues == fresh.issues and list(report.issues) == list(fresh.issues)
        assert report.tokens == fresh.tokens and report.summary() == fresh.summary()
        del examples[rng.randrange(len(examples))]
        for at in rng.sample(range(len(examples)), 4):  # an edit: a new object, the same id
            edited = example()
            edited.id = examples[at].id
            examples[at] = edited
        examples.append(example())
        if round_ == 3:  # the persona's prompt changes every example's tokens
            persona = Persona(name="R", description="Now longer.", style_dont=persona.style_dont)


def test_a_checks_texts_are_pairs_while_the_token_cache_keeps_them_and_report_the_same(
    monkeypatch,
) -> None:
    """Each example's text for the duplicate search is its (question, answer) pair while the
    token-count cache keeps those texts anyway, else one string of both (fewer objects past
    the cache's limit); a kept check crossing that limit reports what a fresh one does."""
    from persona_studio.core import tokens
    from persona_studio.core.validation import CheckCache

    base = "How many days a week should a beginner run if they have a busy job?"
    answer = "Three days with a rest day between them works well for most beginners."
    turns = [
        {"role": "user", "content": "And hills?"},
        {"role": "assistant", "content": "Once a week, slowly."},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "Any time."},
    ]
    examples = [
        qa(base, answer),
        qa(base.upper() + "!!", answer + " "),
        qa(base.replace("busy", "demanding"), answer),
        Example(messages=[dict(m) for m in turns], status="approved"),
        Example(messages=[dict(m) for m in turns], status="approved"),
        qa("Unrelated?", "Totally."),
    ]
    persona = Persona(name="R")
    cache = CheckCache()
    fresh = {}
    for limit, form in ((1_000, tuple), (4, str), (1_000, tuple)):
        monkeypatch.setattr(tokens, "_CACHE_LIMIT", limit)
        report = preflight(examples, persona, MINI, cache=cache)
        fresh[form] = preflight(examples, persona, MINI)
        assert {type(text) for text in cache.texts} == {form}
        assert report.duplicate_groups == fresh[form].duplicate_groups
        assert report.issues == fresh[form].issues and report.tokens == fresh[form].tokens
    assert fresh[tuple].duplicate_groups == fresh[str].duplicate_groups
    assert [set(g) for g in fresh[str].duplicate_groups] == [
        {e.id for e in examples[:3]},
        {e.id for e in examples[3:5]},
    ]
    assert fresh[tuple].issues == fresh[str].issues
