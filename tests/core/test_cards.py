"""Character Cards: round trips, other tools' cards, PNG chunks, and bad input."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.cards import (
    OUR_EXTENSION,
    CardError,
    card_json_bytes,
    card_png,
    card_v2,
    card_v3,
    png_chunks,
    read_card,
)
from persona_studio.core.persona import Persona
from persona_studio.core.rules import Rule, keywords
from persona_studio.resources_path import resource_path
from tests.fakes.cards import foreign_v2_card, tiny_png

AVATAR = resource_path("default-avatar.png").read_bytes()

# `benchmarks/faults.py --fuzz N` runs N inputs per fuzz test; the suite, 300
CARD_FUZZ = int(os.environ.get("PERSONA_FUZZ_EXAMPLES", "300"))


def test_foreign_v2_card_maps_every_field() -> None:
    card = read_card(card_json_bytes(foreign_v2_card()))
    p = card.persona
    assert (p.name, p.greeting, p.scenario) == (
        "Seraphina",
        "*Seraphina smiles.* You're awake!",
        "{{user}} wakes up in the glade.",
    )
    assert p.traits == ["caring", "protective", "gentle"]
    assert p.example_dialogue.startswith("<START>")
    assert p.alternate_greetings == ["Hello again.", "Welcome back."]
    assert (p.tags, p.creator, p.character_version) == (["fantasy", "guardian"], "someone", "1.2")
    assert p.post_history_instructions == "Stay gentle."
    assert p.system_prompt_override is None  # empty in the card: our composer is used
    # the simple lorebook entries became rules; the selective one is kept verbatim
    assert [(r.trigger["kind"], r.action["text"], r.enabled) for r in card.rules] == [
        ("keywords", "The glade is magical.", True),
        ("always", "Seraphina knows healing magic.", False),
    ]
    assert card.rules[0].trigger["words"] == ["glade", "forest"] and card.rules[0].name == "Glade"


def test_foreign_card_exports_what_was_imported() -> None:
    original = foreign_v2_card()
    card = read_card(card_json_bytes(original))
    exported = card_v2(card.persona, card.rules)
    data, expected = exported["data"], copy.deepcopy(original["data"])
    ours = data["extensions"].pop(OUR_EXTENSION)
    assert ours["version"] == 1
    # the card's own (empty) system_prompt, not one we composed: in SillyTavern a non-empty
    # one replaces the user's main prompt. Ours rides in our extension, macros replaced.
    assert data == expected and data["system_prompt"] == ""
    assert ours["system_prompt"].startswith("You are Seraphina.")
    assert "{{" not in ours["system_prompt"] and "Seraphina is a guardian" in ours["system_prompt"]
    assert "book_kept" not in ours  # the lorebook is in the card once
    assert exported["top_level_extra"] == "kept too"


def _rules(card) -> list:
    return [(r.trigger, r.action, r.name, r.enabled, r.extras) for r in card.rules]


def test_round_trip_import_export_import_is_equal() -> None:
    first = read_card(card_json_bytes(foreign_v2_card()))
    again = read_card(card_json_bytes(card_v2(first.persona, first.rules)))
    assert again.persona == first.persona and _rules(again) == _rules(first)

    # V2 → V3 adds the fields V3 requires (assets, dates...); from then on it is a fixpoint
    v3 = read_card(card_json_bytes(card_v3(first.persona, first.rules)))
    assert v3.spec == "chara_card_v3" and _rules(v3) == _rules(first)
    plain = lambda p: {**p.to_dict(), "extensions": None}  # noqa: E731
    assert plain(v3.persona) == plain(first.persona)
    v3_again = read_card(card_json_bytes(card_v3(v3.persona, v3.rules)))
    assert v3_again.persona == v3.persona and _rules(v3_again) == _rules(v3)


def test_our_own_fields_and_rules_survive_a_card() -> None:
    persona = Persona(
        name="Rhea",
        description="Coach",
        traits=["kind", "direct"],
        tone={
            "formal_casual": 80,
            "serious_playful": 50,
            "concise_detailed": 20,
            "reserved_warm": 90,
        },
        style_do=["Be brief"],
        style_dont=["Diagnose"],
        background="12 years.",
        avoid_topics=["politics"],
        greeting="Hi!",
        fine_tuned_model="ft:x:rhea",
        chat_model="gpt-4.1-mini",
    )
    rules = [
        Rule(
            trigger=keywords(["pain"]),
            action={"kind": "inject_context", "text": "No diagnosis"},
            name="pain",
        ),
        Rule(
            trigger={"kind": "regex", "pattern": r"\blink\b"},
            action={"kind": "fixed_reply", "text": "No links."},
            name="links",
        ),
        Rule(trigger=keywords(["a", "b"], "all"), action={"kind": "refuse", "text": "No."}),
    ]
    v2 = card_v2(persona, rules, dataset_hash="abc")
    assert v2["data"]["extensions"][OUR_EXTENSION]["fine_tuned_model"] == "ft:x:rhea"
    assert v2["data"]["extensions"][OUR_EXTENSION]["dataset_hash"] == "abc"
    # only the rule a lorebook can express is in the book
    assert [e["content"] for e in v2["data"]["character_book"]["entries"]] == ["No diagnosis"]
    back = read_card(card_json_bytes(v2))
    assert back.persona.tone == persona.tone and back.persona.style_dont == ["Diagnose"]
    assert back.persona.fine_tuned_model == "ft:x:rhea"
    assert back.persona.system_prompt() == persona.system_prompt()
    assert [r.action for r in back.rules] == [r.action for r in rules]


def test_edits_made_in_another_tool_win_over_our_saved_copy() -> None:
    persona = Persona(name="Rhea", traits=["kind"])
    rules = [Rule(trigger=keywords(["pain"]), action={"kind": "inject_context", "text": "Old"})]
    v2 = card_v2(persona, rules)
    v2["data"]["personality"] = "grumpy"
    v2["data"]["character_book"]["entries"][0]["content"] = "New"
    v2["data"]["system_prompt"] = "Custom prompt from another tool."
    back = read_card(card_json_bytes(v2))
    assert back.persona.traits == ["grumpy"]
    assert back.rules[0].action["text"] == "New"
    assert back.persona.system_prompt() == "Custom prompt from another tool."


def test_v1_flat_card() -> None:
    card = read_card(
        json.dumps(
            {
                "name": "Old",
                "description": "d",
                "personality": "p",
                "scenario": "s",
                "first_mes": "hi",
                "mes_example": "",
                "metadata": {"x": 1},
            }
        ).encode()
    )
    assert (card.persona.name, card.persona.greeting, card.spec) == ("Old", "hi", "chara_card_v1")
    exported = card_v2(card.persona, card.rules)
    assert exported["metadata"] == {"x": 1} and "metadata" not in exported["data"]  # at the top
    card.persona.name, card.persona.greeting = "Older", "hello"  # an edit here
    exported = card_v2(card.persona, card.rules)
    assert (exported["name"], exported["first_mes"]) == ("Older", "hello")  # mirrors follow
    assert (exported["data"]["name"], exported["data"]["first_mes"]) == ("Older", "hello")
    assert exported["personality"] == "p" and exported["mes_example"] == ""


def test_card_macros_never_reach_a_model_and_original_is_our_prompt() -> None:
    card = read_card(card_json_bytes(foreign_v2_card()))
    prompt = card.persona.system_prompt()
    assert "{{char}}" not in prompt and "{{user}}" not in prompt
    assert "Seraphina is a guardian" in prompt and "User wakes up in the glade" in prompt
    v2 = foreign_v2_card()
    v2["data"]["system_prompt"] = "<BOT> speaks softly to <USER>.\n{{original}}"
    card = read_card(card_json_bytes(v2))
    prompt = card.persona.system_prompt()
    assert prompt.startswith("Seraphina speaks softly to User.\nYou are Seraphina.")
    # exported as the card had it, {{original}} and all
    assert card_v2(card.persona, card.rules)["data"]["system_prompt"] == v2["data"]["system_prompt"]


def test_v3_export_updates_its_modification_date() -> None:
    v3 = {**copy.deepcopy(foreign_v2_card()), "spec": "chara_card_v3", "spec_version": "3.0"}
    v3["data"].update(creation_date=1_600_000_000, modification_date=1_600_000_000)
    card = read_card(card_json_bytes(v3))
    data = card_v3(card.persona, card.rules)["data"]
    assert data["creation_date"] == 1_600_000_000 and data["modification_date"] > 1_700_000_000


def test_lorebook_entry_keys_come_back_exactly() -> None:
    v2 = foreign_v2_card()
    entries = v2["data"]["character_book"]["entries"]
    entries[2]["keys"] = [""]  # a constant entry as SillyTavern writes it
    entries[0]["use_regex"] = False
    card = read_card(card_json_bytes(v2))
    back = card_v2(card.persona, card.rules)["data"]["character_book"]["entries"]
    assert back[2]["keys"] == [""] and back[2]["constant"] is True
    assert back[0]["use_regex"] is False and back[0]["keys"] == ["glade", "forest"]


def test_png_card_prefers_ccv3_and_keeps_the_image() -> None:
    v2 = foreign_v2_card()
    v3 = {**copy.deepcopy(v2), "spec": "chara_card_v3", "spec_version": "3.0"}
    v3["data"]["name"] = "Seraphina V3"
    png = tiny_png(
        {
            "chara": base64.b64encode(card_json_bytes(v2)),
            "ccv3": base64.b64encode(card_json_bytes(v3)),
        }
    )
    card = read_card(png)
    assert card.persona.name == "Seraphina V3" and card.spec == "chara_card_v3"
    assert card.avatar_png is not None
    kinds = [k for k, _ in png_chunks(card.avatar_png)]
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]  # the card chunks are not kept in the avatar
    only_v2 = read_card(tiny_png({"chara": base64.b64encode(card_json_bytes(v2))}))
    assert only_v2.persona.name == "Seraphina"


def test_exported_png_has_both_chunks_and_reads_back() -> None:
    persona = Persona(name="Rhea", greeting="Hi")
    png = card_png(persona, [], AVATAR)
    texts = {p.partition(b"\x00")[0] for k, p in png_chunks(png) if k == b"tEXt"}
    assert texts >= {b"chara", b"ccv3"}
    card = read_card(png)
    assert card.persona.name == "Rhea" and card.spec == "chara_card_v3"
    assert card_png(card.persona, card.rules, card.avatar_png) == card_png(
        card.persona, card.rules, card.avatar_png
    )  # re-export does not stack chunks
    assert len([1 for k, _ in png_chunks(card_png(persona, [], png)) if k == b"tEXt"]) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tiny_png(), "no character card inside"),
        (tiny_png()[:-20], "cut short"),
        (tiny_png({"chara": b"!!!not base64!!!"}), "not valid base64"),
        (tiny_png({"chara": base64.b64encode(b"{broken json")}), "JSON is broken"),
        (b'{"spec": "chara_card_v9", "data": {}}', "unknown card format"),
        (b'{"spec": "chara_card_v2", "data": []}', "needs a “data” object"),
        (b'{"spec": "chara_card_v2", "data": {"name": 5}}', "“name” should be text"),
        (b'{"spec": "chara_card_v2", "data": {"name": "x", "tags": "a"}}', "list of texts"),
        (b"[1, 2]", "neither a PNG image nor a JSON card"),
        (b"\xff\xfe garbage", "neither a PNG image nor UTF-8"),
        (b'{"hello": 1}', "no “spec”"),
    ],
)
def test_bad_input_gets_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(CardError) as info:
        read_card(data)
    assert message in info.value.message
    assert "Nothing was imported" in info.value.hint


def test_a_20_mb_text_field_is_refused_plainly() -> None:
    card = foreign_v2_card()
    card["data"]["description"] = "x" * 20_000_000
    with pytest.raises(CardError, match="limit is 1,000,000"):
        read_card(card_json_bytes(card))


@settings(max_examples=CARD_FUZZ, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_but_card_error(data: bytes) -> None:
    with contextlib.suppress(CardError):
        read_card(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
CARD_KEYS = [
    "name",
    "description",
    "personality",
    "first_mes",
    "alternate_greetings",
    "tags",
    "character_book",
    "extensions",
    "system_prompt",
    "entries",
    "keys",
    "content",
    "constant",
    "enabled",
    "use_regex",
    "selective",
    "secondary_keys",
    OUR_EXTENSION,
    "rules",
    "persona",
    "book_hash",
    "book_kept",
    "traits",
    "tone",
    "system_prompt_override",
    "fine_tuned_model",
]


def our_card() -> dict:
    persona = Persona(name="Rhea", traits=["kind"], style_do=["Be brief"])
    rules = [
        Rule(trigger=keywords(["pain"]), action={"kind": "inject_context", "text": "t"}),
        Rule(trigger={"kind": "always"}, action={"kind": "refuse", "text": "no"}),
    ]
    return card_v2(persona, rules)


@st.composite
def mutated_cards(draw: st.DrawFn) -> bytes:
    card = draw(st.sampled_from([foreign_v2_card, our_card]))()
    for _ in range(draw(st.integers(1, 6))):
        target = card["data"]
        ours = (
            target.get("extensions", {}).get(OUR_EXTENSION)
            if isinstance(target.get("extensions"), dict)
            else None
        )
        if isinstance(ours, dict) and draw(st.booleans()):
            target = ours
            if isinstance(ours.get("persona"), dict) and draw(st.booleans()):
                target = ours["persona"]
        book = target.get("character_book")
        if isinstance(book, dict) and draw(st.booleans()):
            target = book
            entries = book.get("entries")
            if isinstance(entries, list) and entries and draw(st.booleans()):
                entry = entries[draw(st.integers(0, len(entries) - 1))]
                target = entry if isinstance(entry, dict) else target
        target[draw(st.sampled_from(CARD_KEYS))] = draw(json_values)
    body = card_json_bytes(card)
    if draw(st.booleans()):
        return tiny_png({draw(st.sampled_from(["chara", "ccv3"])): base64.b64encode(body)})
    return body


def test_tampered_saved_lorebook_is_ignored_not_fatal() -> None:
    card = our_card()
    card["data"]["extensions"][OUR_EXTENSION]["book_kept"] = {"entries_kept": [1, "x"]}
    back = read_card(card_json_bytes(card))
    assert card_v2(back.persona, back.rules)["data"]["character_book"]["entries"]


@settings(max_examples=CARD_FUZZ, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated_cards())
def test_mutated_real_shaped_cards_import_or_fail_cleanly(data: bytes) -> None:
    try:
        card = read_card(data)
    except CardError:
        return
    again = read_card(card_json_bytes(card_v2(card.persona, card.rules)))  # exports work too
    assert again.persona.name == card.persona.name


def charx(files: dict[str, bytes]) -> bytes:
    """A CHARX as the V3 spec lays it out (github.com/kwaroran/character-card-spec-v3,
    "CHARX"): a ZIP with card.json at the root and assets under assets/{type}/{kind}/."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_charx_imports_with_its_main_icon_as_the_avatar() -> None:
    v3 = {**copy.deepcopy(foreign_v2_card()), "spec": "chara_card_v3", "spec_version": "3.0"}
    v3["data"]["assets"] = [
        {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main",
         "ext": "png"},
        {"type": "background", "uri": "embeded://assets/other/bg.png", "name": "bg", "ext": "png"},
    ]  # fmt: skip
    icon = tiny_png({})
    card = read_card(
        charx(
            {
                "card.json": card_json_bytes(v3),
                "assets/icon/images/main.png": icon,
                "assets/other/bg.png": tiny_png({}),
            }
        )
    )
    assert card.spec == "chara_card_v3" and card.persona.name == "Seraphina"
    assert card.avatar_png is not None and card.avatar_png.startswith(b"\x89PNG")
    assert card.rules  # the lorebook's rules, as from any card
    # the assets are kept as listed, so an export names the same ones
    assert card_v3(card.persona, card.rules)["data"]["assets"] == v3["data"]["assets"]


