"""The near-duplicate search's band keys kept on disk between runs: a project opened again is
not signed again, the groups are those found without the store, and a store that is damaged,
full, busy, of another scheme or out of reach never costs more than the signing."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from persona_studio.core import duplicates
from persona_studio.core.band_key_store import BandKeyStore, text_keys
from persona_studio.core.duplicates import DuplicateIndex, band_key_store, near_duplicate_groups


def some_texts() -> list[str | tuple[str, str]]:
    rng = random.Random(8)
    words = [f"w{i}" for i in range(50)]
    texts: list[str | tuple[str, str]] = [" ".join(rng.choices(words, k=12)) for _ in range(200)]
    texts += [t + " w1" for t in texts[:30]]  # near duplicates
    pairs = [
        (" ".join(rng.choices(words, k=5)), " ".join(rng.choices(words, k=9))) for _ in range(60)
    ]
    texts += pairs + [(q, a + " w2") for q, a in pairs[:10]]  # pairs, as the check keeps them
    return [*texts, "", "!!", ("", "")]  # texts without words


@pytest.fixture
def signed(monkeypatch) -> list[list]:
    """The texts each call of `_signatures` signed."""
    calls: list[list] = []
    real = duplicates._signatures

    def spy(texts, words, progress):
        calls.append(list(texts))
        return real(texts, words, progress)

    monkeypatch.setattr(duplicates, "_signatures", spy)
    return calls


def groups(texts: list, store: BandKeyStore | None) -> list[list[int]]:
    """The groups a new index finds, its band keys then kept (as the worker does)."""
    index = DuplicateIndex(store=store)
    found = near_duplicate_groups(texts, index=index)
    index.keep_signed()
    return found


def test_a_new_run_reads_the_band_keys_kept_and_finds_the_same_groups(tmp_path, signed) -> None:
    texts = some_texts()
    expected = groups(texts, None)
    assert len(expected) >= 40
    signed.clear()
    first = band_key_store(tmp_path / "keys.sqlite")
    assert groups(texts, first) == expected
    assert sum(map(len, signed)) == len(set(texts))  # every text signed once, and kept
    first.close()

    signed.clear()
    again = band_key_store(tmp_path / "keys.sqlite")  # the app run again: a new worker
    assert groups(texts, again) == expected
    assert signed == []  # nothing signed: every text's band keys came from the file
    more = [*texts, "a text never seen before here", ("new question?", "A new answer.")]
    index = DuplicateIndex(store=again)
    near_duplicate_groups(texts, index=index)
    assert near_duplicate_groups(more, index=index) == groups(more, None)
    assert sorted(map(str, signed[0])) == sorted(map(str, more[-2:]))  # only the new ones


def test_a_pairs_key_tells_its_question_from_its_answer() -> None:
    keys = text_keys([("ab", "c"), ("a", "bc"), "abc", "ab\nc", ("", "abc")])
    assert len(set(keys)) == 5 and all(len(k) == 16 for k in keys)
    assert text_keys(["é", ("\ud800", "x")]) == text_keys(["é", ("\ud800", "x")])  # any text


def test_a_damaged_store_is_made_afresh(tmp_path, signed) -> None:
    path = tmp_path / "keys.sqlite"
    path.write_bytes(b"not a database " * 500)
    texts = some_texts()
    store = band_key_store(path)
    assert groups(texts, store) == groups(texts, None)
    assert not store.broken and len(store.look_up(text_keys(texts))) == len(set(texts))
    store.close()
    with sqlite3.connect(path) as db:  # a store of its own now
        assert db.execute("SELECT COUNT(*) FROM band_keys").fetchone()[0] == len(set(texts))


def test_a_store_out_of_reach_is_let_go_and_the_texts_are_signed(tmp_path, signed) -> None:
    (tmp_path / "a file").write_text("")
    store = band_key_store(tmp_path / "a file" / "keys.sqlite")  # its folder cannot be made
    texts = some_texts()
    assert groups(texts, store) == groups(texts, None)
    assert store.broken and store.look_up(text_keys(texts[:3])) == {}


def test_another_scheme_or_a_full_store_starts_afresh(tmp_path) -> None:
    path = tmp_path / "keys.sqlite"
    keys = text_keys([f"t{n}" for n in range(6)])
    store = BandKeyStore(path, "scheme 1", value_sizes=(0, 3), max_texts=5)
    store.keep([(k, b"abc") for k in keys[:4]])
    assert len(store.look_up(keys)) == 4
    store.keep([(k, b"") for k in keys[4:6]])  # 6 > 5: it starts afresh with these
    assert store.look_up(keys) == {keys[4]: b"", keys[5]: b""}
    store.close()
    other = BandKeyStore(path, "scheme 2", value_sizes=(0, 3))
    assert other.look_up(keys) == {}  # signed another way: not used, and cleared
    other.close()
    assert BandKeyStore(path, "scheme 1", value_sizes=(0, 3)).look_up(keys) == {}


def test_an_entry_of_another_size_is_signed_again(tmp_path, signed) -> None:
    path = tmp_path / "keys.sqlite"
    texts = some_texts()
    store = band_key_store(path)
    expected = groups(texts, store)
    store.close()
    with sqlite3.connect(path) as db:  # the file was changed by hand, or is from a bad write
        db.execute("UPDATE band_keys SET value = x'0102' WHERE key = ?", text_keys(texts[:1]))
    signed.clear()
    assert groups(texts, band_key_store(path)) == expected
    assert signed == [[texts[0]]]


def test_a_store_another_app_is_writing_is_read_and_not_waited_for(tmp_path, signed) -> None:
    path = tmp_path / "keys.sqlite"
    texts = some_texts()
    store = band_key_store(path)
    groups(texts[:100], store)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another copy of the app, writing
    try:
        assert groups(texts, store) == groups(texts, None)  # its new keys not kept: busy
        assert not store.broken
        assert len(store.look_up(text_keys(texts))) == len(set(texts[:100]))
    finally:
        other.execute("ROLLBACK")
        other.close()
    groups(texts, store)
    assert len(store.look_up(text_keys(texts))) == len(set(texts))  # kept once it could


def test_band_keys_from_the_store_are_those_signed(tmp_path) -> None:
    texts = some_texts()
    store = band_key_store(tmp_path / "keys.sqlite")
    index = DuplicateIndex(store=store)
    near_duplicate_groups(texts, index=index)
    assert store.look_up(text_keys(texts)) == {}  # kept when asked (the worker: after its report)
    index.keep_signed()
    fresh = DuplicateIndex()
    near_duplicate_groups(texts, index=fresh)
    kept = store.look_up(text_keys(texts))
    for text, key in zip(texts, text_keys(texts), strict=True):
        slot = fresh.keys[text]
        assert kept[key] == (fresh._band_keys[slot].tobytes() if slot >= 0 else b"")


def test_the_store_lives_in_the_users_cache_folder(isolated_home: Path) -> None:
    from persona_studio.services.check_process import CheckProcess

    assert (
        CheckProcess().store
        == isolated_home / "cache" / "persona-studio" / "near-duplicates.sqlite"
    )


def test_signed_keys_are_kept_a_batch_at_a_time_until_asked_to_stop(tmp_path, monkeypatch) -> None:
    """The worker keeps them after its report, until the app's next message comes; a text gone
    meanwhile is not kept."""
    monkeypatch.setattr(DuplicateIndex, "BATCH", 100)
    texts = list(dict.fromkeys(some_texts()))
    store = band_key_store(tmp_path / "keys.sqlite")
    index = DuplicateIndex(store=store)
    near_duplicate_groups(texts, index=index)
    asked: list[int] = []
    index.keep_signed(stop=lambda: len(asked) > 1 or bool(asked.append(1)))
    assert len(store.look_up(text_keys(texts))) == 200  # two batches, then the app's message
    index.discard(texts[250:])
    index.keep_signed()
    assert set(store.look_up(text_keys(texts))) == set(text_keys(texts[:250]))
    index.keep_signed()  # nothing left to keep


def test_the_store_holds_none_of_the_text(tmp_path) -> None:
    """What the README promises: a hash of each text and its band keys, no words."""
    texts = [f"My secret coaching method number {n}, told to nobody" for n in range(300)]
    store = band_key_store(tmp_path / "keys.sqlite")
    groups(texts, store)
    store.close()
    written = b"".join(p.read_bytes() for p in tmp_path.glob("keys.sqlite*"))
    assert len(written) > 300 * 80  # (the entries are there)
    for word in (b"secret", b"coaching", b"nobody", "secret".encode("utf-16-le")):
        assert word not in written


def test_damage_found_in_use_lets_the_store_go_and_the_next_run_makes_it_afresh(tmp_path) -> None:
    import os

    path = tmp_path / "keys.sqlite"
    keys = [os.urandom(16) for _ in range(60_000)]  # ~6 MB: more than SQLite's page cache
    store = BandKeyStore(path, "s", value_sizes=(0, 64))
    store.keep([(k, bytes(64)) for k in keys])
    store.close()
    store = BandKeyStore(path, "s", value_sizes=(0, 64))
    assert store.holds_any  # opened, and counted
    with open(path, "r+b") as file:  # then damaged while in use (a failing disk, say)
        file.seek(4 * 4096)
        file.write(b"\xff" * (path.stat().st_size - 4 * 4096))
    assert store.look_up(keys) == {} and store.broken
    again = BandKeyStore(path, "s", value_sizes=(0, 64))  # the next run
    assert not again.holds_any and not again.broken
    again.keep([(keys[0], b"")])
    assert again.look_up(keys[:1]) == {keys[0]: b""}
