"""Every `from chalicelib... import name` in the code names something that exists,
the imports inside functions (handlers load on first use) included: a module moved or a
name renamed must not wait for the one request that reaches it to fail."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py")), *sorted((ROOT / "devstack").rglob("*.py"))]


def unresolved() -> list[str]:
    missing = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib") and node.level == 0:
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
                    if alias.name.startswith("chalicelib"):
                        try:
                            importlib.import_module(alias.name)
                        except ImportError as exc:
                            missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} ({exc})")
    return missing


def test_every_chalicelib_import_resolves():
    assert unresolved() == []
