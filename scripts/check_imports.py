"""Check the import graph of ``src/territory``: module-level imports must form no cycle.

    python scripts/check_imports.py          # prints the cycles found, exits 1 if any

Only imports that run when a module is loaded count (top level, including ``if``/``try``
blocks, but not ``if TYPE_CHECKING:`` and not imports inside functions, which run later).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "territory"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _load_time(body: list[ast.stmt]):
    """Import statements of a module body that run at load time."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                yield from _load_time(node.body)
            yield from _load_time(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _load_time(block)


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports when it is loaded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out = set()
    for node in _load_time(tree.body):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            if target in known and target != name:
                out.add(target)
    # importing a.b.c loads its parent packages first
    return out | {p for t in out for p in _parents(t) if p in known and p != name}


def _parents(name: str):
    parts = name.split(".")
    return (".".join(parts[:i]) for i in range(1, len(parts)))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    # a package's __init__ importing its own submodules is how packages re-export: a parent
    # edge from a submodule back to its package is not a cycle of the code
    out = {}
    for name, path in mods.items():
        deps = imports(name, path, known)
        out[name] = {d for d in deps if not name.startswith(d + ".")}
    return out


def main() -> int:
    found = cycles(graph())
    for part in found:
        print("import cycle: " + " -> ".join(part))
    if not found:
        print(f"no import cycle among {len(modules())} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
