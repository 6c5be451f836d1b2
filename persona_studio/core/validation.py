"""The fine-tuning preflight: format checks, exact token counts, duplicates, cost.

Format checks follow the OpenAI cookbook "Chat fine-tuning data prep" (same error names), token
counting its `num_tokens_from_messages`, and the default epochs its formula. Runs off the UI
thread: `preflight` reports progress and can be cancelled between chunks.
"""

from __future__ import annotations

import random
import re
import threading
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import chain, compress, repeat
from operator import add, attrgetter, is_, is_not, itemgetter, not_
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from persona_studio.core.dataset import MIN_EXAMPLES, Example, held_pair, hold_pair, ids_of
from persona_studio.core.duplicates import (
    DuplicateIndex,
    Text,
    grouped_texts,
    normalise,
    positions_in_groups,
)
from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.test_set import cut_for, in_test_set
from persona_studio.core.tokens import cache_holds, count_many, count_soon, keep_counts_for
from persona_studio.core.words import counted
from persona_studio.resources_path import resource_path

if TYPE_CHECKING:
    from persona_studio.core.band_key_store import BandKeyStore

ALLOWED_ROLES = ("system", "user", "assistant", "function", "tool")
ALLOWED_MESSAGE_KEYS = (
    "role",
    "content",
    "name",
    "function_call",
    "weight",
    "tool_calls",
    "tool_call_id",
)
RECOMMENDED_EXAMPLES = (50, 100)
# cookbook defaults for the number of epochs
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25_000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
CHUNK = 2_000

_PLAIN_KEYS = {"role", "content", "weight", "name"}
FORMAT_MESSAGES = {
    "data_type": "The example is not a JSON object.",
    "missing_messages_list": "The example has no list of messages.",
    "message_missing_key": "A message has no role or no content.",
    "message_unrecognized_key": "A message has a field fine-tuning does not accept.",
    "unrecognized_role": "A message has a role other than system, user or assistant.",
    "missing_content": "A message's content is missing or is not text.",
    "example_missing_assistant_message": "There is no answer (assistant message).",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    max_tokens: int
    encoding: str
    price_per_million: float | None  # None: not known (a model our table does not list)
    provider: str = "openai"  # the training service that offers it (the Train tab's list)


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    blocking: bool


@dataclass
class PreflightReport:
    model: ModelSpec
    issues: dict[str, list[Issue]]  # example id → issues (only examples that have some)
    tokens: dict[str, int]  # example id → tokens as trained
    duplicate_groups: list[list[str]]
    status_counts: dict[str, int]
    trained_ids: list[str]  # the approved examples
    epochs: int = 0
    held_out: int = 0  # approved examples kept aside for the voice check (never trained)
    billed_tokens: int = 0
    estimated_cost: float | None = 0.0  # None: the model's price is not known
    notes: list[Issue] = field(default_factory=list)  # dataset-level findings

    @property
    def blocking(self) -> list[tuple[str, Issue]]:
        found = [
            (i, issue)
            for i, issues in self.issues.items()
            if i in self._trained
            for issue in issues
            if issue.blocking
        ]
        return found + [("", note) for note in self.notes if note.blocking]

    @property
    def warnings(self) -> list[tuple[str, Issue]]:
        return [
            (i, issue)
            for i, issues in self.issues.items()
            for issue in issues
            if not issue.blocking
        ] + [("", n) for n in self.notes if not n.blocking]

    def warning_lines(self, limit: int = 5) -> list[str]:
        """The warnings in a few lines a creator can read: one per kind, with how many
        examples it concerns, then "and N more kinds" past `limit`."""
        kinds: dict[str, list[Issue]] = {}
        for _id, issue in self.warnings:
            kinds.setdefault(issue.code, []).append(issue)
        lines = []
        for issues in kinds.values():
            more = len(issues) - 1
            lines.append(
                issues[0].message.rstrip(".")
                + (f" (and {counted(more, 'more example')} like it)" if more else "")
                + "."
            )
        if len(lines) > limit:
            lines[limit:] = [f"And {counted(len(lines) - limit, 'other kind')} of warning."]
        return lines

    # Worked out once, when first asked: a report is complete when it is handed out and never
    # changed after (the Train tab's first paint asked for each three times: ~25 ms at 100,000)
    @cached_property
    def _trained(self) -> set[str]:
        return set(self.trained_ids)

    @cached_property
    def trained_tokens(self) -> int:
        # in C (`map` over `dict.get`): a generator took ~30 ms of the Train tab's first
        # paint at 100,000 examples
        return sum(map(self.tokens.get, self.trained_ids, repeat(0)))

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "examples": sum(self.status_counts.values()),
            "by_status": self.status_counts,
            "trained_examples": len(self.trained_ids),
            "held_out_examples": self.held_out,
            "trained_tokens": self.trained_tokens,
            "epochs": self.epochs,
            "billed_tokens": self.billed_tokens,
            "estimated_cost_usd": rounded_cost(self.estimated_cost),
            "blocking": len(self.blocking),
            "warnings": len(self.warnings),
            "duplicate_groups": len(self.duplicate_groups),
        }


