"""The local stack's serializer shortcut (devstack/moto_serialize.py) writes every
response as moto's own does: the same calls, answered once with each, parse the same
(every DynamoDB attribute type, projections, pages, return values, errors, and the
other services the app calls); it only asks the alias providers less often, and reads a
plain dict's members without a picker's context."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import ResponseSerializer, XFormedAttributePicker

from devstack import moto_serialize
from tests.conftest import REGION, create_key_table, use_fake_aws

TABLE = "t"
ITEM = {
    "PK": {"S": "REPO#a"},
    "SK": {"S": "TAG#1"},
    "s": {"S": "text"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\xff bytes"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x", b"y"]},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": True}}}]}, "null": {"NULL": True}}},
    "l": {"L": [{"S": "a"}, {"B": b"z"}]},
    "yes": {"BOOL": False},
}


@pytest.fixture(scope="module")
def clients():
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            create_key_table(ddb, TABLE)
            for n in range(12):
                ddb.put_item(TableName=TABLE, Item={**ITEM, "SK": {"S": f"TAG#{n:02d}"}})
            ssm = boto3.client("ssm", region_name=REGION)
            ssm.put_parameter(Name="/berth/config/a", Value="1", Type="String")
            ssm.put_parameter(Name="/berth/secret", Value="s", Type="SecureString")
            sqs = boto3.client("sqs", region_name=REGION)
            queue = sqs.create_queue(QueueName="q")["QueueUrl"]
            yield ddb, ssm, sqs, queue


CALLS = {
    "get_item": lambda c: c[0].get_item(TableName=TABLE, Key={"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#03"}}),
    "get_item_capacity": lambda c: c[0].get_item(
        TableName=TABLE, Key={"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#04"}}, ReturnConsumedCapacity="INDEXES",
    ),
    "get_item_missing": lambda c: c[0].get_item(
        TableName=TABLE, Key={"PK": {"S": "REPO#a"}, "SK": {"S": "none"}}, ReturnConsumedCapacity="TOTAL"
    ),
    "get_item_projected": lambda c: c[0].get_item(
        TableName=TABLE, Key={"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#03"}}, ProjectionExpression="s, m.inner, l[1], #b",
        ExpressionAttributeNames={"#b": "b"},
    ),
    "batch_get_item": lambda c: c[0].batch_get_item(
        RequestItems={TABLE: {"Keys": [{"PK": {"S": "REPO#a"}, "SK": {"S": f"TAG#{n:02d}"}} for n in (1, 5, 99)],
                              "ProjectionExpression": "PK, SK, n, ss, bs, yes"}}
    ),
    "query_page": lambda c: c[0].query(
        TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "REPO#a"}}, Limit=5,
        ScanIndexForward=False,
    ),
    "scan": lambda c: c[0].scan(TableName=TABLE, Select="COUNT"),
    "update_return_values": lambda c: c[0].update_item(
        TableName=TABLE, Key={"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#00"}}, UpdateExpression="SET n = :v",
        ExpressionAttributeValues={":v": {"N": "3"}}, ReturnValues="ALL_NEW",
    ),
    "transact_cancelled": lambda c: c[0].transact_write_items(
        TransactItems=[{"ConditionCheck": {"TableName": TABLE, "Key": {"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#00"}},
                                           "ConditionExpression": "attribute_not_exists(PK)",
                                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
    ),
    "describe_table": lambda c: c[0].describe_table(TableName=TABLE),
    "ssm_by_path": lambda c: c[1].get_parameters_by_path(Path="/berth", Recursive=True, WithDecryption=True),
    "sqs_attributes": lambda c: c[2].get_queue_attributes(QueueUrl=c[3], AttributeNames=["QueueArn", "VisibilityTimeout"]),
}


def answer(call, clients):
    try:
        reply = call(clients)
    except ClientError as exc:
        reply = exc.response
    reply.pop("ResponseMetadata", None)
    return reply


@pytest.mark.parametrize("name", CALLS)
def test_the_same_answer_as_motos_own(name, clients, monkeypatch):
    monkeypatch.setattr(XFormedAttributePicker, "get_possible_keys", moto_serialize.MOTOS_POSSIBLE_KEYS)
    monkeypatch.setattr(ResponseSerializer, "get_value", moto_serialize.MOTOS_GET_VALUE)
    monkeypatch.setattr(ResponseSerializer, "_serialize_type_structure", moto_serialize.MOTOS_STRUCTURE)
    motos = answer(CALLS[name], clients)
    monkeypatch.setattr(XFormedAttributePicker, "get_possible_keys", moto_serialize.get_possible_keys)
    monkeypatch.setattr(ResponseSerializer, "get_value", moto_serialize.get_value)
    monkeypatch.setattr(ResponseSerializer, "_serialize_type_structure", moto_serialize._serialize_type_structure)
    ours, again = answer(CALLS[name], clients), answer(CALLS[name], clients)  # the second from what was remembered
    assert ours == motos and again == motos
    assert motos  # something was answered


def test_installed_for_the_tests():
    assert XFormedAttributePicker.get_possible_keys is moto_serialize.get_possible_keys
    assert ResponseSerializer.get_value is moto_serialize.get_value
    assert ResponseSerializer._serialize_type_structure is moto_serialize._serialize_type_structure


class Named(dict):
    """A dict of another class: the providers may name other keys for it."""


@pytest.mark.parametrize("obj", [
    {"Item": 0}, {"item": False}, {"Item": None, "item": 1}, {}, {"Item": {"a": 1}, "Other": 2},
    Named(Item=3), Named(),
])
@pytest.mark.parametrize("transformers", [None, {"GetItem.Item": lambda v: ("transformed", v)}])
def test_a_members_value_as_motos_picker_reads_it(obj, transformers):
    from moto.core.serialize import JSONSerializer
    from moto.core.utils import get_service_model

    operation = get_service_model("dynamodb").operation_model("GetItem")
    member = operation.output_shape.members["Item"]
    member.parent = operation.output_shape  # as the serializer sets it before asking
    serializer = JSONSerializer(operation_model=operation, value_picker=XFormedAttributePicker(response_transformers=transformers))
    motos = moto_serialize.MOTOS_GET_VALUE(serializer, obj, "Item", member)
    assert moto_serialize.get_value(serializer, obj, "Item", member) == motos
    assert moto_serialize.get_value(serializer, obj, "Item", member) == motos  # from what was remembered
