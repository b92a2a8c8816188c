"""moto's projections (ProjectionExpression), at the cost of the attributes they name.

moto 5.2 projects an item by converting the whole item to plain Python once per
projected path: an item of 30 attributes read with 30 paths (a BatchGetItem or GetItem
that names what it wants) is converted 30 times over, and most of a read's time goes
there.

`install()` keeps moto's own steps (moto's `find_nested_key` and `merge_dicts`, a fresh
conversion for each path, so the result is moto's, quirks included) and converts, for
each path, only the top-level attribute the path starts at: the only one moto's
`find_nested_key` looks at. Everything else is moto's as it was.

Most paths name a whole string attribute (`digest`, `created`), and for those moto's
steps come to "the result's entry is the string": the conversion of {"S": s} is s,
`find_nested_key` of one plain name gives {name: s} (or nothing if absent), and
`merge_dicts` sets a value that is not a dict. That is done directly; and a string in
the result is written back as {"S": s}, as boto3's serializer would, the rest by the
serializer itself.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import re
from typing import Any

from botocore.utils import merge_dicts
from moto.dynamodb.models.dynamo_type import Item, deserializer, serializer
from moto.dynamodb.models.utilities import find_nested_key

MOTOS_PROJECT = Item.__dict__["project"]  # kept for the tests that compare the two

# what moto's find_nested_key reads a list element from: 'name[3]'
_LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")


def project(self: Item, projection_expressions: list[list[str]]) -> Item:
    result: dict[str, Any] = {}
    for expression in projection_expressions:
        first = expression[0]
        if len(expression) == 1 and "[" not in first:  # one plain name: moto's regex finds no index
            attribute = self.attrs.get(first)
            if attribute is None:
                continue  # find_nested_key finds nothing: nothing merged
            if attribute.type == "S" and type(attribute.value) is str:
                result[first] = attribute.value
                continue
        names = {first}
        element = _LIST_ELEMENT.match(first)
        if element:
            names.add(element.group(1))
        attributes = {
            name: deserializer.deserialize(self.attrs[name].to_regular_json()) for name in names if name in self.attrs
        }
        merge_dicts(result, find_nested_key(expression, attributes))
    attrs = {name: {"S": value} if type(value) is str else serializer.serialize(value) for name, value in result.items()}
    return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=attrs)


def install() -> None:
    """Idempotent: moto's items project with the function above."""
    Item.project = project