class PreflightCancelled(Exception):
    pass


@cache
def _shipped_price_table() -> dict[str, Any]:
    """Parsed once (~2.5 ms, which every check's start paid on the UI thread); only read."""
    return tomllib.loads(resource_path("fine_tuning_models.toml").read_text("utf-8"))


_user_tables: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}  # by file: its stat, table


def _price_tables(user_file: Path | None) -> list[dict[str, Any]]:
    """The shipped table, then the user's copy (which wins) when there is one: parsed again
    only when the file changed (its time of change or size)."""
    tables = [_shipped_price_table()]
    if user_file is None:
        return tables
    try:
        stat = user_file.stat()
    except OSError:
        return tables  # no copy of the user's (yet): the shipped prices
    seen = (stat.st_mtime_ns, stat.st_size)
    kept = _user_tables.get(user_file)
    if kept is not None and kept[0] == seen:
        return [*tables, kept[1]]
    try:
        table = tomllib.loads(user_file.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserFacingError(
            f"The model price table “{user_file}” could not be read ({exc}).",
            "Fix it, or delete it to use the shipped prices.",
        ) from exc
    _user_tables[user_file] = (seen, table)
    return [*tables, table]


def load_model_specs(user_file: Path | None = None) -> dict[str, ModelSpec]:
    """The shipped table, overridden or extended by the user's copy when there is one."""
    specs: dict[str, ModelSpec] = {}
    for table in _price_tables(user_file):
        for name, raw in table.get("models", {}).items():
            try:
                specs[name] = ModelSpec(
                    name,
                    int(raw["max_tokens"]),
                    str(raw["encoding"]),
                    float(raw["price_per_million"]),
                    str(raw.get("provider", "openai")),
                )
            except (KeyError, TypeError, ValueError):
                continue  # a half-written entry in the user's copy: skip it, keep the others
    return specs


FINE_TUNED_PRICE_FACTOR = 2.0  # gpt-4.1-mini: $0.80/$3.20 fine-tuned vs $0.40/$1.60


def chat_price(model: str, user_file: Path | None = None) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens for using `model`, by longest name prefix;
    None when the table does not know it (a local server, an unknown model). An OpenAI
    fine-tune ("ft:BASE:org:tag:id") costs about twice its base (OpenAI's published prices)."""
    if model.startswith("ft:") and model.count(":") >= 2:
        base = chat_price(model.split(":")[1], user_file)
        if base is None:
            return None
        return base[0] * FINE_TUNED_PRICE_FACTOR, base[1] * FINE_TUNED_PRICE_FACTOR
    prices: dict[str, tuple[float, float]] = {}
    for table in _price_tables(user_file):
        for name, raw in table.get("chat", {}).items():
            try:
                prices[name] = (float(raw["input_per_million"]), float(raw["output_per_million"]))
            except (KeyError, TypeError, ValueError):
                continue
    known = [name for name in prices if model == name or model.startswith(name + "-")]
    return prices[max(known, key=len)] if known else None


def price_text(usd: float | None) -> str:
    """A price as people read it: "about $1.23", "less than a cent" (not "$0.00", which reads
    as free), "$0.00" when there is nothing to pay, "price unknown" when we cannot tell."""
    if usd is None:
        return "price unknown"
    if usd <= 0:
        return "$0.00"
    if usd < 0.005:
        return "less than a cent"
    return f"about ${usd:,.2f}"


def rounded_cost(usd: float | None) -> float | None:
    """A cost for a report or a record: cents, or None when not known."""
    return None if usd is None else round(usd, 2)


def model_spec(name: str, specs: dict[str, ModelSpec] | None = None) -> ModelSpec:
    specs = specs or load_model_specs()
    if name in specs:
        return specs[name]
    # a fine-tuned model or a snapshot we do not list: use its family's figures, price unknown
    family = next((s for key, s in specs.items() if name.startswith(key.rsplit("-", 3)[0])), None)
    if family is not None:
        return ModelSpec(name, family.max_tokens, family.encoding, family.price_per_million)
    return ModelSpec(name, 65_536, "o200k_base", None)


def default_epochs(n_train: int) -> int:
    if n_train <= 0:
        return 0
    if n_train * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train)
    if n_train * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train)
    return TARGET_EPOCHS


