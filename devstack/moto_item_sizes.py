"""moto's items, built at the cost of their attributes.

moto 5.2 keeps an item's attributes in a dict that enforces DynamoDB's item size limit on
every insertion: it sums the size of every key and value already there, plus the new
pair, and refuses the item (ItemSizeTooLarge, "Item size has exceeded the maximum
allowed size") past 405,000 bytes. An item is built by inserting its attributes one by
one, so building an item of n attributes sizes n(n-1)/2 values: every PutItem, every
item an update creates, every projection (a GetItem or BatchGetItem that names what it
wants builds a new item) pays it, and Berth's items have dozens of attributes.

`install()` builds an item with the same steps (each attribute made moto's DynamoType,
in order, into moto's size-limited dict) and the same check at each step, against a
running total of the sizes moto would sum: while the item is being built nothing else
holds it, and `attrs` is a dict (no key twice), so the attributes already in are exactly
those counted. The limit, the
sizes (moto's own `size()` and `bytesize`) and the error are moto's. Inserting into an
item that exists (an update's SET) is moto's as before.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

MOTOS_ITEM_INIT = Item.__dict__["__init__"]  # kept for the tests that compare the two
MAX_ITEM_SIZE = 405_000  # moto's LimitedSizeDict: between DynamoDB's measured 409 and 410 KB


def _size(held: Any) -> int:
    """What moto's LimitedSizeDict counts for a key or value it holds."""
    return held.size() if type(held) is DynamoType else bytesize(str(held))


def item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    held = 0  # the sizes of the keys and values in self.attrs, as moto would sum them
    for key, value in attrs.items():
        value = DynamoType(value)
        value_size = _size(value)
        if held + bytesize(key) + value_size > MAX_ITEM_SIZE:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, value)
        held += _size(key) + value_size


def install() -> None:
    """Idempotent: moto builds items with the function above."""
    Item.__init__ = item_init  # type: ignore[method-assign]
