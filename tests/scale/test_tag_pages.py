"""A thousand tags listed in pages of a hundred, over both registry stores, with the
contract suite's fixtures (tests/contract/test_registry_meta.py has the rest of the
store's listing contract): a scale check, here in `make e2e` so that `make check` stays
quick (it was its longest test, with the emptying of its thousand items after it)."""
from __future__ import annotations

import random

import pytest

from tests.contract.conftest import _stack, aws, boto_session, clock, module_stack, table
from tests.contract.test_registry_meta import NAME, _pages, put_in_bulk, record, registry

__all__ = ["_stack", "aws", "boto_session", "clock", "module_stack", "registry", "table"]  # fixtures


@pytest.fixture
def meta(registry):
    return registry.meta


def test_a_thousand_tags_in_pages_of_a_hundred(registry, meta, monkeypatch):
    m = record()
    tags = [f"v{i}" for i in range(1000)]
    random.Random(2).shuffle(tags)
    put_in_bulk(registry, monkeypatch, [(NAME, m, tag) for tag in tags])
    assert meta.get_tag(NAME, tags[0]).digest == m.digest
    listed, pages = _pages(lambda **kw: meta.list_tags(NAME, **kw), 100)
    assert listed == sorted(tags)
    assert pages == 10
    assert meta.list_tags(NAME, last=None, limit=1000) == (sorted(tags), False)
    assert meta.list_tags(NAME, last=None, limit=999) == (sorted(tags)[:999], True)