def training_messages(example: Example, system_prompt: str) -> list[dict[str, Any]]:
    """The messages as trained: the example's own system prompt, else the persona's."""
    held = example.read_messages()
    messages = [m for m in held if m.get("role") != "system"]
    own = [m for m in held if m.get("role") == "system"]
    system = (
        example.system_prompt
        if example.system_prompt is not None
        else (own[0].get("content") if own else system_prompt)
    )
    return ([{"role": "system", "content": system}] if system else []) + messages


def format_errors(line: Any) -> list[str]:
    """The cookbook's format checks for one JSONL line (error codes, no duplicates)."""
    if not isinstance(line, dict):
        return ["data_type"]
    messages = line.get("messages")
    if (
        isinstance(messages, list)
        and messages
        and all(
            type(m) is dict
            and m.keys() <= _PLAIN_KEYS
            and m.get("role") in ALLOWED_ROLES
            and type(m.get("content")) is str
            for m in messages
        )
        and any(m["role"] == "assistant" for m in messages)
    ):
        return []  # the common case, checked in one pass
    if not isinstance(messages, list) or not messages:
        return ["missing_messages_list"]
    errors: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            errors.append("message_missing_key")
            continue
        if any(k not in ALLOWED_MESSAGE_KEYS for k in message):
            errors.append("message_unrecognized_key")
        if message.get("role") not in ALLOWED_ROLES:
            errors.append("unrecognized_role")
        content = message.get("content")
        if (
            not isinstance(content, str)
            and not message.get("function_call")
            and not message.get("tool_calls")
        ):
            errors.append("missing_content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errors.append("example_missing_assistant_message")
    return list(dict.fromkeys(errors))


_STOP = set(
    "a an and are as at be but by do for from have i if in into is it its me my no not "
    "of on or our so than that the their them then there these they this to too was we "
    "were what when which who will with you your give make any ever".split()
)


_NEGATIONS = {
    "not",
    "never",
    "no",
    "don't",
    "dont",
    "won't",
    "can't",
    "cannot",
    "doesn't",
    "nor",
    "without",
}


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-zà-ÿ0-9']+", text.lower()) if len(w) > 2 and w not in _STOP]


def rule_conflicts(answer: str, persona: Persona) -> list[Issue]:
    """Keyword-level: an answer touching a topic to avoid, or using every word of a "Never"."""
    found: list[Issue] = []
    if not persona.avoid_topics and not persona.style_dont:
        return found
    lowered = f" {' '.join(re.findall(r'[a-zà-ÿ0-9]+', answer.lower()))} "
    for topic in persona.avoid_topics:
        words = " ".join(re.findall(r"[a-zà-ÿ0-9]+", topic.lower()))
        if words and f" {words} " in lowered:
            found.append(Issue("avoid_topic", f"Mentions “{topic}”, a topic to avoid.", False))
    answer_tokens = re.findall(r"[a-zà-ÿ0-9']+", answer.lower())
    answer_words = set(answer_tokens)
    for rule in persona.style_dont:
        rule_words = _content_words(rule)
        if len(rule_words) >= 2 and all(w in answer_words for w in rule_words):
            first = answer_tokens.index(rule_words[0])
            if _NEGATIONS & set(answer_tokens[max(0, first - 3) : first]):
                continue  # “I don't promise weight-loss results” keeps the rule
            found.append(Issue("dont_rule", f"May break the rule “Never: {rule}”.", False))
    return found


def conversation_tokens(messages: list[dict[str, Any]], lengths: Mapping[str, int]) -> int:
    """Cookbook `num_tokens_from_messages`: 3 per message, the text, 1 per name, 3 to prime."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if isinstance(value, str) and key in ("role", "content", "name"):
                total += lengths[value]
                if key == "name":
                    total += 1
    return total


_QA_KEYS = {"role", "content"}


def _plain_qa(example: Example) -> tuple[str, str] | None:
    """(question, answer) when the example is one plain user → assistant exchange under the
    persona's prompt — the shape nearly every example has, so the preflight checks it without
    building its training messages. None for anything else."""
    if example.system_prompt is not None:
        return None
    pair = held_pair(example)  # the worker's, checked before: plain
    if pair is not None:
        return pair
    messages = example.read_messages()
    if len(messages) != 2:
        return None
    user, assistant = messages
    if (
        type(user) is dict
        and type(assistant) is dict
        and user.keys() == _QA_KEYS
        and assistant.keys() == _QA_KEYS
        and user["role"] == "user"
        and assistant["role"] == "assistant"
        and type(user["content"]) is str
        and type(assistant["content"]) is str
    ):
        return user["content"], assistant["content"]
    return None


def hold_as_pairs(examples: Iterable[Example]) -> None:
    """Hold each plain question and answer's messages as its (question, answer) pair
    (`hold_pair`), the pair its check then keeps as its text: for the check's worker process,
    whose examples are its own, a part at a time as they come. The file's texts (or decoded
    messages) they replace are let go part by part, and their memory serves the next part:
    held at the check instead, after every example had come, the worker's peak at 1,000,000
    examples was ~0.5 GB higher."""
    for example in examples:
        pair = _plain_qa(example)
        if pair is not None:
            hold_pair(example, pair)


def _strings(messages: list[dict[str, Any]]) -> set[str]:
    """The texts `conversation_tokens` counts."""
    return {
        v
        for m in messages
        for k, v in m.items()
        if isinstance(v, str) and k in ("role", "content", "name")
    }


def _message_issues(messages: list[dict[str, Any]]) -> list[Issue]:
    """Format problems of a conversation (the cookbook's checks), and its first empty turn."""
    codes = format_errors({"messages": messages})
    found = [Issue(code, FORMAT_MESSAGES[code], True) for code in codes]
    for message in messages:
        content = message.get("content")
        role = message.get("role")
        if role in ("user", "assistant") and isinstance(content, str) and not content.strip():
            found.append(Issue("empty_text", f"An empty {role} message.", True))
            break
    return found


def _too_long(n: int, model: ModelSpec) -> Issue:
    return Issue(
        "too_long",
        f"{n:,} tokens: over the {model.max_tokens:,} a {model.name} example may have (it would "
        "be cut).",
        True,
    )


def _duplicate_issues(
    examples: Sequence[Example],
    texts: list[Text],
    groups: Iterable[list[int]],
    issues: dict[str, list[Issue]],
) -> list[list[str]]:
    """Warn on every member of a near-duplicate group, and on all but the first of an exact
    one; returns the groups as example ids."""
    duplicate_groups: list[list[str]] = []
    for group in groups:
        duplicate_groups.append([examples[i].id for i in group])
        is_exact = len({normalise(texts[i]) for i in group}) == 1
        others = len(group) - 1
        plural = "s" if others > 1 else ""
        text = (
            f"Same as {others} other example{plural}."
            if is_exact
            else f"Nearly the same as {others} other example{plural}."
        )
        code = "duplicate" if is_exact else "near_duplicate"
        for position, i in enumerate(group):
            if position > 0 or not is_exact:
                issues[examples[i].id].append(Issue(code, text, False))
    return duplicate_groups


# what a check found for one example: the example it was found for, its tokens, its issues
# (before duplicates), and its text as the duplicate search compares it: its question and
# answer as a pair while the token-count cache keeps those two texts anyway (a string of both
# was 49 MB of the check's worker at 100,000 examples), else that one string (past the cache's
# limit the pair and its two texts took ~105 bytes more an example: 3.2 -> 3.36 GB at 1,000,000).
# In the check's worker always the pair, which its plain examples hold as their messages.
Findings = tuple[Example, int, tuple[Issue, ...], Text]
_EXAMPLE, _TOKENS, _ISSUES, _TEXT = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
_STATUS = attrgetter("status")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


class CheckCache:
    """What a check keeps for the next one (the check's worker process holds one): each
    example's findings, the totals they add up to, and the near-duplicate index. A re-check
    after an edit then costs what changed: it checks the edited example, moves it in the
    totals and in the index, and reads the other 100,000 only in C loops (it added everything
    up again before: ~0.5 s at 100,000 examples). Always whole: a check stopped half-way
    keeps what it finished, and the next one goes on from there."""

    def __init__(self, store: BandKeyStore | None = None) -> None:
        self.settings: tuple[Any, ...] | None = None  # what the findings were found under
        self.max_tokens = 0
        self.cut = 0.0  # below which an approved example's id keeps it aside (`cut_for`)
        self.results: dict[str, Findings] = {}
        self.checked: dict[str, Example] = {}  # the example each finding is for, by id
        self.issues: dict[str, tuple[Issue, ...]] = {}  # those with findings
        self.texts: Counter[Text] = Counter()  # how many examples have each text
        self.repeated: set[Text] = set()  # texts more than one example has
        self.touched: dict[Text, None] = {}  # texts come or gone since the index saw them
        self.duplicates = DuplicateIndex(store=store)  # (the band keys signed before)
        self.status_counts: Counter[str] = Counter()
        self.trained: set[str] = set()  # approved, and not kept aside for the voice check
        self.trained_tokens = 0  # per epoch, each example cut at the model's maximum
        self.held_out = 0
        # what the last search found: groups of example ids, and the warnings they give
        self.duplicate_groups: list[list[str]] = []
        self.duplicate_issues: dict[str, list[Issue]] = defaultdict(list)
        self.moved: dict[str, None] = {}  # ids checked again or gone since `take_moved`

    def take_moved(self) -> dict[str, None]:
        moved, self.moved = self.moved, {}
        return moved

    def prepare(self, settings: tuple[Any, ...], max_tokens: int, cut: float) -> None:
        """Findings found under other settings are found again (every example looks changed);
        another cut (another test share, or too few left to train on) moves examples between
        trained and kept aside, another model's maximum counts them again."""
        if settings != self.settings:
            self.settings = settings
            self.checked = {}
        if cut != self.cut or max_tokens != self.max_tokens:
            # (taken out as they were counted: each example's tokens are cut at the maximum)
            found = list(self.results.values())
            for example, n, _issues, _text in found:
                self._count(example, n, -1)
            self.cut, self.max_tokens = cut, max_tokens
            for example, n, _issues, _text in found:
                self._count(example, n, 1)

    def changed(self, examples: Sequence[Example], ids: list[str]) -> list[Example]:
        """The examples not checked as they are (new, edited, or under other settings)."""
        return list(compress(examples, map(is_not, map(self.checked.get, ids), examples)))

    def forget_gone(self, ids: list[str], changed: list[Example]) -> None:
        """Take out the examples no longer there."""
        new = sum(1 for example in changed if example.id not in self.results)
        if len(self.results) + new == len(ids):
            return  # every id kept or new: none gone (the usual re-check, in C)
        for example_id in self.results.keys() - set(ids):
            self._take(example_id)

    def put(self, found: list[Findings]) -> None:
        """Examples' findings, in place of what was found for them before; in C loops where
        it can be (a first check puts 100,000)."""
        examples = list(map(_EXAMPLE, found))
        ids = ids_of(examples)
        self.moved.update(dict.fromkeys(ids))
        for example_id in list(filter(self.results.__contains__, ids)):
            self._take(example_id)
        self.results.update(zip(ids, found, strict=True))
        self.checked.update(zip(ids, examples, strict=True))
        self.issues.update(
            (i, f[2]) for i, f in compress(zip(ids, found, strict=True), map(_ISSUES, found))
        )
        self.status_counts.update(map(_STATUS, examples))
        # as `_train` does for each approved one
        approved = list(compress(found, map("approved".__eq__, map(_STATUS, examples))))
        held = list(map(in_test_set, map(_EXAMPLE, approved), repeat(self.cut)))
        trained = list(compress(approved, map(not_, held)))
        self.held_out += sum(held)
        self.trained.update(ids_of(map(_EXAMPLE, trained)))
        self.trained_tokens += sum(map(min, repeat(self.max_tokens), map(_TOKENS, trained)))
        texts = list(map(_TEXT, found))
        before = list(map(self.texts.get, texts, repeat(0)))
        self.texts.update(texts)
        self.touched.update(dict.fromkeys(compress(texts, map(not_, before))))
        self.repeated.update(compress(texts, map((1).__lt__, map(self.texts.__getitem__, texts))))

    def _take(self, example_id: str) -> None:
        example, n, _issues, text = self.results.pop(example_id)
        self.moved[example_id] = None
        self.checked.pop(example_id, None)
        self.issues.pop(example_id, None)
        self._count(example, n, -1)
        left = self.texts[text] - 1
        if left > 0:
            self.texts[text] = left
        else:
            del self.texts[text]
            self.touched[text] = None
        if left == 1:
            self.repeated.discard(text)

    def _count(self, example: Example, n: int, sign: int) -> None:
        self.status_counts[example.status] += sign
        if example.status == "approved":
            self._train(example, n, sign)

    def _train(self, example: Example, n: int, sign: int) -> None:
        if in_test_set(example, self.cut):
            self.held_out += sign
        else:
            (self.trained.add if sign > 0 else self.trained.discard)(example.id)
            self.trained_tokens += sign * min(self.max_tokens, n)

    def index_duplicates(self, progress: Callable[[float], None]) -> None:
        """Bring the near-duplicate index up to date with the texts come and gone."""
        touched, self.touched = self.touched, {}
        self.duplicates.discard(t for t in touched if t not in self.texts)
        for text in touched:
            if text in self.texts:
                self.duplicates.add(text)
        self.duplicates.update(progress)


def preflight(
    examples: Sequence[Example],
    persona: Persona,
    model: ModelSpec,
    *,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
    find_duplicates: bool = True,
    test_share: float = 0.0,
    cache: CheckCache | None = None,
) -> PreflightReport:
    """Check every example; figures for the approved ones that would be trained (the test set,
    `test_share` of them, is kept aside for the voice check). A `cache` kept from the last
    check makes this one check again only the examples that changed."""
    cache = cache if cache is not None else CheckCache()
    ids = ids_of(examples)
    update(
        cache,
        examples,
        ids,
        None,
        persona,
        model,
        progress=progress,
        cancel=cancel,
        find_duplicates=find_duplicates,
        test_share=test_share,
    )
    report = report_of(cache, ids, model)
    if progress is not None:
        progress(1.0, "Done")
    return report


def update(
    cache: CheckCache,
    examples: Sequence[Example],
    ids: list[str],
    changed: list[Example] | None,
    persona: Persona,
    model: ModelSpec,
    *,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
    find_duplicates: bool = True,
    test_share: float = 0.0,
    hold_pairs: bool = False,
) -> None:
    """Bring `cache` up to date with `examples` (their `ids`, in order): check again those
    `changed` since its last check (None: the ones that are not the same objects), take out
    those gone. `hold_pairs`: the examples are the cache's alone (the check's worker process),
    each plain question and answer holding its messages as its pair (`hold_as_pairs`): the
    cache keeps that very pair as its text."""

    def step(fraction: float, what: str) -> None:
        if cancel is not None and cancel.is_set():
            raise PreflightCancelled
        if progress is not None:
            progress(fraction, what)

    system_prompt = persona.system_prompt()
    # what the last check found for each example, while it is the same object under the same
    # settings (the session never changes an example in place: an edit is a new object)
    # the form of each example's text (see `Findings`); held as the example's messages, the
    # pair replaces the file's text whatever the size
    as_pairs = hold_pairs or cache_holds(2 * len(ids))
    settings = (
        system_prompt,
        model,
        tuple(persona.avoid_topics),
        tuple(persona.style_dont),
        as_pairs,
    )
    if settings != cache.settings:
        changed = None
    # (lower than the share where it would leave too few to train on: see `cut_for`)
    cache.prepare(settings, model.max_tokens, cut_for(examples, test_share))
    todo = cache.changed(examples, ids) if changed is None else changed
    cache.forget_gone(ids, todo)
    step(0.05, "Counting tokens and checking…")
    keep_counts_for(len(ids))
    if todo:
        _check(todo, persona, system_prompt, model, cache, step, as_pairs)
    cache.duplicate_groups, cache.duplicate_issues = [], defaultdict(list)
    if find_duplicates:
        finding = "Looking for duplicates…"
        step(0.7, finding)
        cache.index_duplicates(lambda f: step(0.7 + 0.25 * f, finding))
        group_of = grouped_texts(cache.duplicates, cache.repeated)
        if group_of:
            texts = list(map(_TEXT, map(cache.results.__getitem__, ids)))
            groups = positions_in_groups(texts, group_of)
            cache.duplicate_groups = _duplicate_issues(
                examples, texts, groups, cache.duplicate_issues
            )
    step(0.95, "Adding up…")


def report_of(
    cache: CheckCache, ids: list[str], model: ModelSpec, tokens: bool = True
) -> PreflightReport:
    """The report of the check `cache` holds, for the examples of `ids` (in order); without
    its token counts when not `tokens` (the worker process sends those as numbers)."""
    extra = cache.duplicate_issues
    flagged = cache.issues.keys() | extra.keys()
    trained = list(filter(cache.trained.__contains__, ids))
    report = PreflightReport(
        model=model,
        issues={
            i: [*cache.issues.get(i, ()), *extra.get(i, ())]
            for i in (filter(flagged.__contains__, ids) if flagged else ())
        },
        tokens=(
            dict(zip(ids, map(_TOKENS, map(cache.results.__getitem__, ids)), strict=True))
            if tokens
            else {}
        ),
        duplicate_groups=cache.duplicate_groups,
        status_counts={status: n for status, n in cache.status_counts.items() if n},
        trained_ids=trained,
        held_out=cache.held_out,
    )
    # added up here, where the check runs (the worker process from 1,000 examples): when the
    # window first asked, at 1,000,000 examples, it took ~0.2 s of each report's showing
    report.__dict__["trained_tokens"] = sum(map(_TOKENS, map(cache.results.__getitem__, trained)))
    report.epochs = default_epochs(len(trained))
    report.billed_tokens = cache.trained_tokens * report.epochs
    report.estimated_cost = (
        None
        if model.price_per_million is None
        else report.billed_tokens * model.price_per_million / 1_000_000
    )
    # "to train on": those kept aside for the voice check are not (the summary says how many;
    # a creator who approved 14 read "9 approved examples")
    if len(trained) < MIN_EXAMPLES:
        # the next step (the share never keeps aside what training needs: those left aside
        # are pinned)
        aside = (
            f", or unpin some of the {cache.held_out} questions pinned for the voice check "
            "(tagged “voice-check”: always kept aside)"
            if cache.held_out
            else ""
        )
        report.notes.append(
            Issue(
                "too_few",
                f"{len(trained)} approved examples to train on: fine-tuning needs at least "
                f"{MIN_EXAMPLES} (50 to 100 good ones usually work well). Approve "
                f"{MIN_EXAMPLES - len(trained)} more{aside}.",
                True,
            )
        )
    elif len(trained) < RECOMMENDED_EXAMPLES[0]:
        report.notes.append(
            Issue(
                "few",
                f"{len(trained)} approved examples to train on: 50 to 100 usually give clearly "
                "better results.",
                False,
            )
        )
    return report


def _check(
    todo: list[Example],
    persona: Persona,
    system_prompt: str,
    model: ModelSpec,
    cache: CheckCache,
    step: Callable[[float, str], None],
    as_pairs: bool,
) -> None:
    """Check `todo` a chunk at a time, each chunk's findings put in `cache` whole. The next
    chunk's texts are counted meanwhile where a helper process counts (`count_soon`). Each
    example's text for the duplicate search is its (question, answer) pair where `as_pairs`,
    else a string of both (see `Findings`)."""
    # A plain question/answer costs the persona prompt's framing plus its two texts.
    framing = training_messages(Example.from_qa("", ""), system_prompt)
    framing_tokens = conversation_tokens(framing, count_many(_strings(framing), model.encoding))
    check_rules = bool(persona.avoid_topics or persona.style_dont)
    max_tokens = model.max_tokens

    def shaped(chunk: list[Example]) -> tuple[Any, ...]:
        """The chunk's (question, answer) pairs (the other shapes' training messages by
        position, their pair blank), its texts asked to be counted."""
        shapes = list(map(_plain_qa, chunk))
        general = {
            i: training_messages(chunk[i], system_prompt)
            for i in compress(range(len(chunk)), map(is_, shapes, repeat(None)))
        }
        for i in general:
            shapes[i] = ("", "")
        pairs = cast(list[tuple[str, str]], shapes)
        strings = set(chain.from_iterable(pairs))
        for messages in general.values():
            strings |= _strings(messages)
        return chunk, pairs, general, count_soon(strings, model.encoding)

    upcoming = shaped(todo[:CHUNK])
    for start in range(0, len(todo), CHUNK):
        chunk, pairs, general, lengths_of = upcoming
        lengths = lengths_of()
        if start + CHUNK < len(todo):  # asked now, counted while this chunk is checked
            upcoming = shaped(todo[start + CHUNK : start + 2 * CHUNK])
        # Every example as a plain question/answer that nothing is wrong with, in C passes;
        # then one by one only the suspects: blank or too long texts, the other shapes (and
        # every example where the persona has rules to check)
        questions, answers = list(map(_FIRST, pairs)), list(map(_SECOND, pairs))
        ns = list(
            map(
                framing_tokens.__add__,
                map(add, map(lengths.__getitem__, questions), map(lengths.__getitem__, answers)),
            )
        )
        texts: list[Text] = pairs if as_pairs else list(map("\n".join, pairs))
        findings: list[Findings] = list(zip(chunk, ns, repeat(()), texts))
        suspects = set(general)
        for column in (questions, answers):
            suspects.update(compress(range(len(chunk)), map(not_, column)))
            suspects.update(compress(range(len(chunk)), map(str.isspace, column)))
        suspects.update(compress(range(len(chunk)), map(max_tokens.__lt__, ns)))
        for i in range(len(chunk)) if check_rules else sorted(suspects):
            found: list[Issue] = []
            example, n, _none, text = findings[i]
            if i in general:
                answer = example.answer
                pair = (example.question, answer)
                text = pair if as_pairs else "\n".join(pair)
                n = conversation_tokens(general[i], lengths)
                found.extend(_message_issues(general[i]))
            else:
                question, answer = pairs[i]
                if not question or question.isspace():  # `strip` without making a string
                    found.append(Issue("empty_text", "An empty user message.", True))
                elif not answer or answer.isspace():
                    found.append(Issue("empty_text", "An empty assistant message.", True))
            if n > max_tokens:
                found.append(_too_long(n, model))
            if check_rules:
                found.extend(rule_conflicts(answer, persona))
            findings[i] = (example, n, tuple(found) if found else (), text)
        cache.put(findings)
        done = min(len(todo), start + CHUNK) / len(todo)
        step(min(0.7, 0.05 + 0.65 * done), "Counting tokens and checking…")


def train_validation_split(
    examples: Sequence[Example], fraction: float, seed: int = 42
) -> tuple[list[Example], list[Example]]:
    """A seeded split, stratified by each example's first tag (untagged examples together)."""
    if not 0 <= fraction < 1:
        raise ValueError("fraction must be in [0, 1)")
    if fraction == 0 or len(examples) < 2:
        return list(examples), []
    by_tag: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_tag[ex.tags[0] if ex.tags else ""].append(ex)
    rng = random.Random(seed)
    validation_ids: set[str] = set()
    for tag in sorted(by_tag):
        members = list(by_tag[tag])
        rng.shuffle(members)
        take = round(len(members) * fraction)
        validation_ids.update(ex.id for ex in members[:take])
    if not validation_ids:  # tiny strata all rounded down: take one overall
        validation_ids.add(rng.choice(list(examples)).id)
    train = [ex for ex in examples if ex.id not in validation_ids]
    validation = [ex for ex in examples if ex.id in validation_ids]
    return train, validation
