"""Every import of the project's own modules (`from chalicelib... import name`, and the
same for devstack, bench, deploy and tests) names something that exists, the imports
inside functions (handlers load on first use, benchmarks on their section) included: a
module moved or a name renamed must not wait for the one request or run that reaches it
to fail."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tests.source_imports import import_statements

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chalicelib", "devstack", "bench", "deploy", "tests")
SOURCES = [ROOT / "app.py", *(path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")))]


def first_party(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def unresolved() -> list[str]:
    missing = []
    for path in SOURCES:
        for node in import_statements(path.read_text()):
            if isinstance(node, ast.ImportFrom) and node.module and first_party(node.module) and node.level == 0:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                try:
                    module = importlib.import_module(node.module)
                except ImportError as exc:
                    missing.append(f"{where}: {node.module} ({exc})")
                    continue
                for alias in node.names:
                    if alias.name != "*" and not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            missing.append(f"{where}: {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if first_party(alias.name):
                        try:
                            importlib.import_module(alias.name)
                        except ImportError as exc:
                            missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} ({exc})")
    return missing


def test_every_import_of_our_own_modules_resolves():
    assert unresolved() == []
