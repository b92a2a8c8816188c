"""The local stack's items (devstack/moto_item_sizes.py) are built as moto's own are: the
same attributes in the same order, and the same ItemSizeTooLarge at the same byte, for
items of every kind of value, at the limit and over it; and through the API the same
items and the same errors from PutItem, UpdateItem, TransactWriteItems and projections."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from devstack import moto_item_sizes
from tests.conftest import create_key_table

KEYS = {"PK": {"S": "p"}, "SK": {"S": "s"}}
VALUES = {
    "s": {"S": "text ü"}, "n": {"N": "-12.50"}, "b": {"B": "AAEC"}, "bool": {"BOOL": True}, "null": {"NULL": True},
    "ss": {"SS": ["a", "bb"]}, "ns": {"NS": ["1", "22"]}, "l": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}]},
    "m": {"M": {"k": {"S": "v"}, "deep": {"M": {"n": {"N": "3"}}}}}, "empty": {"S": ""}, "ümlaut": {"S": "é"},
}


def outcome(init, attrs: dict):
    item = Item.__new__(Item)
    try:
        init(item, DynamoType(KEYS["PK"]), DynamoType(KEYS["SK"]), attrs)
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"
    return [(k, v.to_json(), v.size()) for k, v in item.attrs.items()]


def both(attrs: dict):
    return outcome(moto_item_sizes.MOTOS_ITEM_INIT, attrs), outcome(moto_item_sizes.item_init, attrs)


def test_every_kind_of_value():
    motos, ours = both({**KEYS, **VALUES})
    assert ours == motos and len(ours) == len(VALUES) + 2


def test_an_item_with_nothing():
    assert both({}) == ([], [])


def sized(total: int, parts: int = 3) -> dict:
    """Attributes whose sizes, as moto counts them (name + value bytes), add up to `total`."""
    attrs = dict(KEYS)
    used = sum(len(k) + len(v["S"]) for k, v in attrs.items())
    for i in range(parts):
        name = f"a{i}"
        share = (total - used) // (parts - i) - len(name)
        attrs[name] = {"S": "x" * share}
        used += len(name) + share
    return attrs


@pytest.mark.parametrize("total", [404_999, 405_000, 405_001, 500_000])
def test_at_the_limit_and_over_it(total):
    attrs = sized(total)
    assert sum(len(k) + len(v["S"]) for k, v in attrs.items()) == total
    motos, ours = both(attrs)
    assert ours == motos
    assert isinstance(ours, str) == (total > moto_item_sizes.MAX_ITEM_SIZE)


def test_the_attribute_that_crosses_the_limit_is_the_one_refused():
    attrs = {**sized(404_000, parts=2), "late": {"L": [{"S": "y" * 600}, {"M": {"k": {"S": "z" * 600}}}]}}
    motos, ours = both(attrs)
    assert ours == motos and ours.startswith("ItemSizeTooLarge")


@pytest.fixture
def table(moto_dynamodb):
    create_key_table(moto_dynamodb, "t")
    return moto_dynamodb


def through_the_api(ddb, pk: str) -> list:
    key = {"PK": {"S": pk}, "SK": {"S": "s"}}
    near = {name: value for name, value in sized(404_900).items() if name not in KEYS}
    calls = [
        lambda: ddb.put_item(TableName="t", Item={**key, **VALUES}),
        lambda: ddb.put_item(TableName="t", Item={**key, **near}),
        lambda: ddb.update_item(TableName="t", Key=key, UpdateExpression="SET more = :v",
                                ExpressionAttributeValues={":v": {"S": "x" * 200}}),
        lambda: ddb.put_item(TableName="t", Item={**key, **near, "over": {"S": "x" * 200}}),
        lambda: ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {**key, **near, "over": {"S": "x" * 200}}}}]),
        lambda: ddb.update_item(TableName="t", Key={**key, "PK": {"S": pk + "-new"}}, UpdateExpression="SET big = :v",
                                ExpressionAttributeValues={":v": {"S": "x" * 406_000}}),
        lambda: ddb.put_item(TableName="t", Item={**key, **VALUES}),
        lambda: ddb.get_item(TableName="t", Key=key, ProjectionExpression="s, m.deep, l[1], ss"),
        lambda: ddb.batch_get_item(RequestItems={"t": {"Keys": [key], "ProjectionExpression": "n, #b",
                                                       "ExpressionAttributeNames": {"#b": "bool"}}}),
    ]
    seen = []
    for call in calls:
        try:
            answer = call()
            stored = ddb.get_item(TableName="t", Key=key, ConsistentRead=True).get("Item", {})
            answer.pop("ResponseMetadata", None)
            seen.append((answer, {k: len(str(v)) for k, v in stored.items() if k != "PK"}))
        except ClientError as exc:
            seen.append(exc.response["Error"])
    return seen


def test_the_same_items_and_errors_through_the_api(table, monkeypatch):
    monkeypatch.setattr(Item, "__init__", moto_item_sizes.MOTOS_ITEM_INIT)
    with_motos = through_the_api(table, "motos")
    monkeypatch.setattr(Item, "__init__", moto_item_sizes.item_init)
    assert through_the_api(table, "ours") == with_motos
    assert sum("Code" in seen for seen in with_motos) >= 2  # some refused, and...
    assert sum("Code" not in seen for seen in with_motos) >= 5  # ...some stored


def test_installed_for_the_tests():
    assert Item.__dict__["__init__"] is moto_item_sizes.item_init
