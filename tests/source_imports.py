"""The import statements of a module's source, found without parsing it whole (a syntax
tree of all the project's 450 files cost three seconds): tests/unit/test_imports_resolve.py,
tests/unit/test_layering.py."""
from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator

# a line that starts an import statement (ruff's E701/E702 keep every statement on lines of
# its own, so none starts after a colon or a semicolon)
IMPORT_LINE = re.compile(r"[ \t]*(?:from[ \t]+\S+[ \t]+import\b|import[ \t]+\w)")


def import_statements(source: str) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth: each line that starts one, parsed
    with the lines it continues on. A line
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
