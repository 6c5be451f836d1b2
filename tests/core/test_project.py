"""The project file: round trip, migrations, refusal of foreign, newer, damaged or open files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import (
    APPLICATION_ID,
    MIGRATIONS,
    CorruptProjectError,
    NewerVersionError,
    NotAProjectError,
    Project,
    ProjectError,
    ProjectLockedError,
    ProjectNotFoundError,
    schema_version,
)
from persona_studio.core.rules import Rule
from tests.conftest import damage_an_index


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file in the folder and its content hash: proves 'nothing changed on disk'."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    persona = Persona(
        name="Ada",
        description="A patient maths tutor",
        traits=["patient"],
        extensions={"from_other_tool": {"x": 1}},
    )
    with Project.create(
        tmp_path / "ada.persona",
        persona,
        examples=[Example.from_qa("What is 2+2?", "Four.", status="approved", tags=["easy"])],
        rules=[
            Rule(
                trigger={"kind": "always"},
                action={"kind": "inject_context", "text": "Be kind"},
                name="kindness",
            )
        ],
    ):
        pass
    return tmp_path / "ada.persona"


def test_round_trip_keeps_everything(project_path: Path) -> None:
    with Project.open(project_path) as project:
        persona = project.persona()
        assert persona.name == "Ada"
        assert persona.traits == ["patient"]
        assert persona.extensions == {"from_other_tool": {"x": 1}}
        (example,) = project.examples()
        assert (example.question, example.answer, example.status, example.tags) == (
            "What is 2+2?",
            "Four.",
            "approved",
            ["easy"],
        )
        (rule,) = project.rules()
        assert rule.name == "kindness" and rule.action["text"] == "Be kind"

        project.set_persona_fields(greeting="Hello!", traits=["patient", "precise"])
        project.add_examples([Example.from_qa("Ünïcode? 🙂", "Yes — “quotes” too.")])
        example.status = "rejected"
        project.update_example(example)
        project.set_avatar(b"\x89PNG fake", "image/png")
        project.set_sync_value("synced_at", "10:42")

    with Project.open(project_path) as project:
        persona = project.persona()
        assert persona.greeting == "Hello!" and persona.traits == ["patient", "precise"]
        assert [e.status for e in project.examples()] == ["rejected", "draft"]
        assert project.examples()[1].question == "Ünïcode? 🙂"
        assert project.avatar() == (b"\x89PNG fake", "image/png")
        assert project.sync_value("synced_at") == "10:42"
        counts = project.counts()
        assert (counts.examples, counts.approved, counts.rules, counts.jobs) == (2, 0, 1, 0)
        assert project.delete_examples([example.id]) == 1
        assert project.counts().examples == 1


def test_file_is_a_wal_sqlite_database_with_our_identity(project_path: Path) -> None:
    header = project_path.read_bytes()[:100]
    assert header.startswith(b"SQLite format 3\x00")
    assert header[18] == header[19] == 2  # WAL
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
    assert int.from_bytes(header[60:64], "big") == schema_version()


def test_create_refuses_to_overwrite(project_path: Path) -> None:
    before = _fingerprint(project_path.parent)
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(project_path, Persona(name="Other"))
    assert _fingerprint(project_path.parent) == before


def test_create_in_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        Project.create(tmp_path / "nope" / "x.persona")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", NotAProjectError),
        (b"question,answer\nhi,hello\n", NotAProjectError),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, NotAProjectError),
    ],
)
def test_foreign_files_are_refused_unchanged(tmp_path: Path, content: bytes, error: type) -> None:
    path = tmp_path / "thing.persona"
    path.write_bytes(content)
    before = _fingerprint(tmp_path)
    with pytest.raises(error) as info:
        Project.open(path)
    assert "not a Persona Studio project" in info.value.message
    assert info.value.hint
    assert _fingerprint(tmp_path) == before


def test_another_sqlite_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(x)")
    db.commit()
    db.close()
    before = _fingerprint(tmp_path)
    with pytest.raises(NotAProjectError, match="not a Persona Studio project"):
        Project.open(path)
    assert _fingerprint(tmp_path) == before


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError):
        Project.open(tmp_path / "missing.persona")
    with pytest.raises(NotAProjectError, match="folder"):
        Project.open(tmp_path)


def test_newer_version_is_refused_unchanged(project_path: Path) -> None:
    db = sqlite3.connect(project_path)
    db.execute(f"PRAGMA user_version = {schema_version() + 1}")
    db.commit()
    db.close()
    before = _fingerprint(project_path.parent)
    with pytest.raises(NewerVersionError, match="newer Persona Studio") as info:
        Project.open(project_path)
    assert "Update Persona Studio" in info.value.hint
    assert _fingerprint(project_path.parent) == before


def test_truncated_file_is_reported_as_damaged_and_left_alone(project_path: Path) -> None:
    data = project_path.read_bytes()
    project_path.write_bytes(data[: len(data) // 2])
    before = _fingerprint(project_path.parent)
    with pytest.raises(CorruptProjectError, match="damaged"):
        Project.open(project_path)
    assert _fingerprint(project_path.parent) == before


def test_scrambled_pages_are_reported_as_damaged(project_path: Path) -> None:
    data = bytearray(project_path.read_bytes())
    page = 4096
    for offset in range(page, len(data), 97):
        data[offset] ^= 0x5A
    project_path.write_bytes(bytes(data))
    before = _fingerprint(project_path.parent)
    with pytest.raises(CorruptProjectError):
        Project.open(project_path)
    assert _fingerprint(project_path.parent) == before


def _large_project(path: Path, n: int = 3_000) -> list[Example]:
    examples = [
        Example.from_qa(f"Question {i}?", f"Answer {i}.", status="approved" if i % 2 else "draft")
        for i in range(n)
    ]
    with Project.create(path, Persona(name="Big")) as project:
        project.add_examples(examples)
    return examples


def test_open_and_read_checks_for_damage_while_it_reads(tmp_path: Path) -> None:
    """Issue 21: at 1,000,000 examples the damage check (~1 s) ran before the read; it now runs
    beside it, and the file and its examples are the same as a plain open's."""
    path = tmp_path / "big.persona"
    examples = _large_project(path)
    project, read, positions = Project.open_and_read(path)
    with project:
        assert [ex.id for ex in read] == [ex.id for ex in examples]
        assert read == project.examples() and positions.keys() == {ex.id for ex in examples}
        assert not project._unchecked  # checked, and found sound
        project.set_persona_fields(name="Written after the check")
    with Project.open(path) as again:
        assert again.persona().name == "Written after the check"


