"""The local stack's TransactWriteItems (devstack/moto_transactions.py) answers every
transaction as moto's own does: the same writes, the same cancellation reasons, the
same stream records; only cheaper. Each scenario runs on both and compares."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from devstack import moto_transactions
from tests.conftest import REGION, create_key_table, use_fake_aws

TABLE = "t"


@pytest.fixture(params=["moto", "devstack"])
def dynamodb(request):
    implementation = moto_transactions.MOTOS_OWN if request.param == "moto" else moto_transactions.transact_write_items
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        mp.setattr(DynamoDBBackend, "transact_write_items", implementation)
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            create_key_table(client, TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            yield client


def key(pk: str, sk: str = "x") -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def put(pk: str, condition: str | None = None, **attrs) -> dict:
    item = {**key(pk), **{k: {"S": v} if isinstance(v, str) else {"N": str(v)} for k, v in attrs.items()}}
    return {"Put": {"TableName": TABLE, "Item": item, **({"ConditionExpression": condition} if condition else {})}}


def items(client) -> dict[str, dict]:
    return {i["PK"]["S"]: i for i in client.scan(TableName=TABLE)["Items"]}


def stream(client) -> list[tuple[str, str]]:
    """The table's stream records, read from moto's backend (its in-process mock has no
    streams API; the devstack's server does)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE].stream_shard
    return [(r.record["eventName"], r.record["dynamodb"]["Keys"]["PK"]["S"]) for r in shard.items]


def cancelled(client, operations) -> list[dict]:
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=operations)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    return caught.value.response["CancellationReasons"]


def test_a_transaction_writes_all_its_items_and_their_stream_records(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("old"), "n": {"N": "1"}})
    dynamodb.transact_write_items(
        TransactItems=[
            put("a", "attribute_not_exists(PK)", v="1"),
            {"Update": {"TableName": TABLE, "Key": key("old"), "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("gone")}},
            {"ConditionCheck": {"TableName": TABLE, "Key": key("nothing"), "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
    )
    assert set(items(dynamodb)) == {"a", "old"} and items(dynamodb)["old"]["n"] == {"N": "2"}
    assert stream(dynamodb) == [("INSERT", "old"), ("INSERT", "a"), ("MODIFY", "old")]


def test_a_failed_condition_cancels_every_write_and_names_its_reason(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("taken"), "v": {"S": "kept"}})
    operations = [put("new", v="1"), put("taken", "attribute_not_exists(PK)", v="lost"), put("also", v="2")]
    reasons = cancelled(dynamodb, operations)
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert items(dynamodb) == {"taken": {**key("taken"), "v": {"S": "kept"}}}
    assert stream(dynamodb) == [("INSERT", "taken")]


def test_a_failed_condition_returns_the_item_when_asked(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("taken"), "v": {"S": "kept"}})
    check = {"TableName": TABLE, "Key": key("taken"), "ConditionExpression": "attribute_not_exists(PK)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    (reason,) = cancelled(dynamodb, [{"ConditionCheck": check}])
    assert reason["Code"] == "ConditionalCheckFailed" and reason["Item"]["v"] == {"S": "kept"}


def test_a_write_that_fails_after_others_are_written_leaves_nothing_behind(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("text"), "v": {"S": "a string"}})
    dynamodb.put_item(TableName=TABLE, Item={**key("count"), "n": {"N": "5"}})
    bump = {"TableName": TABLE, "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    operations = [
        put("fresh", v="1"),
        {"Update": {**bump, "Key": key("count")}},
        {"Update": {**bump, "Key": key("text"), "UpdateExpression": "ADD v :one"}},  # ADD to a string: refused
    ]
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=operations)
    assert set(items(dynamodb)) == {"text", "count"} and items(dynamodb)["count"]["n"] == {"N": "5"}
    assert stream(dynamodb) == [("INSERT", "text"), ("INSERT", "count")]


def test_one_item_named_twice_is_refused_before_anything_is_written(dynamodb):
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(TransactItems=[put("twice", v="1"), put("twice", v="2")])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert items(dynamodb) == {} and stream(dynamodb) == []
