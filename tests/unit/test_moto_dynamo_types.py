"""The local stack's DynamoTypes (devstack/moto_dynamo_types.py) are moto's own: made from
every kind of attribute value (nested lists and maps, sets, odd inputs and wrong ones)
they hold the same type and value, cast to the same Python value, hash and compare the
same; and through the API the same keys find the same items."""
from __future__ import annotations

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType

from devstack import moto_dynamo_types
from tests.conftest import create_key_table

VALUES = [
    {"S": "text"}, {"S": ""}, {"N": "-1.50"}, {"N": "1E+2"}, {"B": "AAEC"}, {"BOOL": False}, {"NULL": True},
    {"SS": ["a", "b"]}, {"NS": ["1", "2.0"]}, {"BS": ["AAEC"]},
    {"L": [{"S": "a"}, {"N": "1"}, {"L": [{"M": {"k": {"SS": ["x"]}}}]}]},
    {"M": {"k": {"S": "v"}, "deep": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}}}},
    {"L": []}, {"M": {}}, {"UNKNOWN": 3},
]
ODD = [{}, {"S": "a", "N": "1"}, [("S", "a")], "S"]  # moto answers these its own way: so must we


def made(init, value):
    made = DynamoType.__new__(DynamoType)
    try:
        init(made, value)
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"
    return made


def described(value):
    """A DynamoType as plain data: its type, its value (nested ones described), its cast."""
    if not isinstance(value, DynamoType):
        return value
    inner = value.value
    if isinstance(inner, list):
        inner = [described(v) for v in inner]
    elif isinstance(inner, dict):
        inner = {k: described(v) for k, v in inner.items()}
    return type(value.value).__name__, value.type, inner, value.cast_value


def motos(value):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DynamoType, "__init__", moto_dynamo_types.MOTOS_INIT)
        mp.setattr(DynamoType, "cast_value", moto_dynamo_types.MOTOS_CAST_VALUE)
        return described(made(moto_dynamo_types.MOTOS_INIT, value))


@pytest.mark.parametrize("value", VALUES + ODD, ids=str)
def test_made_and_cast_as_motos_own(value):
    assert described(made(moto_dynamo_types.dynamo_type_init, value)) == motos(value)


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_a_dynamo_type_made_from_another(value):
    original = DynamoType(value)
    assert described(made(moto_dynamo_types.dynamo_type_init, original)) == motos(original) == described(original)


def test_the_same_hashes_and_equalities():
    ours = [DynamoType(v) for v in VALUES if "L" not in v and "M" not in v and "SS" not in v and "NS" not in v and "BS" not in v]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DynamoType, "cast_value", moto_dynamo_types.MOTOS_CAST_VALUE)
        motos_hashes = [hash(v) for v in ours]
        motos_equal = [[a == b for b in ours] for a in ours]
    assert [hash(v) for v in ours] == motos_hashes and [[a == b for b in ours] for a in ours] == motos_equal


@pytest.fixture
def table(moto_dynamodb):
    create_key_table(moto_dynamodb, "t")
    return moto_dynamodb


def test_keys_find_their_items_through_the_api(table):
    item = {"PK": {"S": "p"}, "SK": {"S": "s"}, "l": VALUES[10], "m": VALUES[11], "n": {"N": "1.50"}, "ss": {"SS": ["b", "a"]}}
    table.put_item(TableName="t", Item=item)
    found = table.get_item(TableName="t", Key={"PK": {"S": "p"}, "SK": {"S": "s"}})["Item"]
    assert found == item
    assert "Item" not in table.get_item(TableName="t", Key={"PK": {"S": "p"}, "SK": {"S": "S"}})
    queried = table.query(TableName="t", KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :z",
                          FilterExpression="n = :n", ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"S": "a"},
                                                                               ":z": {"S": "z"}, ":n": {"N": "1.5"}})
    assert queried["Items"] == [item]


def test_installed_for_the_tests():
    assert DynamoType.__dict__["__init__"] is moto_dynamo_types.dynamo_type_init
    assert DynamoType.__dict__["cast_value"].fget is moto_dynamo_types.cast_value