@pytest.mark.parametrize("damage", ["index", "scrambled", "truncated"])
def test_open_and_read_refuses_a_damaged_file_and_leaves_it_alone(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "big.persona"
    _large_project(path)
    if damage == "index":
        damage_an_index(path)
    else:
        data = bytearray(path.read_bytes())
        if damage == "truncated":
            data = data[: len(data) // 2]
        else:
            for offset in range(4096, len(data), 97):
                data[offset] ^= 0x5A
        path.write_bytes(bytes(data))
    before = _fingerprint(tmp_path)
    with pytest.raises(CorruptProjectError, match="damaged"):
        Project.open_and_read(path)
    assert _fingerprint(tmp_path) == before  # byte for byte, nothing beside it
    with pytest.raises(CorruptProjectError):  # closed: refused again, not "already open"
        Project.open_and_read(path)


def test_nothing_is_written_before_a_check_left_for_later_has_passed(tmp_path: Path) -> None:
    path = tmp_path / "big.persona"
    _large_project(path)
    damage_an_index(path)
    before = _fingerprint(tmp_path)
    project = Project.open(path, _check_later=True)  # as `open_and_read` opens it
    try:
        with pytest.raises(CorruptProjectError):
            project.set_persona_fields(name="Never written")
        with pytest.raises(CorruptProjectError):  # and it stays refused
            project.set_persona_fields(name="Never written")
    finally:
        project.close()
    assert _fingerprint(tmp_path) == before


def test_open_twice_in_one_process_is_refused(project_path: Path) -> None:
    with Project.open(project_path) as first:
        with pytest.raises(ProjectLockedError, match="already open"):
            Project.open(project_path)
        first.set_persona_fields(name="Still mine")
    with Project.open(project_path) as again:
        assert again.persona().name == "Still mine"


def test_open_in_another_process_is_refused(project_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from persona_studio.core.project import Project\n"
            f"p = Project.open({str(project_path)!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ProjectLockedError):
            Project.open(project_path)
    finally:
        holder.stdin.close()
        holder.wait(10)
    Project.open(project_path).close()  # the lock went with the process


def test_migration_upgrades_and_keeps_a_backup(project_path: Path) -> None:
    def add_votes(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE votes (id TEXT PRIMARY KEY, value INTEGER NOT NULL)")

    migrations = (*MIGRATIONS, add_votes)
    with Project.open(project_path, migrations=migrations) as project:
        assert project.persona().name == "Ada"  # data survived
        project._db.execute("INSERT INTO votes VALUES ('a', 1)")
    header = project_path.read_bytes()[:100]
    assert int.from_bytes(header[60:64], "big") == len(migrations)
    backup = project_path.with_name(f"{project_path.name}.v{len(MIGRATIONS)}.bak")
    with Project.open(backup) as old:  # the backup is the untouched previous version
        assert old.persona().name == "Ada"
        tables = {r[0] for r in old._db.execute("SELECT name FROM sqlite_master")}
        assert "votes" not in tables
    # the current app sees the migrated file as newer and refuses it, unchanged
    with pytest.raises(NewerVersionError):
        Project.open(project_path)


def test_failed_migration_rolls_back(project_path: Path) -> None:
    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Project.open(project_path, migrations=(*MIGRATIONS, broken))
    with Project.open(project_path) as project:  # still a valid current-version project
        tables = {r[0] for r in project._db.execute("SELECT name FROM sqlite_master")}
        assert "half" not in tables


def test_save_copy_is_complete_and_independent(project_path: Path, tmp_path: Path) -> None:
    copy_path = tmp_path / "copy.persona"
    with Project.open(project_path) as project:
        project.set_persona_fields(name="Before copy")
        project.save_copy(copy_path)
        project.set_persona_fields(name="After copy")
        with Project.open(copy_path) as copy:  # not locked by the original
            assert copy.persona().name == "Before copy"
            assert copy.counts().examples == 1
        with pytest.raises(ProjectError, match="cannot replace"):
            project.save_copy(project_path)


def test_a_copy_says_how_far_it_is_and_stops_when_its_progress_raises(
    tmp_path: Path, monkeypatch
) -> None:
    """A copy of 1,000,000 examples is ~760 MB: a minute to a slow USB stick. The window
    shows its percent and a Stop, which makes the next word of progress raise."""
    from persona_studio.core.errors import Stopped
    from persona_studio.core.project import project as project_module

    monkeypatch.setattr(project_module, "COPY_PAGES", 2)
    examples = [Example.from_qa(f"Question {i}? " * 20, f"Answer {i}. " * 40) for i in range(300)]
    with Project.create(
        tmp_path / "big.persona", Persona(name="Ada"), examples=examples
    ) as project:
        shares: list[float] = []
        project.save_copy(tmp_path / "copy.persona", shares.append)
        assert shares == sorted(shares) and len(shares) > 10 and shares[-1] == 1.0
        with Project.open(tmp_path / "copy.persona") as copied:
            assert copied.counts().examples == 300

        def stop_halfway(share: float) -> None:
            if share > 0.5:
                raise Stopped

        with pytest.raises(Stopped):
            project.save_copy(tmp_path / "stopped.persona", stop_halfway)
        assert sorted(p.name for p in tmp_path.iterdir() if "stopped" in p.name) == []


def test_unknown_persona_field_is_a_programming_error(project_path: Path) -> None:
    with Project.open(project_path) as project, pytest.raises(ValueError):
        project.set_persona_fields(nonsense=1)


def _old_file(path: Path, version: int, *rows: tuple[str, tuple[object, ...]]) -> Path:
    """A project file as an earlier version made it (schema `version`), named "Old", with
    these (SQL, parameters) statements run in it."""
    from persona_studio.core.project.files import atomic_sqlite_file
    from persona_studio.core.project.schema import apply_migrations

    def fill(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        apply_migrations(db, 0, MIGRATIONS[:version])
        db.execute("INSERT INTO persona VALUES ('name', '\"Old\"')")
        for sql, parameters in rows:
            db.execute(sql, parameters)

    atomic_sqlite_file(path, fill)
    return path


def test_a_version_1_file_is_upgraded_and_its_rules_gain_extras(tmp_path: Path) -> None:
    rule = (
        "INSERT INTO rules(id, position, enabled, name, trigger, action, updated_at) "
        "VALUES ('r1', 0, 1, 'old rule', '{\"kind\": \"always\"}', "
        '\'{"kind": "refuse", "text": "no"}\', \'now\')'
    )
    path = _old_file(tmp_path / "old.persona", 1, (rule, ()))
    assert int.from_bytes(path.read_bytes()[60:64], "big") == 1
    with Project.open(path) as project:
        (rule,) = project.rules()
        assert (rule.name, rule.extras) == ("old rule", {})
        project.replace_rules(
            [
                Rule(
                    trigger={"kind": "always"},
                    action={"kind": "refuse", "text": "x"},
                    extras={"insertion_order": 3},
                )
            ]
        )
        assert project.rules()[0].extras == {"insertion_order": 3}
    assert int.from_bytes(path.read_bytes()[60:64], "big") == schema_version() == 5
    assert path.with_name("old.persona.v1.bak").exists()


def test_a_version_4_files_sheet_snapshot_becomes_one_row_per_example(tmp_path: Path) -> None:
    """Schema 5: the sync snapshot moves from one JSON value into `sync_rows`; a sync then
    writes only the rows that changed, and a new sheet's sync starts a new snapshot."""
    snapshot = {"r1": {"id": "r1", "question": "Q1?"}, "r2": {"id": "r2", "question": "Ü?"}}
    state = "INSERT INTO sync_state VALUES (?, ?)"
    path = _old_file(
        tmp_path / "synced.persona",
        4,
        (state, ("snapshot", json.dumps(snapshot))),
        (state, ("sheet", json.dumps({"key": "k", "worksheet": "D"}))),
    )
    with Project.open(path) as project:
        assert project.sync_snapshot() == snapshot
        assert project.sync_value("sheet") == {"key": "k", "worksheet": "D"}
        assert project.sync_value("snapshot") is None  # moved, not copied
        link = {"key": "k", "worksheet": "D"}
        project.apply_sync([], [], {"r2": None, "r3": {"id": "r3"}}, link)
        assert project.sync_snapshot() == {"r1": snapshot["r1"], "r3": {"id": "r3"}}
        project.apply_sync([], [], {"n1": {"id": "n1"}}, {"key": "k2"}, new_snapshot=True)
        assert project.sync_snapshot() == {"n1": {"id": "n1"}}


def test_a_damaged_version_4_snapshot_does_not_keep_the_project_closed(tmp_path: Path) -> None:
    """Schema 5 reads the old snapshot to move it: damaged, it is dropped (the next sync merges
    afresh and asks about differences), and the project opens with everything else."""
    state = "INSERT INTO sync_state VALUES (?, ?)"
    path = _old_file(
        tmp_path / "damaged.persona",
        4,
        (state, ("snapshot", '{"r1": {broken')),
        (state, ("sheet", '{"key": "k"}')),
    )
    with Project.open(path) as project:
        assert project.persona().name == "Old" and project.sync_snapshot() == {}
        assert project.sync_value("sheet") == {"key": "k"}
        project._db.execute("INSERT INTO sync_rows VALUES ('r2', 'not json'), ('r3', '[1]')")
        project._db.execute("INSERT INTO sync_rows VALUES ('r4', '{\"id\": \"r4\"}')")
        assert project.sync_snapshot() == {"r4": {"id": "r4"}}  # the damaged rows left out


def test_a_full_disk_is_our_error_and_leaves_the_file_whole(tmp_path: Path) -> None:
    """SQLITE_FULL raised by a statement (not only by COMMIT) rolls back and is a plain
    ProjectError, for the CLI's one line and the window's "Not saved"."""
    from persona_studio.core.dataset import Example

    with Project.create(tmp_path / "full.persona", Persona(name="Full")) as project:
        project.add_examples([Example.from_qa("Kept?", "Yes.")])
        pages = project._db.execute("PRAGMA page_count").fetchone()[0]
        project._db.execute(f"PRAGMA max_page_count = {pages}")
        many = [Example.from_qa(f"Q{n}? " + "z" * 3000, "A.") for n in range(40)]
        with pytest.raises(ProjectError, match="full") as info:
            project.add_examples(many)
        assert "disk space" in info.value.hint
        assert not project._db.in_transaction
        assert [e.question for e in project.examples()] == ["Kept?"]


def test_creating_a_project_on_a_full_disk_is_our_error(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    import persona_studio.core.project.project as project_module

    def full(_dest, _fill) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(project_module, "atomic_sqlite_file", full)
    with pytest.raises(ProjectError, match="full") as info:
        Project.create(tmp_path / "new.persona", Persona(name="New"))
    assert "Nothing was written" in info.value.hint
    assert not (tmp_path / "new.persona").exists()


def _crash_copy(tmp_path: Path) -> Path:
    """A project as a killed app leaves it: the file and a -wal holding recent commits."""
    import shutil

    from persona_studio.core.dataset import Example

    source = tmp_path / "live.persona"
    live = Project.create(source, Persona(name="Crash"))
    live.add_examples([Example.from_qa(f"Question {n}?" * 10, "A" * 400) for n in range(150)])
    crashed = tmp_path / "crashed.persona"
    shutil.copy(source, crashed)
    shutil.copy(f"{source}-wal", f"{crashed}-wal")
    live.close()
    return crashed


def test_opening_a_damaged_project_with_a_wal_writes_nothing(tmp_path: Path) -> None:
    import hashlib

    path = _crash_copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[8192 : 8192 + 300] = b"\xab" * 300  # a damaged page
    path.write_bytes(bytes(data))
    wal = Path(f"{path}-wal")

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    before = (digest(path), digest(wal))
    with pytest.raises(CorruptProjectError) as info:
        Project.open(path)
    assert "was not changed" in info.value.hint and "backup next to it" not in info.value.hint
    assert wal.exists() and (digest(path), digest(wal)) == before  # byte for byte
    assert sorted(p.name for p in tmp_path.iterdir() if "before-open" in p.name) == []


def test_a_crashed_healthy_project_recovers_its_wal_and_leaves_no_copies(tmp_path: Path) -> None:
    path = _crash_copy(tmp_path)
    with Project.open(path) as project:
        assert project.counts().examples == 150  # the commits in the -wal are there
    assert [p.name for p in tmp_path.iterdir() if "before-open" in p.name] == []


def test_a_damaged_row_is_left_out_reported_and_left_untouched(tmp_path: Path) -> None:
    """Issue 15 item 3: one damaged row made the whole dataset unreadable (an empty grid)."""
    from persona_studio.core.dataset import Example

    path = tmp_path / "rows.persona"
    with Project.create(path, Persona(name="Rows")) as project:
        project.add_examples([Example.from_qa(f"Q{n}?", "A.") for n in range(4)])
        bad, bad_tags = project.examples()[1].id, project.examples()[3].id
    db = sqlite3.connect(path)
    db.execute("UPDATE examples SET messages = '[{\"role\": broken' WHERE id = ?", (bad,))
    db.execute("UPDATE examples SET tags = '{\"a\": 1}' WHERE id = ?", (bad_tags,))
    db.commit()
    db.close()
    with Project.open(path) as project:
        # the first rows, shown while all are read: the damaged left out, reported by the read
        assert [e.question for e in project.first_examples(3)] == ["Q0?", "Q2?"]
        assert [e.question for e in project.examples()] == ["Q0?", "Q2?"]
        assert project.damaged_example_ids == [bad, bad_tags]
        project.add_examples([Example.from_qa("Q3?", "A.")])  # editing the rest works
    raw = sqlite3.connect(path).execute("SELECT messages FROM examples WHERE id = ?", (bad,))
    assert raw.fetchone()[0] == '[{"role": broken'  # left exactly as it was


def test_a_row_nested_past_the_decoders_limit_is_a_damaged_row(tmp_path: Path) -> None:
    """json decodes nesting by recursion: a row of 100,000 "[" raised RecursionError, which
    no reader caught, and no example of the project could be read."""
    path = tmp_path / "nested.persona"
    with Project.create(path, Persona(name="Nested")) as project:
        project.add_examples([Example.from_qa(f"Q{n}?", "A.") for n in range(3)])
        bad = project.examples()[2].id
    db = sqlite3.connect(path)
    db.execute("UPDATE examples SET messages = ? WHERE id = ?", ("[" * 100_000, bad))
    db.commit()
    db.close()
    with Project.open(path) as project:
        assert [e.question for e in project.examples()] == ["Q0?", "Q1?"]
        assert project.damaged_example_ids == [bad]


def test_loaded_examples_share_keys_statuses_and_tags_and_odd_ones_stay_as_written(
    tmp_path: Path,
) -> None:
    """Issue 21: JSON decoding made new "role" and "content" keys for every message (~45 MB at
    100,000 examples), and new statuses and tags for every example. Loaded, plain messages
    share the keys, and examples their statuses and tag texts (each its own list); any other
    shape (more keys, a role that is not text) loads exactly as it was written, and so does
    what the fast decoder refuses (a lone surrogate, a number past 64 bits)."""
    odd = [
        {"role": "user", "content": "Q?", "name": "ada"},
        {"role": ["assistant"], "content": "A."},
        {"role": "assistant"},
        "not a message",
    ]
    surrogate = [{"role": "user", "content": "broken \ud800 text"}, {"role": "assistant"}]
    big = [{"role": "user", "content": "Q?", "weight": 10**30}]
    path = tmp_path / "shared.persona"
    saved = "2026-12-04T10:00:00.000+00:00"
    written = [
        Example.from_qa(f"Q{n}?", f"A{n}.", status="approved", tags=["warm", "short"])
        for n in range(3)
    ]
    written += [
        Example(messages=m, status="draft", updated_at=saved) for m in (odd, surrogate, big)
    ]
    Project.create(path, Persona(name="Shared"), examples=written).close()
    with Project.open(path) as project:
        loaded, positions = project.examples_and_positions()
        assert positions == project.example_positions()
    assert [(e.id, e.messages, e.status, e.tags) for e in loaded] == [
        (e.id, e.messages, e.status, e.tags) for e in written
    ]
    first, second = loaded[0].messages, loaded[1].messages
    for a, b in zip(first, second, strict=True):
        assert [id(k) for k in a] == [id(k) for k in b]  # the same key objects
    assert loaded[0].status is loaded[1].status
    assert loaded[0].tags is not loaded[1].tags
    assert all(a is b for a, b in zip(loaded[0].tags, loaded[1].tags, strict=True))
    assert [e.updated_at for e in loaded] == [e.updated_at for e in written]
    assert loaded[3].updated_at is loaded[4].updated_at is loaded[5].updated_at  # one text
    assert [positions[e.id] for e in loaded] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(next(k for k in positions if k == e.id) is e.id for e in loaded)


def test_examples_are_read_a_slice_at_a_time_in_order_past_a_damaged_row(
    tmp_path: Path, monkeypatch
) -> None:
    """Reading frees each slice of rows before it makes the next slice's examples (at
    1,000,000 the rows, freed at the end, left ~240 MB held in the process)."""
    from persona_studio.core.project import examples as examples_store

    monkeypatch.setattr(examples_store, "_SLICE", 2)
    path = tmp_path / "slices.persona"
    written = [Example.from_qa(f"Q{n}?", f"A{n}.") for n in range(7)]
    Project.create(path, Persona(name="Slices"), examples=written).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE examples SET messages = '[' WHERE id = ?", (written[3].id,))
    db.close()
    rows = [("a", "[]", "draft", "[]", None, "", None, "t", 0.0)] * 5
    assert len(examples_store._examples_of(rows, [])) == 5 and rows == [None] * 5
    with Project.open(path) as project:
        loaded = project.examples()
        assert project.damaged_example_ids == [written[3].id]
    assert [e.question for e in loaded] == [f"Q{n}?" for n in (0, 1, 2, 4, 5, 6)]


def test_loaded_examples_hold_their_messages_as_the_files_text_until_changed(
    tmp_path: Path,
) -> None:
    """Issue 21: decoded, a million examples' messages took ~1 GB more than their text. A
    loaded example holds the file's text; reading (the grid, search, a copy, a pickle to the
    check's worker) keeps it so; only a use that may change the messages decodes them, and a
    save writes the same text back until then. Rows that are not plain texts (and so would
    not decode the same with the fast decoder) are decoded at once."""
    import copy
    import pickle

    odd = [{"role": "user", "content": "Q?", "weight": 10**30}]
    path = tmp_path / "held.persona"
    written = [Example.from_qa(f'Q{n}? "quoted"', f"A{n}.\nsecond line") for n in range(3)]
    written.append(Example(messages=odd))
    Project.create(path, Persona(name="Held"), examples=written).close()
    raw = _messages_columns(path)
    with Project.open(path) as project:
        loaded = project.examples()
        first = loaded[0]
        assert first.messages_json() == raw[first.id]
        assert first.read_messages() == written[0].messages
        assert (first.question, first.answer, first.turn_count) == (
            written[0].question,
            written[0].answer,
            2,
        )
        for carried in (pickle.loads(pickle.dumps(first)), copy.deepcopy(first)):
            assert carried.messages_json() == raw[first.id]
            assert carried.messages == written[0].messages
        shallow = copy.copy(first)  # (an edit of its status, approving 33,000 at once)
        assert shallow.messages_json() == raw[first.id] and shallow.tags is first.tags
        shallow.status = "approved"
        assert first.status == "draft" and shallow.question == first.question
        assert first.messages_json() == raw[first.id]  # none of that decoded it for good
        assert loaded[3].messages_json() is None and loaded[3].messages == odd  # exactly

        project.update_examples([first])  # unchanged: the same text goes back

        edited = copy.deepcopy(loaded[1])
        edited.messages[1]["content"] = "A new answer."  # decoded for good, then changed
        assert edited.messages_json() is None and edited.answer == "A new answer."
        assert loaded[1].answer == "A1.\nsecond line"  # the copy's change is its own
        project.update_examples([edited])
    assert _messages_columns(path)[first.id] == raw[first.id]
    with Project.open(path) as project:
        assert [e.answer for e in project.examples()][:3] == [
            "A0.\nsecond line",
            "A new answer.",
            "A2.\nsecond line",
        ]


def _messages_columns(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT id, messages FROM examples"))
    finally:
        db.close()


def test_small_tables_read_without_waiting_for_a_long_read_and_follow_every_write(
    project_path: Path,
) -> None:
    """Issue 21: the checklist (chats' count, meta) and the job follower (jobs) waited on the UI
    thread for the lock a worker held through a long read: 230–270 ms at 100,000 examples.
    They are kept after their first read, and read again by each write to them, under the
    lock, right after its commit."""
    import threading

    from persona_studio.core.records import ChatRecord, JobRecord

    with Project.open(project_path) as project:
        # made before any caller reads them, as the session does before its background load
        project.keep_small_reads()

        def read_while_a_long_read_holds_the_lock() -> list[object]:
            held, release = threading.Event(), threading.Event()

            def long_read() -> None:  # what an export or a background load does
                with project._lock:
                    held.set()
                    release.wait(5)

            worker = threading.Thread(target=long_read)
            worker.start()
            held.wait(5)
            answers: list[object] = []
            read = threading.Thread(
                target=lambda: answers.extend(
                    [
                        project.chat_count(),
                        len(project.jobs()),
                        project.meta("x"),
                        project.sync_value("sheet"),  # a sync writes its snapshot in a worker
                        project.chat_titles(),  # the Chat tab's list
                        getattr(project.job("job-1"), "status", None),  # the Train tab's job
                    ]
                )
            )
            try:
                read.start()
                read.join(2)  # the lock is held until after this: the old reads waited
                return list(answers)
            finally:
                release.set()
                worker.join()
                read.join()

        first = read_while_a_long_read_holds_the_lock()
        assert first == [0, 0, None, None, [], None]  # the first reads
        project.save_chat(ChatRecord("c1", "A chat", []))
        project.set_meta("x", "1")
        project.save_job(JobRecord("job-1", "openai", "gpt-4.1-mini", "running"))
        project.apply_sync([], [], {"r1": {"id": "r1"}}, {"key": "k", "worksheet": "Data"})
        link = {"key": "k", "worksheet": "Data"}
        again = read_while_a_long_read_holds_the_lock()
        assert again == [1, 1, "1", link, [("c1", "A chat")], "running"]  # read anew
        assert project.sync_snapshot() == {"r1": {"id": "r1"}}  # the large one: read
        project.set_sync_value("sheet", {"key": "k2"})
        assert project.sync_value("sheet") == {"key": "k2"} and project.sync_value("nope", 3) == 3
        assert project.chat_count() == 1 and project.meta("x") == "1"
        (job,) = project.jobs()
        job.status = "changed by a caller"  # a caller's copy: the next read is the stored one
        assert project.jobs()[0].status == "running"
        project.delete_chat("c1")
        assert project.chat_count() == 0 and project.chat_titles() == []


def test_a_job_saved_ahead_is_read_at_once_and_on_disk_once_its_write_is_made(
    project_path,
) -> None:
    """The window's session saves a training's record ahead (read at once by `jobs`/`job`),
    and makes its write in turn: the file has it only then, with the same times."""
    from persona_studio.core.records import JobRecord

    def on_disk(project: Project) -> list[tuple[str, str]]:
        with project.held():
            rows = project._db.execute("SELECT status, created_at FROM jobs").fetchall()
        return [tuple(row) for row in rows]

    with Project.open(project_path) as project:
        project.keep_small_reads()
        record, write = project.save_job_ahead(
            JobRecord("job-1", "openai", "gpt-4.1-mini", "running")
        )
        assert record.created_at and record.updated_at
        assert project.job("job-1").status == "running" and len(project.jobs()) == 1
        assert on_disk(project) == []
        record.status = "succeeded"  # (the service goes on with its record meanwhile)
        write()
        assert on_disk(project) == [("running", record.created_at)]  # as it was saved ahead
        assert project.job("job-1").status == "running"  # read again from the file


def test_loading_pauses_the_collector_and_restores_it(tmp_path: Path) -> None:
    """Examples load with the cyclic collector paused (it only cost time on them), and it is
    on again afterwards, also when two loads overlap; a collector switched off stays off."""
    import gc

    from persona_studio.core.collector import collector_paused

    with Project.create(tmp_path / "g.persona", Persona(name="G")) as project:
        project.add_examples([Example.from_qa(f"Q{i}", f"A{i}") for i in range(50)])
        seen: list[bool] = []
        with collector_paused():
            seen.append(gc.isenabled())
            with collector_paused():
                seen.append(gc.isenabled())
            seen.append(gc.isenabled())  # the outer load is still under way
        assert seen == [False, False, False] and gc.isenabled()
        assert len(project.examples()) == 50 and gc.isenabled()
        gc.disable()
        try:
            project.examples()
            assert not gc.isenabled()
        finally:
            gc.enable()


def test_the_start_pauses_the_collector_until_the_window_is_shown_loads_or_not() -> None:
    """The app pauses the collector from its first import until its window is shown; a load
    that overlaps either end keeps its own pause, and the collector runs after both."""
    import gc

    from persona_studio.core.collector import (
        collector_paused,
        end_startup_pause,
        pause_for_startup,
    )

    end_startup_pause()  # (none under way: nothing happens)
    assert gc.isenabled()
    try:
        pause_for_startup()
        pause_for_startup()  # (once only)
        assert not gc.isenabled()
        with collector_paused():  # a load begun before the first paint...
            end_startup_pause()
            assert not gc.isenabled()  # ...is still paused after it
        assert gc.isenabled()
        end_startup_pause()
        assert gc.isenabled()
        pause_for_startup()
        with collector_paused():
            pass
        assert not gc.isenabled()  # the start's pause outlasts a load inside it
        end_startup_pause()
        assert gc.isenabled()
    finally:
        gc.enable()
