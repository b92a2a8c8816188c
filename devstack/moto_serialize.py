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

And for each member moto's picker is handed a new context (the object, the member, its
shape, the path so far joined into a string) and looks each named key up through its
generic `get_value` (dotted paths, attributes or items), then checks the response
class's transformers against the path. For a plain dict, with moto's own picker
(`XFormedAttributePicker`, unpatched) and no transformers (DynamoDB, SQS: none), that is
the first named key the dict holds, which `ResponseSerializer.get_value` now reads
directly (`dict.get`; a dotted key still goes through moto's `get_value`); in every other
case it asks the picker as before. A structure held in a plain dict reads its members
that way in one loop (moto's `_serialize_type_structure` with its
`_serialize_structure_member` and `get_value` inlined, when neither is overridden).

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from collections.abc import Generator
from typing import Any

from moto.core import utils
from moto.core.serialize import (
    AttributePicker,
    AttributePickerContext,
    ResponseSerializer,
    XFormedAttributePicker,
)

MOTOS_POSSIBLE_KEYS = XFormedAttributePicker.__dict__["get_possible_keys"]  # kept for the tests
MOTOS_GET_VALUE = ResponseSerializer.__dict__["get_value"]
MOTOS_PICK = AttributePicker.__dict__["__call__"]
MOTOS_STRUCTURE = ResponseSerializer.__dict__["_serialize_type_structure"]
MOTOS_STRUCTURE_MEMBER = ResponseSerializer.__dict__["_serialize_structure_member"]
MISSING = utils.MISSING

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


def _reads_dicts_directly(picker: Any) -> bool:
    """Whether a plain dict's member is, for this picker, the first named key it holds."""
    return (
        type(picker) is XFormedAttributePicker
        and not picker.response_transformers
        and XFormedAttributePicker.get_possible_keys is get_possible_keys
        and XFormedAttributePicker.__call__ is MOTOS_PICK
    )


def _member(value: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        found = value.get(name, MISSING) if "." not in name else utils.get_value(value, name, MISSING)
        if found is not MISSING:
            return found
    return None


def get_value(self: ResponseSerializer, value: Any, key: str, shape: Any) -> Any:
    picker = self._value_picker
    if type(value) is not dict or not _reads_dicts_directly(picker):
        return MOTOS_GET_VALUE(self, value, key, shape)
    parent = getattr(shape, "parent", None) if shape is not None else None
    names = _named.get((XFormedAttributePicker, tuple(picker.alias_providers), key, shape, parent))
    if names is None:
        return MOTOS_GET_VALUE(self, value, key, shape)  # asks, and remembers the answer
    return _member(value, names)


def _serialize_type_structure(self: ResponseSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """moto's, with `_serialize_structure_member` and `get_value` inlined for a plain dict."""
    picker = self._value_picker
    if (
        type(value) is not dict
        or type(self)._serialize_structure_member is not MOTOS_STRUCTURE_MEMBER
        or type(self).get_value is not get_value
        or not _reads_dicts_directly(picker)
    ):
        return MOTOS_STRUCTURE(self, serialized, value, shape, key)
    wrapper = self.MAP_TYPE() if key else serialized
    providers = tuple(picker.alias_providers)
    for member_key, member_shape in shape.members.items():
        member_shape.parent = shape
        names = _named.get((XFormedAttributePicker, providers, member_key, member_shape, shape))
        if names is None:
            member_value = get_value(self, value, member_key, member_shape)  # asks, and remembers
        else:
            member_value = _member(value, names)
        if member_value is not None:
            self._serialize(wrapper, member_value, member_shape, member_key)
    if key:
        self._default_serialize(serialized, wrapper, shape, key)
    return None


def install() -> None:
    """Idempotent: moto's serializers pick dict values with the functions above."""
    XFormedAttributePicker.get_possible_keys = get_possible_keys
    ResponseSerializer.get_value = get_value
    ResponseSerializer._serialize_type_structure = _serialize_type_structure
