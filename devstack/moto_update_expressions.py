"""moto's update expressions, parsed once per expression text.

moto 5.2 tokenizes and parses an UpdateExpression each time it meets one, and in a
TransactWriteItems it meets each one twice (the request's check of the names it uses,
then the update itself): about half a millisecond each, and the stores send the same
few dozen expression texts thousands of times.

`install()` keeps moto's parser (the first parse of a text is moto's own, errors
included: an expression that does not parse is never remembered) and keeps the
resulting tree pickled; later parses of the same text get a fresh tree unpickled from
it, several times quicker than parsing. A fresh tree each time, because moto's validator
rewrites the tree it is given (placeholders become values, functions their results),
so no caller ever sees another's tree. Only the parse is remembered: the validation
reads the item and the expression's values, which change from call to call.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import pickle
from typing import Any

from moto.dynamodb.parsing.expressions import UpdateExpressionParser

MOTOS_MAKE = UpdateExpressionParser.__dict__["make"]  # kept for the tests that compare the two
# more distinct texts than this means they are not a fixed set: stop remembering new ones
MAX_REMEMBERED = 4096
_parsed: dict[tuple[type, str], bytes] = {}


def make(cls: type, expression_str: str) -> Any:
    pickled = _parsed.get((cls, expression_str))
    if pickled is not None:
        return pickle.loads(pickled)
    tree = MOTOS_MAKE.__func__(cls, expression_str)
    if len(_parsed) < MAX_REMEMBERED:
        _parsed[(cls, expression_str)] = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
    return tree


def install() -> None:
    """Idempotent: moto parses each update expression text once."""
    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]
