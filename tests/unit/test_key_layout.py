"""The key-layout table of docs/architecture.md is the code's: every key the stores in
chalicelib/meta build is in the table, and the table names no key the code does not build."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import chalicelib.meta

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
_NAME = re.compile(r"^([A-Z0-9_]*_)?(PK|SK|PREFIX)$")  # LOGIN_PK, and a module's own SK


def _prefix(key: str) -> str:
    """What a key starts with before its first variable part (`R#<repo>` -> `R#`)."""
    return key.split("<", 1)[0]


def code_prefixes() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.iter_modules(chalicelib.meta.__path__):
        module = importlib.import_module(f"chalicelib.meta.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, str) and _NAME.match(name) and value[:1].isupper():  # not a name prefix (robot$)
                found.add(_prefix(value))
            elif inspect.isfunction(value) and value.__module__ == module.__name__ and re.search(r"_(pk|sk)$", name):
                arity = len(inspect.signature(value).parameters)
                try:
                    found.add(_prefix(value(*["<x>"] * arity)))
                except (TypeError, ValueError):  # a number formatted in the key (`POLICY#<id:010d>`)
                    found.add(re.sub(r"[0-9]+$", "", value(*[0] * arity)))
    return {p for p in found if p}


def doc_prefixes() -> set[str]:
    text = DOC.read_text()
    table = text[text.index("DynamoDB, one table") :]
    table = table[: table.index("\n\n", table.index("| PK |"))]
    found: set[str] = set()
    for row in table.splitlines()[3:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        for cell in cells[:2]:
            for key in re.findall(r"`([^`]+)`", cell):
                found.add(_prefix(key))
    return {p for p in found if p}


def _covered(prefix: str, others: set[str]) -> bool:
    # `MEMBER#` (the code's prefix of `MEMBER#u#<user>`) is the same key family
    return any(o.startswith(prefix) or prefix.startswith(o) for o in others)


def test_the_documented_key_layout_is_the_codes():
    code, doc = code_prefixes(), doc_prefixes()
    assert sorted(p for p in code if not _covered(p, doc)) == [], "keys the code builds that the table lacks"
    assert sorted(p for p in doc if not _covered(p, code)) == [], "keys the table names that no store builds"


def test_the_check_sees_a_missing_row():
    assert not _covered("XYZZY#", doc_prefixes())
