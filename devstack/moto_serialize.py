"""moto's response serializer, at the cost of the values it writes.

moto 5.2 writes a response by walking the operation's output shape and, for every member
of every structure (every DynamoDB attribute value is one: S, N, B, M, L, ...), asking six
alias providers which keys the member might go by in the Python object, then trying
them. For a plain dict the answer depends only on the member's name, its shape and the
shape's parent (no provider looks at the dict's contents: it has no `Meta`, and its class
is always `dict`), yet it is worked out again for each value: half of a BatchGetItem's
time on moto goes there.

`install()` keeps moto's serializer and its providers, and remembers, for plain dicts,
the keys they named for (picker, providers, member, shape, parent). Objects of any other
class ask the providers each time, as before.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from collections.abc import Generator
from typing import Any

from moto.core.serialize import AttributePickerContext, XFormedAttributePicker

MOTOS_POSSIBLE_KEYS = XFormedAttributePicker.__dict__["get_possible_keys"]  # kept for the tests

_named: dict[tuple[Any, ...], tuple[str, ...]] = {}


def get_possible_keys(self: XFormedAttributePicker, context: AttributePickerContext) -> Generator[str]:
    if type(context.obj) is not dict:
        yield from MOTOS_POSSIBLE_KEYS(self, context)
        return
    shape = context.shape
    parent = getattr(shape, "parent", None) if shape is not None else None
    key = (type(self), tuple(self.alias_providers), context.key, shape, parent)
    names = _named.get(key)
    if names is None:
        names = _named[key] = tuple(MOTOS_POSSIBLE_KEYS(self, context))
    yield from names


def install() -> None:
    """Idempotent: moto's serializers pick dict values with the function above."""
    XFormedAttributePicker.get_possible_keys = get_possible_keys
