"""The shape of the code: no import cycle, every module importable alone, short functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_imports  # noqa: E402

MAX_FUNCTION_LINES = 80


def test_no_import_cycle():
    assert check_imports.cycles(check_imports.graph()) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert check_imports.cycles(graph) == [["a", "b", "c"]]


def test_every_module_imports_alone():
    """Each module, imported first in a fresh interpreter, loads (no order dependence)."""
    names = sorted(n for n in check_imports.modules() if not n.endswith("__main__"))
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'territory']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in sorted((ROOT / "src" / "territory").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_engines_only_split_map_and_combine():
    """The engines import no plan, result or runner code (at load time or in a function): the
    stages and the one ``runner.finish`` do the rest for both engines."""
    banned = ("territory.model", "territory.plan", "territory.result", "territory.runner")
    found = []
    for path in sorted((ROOT / "src" / "territory" / "engines").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith(banned) and not name.startswith("territory.planfile"):
                    found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []
