"""A project in a file or folder that cannot be written opens read-only: everything reads, every
write is refused before SQLite, and the file is not touched. (Tests run as root in CI, where
permission bits do not stop writes: there the check `writable` is told what the bits say.)"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from persona_studio.core.dataset import Example
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.project import (
    CorruptProjectError,
    Project,
    ProjectReadOnlyError,
)
from persona_studio.core.project import files as project_files
from persona_studio.core.project import project as project_module


def make_read_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file and its folder lose their write bits; as root, `writable` reads the bits."""
    path.chmod(0o444)
    if os.geteuid() == 0:
        monkeypatch.setattr(
            project_module, "writable", lambda p: bool(p.stat().st_mode & stat.S_IWUSR)
        )


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return ensure_demo_project(tmp_path)


def test_a_read_only_file_is_refused_as_read_only_then_opens_to_read(demo, monkeypatch) -> None:
    make_read_only(demo, monkeypatch)
    before = digest(demo)
    with pytest.raises(ProjectReadOnlyError) as refused:
        Project.open(demo)
    assert "read-only" in str(refused.value) and not isinstance(refused.value, CorruptProjectError)
    with Project.open_for_reading(demo) as project:
        assert project.read_only
        assert project.persona().name == "Coach Rhea"
        count = len(project.examples())
        assert count > 0 and project.rules() and project.counts().examples == count
        writes = [
            lambda: project.set_meta("x", "y"),
            lambda: project.add_examples([Example.from_qa("q", "a")]),
            lambda: project.set_persona_fields(name="Someone else"),
            lambda: project.delete_examples({project.examples()[0].id}),
            lambda: project.replace_rules([]),
            lambda: project.set_test_share(0.3),
        ]
        for write in writes:
            with pytest.raises(ProjectReadOnlyError, match="open read-only: nothing can be saved"):
                write()
        copy = demo.with_name("copy.persona")
        project.save_copy(copy)  # the way out: a copy somewhere writable
    assert digest(demo) == before  # not a byte, not even the time
    with Project.open(copy) as writable_copy:
        assert not writable_copy.read_only and len(writable_copy.examples()) == count
        writable_copy.set_meta("x", "y")


def test_where_read_only_mode_cannot_read_the_file_is_read_as_immutable(demo, monkeypatch) -> None:
    """In a folder that cannot be written and with no -shm beside it, SQLite's read-only mode
    cannot read a WAL file: it is read as immutable, unless a -wal holds part of it."""
    real = project_files.connect

    def no_shm(path: Path, mode: str = "rw") -> sqlite3.Connection:
        if mode == "ro":  # as SQLite answers there: it cannot make the -shm it needs
            raise sqlite3.OperationalError("unable to open database file")
        return real(path, mode)

    monkeypatch.setattr(project_module, "connect", no_shm)
    with Project.open(demo, read_only=True) as project:
        assert project.read_only and project.persona().name == "Coach Rhea"
    wal = demo.with_name(demo.name + "-wal")
    wal.write_bytes(b"\0" * 64)  # a crash left part of the project here
    with pytest.raises(ProjectReadOnlyError, match="needs recovering after a crash"):
        Project.open(demo, read_only=True)


def test_a_read_only_project_from_an_older_version_is_refused_plainly(demo, monkeypatch) -> None:
    from persona_studio.core.project import MIGRATIONS

    newer = (*MIGRATIONS, MIGRATIONS[-1])  # the app now knows one more schema version
    with pytest.raises(ProjectReadOnlyError, match="earlier version and cannot be written"):
        Project.open(demo, read_only=True, migrations=newer)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permission bits say")
def test_writable_reads_the_file_and_its_folder(demo) -> None:
    assert project_files.writable(demo)
    demo.chmod(0o444)
    assert not project_files.writable(demo)
    demo.chmod(0o644)
    demo.parent.chmod(0o555)
    try:
        assert not project_files.writable(demo)
    finally:
        demo.parent.chmod(0o755)


@pytest.mark.parametrize("code", ["EACCES", "EPERM", "EROFS"])
def test_writable_says_no_when_the_system_refuses_to_open_for_writing(
    demo, monkeypatch, code
) -> None:
    """What a read-only disk or a file of someone else's answers, as root sees it too."""
    import errno

    def refuse(path: object, flags: int, *args: object) -> int:
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(project_files.os, "open", refuse)
    assert not project_files.writable(demo)