def test_a_zip_that_is_not_a_charx_is_refused_plainly() -> None:
    with pytest.raises(CardError, match=r"no card\.json"):
        read_card(charx({"readme.txt": b"hello"}))
    with pytest.raises(CardError, match="damaged"):
        read_card(b"PK\x03\x04" + b"\x00" * 40)


def test_training_files_never_hold_a_literal_macro() -> None:
    from persona_studio.core.dataset import Example
    from persona_studio.core.exports import openai_jsonl

    example = Example.from_qa(
        "Who are you, {{char}}?", "I am {{char}}, glad to meet you, {{user}}."
    )
    persona = Persona(name="Seraphina", description="{{char}} guards the glade.")
    line = json.loads(openai_jsonl([example], persona.system_prompt(), persona.name))
    text = json.dumps(line)
    assert "{{" not in text and "Seraphina guards the glade." in line["messages"][0]["content"]
    assert line["messages"][2]["content"] == "I am Seraphina, glad to meet you, User."
    assert example.answer == "I am {{char}}, glad to meet you, {{user}}."  # the data as typed


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 10**6), st.integers(0, 255))
def test_damaged_charx_archives_fail_only_as_card_errors(
    splice: bytes, at: int, value: int
) -> None:
    """A CHARX is a ZIP from anywhere: a byte changed, a cut, or bytes added never raise
    anything but our plain CardError."""
    v3 = {**copy.deepcopy(foreign_v2_card()), "spec": "chara_card_v3", "spec_version": "3.0"}
    v3["data"]["assets"] = [{"type": "icon", "uri": "embeded://main.png", "name": "main"}]
    raw = bytearray(charx({"card.json": card_json_bytes(v3), "main.png": tiny_png({})}))
    raw[at % len(raw)] = value
    data = bytes(raw[: max(4, at % len(raw))] if at % 3 == 0 else raw) + splice
    with contextlib.suppress(CardError):
        read_card(data)


def test_a_charx_whose_entry_points_before_the_start_is_a_card_error() -> None:
    """Found by the fuzz test above (splice=b"", at=1075, value=1): one byte of the central
    directory changed makes zipfile seek before the start of the file ("negative seek
    value"), a ValueError that was not turned into a CardError."""
    v3 = {**copy.deepcopy(foreign_v2_card()), "spec": "chara_card_v3", "spec_version": "3.0"}
    v3["data"]["assets"] = [{"type": "icon", "uri": "embeded://main.png", "name": "main"}]
    raw = bytearray(charx({"card.json": card_json_bytes(v3), "main.png": tiny_png({})}))
    raw[1075 % len(raw)] = 1
    with pytest.raises(CardError, match="damaged"):
        read_card(bytes(raw))
