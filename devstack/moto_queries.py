"""moto's Query, at the cost of the partition it reads.

moto 5.2 answers a Query on a table (not an index) by listing and sorting every item
of the table, then keeping those of the asked partition: each query costs time in
proportion to everything the table holds, so the local stack (one long-lived table)
and the test suites (a table per test module, thousands of queries) slow down as the
table grows.

`install()` keeps moto's own Query, every step of it (conditions, order, paging,
filters, projections, errors), and hands it only the asked partition's items where it
would list the whole table. Index queries, scans and everything else are moto's as they
were. Berth's table has no index.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models.table import Table

MOTOS_QUERY = Table.__dict__["query"]  # kept for the tests that compare the two
MOTOS_ALL_ITEMS = Table.__dict__["all_items"]

# the partition the Query running on this thread reads: (table, hash key), or None
_reading = threading.local()


def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or hash_key is None:
        return MOTOS_QUERY(self, hash_key, *args, **kwargs)
    _reading.partition = (self, hash_key)
    try:
        return MOTOS_QUERY(self, hash_key, *args, **kwargs)
    finally:
        _reading.partition = None


def all_items(self: Table) -> list[Any]:
    partition = getattr(_reading, "partition", None)
    if partition is None or partition[0] is not self:
        return MOTOS_ALL_ITEMS(self)
    held = self.items.get(partition[1])  # .get: the defaultdict must not grow an empty slot
    if held is None:
        return []
    # moto's Query keeps the items of the partition and sorts them by range key itself
    return list(held.values()) if self.range_key_attr else [held]


def install() -> None:
    """Idempotent: moto's tables answer Query with the functions above."""
    Table.query = query
    Table.all_items = all_items
