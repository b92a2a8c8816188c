"""moto's condition expressions, parsed once per (expression, names, values).

moto 5.2 lexes and parses a ConditionExpression (or a FilterExpression) each time it
meets one, and in a TransactWriteItems it meets each one three times with the same
names and values: the request's check of the names and values it uses, the condition
checked before anything is written (devstack/moto_transactions.py), and the write's own
check. A PutItem or UpdateItem meets its condition twice. About half a millisecond a
parse.

`install()` keeps moto's parser (the first parse of each (expression, names, values) is
moto's own, errors included: one that fails is never remembered) and keeps its result
pickled: the condition tree and the names and values the parse found, which moto's
request checks read from the parser afterwards. A later parse of the same expression,
names and values gets a fresh tree unpickled from it and the same names and values
found. The tree is built only from those three inputs (names are expanded and values
put in while parsing; the item is read only when the tree is evaluated), so the same
inputs make the same tree; a fresh one each time, so nothing that holds a tree shares
it.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import pickle
from typing import Any

from moto.dynamodb.comparisons import ConditionExpressionParser

MOTOS_PARSE = ConditionExpressionParser.__dict__["parse"]  # kept for the tests that compare the two
# the values change from call to call (keys, times): keep the most recent this many
MAX_REMEMBERED = 4096
_parsed: dict[tuple[Any, ...], bytes] = {}


def parse(self: ConditionExpressionParser) -> Any:
    if not self.condition_expression:
        return MOTOS_PARSE(self)
    try:
        key = (
            self.condition_expression,
            _frozen(self.expression_attribute_names),
            _frozen(self.expression_attribute_values),
        )
        remembered = _parsed.get(key)
    except TypeError:  # something unhashable where a string belongs: moto's parse says what
        return MOTOS_PARSE(self)
    if remembered is not None:
        tree, names_found, values_found = pickle.loads(remembered)
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return tree
    names_before, values_before = len(self.expr_attr_names_found), len(self.expr_attr_values_found)
    tree = MOTOS_PARSE(self)
    found = (self.expr_attr_names_found[names_before:], self.expr_attr_values_found[values_before:])
    try:
        pickled = pickle.dumps((tree, *found), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return tree  # not remembered: parsed again next time
    if len(_parsed) >= MAX_REMEMBERED:
        del _parsed[next(iter(_parsed))]  # the oldest
    _parsed[key] = pickled
    return tree


def _frozen(value: Any) -> Any:
    """A hashable twin of names or values, in their order (moto reads a value's first key)."""
    if isinstance(value, dict):
        return dict, tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list):
        return list, tuple(_frozen(v) for v in value)
    return type(value), value


def install() -> None:
    """Idempotent: moto parses each (condition, names, values) once."""
    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]
