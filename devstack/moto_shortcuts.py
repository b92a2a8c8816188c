"""Every shortcut Berth takes through moto's code, installed together.

moto answers as AWS does but spends most of a test's CPU getting there; each module
below cuts one of its costs and gives moto's own answers (its comparison test in
tests/unit/test_moto_<name>.py proves it):

- moto_transactions: TransactWriteItems copies only the items it touches;
- moto_queries: a Query reads only its partition;
- moto_projections: a projection converts only the attributes it names;
- moto_serialize: a response is written without asking again how each member is named;
- moto_update_expressions: an update expression is parsed once per text;
- moto_update_validation: validated without deep-copying its tree or walking it again for
  what its shape already passed;
- moto_conditions: a condition is parsed once per expression, names and values;
- moto_item_sizes: an item is built without summing its size again for each attribute;
- moto_dynamo_types: an attribute value is made and cast without the detours;
- moto_dispatch: a request is routed without listing its handler class's methods or
  rebuilding its backend's urls;
- moto_parse: a botocore JSON-protocol request is parsed with converters planned once per
  operation;
- moto_request_ids: a request id is drawn with fewer calls.

`install()` is called by the local stack's moto server (devstack/motoserver.py) and by the
test suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from devstack import (
    moto_conditions,
    moto_dispatch,
    moto_dynamo_types,
    moto_item_sizes,
    moto_parse,
    moto_projections,
    moto_queries,
    moto_request_ids,
    moto_serialize,
    moto_transactions,
    moto_update_expressions,
    moto_update_validation,
)

SHORTCUTS = (
    moto_transactions,
    moto_queries,
    moto_projections,
    moto_serialize,
    moto_update_expressions,
    moto_update_validation,
    moto_dispatch,
    moto_parse,
    moto_conditions,
    moto_item_sizes,
    moto_dynamo_types,
    moto_request_ids,
)


def install() -> None:
    """Idempotent: every shortcut above, in this order."""
    for shortcut in SHORTCUTS:
        shortcut.install()
