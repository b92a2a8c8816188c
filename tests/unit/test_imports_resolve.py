"""Every import of the project's own modules (`from chalicelib... import name`, and the
same for devstack, bench, deploy and tests) names something that exists, the imports
inside functions (handlers load on first use, benchmarks on their section) included: a
module moved or a name renamed must not wait for the one request or run that reaches it
to fail."""
from __future__ import annotations

import ast
import importlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chalicelib", "devstack", "bench", "deploy", "tests")
SOURCES = [ROOT / "app.py", *(path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")))]


# a line that starts an import statement (ruff's E701/E702 keep every statement on lines of
# its own, so none starts after a colon or a semicolon)
IMPORT_LINE = re.compile(r"[ \t]*(?:from[ \t]+\S+[ \t]+import\b|import[ \t]+\w)")


def first_party(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def import_statements(source: str) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth: each line that starts one, parsed
    with the lines it continues on (parsing the 450 files whole cost three seconds). A line
    inside a string may be taken for one too: then it is checked as well."""
    lines = source.splitlines()
    for start, line in enumerate(lines):
        if not IMPORT_LINE.match(line):
            continue
        for end in range(start + 1, len(lines) + 1):
            try:
                body = ast.parse(textwrap.dedent("\n".join(lines[start:end]))).body
            except SyntaxError:
                continue  # a statement over more lines (parentheses, backslashes)
            if body and isinstance(body[0], ast.Import | ast.ImportFrom):
                body[0].lineno = start + 1
                yield body[0]
            break


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
