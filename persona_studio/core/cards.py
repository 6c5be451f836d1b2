"""Character Card V1/V2/V3: read from JSON or PNG, write V2/V3 JSON and PNG.

Specs: V2 (`chara_card_v2`, github.com/malfoyslastname/character-card-spec-v2) and V3
(`chara_card_v3`, github.com/kwaroran/character-card-spec-v3). A PNG card is the avatar image
with the card JSON, base64-encoded, in a tEXt chunk: `chara` holds V2, `ccv3` holds V3; readers
prefer `ccv3`.

Nothing a card carries is dropped: fields we do not edit, unknown keys, `extensions` and lorebook
entries that are not rules are kept in `Persona.extensions["card_import"]` and written back on
export. Our own data rides along in `extensions.persona_studio`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.errors import UserFacingError
from persona_studio.core.importers.limits import inflate
from persona_studio.core.persona import Persona
from persona_studio.core.rules import Rule, keywords, trigger_words

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CARD_BYTES = 64 * 1024 * 1024
MAX_FIELD_CHARS = 1_000_000
IMPORT_KEY = "card_import"  # Persona.extensions key for what we keep from an imported card
OUR_EXTENSION = "persona_studio"

# card data field → Persona field, for plain text fields
_TEXT_FIELDS = {
    "name": "name",
    "description": "description",
    "scenario": "scenario",
    "first_mes": "greeting",
    "mes_example": "example_dialogue",
    "creator_notes": "creator_notes",
    "post_history_instructions": "post_history_instructions",
    "creator": "creator",
    "character_version": "character_version",
}
_LIST_FIELDS = {"alternate_greetings": "alternate_greetings", "tags": "tags"}
_HANDLED = {
    *_TEXT_FIELDS,
    *_LIST_FIELDS,
    "personality",
    "system_prompt",
    "character_book",
    "extensions",
}
_V1_KEYS = {"name", "description", "personality", "scenario", "first_mes", "mes_example"}
# Our own persona fields that no card field holds.
_OUR_FIELDS = (
    "traits",
    "tone",
    "style_do",
    "style_dont",
    "background",
    "avoid_topics",
    "chat_model",
    "system_prompt_override",
)
# Lorebook entry keys a rule represents; the rest of the entry stays in Rule.extras.
_ENTRY_RULE_KEYS = {"keys", "content", "enabled", "constant", "use_regex"}


class CardError(UserFacingError):
    """A file that is not a usable character card."""


def _not_a_card(detail: str) -> CardError:
    return CardError(
        f"This is not a character card we can read: {detail}.",
        "Choose a Character Card PNG or JSON (V1, V2 or V3). Nothing was imported.",
    )


@dataclass
class ImportedCard:
    persona: Persona
    rules: list[Rule] = field(default_factory=list)
    avatar_png: bytes | None = None
    spec: str = "chara_card_v2"


# ---- PNG chunks ------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) for every chunk, checking lengths; a truncated PNG is an error."""
    if not data.startswith(PNG_SIGNATURE):
        raise _not_a_card("the file is not a PNG image")
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise _not_a_card("the PNG image is cut short")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 8 + length + 4
        if end > len(data):
            raise _not_a_card("the PNG image is cut short")
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset = end
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise _not_a_card("the PNG image is incomplete")
    return chunks


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _text_chunks(chunks: list[tuple[bytes, bytes]]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for kind, payload in chunks:
        if kind == b"tEXt" and b"\x00" in payload:
            key, _, value = payload.partition(b"\x00")
            texts[key.decode("latin-1").lower()] = value.decode("latin-1")
        elif kind == b"iTXt" and payload.count(b"\x00") >= 3:
            key, _, rest = payload.partition(b"\x00")
            compressed, rest = rest[:1], rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _translated, _, value = rest.partition(b"\x00")
            try:
                text = inflate(value) if compressed == b"\x01" else value
                texts[key.decode("latin-1").lower()] = text.decode("utf-8")
            except (zlib.error, UnicodeDecodeError):
                continue
            except ValueError as exc:  # a compression bomb: refused before it is inflated
                raise _not_a_card(f"a text chunk of the image {exc}") from exc
    return texts


def _is_card_chunk(kind: bytes, payload: bytes) -> bool:
    if kind not in (b"tEXt", b"iTXt"):
        return False
    return payload.partition(b"\x00")[0].lower() in (b"chara", b"ccv3")


def png_without_card(data: bytes) -> bytes:
    """The image alone: the PNG with any card chunks taken out."""
    chunks = png_chunks(data)
    return PNG_SIGNATURE + b"".join(_chunk(k, p) for k, p in chunks if not _is_card_chunk(k, p))


def png_with_card(image: bytes, v2: dict[str, Any], v3: dict[str, Any]) -> bytes:
    """The image with `chara` (V2) and `ccv3` (V3) chunks, replacing any it had."""
    chunks = [(k, p) for k, p in png_chunks(image) if not _is_card_chunk(k, p)]
    extra = [
        (b"tEXt", b"chara\x00" + base64.b64encode(_json_bytes(v2))),
        (b"tEXt", b"ccv3\x00" + base64.b64encode(_json_bytes(v3))),
    ]
    chunks = chunks[:-1] + extra + chunks[-1:]  # before IEND
    return PNG_SIGNATURE + b"".join(_chunk(k, p) for k, p in chunks)


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


# ---- reading ---------------------------------------------------------------------------------


def read_card(data: bytes) -> ImportedCard:
    """A card from PNG or JSON bytes. Raises CardError (and only that) for anything unusable."""
    if len(data) > MAX_CARD_BYTES:
        raise _not_a_card(f"the file is {len(data) // 1_000_000} MB, over the 64 MB limit")
    try:
        if data.startswith(PNG_SIGNATURE):
            return _read_png(data)
        if data.startswith(b"PK\x03\x04"):
            return _read_charx(data)
        return card_from_json(_decode_json(data))
    except CardError:
        raise
    except (RecursionError, MemoryError):
        raise _not_a_card("its data is nested too deeply or is too large") from None


def _decode_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_a_card("the file is neither a PNG image nor UTF-8 JSON text") from None
    if not text.lstrip().startswith("{"):
        raise _not_a_card("the file is neither a PNG image nor a JSON card")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _not_a_card(f"its JSON is broken (line {exc.lineno}, column {exc.colno})") from None


MAX_CHARX_JSON = 16 * 1024 * 1024  # card.json, once unpacked
MAX_CHARX_ICON = 32 * 1024 * 1024


def _read_charx(data: bytes) -> ImportedCard:
    """CHARX (the V3 spec's ZIP): `card.json` at the root and its assets; the main icon
    (`embeded://…`, as the spec spells it) becomes the avatar when it is a PNG. Only those two
    entries are read, each within a size limit; nothing is unpacked to disk."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            info = infos.get("card.json")
            if info is None:
                raise _not_a_card("this ZIP has no card.json, so it is not a CHARX card")
            if info.file_size > MAX_CHARX_JSON:
                raise _not_a_card("its card.json is larger than 16 MB")
            raw = _decode_json(archive.read(info))
            card = card_from_json(raw)
            icon = _main_icon(raw)
            found = infos.get(icon) if icon else None
            if found is not None and found.file_size <= MAX_CHARX_ICON:
                image = archive.read(found)
                if image.startswith(PNG_SIGNATURE):
                    card.avatar_png = png_without_card(image)
            return card
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise _not_a_card("the CHARX archive is damaged") from None
    except ValueError:  # an entry's header offset before the start ("negative seek value")
        raise _not_a_card("the CHARX archive is damaged") from None


def _main_icon(card: Any) -> str:
    """The archive path of the card's main icon ("" when it has none inside the archive)."""
    data = card.get("data") if isinstance(card, dict) else None
    assets = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(assets, list):
        return ""
    icons = [a for a in assets if isinstance(a, dict) and a.get("type") == "icon"]
    main = next((a for a in icons if a.get("name") == "main"), icons[0] if icons else None)
    uri = str((main or {}).get("uri") or "")
    for scheme in ("embeded://", "embedded://", "__asset:"):
        if uri.startswith(scheme):
            return uri[len(scheme) :].lstrip("/")
    return ""


def _read_png(data: bytes) -> ImportedCard:
    chunks = png_chunks(data)
    texts = _text_chunks(chunks)
    key = "ccv3" if "ccv3" in texts else "chara" if "chara" in texts else None
    if key is None:
        raise _not_a_card("this PNG image has no character card inside")
    try:
        raw = base64.b64decode(texts[key].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _not_a_card(f"the card data in the image (“{key}”) is not valid base64") from None
    card = card_from_json(_decode_json(raw))
    card.avatar_png = png_without_card(data)
    return card


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _not_a_card(f"“{key}” should be text")
    if len(value) > MAX_FIELD_CHARS:
        raise _not_a_card(
            f"“{key}” is {len(value):,} characters long (the limit is {MAX_FIELD_CHARS:,})"
        )
    return value


def _text_list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _not_a_card(f"“{key}” should be a list of texts")
    for item in value:
        if len(item) > MAX_FIELD_CHARS:
            raise _not_a_card(f"an item of “{key}” is over {MAX_FIELD_CHARS:,} characters")
    return list(value)


def _traits_from_personality(personality: str) -> list[str]:
    parts = [p.strip() for p in personality.split(",") if p.strip()]
    if ", ".join(parts) == personality:
        return parts
    return [personality] if personality.strip() else []


def book_hash(book: Any) -> str:
    return hashlib.sha256(json.dumps(book, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def card_from_json(card: Any) -> ImportedCard:
    if not isinstance(card, dict):
        raise _not_a_card("the JSON is not an object")
    spec = card.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        data = card.get("data")
        if not isinstance(data, dict):
            raise _not_a_card(f"a {spec} card needs a “data” object")
        top_extra = {k: v for k, v in card.items() if k not in ("spec", "spec_version", "data")}
    elif spec is None and _V1_KEYS & set(card) and "name" in card:
        # V1: the fields are at the top; what else is there stays at the top on export
        data, spec = card, "chara_card_v1"
        top_extra = {k: v for k, v in card.items() if k not in _V1_KEYS and k not in _HANDLED}
    elif spec is None:
        raise _not_a_card("it has no “spec” and no character fields")
    else:
        raise _not_a_card(f"unknown card format “{str(spec)[:40]}”")

    persona = Persona()
    for key, attr in _TEXT_FIELDS.items():
        setattr(persona, attr, _text(data, key))
    for key, attr in _LIST_FIELDS.items():
        setattr(persona, attr, _text_list(data, key))
    personality = _text(data, "personality")
    system_prompt = _text(data, "system_prompt")
    extensions = data.get("extensions", {})
    if extensions is None:
        extensions = {}
    if not isinstance(extensions, dict):
        raise _not_a_card("“extensions” should be an object")
    extensions = dict(extensions)
    ours = extensions.pop(OUR_EXTENSION, None)
    ours = ours if isinstance(ours, dict) else None
    book = data.get("character_book")
    if book is not None and not isinstance(book, dict):
        raise _not_a_card("“character_book” should be an object")

    rules, kept_book = _rules_from_book(book)
    if ours and ours.get("book_hash") == book_hash(book) and isinstance(ours.get("rules"), list):
        rules = [_rule_from_dict(r) for r in ours["rules"] if isinstance(r, dict)]
        if _is_kept_book(ours.get("book_kept")):
            kept_book = ours["book_kept"]

    persona.traits = _traits_from_personality(personality)
    if ours and isinstance(ours.get("persona"), dict):
        saved = Persona.from_dict({k: v for k, v in ours["persona"].items() if k in _OUR_FIELDS})
        for attr in _OUR_FIELDS:
            setattr(persona, attr, getattr(saved, attr))
        if ", ".join(saved.traits) != personality:  # edited elsewhere since we exported it
            persona.traits = _traits_from_personality(personality)
        persona.fine_tuned_model = str(ours.get("fine_tuned_model") or "")
        if (persona.system_prompt_override or "") != system_prompt:  # edited elsewhere since
            persona.system_prompt_override = system_prompt or None
    else:
        persona.system_prompt_override = system_prompt or None

    persona.extensions = {
        IMPORT_KEY: {
            "spec": spec,
            "extra": {}
            if spec == "chara_card_v1"
            else {k: copy.deepcopy(v) for k, v in data.items() if k not in _HANDLED},
            "top_extra": copy.deepcopy(top_extra),
            "extensions": copy.deepcopy(extensions),
            "book": kept_book,
        }
    }
    return ImportedCard(persona=persona, rules=rules, spec=spec)


def _is_kept_book(kept: Any) -> bool:
    if not isinstance(kept, dict) or not isinstance(kept.get("entries_kept"), list):
        return False
    return all(
        isinstance(item, dict)
        and isinstance(item.get("index"), int)
        and isinstance(item.get("entry"), dict)
        for item in kept["entries_kept"]
    )


def _rule_from_dict(raw: dict[str, Any]) -> Rule:
    def mapping(key: str, default: dict[str, Any]) -> dict[str, Any]:
        value = raw.get(key)
        return value if isinstance(value, dict) else default

    return Rule(
        trigger=mapping("trigger", {"kind": "always"}),
        action=mapping("action", {"kind": "refuse"}),
        name=str(raw.get("name", "")),
        enabled=bool(raw.get("enabled", True)),
        extras=mapping("extras", {}),
    )


def _rules_from_book(book: dict[str, Any] | None) -> tuple[list[Rule], dict[str, Any] | None]:
    """Lorebook entries that mean “when the message mentions X, keep Y in mind” become rules;
    the others (secondary keys, case-sensitive...) are kept verbatim."""
    if book is None:
        return [], None
    entries = book.get("entries", [])
    if not isinstance(entries, list):
        raise _not_a_card("the lorebook's “entries” should be a list")
    rules: list[Rule] = []
    kept_entries: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _not_a_card("a lorebook entry is not an object")
        rule = _rule_from_entry(entry, index)
        if rule is None:
            kept_entries.append({"index": index, "entry": copy.deepcopy(entry)})
        else:
            rules.append(rule)
    kept = {k: copy.deepcopy(v) for k, v in book.items() if k != "entries"}
    kept["entries_kept"] = kept_entries
    return rules, kept


def _rule_from_entry(entry: dict[str, Any], index: int) -> Rule | None:
    keys, content = entry.get("keys"), entry.get("content")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return None
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_FIELD_CHARS:
        return None
    if entry.get("case_sensitive") or (entry.get("selective") and entry.get("secondary_keys")):
        return None  # a rule cannot say this; keep the entry as it is
    if entry.get("constant") is True:
        trigger: dict[str, Any] = {"kind": "always"}
    elif entry.get("use_regex") is True:
        if len(keys) != 1:
            return None
        trigger = {"kind": "regex", "pattern": keys[0]}
    elif any(k.strip() for k in keys):
        trigger = keywords([k for k in keys if k.strip()], "any")
    else:
        return None
    if "enabled" in entry and not isinstance(entry["enabled"], bool):
        return None
    if "constant" in entry and not isinstance(entry["constant"], bool):
        return None
    extras = {k: copy.deepcopy(v) for k, v in entry.items() if k not in _ENTRY_RULE_KEYS}
    extras["book_index"] = index
    extras["had"] = sorted(k for k in _ENTRY_RULE_KEYS if k in entry)  # to write back the same keys
    if (trigger["kind"] == "keywords" and trigger["words"] != keys) or (
        trigger["kind"] == "always" and keys
    ):
        extras["keys"] = keys  # as they were: blank keys (`[""]`) included
    label = entry.get("name") or entry.get("comment") or ""
    return Rule(
        trigger=trigger,
        action={"kind": "inject_context", "text": content},
        name=str(label),
        enabled=entry.get("enabled", True),
        extras=extras,
    )


# ---- writing ---------------------------------------------------------------------------------


def _texts_or_none(value: object) -> list[str] | None:
    ok = isinstance(value, list) and all(type(v) is str for v in value)
    return value if ok else None  # type: ignore[return-value]


def _entry_from_rule(rule: Rule) -> dict[str, Any] | None:
    trigger, action = rule.trigger, rule.action
    if action.get("kind") != "inject_context":
        return None
    kind = trigger.get("kind")
    if kind == "keywords" and trigger.get("match", "any") == "any":
        keys, flags = trigger_words(trigger), {"constant": False}
    elif kind == "always":
        keys, flags = [], {"constant": True}
    elif kind == "regex":
        keys, flags = [str(trigger.get("pattern", ""))], {"use_regex": True, "constant": False}
    else:
        return None
    extras = dict(rule.extras)
    had = _texts_or_none(extras.pop("had", None))  # (a rule's extras may come from a file)
    extras.pop("book_index", None)
    original_keys = _texts_or_none(extras.pop("keys", None))
    if original_keys is not None and (
        kind == "always" or [k for k in original_keys if k.strip()] == keys
    ):
        keys = original_keys  # as imported, blank keys included
    entry: dict[str, Any] = {
        "keys": keys,
        "content": str(action.get("text", "")),
        "enabled": rule.enabled,
        **flags,
        **extras,
    }
    if had is not None:  # imported: write back exactly the keys it had
        for key in _ENTRY_RULE_KEYS - set(had):
            if key in entry and key not in ("keys", "content"):
                del entry[key]
        if "use_regex" in had:
            entry.setdefault("use_regex", False)  # a keyword entry said so: keep saying it
    else:
        entry.setdefault("insertion_order", 100)
        entry.setdefault("extensions", {})
        if rule.name:
            entry.setdefault("name", rule.name)
    return entry


def _book(persona: Persona, rules: list[Rule]) -> dict[str, Any] | None:
    kept = persona.extensions.get(IMPORT_KEY, {}).get("book")
    placed: list[tuple[float, int, dict[str, Any]]] = []
    for order, rule in enumerate(rules):
        entry = _entry_from_rule(rule)
        if entry is not None:
            placed.append((float(rule.extras.get("book_index", 10_000 + order)), 0, entry))
    if kept:
        for item in kept.get("entries_kept", []):
            placed.append((float(item["index"]), 1, copy.deepcopy(item["entry"])))
    if not placed and kept is None:
        return None
    book = {k: copy.deepcopy(v) for k, v in (kept or {}).items() if k != "entries_kept"}
    if kept is None:
        book = {"name": f"{persona.name} rules", "extensions": {}}
    book["entries"] = [entry for _pos, _kind, entry in sorted(placed, key=lambda p: p[:2])]
    return book


def card_data(persona: Persona, rules: list[Rule], *, dataset_hash: str = "") -> dict[str, Any]:
    """The `data` object shared by V2 and V3 cards."""
    imported = persona.extensions.get(IMPORT_KEY, {})
    data: dict[str, Any] = {k: copy.deepcopy(v) for k, v in imported.get("extra", {}).items()}
    for key, attr in _TEXT_FIELDS.items():
        data[key] = getattr(persona, attr)
    for key, attr in _LIST_FIELDS.items():
        data[key] = list(getattr(persona, attr))
    data["personality"] = ", ".join(persona.traits)
    # A card's system_prompt replaces the user's own main prompt in SillyTavern (the V2 spec
    # says front ends must): only the card's own or the creator's hand-written one goes there.
    # Ours, as composed, rides in our extension.
    data["system_prompt"] = persona.system_prompt_override or ""
    book = _book(persona, rules)
    if book is not None:
        data["character_book"] = book
    ours = {
        "version": 1,
        "fine_tuned_model": persona.fine_tuned_model,
        "dataset_hash": dataset_hash,
        "persona": {attr: copy.deepcopy(getattr(persona, attr)) for attr in _OUR_FIELDS},
        "rules": [
            {
                "name": r.name,
                "enabled": r.enabled,
                "trigger": r.trigger,
                "action": r.action,
                "extras": r.extras,
            }
            for r in rules
        ],
        "book_hash": book_hash(book),
        "system_prompt": persona.system_prompt(),
    }
    data["extensions"] = {**copy.deepcopy(imported.get("extensions", {})), OUR_EXTENSION: ours}
    return data


def _top(persona: Persona, data: dict[str, Any]) -> dict[str, Any]:
    """What goes beside `spec` and `data`: the imported card's other top-level keys, with the
    V1 mirror fields (name, description…) brought up to date where the card had them."""
    imported = persona.extensions.get(IMPORT_KEY, {})
    top = copy.deepcopy(imported.get("top_extra", {}))
    v1 = imported.get("spec") == "chara_card_v1"
    for key in sorted(_V1_KEYS):
        if v1 or key in top:
            top[key] = data.get(key, "")
    return top


def card_v2(persona: Persona, rules: list[Rule], *, dataset_hash: str = "") -> dict[str, Any]:
    data = card_data(persona, rules, dataset_hash=dataset_hash)
    return {**_top(persona, data), "spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def card_v3(persona: Persona, rules: list[Rule], *, dataset_hash: str = "") -> dict[str, Any]:
    data = card_data(persona, rules, dataset_hash=dataset_hash)
    now = int(time.time())
    data.setdefault("group_only_greetings", [])
    data.setdefault("assets", [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}])
    data.setdefault("creation_date", now)
    data["modification_date"] = now  # this export is a modification (the V3 spec's meaning)
    return {**_top(persona, data), "spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def card_png(
    persona: Persona, rules: list[Rule], avatar_png: bytes, *, dataset_hash: str = ""
) -> bytes:
    return png_with_card(
        avatar_png,
        card_v2(persona, rules, dataset_hash=dataset_hash),
        card_v3(persona, rules, dataset_hash=dataset_hash),
    )


def card_json_bytes(card: dict[str, Any]) -> bytes:
    return _json_bytes(card)
