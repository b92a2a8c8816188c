"""moto's attribute values (DynamoType), made and compared without the detours.

Every attribute value moto holds is a DynamoType; every item key is one, and a table's
items are found by hashing and comparing keys, which goes through `cast_value`. moto 5.2
makes one by listing the dict it is given twice (its one type, its one value) and then
asks two methods whether it is a list or a map; `cast_value` asks five methods which type
it is before answering, for a string, with the value itself. Together a few hundred
thousand calls in the API tests, several seconds.

`install()` keeps both and answers the common cases directly, with moto's own result:

- made from a dict of one type: that type and value; a list's elements and a map's
  values made DynamoTypes in turn, as moto does. Anything else (another DynamoType, a
  dict of no type or of two) is made by moto's own.
- `cast_value` of a string, binary, boolean or any type moto does not convert: the
  value, which is what moto's last branch answers; numbers, sets, lists, maps and null
  go to moto's own.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from typing import Any

from moto.dynamodb.models.dynamo_type import DDBType, DynamoType

# kept for the tests that compare the two
MOTOS_INIT = DynamoType.__dict__["__init__"]
MOTOS_CAST_VALUE = DynamoType.__dict__["cast_value"]

# the types moto's cast_value converts (is_number, is_set, is_list, is_map, is_null)
_CONVERTED = frozenset({
    DDBType.NUMBER, DDBType.STRING_SET, DDBType.NUMBER_SET, DDBType.BINARY_SET, DDBType.LIST, DDBType.MAP, DDBType.NULL,
})


def dynamo_type_init(self: DynamoType, type_as_dict: Any) -> None:
    if type(type_as_dict) is not dict or len(type_as_dict) != 1:
        MOTOS_INIT(self, type_as_dict)
        return
    ((kind, value),) = type_as_dict.items()
    self.type = kind
    if kind == DDBType.LIST:
        value = [DynamoType(v) for v in value]
    elif kind == DDBType.MAP:
        value = {k: DynamoType(v) for k, v in value.items()}
    self.value = value


def cast_value(self: DynamoType) -> Any:
    if self.type in _CONVERTED:
        return MOTOS_CAST_VALUE.fget(self)
    return self.value


def install() -> None:
    """Idempotent: moto's DynamoTypes are made and cast with the functions above."""
    DynamoType.__init__ = dynamo_type_init  # type: ignore[method-assign]
    DynamoType.cast_value = property(cast_value)  # type: ignore[method-assign,assignment]
