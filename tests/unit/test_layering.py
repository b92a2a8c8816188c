"""The code's shape, checked: the layering contract (.importlinter, docs/architecture.md
"Layers"), no import cycles between modules, and no module reaching into another
package's private names."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.source_imports import import_statements

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph("chalicelib", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def test_the_layering_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_takes_part_in_an_import_cycle(graph):
    assert _cycles(graph) == []


def _private_imports() -> list[str]:
    out = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        package = module.rsplit(".", 1)[0]
        for node in import_statements(path.read_text()):
            if not isinstance(node, ast.ImportFrom) or not node.module or not node.module.startswith("chalicelib"):
                continue
            source_package = node.module if (ROOT / Path(*node.module.split("."))).is_dir() else node.module.rsplit(".", 1)[0]
            for alias in node.names:
                if alias.name.startswith("_") and source_package != package:
                    out.append(f"{module}: from {node.module} import {alias.name}")
    return out


def test_no_module_imports_another_packages_private_names():
    assert _private_imports() == []


def test_the_cycle_finder_finds_a_planted_cycle():
    """So that an empty answer above means something."""

    class Planted:
        modules = frozenset({"a", "b", "c"})

        @staticmethod
        def find_modules_directly_imported_by(module):
            return {"a": {"b"}, "b": {"a"}, "c": set()}[module]

    assert _cycles(Planted()) == [["a", "b"]]
