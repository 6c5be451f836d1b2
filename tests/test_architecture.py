"""core/ and services/ know nothing of Qt; core/ talks to nothing."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import persona_studio

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    """Every module of the package, its subpackages' too (core.project, services.training)."""
    path = Path(persona_studio.__file__).parent / package.split(".")[-1]
    return [m.name for m in pkgutil.walk_packages([str(path)], prefix=f"{package}.")]


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run(
        [lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def test_core_and_services_import_with_qt_blocked() -> None:
    modules = _modules("persona_studio.core") + _modules("persona_studio.services")
    assert "persona_studio.core.project.examples" in modules
    assert "persona_studio.services.training.jobs" in modules
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'qasync', 'shiboken6'):\n"
        "            raise ImportError('Qt is blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    __import__(m)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_with_only_the_listed_gui_modules_left() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent)) or "mypy"
    result = subprocess.run(
        [mypy, "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_job_records_are_written_only_by_the_training_service() -> None:
    """One owner of a job: no view (GUI, CLI) and no other service writes a job record. (The
    screenshot tool stages a finished job in its throwaway demo project, as a test would.)"""
    offenders = []
    owners = ("persona_studio/services/training/", "persona_studio/core/")
    for path in (ROOT / "persona_studio").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(owners) or relative == "persona_studio/tools/screenshots.py":
            continue
        if "save_job(" in path.read_text("utf-8"):
            offenders.append(relative)
    assert offenders == []


def test_no_tab_reaches_into_the_window() -> None:
    tabs = (ROOT / "persona_studio" / "gui").glob("*_tab.py")
    assert [p.name for p in tabs if "self.window()" in p.read_text("utf-8")] == []


def test_the_windows_tasks_are_spawned_but_those_whose_failure_is_awaited() -> None:
    """`gui.loop.spawn` reports an exception escaping a task as it ends; a task started with
    `asyncio.ensure_future` is reported only when collected, never while an attribute keeps
    it. Only the tasks whose failure something awaits and says are started so."""
    awaited = {  # (file, the line's start): what awaits each
        ("project_session.py", "self._retrieval_task = asyncio.ensure_future("),  # retrieval
        ("project_session.py", "warming = asyncio.ensure_future("),  # the answer that awaits
        ("preflight_runner.py", "loading = asyncio.ensure_future("),  # `_loaded`
        ("generate_dialog.py", "learnt = asyncio.ensure_future("),  # `_learn`'s awaiters
        ("loop.py", "task = asyncio.ensure_future(work)"),  # `spawn` itself
    }
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in (ROOT / "persona_studio" / "gui").rglob("*.py")
        for line in path.read_text("utf-8").splitlines()
        if "asyncio.ensure_future(" in line
        and not any(path.name == name and line.strip().startswith(start) for name, start in awaited)
    ]
    assert offenders == []


def test_a_button_passes_no_text_to_a_slot() -> None:
    """`clicked`, `triggered` and `toggled` hand their slot `checked` (a bool) when it takes
    an argument: the Chat tab's Send reached `send_message(text=None)` as its text, and failed
    on every click for two weeks. A method of the same class connected to one of them takes
    nothing, or a bool first."""
    import ast

    offenders = []
    for path in (ROOT / "persona_studio").rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            methods = {
                f.name: f for f in cls.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
                func = call.func
                if not (
                    isinstance(func, ast.Attribute)
                    and func.attr == "connect"
                    and isinstance(func.value, ast.Attribute)
                    and func.value.attr in ("clicked", "triggered", "toggled")
                    and call.args
                ):
                    continue
                slot = call.args[0]
                if not (
                    isinstance(slot, ast.Attribute)
                    and isinstance(slot.value, ast.Name)
                    and slot.value.id == "self"
                    and slot.attr in methods
                ):
                    continue
                taken = methods[slot.attr].args.args[1:]
                first = taken[0].annotation if taken else None
                if taken and not (isinstance(first, ast.Name) and first.id == "bool"):
                    where = path.relative_to(ROOT).as_posix()
                    offenders.append(f"{where}:{call.lineno} {slot.attr}({taken[0].arg})")
    assert offenders == []
