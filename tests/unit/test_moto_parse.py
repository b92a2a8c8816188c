"""The local stack's JSON-protocol parse (devstack/moto_parse.py) reads every request as
moto's own parser does: the same parameters, in the same order, of the same types, for
every DynamoDB and SQS operation Berth calls as botocore writes them, and for bodies no
botocore writes (binary values, nested maps and lists, sets, empty and null values,
unknown keys, numbers as strings, bodies of the wrong shape or not JSON): the same
result or the same error. Each request is parsed by both and compared."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlparse

import boto3
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.responses import SQSResponse

from devstack import moto_parse
from tests.conftest import REGION

DDB_URL = f"https://dynamodb.{REGION}.amazonaws.com/"
SQS_URL = f"https://sqs.{REGION}.amazonaws.com/"
QUEUE = f"https://sqs.{REGION}.amazonaws.com/123456789012/q"
KEY = {"PK": {"S": "REPO#a"}, "SK": {"S": "TAG#1"}}
ITEM = {
    **KEY,
    "s": {"S": "text"}, "empty": {"S": ""}, "n": {"N": "-12.5e3"}, "b": {"B": b"\x00\xff bytes"},
    "emptyb": {"B": b""}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"x", b"\x00"]},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": True}}}]}, "null": {"NULL": True}}},
    "l": {"L": [{"S": "a"}, {"B": b"z"}, {"L": []}, {"M": {}}]}, "no": {"BOOL": False}, "emptym": {"M": {}},
}
VALUES = {":b": {"B": b"\x01"}, ":m": {"M": {"a": {"SS": ["x"]}}}, ":n": {"N": "0"}}

DDB_CALLS = {  # every DynamoDB operation Berth's stores and tests call, with its options
    "get_item": {"TableName": "t", "Key": KEY, "ConsistentRead": True, "ProjectionExpression": "#a, b.c[1]",
                     "ExpressionAttributeNames": {"#a": "a"}},
    "put_item": {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(PK) OR b = :b",
                     "ExpressionAttributeValues": VALUES, "ReturnValues": "ALL_OLD",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
    "update_item": {"TableName": "t", "Key": KEY, "UpdateExpression": "SET #a = :m ADD c :n REMOVE d",
                        "ConditionExpression": "attribute_exists(PK)", "ExpressionAttributeNames": {"#a": "a"},
                        "ExpressionAttributeValues": VALUES, "ReturnValues": "UPDATED_NEW"},
    "delete_item": {"TableName": "t", "Key": KEY, "ConditionExpression": "b = :b", "ExpressionAttributeValues": VALUES},
    "query": {"TableName": "t", "IndexName": "GSI1", "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
                  "FilterExpression": "n > :n", "ExpressionAttributeValues": {":p": {"S": "x"}, ":s": {"S": "T"}, ":n": {"N": "1"}},
                  "Limit": 25, "ScanIndexForward": False, "ExclusiveStartKey": KEY, "Select": "ALL_ATTRIBUTES"},
    "scan": {"TableName": "t", "ProjectionExpression": "PK, SK", "Limit": 7, "ExclusiveStartKey": KEY, "Segment": 1, "TotalSegments": 4},
    "batch_get_item": {"RequestItems": {"t": {"Keys": [KEY, {**KEY, "SK": {"S": "TAG#2"}}],
                                               "ProjectionExpression": "PK, b", "ConsistentRead": True}}},
    "batch_write_item": {"RequestItems": {"t": [{"PutRequest": {"Item": ITEM}}, {"DeleteRequest": {"Key": KEY}}]}},
    "transact_write_items": {"TransactItems": [
        {"ConditionCheck": {"TableName": "t", "Key": KEY, "ConditionExpression": "attribute_exists(PK)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Put": {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Update": {"TableName": "t", "Key": KEY, "UpdateExpression": "SET a = :m", "ExpressionAttributeValues": VALUES}},
        {"Delete": {"TableName": "t", "Key": KEY}},
    ], "ClientRequestToken": "token"},
    "describe_table": {"TableName": "t"},
    "describe_time_to_live": {"TableName": "t"},
    "create_table": {"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
                         "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
                         "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
                         "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}},
    "list_backups": {"TableName": "t", "TimeRangeLowerBound": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                         "Limit": 3},
}
SQS_CALLS = {
    "send_message_batch": {"QueueUrl": QUEUE, "Entries": [
        {"Id": "1", "MessageBody": "{}", "DelaySeconds": 3, "MessageAttributes": {
            "bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
            "str": {"DataType": "String", "StringValue": ""}}},
        {"Id": "2", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
    ]},
    "send_message": {"QueueUrl": QUEUE, "MessageBody": "body", "MessageAttributes": {
        "n": {"DataType": "Number", "StringValue": "1"}}},
    "receive_message": {"QueueUrl": QUEUE, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0, "VisibilityTimeout": 30,
                            "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["ApproximateReceiveCount"]},
    "delete_message": {"QueueUrl": QUEUE, "ReceiptHandle": "r"},
    "delete_message_batch": {"QueueUrl": QUEUE, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]},
    "change_message_visibility": {"QueueUrl": QUEUE, "ReceiptHandle": "r", "VisibilityTimeout": 0},
    "get_queue_attributes": {"QueueUrl": QUEUE, "AttributeNames": ["QueueArn", "VisibilityTimeout"]},
    "purge_queue": {"QueueUrl": QUEUE},
    "get_queue_url": {"QueueName": "q"},
}


def botocores(service: str, operation: str, params: dict):
    """The request botocore sends for this call (signed, as moto's stubber receives it)."""
    client = boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    sent = []

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, MockRawResponse(b"{}"))

    client.meta.events.register_first("before-send", capture)
    getattr(client, operation)(**params)
    request = sent[0]
    for header, value in request.headers.items():  # as moto's stubber hands it on
        if isinstance(value, bytes):
            request.headers[header] = value.decode("utf-8")
    return request


def raw(url: str, target: str, body: bytes, **headers: str):
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target, **headers}
    return AWSRequest(method="POST", url=url, data=body, headers=headers).prepare()


def as_data(value):
    """A value as plain data that keeps what == would not: dict order and every type."""
    if isinstance(value, dict):
        return ("dict", [(k, as_data(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [as_data(v) for v in value])
    return (type(value).__name__, repr(value))


def parsed(parse, response_class: type[BaseResponse], request):
    handler = response_class()
    handler.querystring, handler.headers, handler.uri_match = {}, request.headers, None
    handler.method, handler.raw_path = request.method, urlparse(request.url).path
    try:
        parse(handler, request)
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"
    return as_data(handler.params)


def assert_same(response_class, request):
    motos = parsed(moto_parse.MOTOS_PARSE_PARAMETERS, response_class, request)
    ours, again = (parsed(moto_parse.parse_parameters, response_class, request) for _ in range(2))
    assert ours == motos and again == motos
    return motos


@pytest.mark.parametrize("operation", DDB_CALLS)
def test_dynamodb_calls_as_botocore_writes_them(operation):
    request = botocores("dynamodb", operation, DDB_CALLS[operation])
    assert moto_parse._plain_json_body(DynamoHandler(), request) is not None  # the planned path, not moto's
    assert assert_same(DynamoHandler, request)[0] == "dict"


@pytest.mark.parametrize("operation", SQS_CALLS)
def test_sqs_calls_as_botocore_writes_them(operation):
    request = botocores("sqs", operation, SQS_CALLS[operation])
    assert moto_parse._plain_json_body(SQSResponse(), request) is not None
    assert assert_same(SQSResponse, request)[0] == "dict"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ODD_ITEM = {
    "PK": {"S": "a", "Unknown": 1}, "SK": {"S": None, "N": "1"}, "b": {"B": b64(b"\x00\x01")}, "bad64": {"B": "!!!!"},
    "bs": {"BS": [b64(b"x"), ""]}, "m": {"M": {"z": {"L": [{"NULL": True}, {"BOOL": False}, None, {}]}, "a": {"M": {}}}},
    "ss": {"SS": []}, "empty": {}, "nulls": {"NULL": None, "BOOL": None}, "both": {"N": "1", "S": "1"},
    "set as text": {"SS": "abc"}, "set as map": {"NS": {"1": None}},
}
BODIES = {  # (target, body): what botocore would never send
    "odd item": ("PutItem", {"TableName": "t", "Item": ODD_ITEM, "Extra": {"x": 1}, "ReturnValues": None}),
    "keys out of order": ("Query", {"Limit": 3, "TableName": "t", "KeyConditionExpression": "PK = :p", "Select": None}),
    "limit as text": ("Query", {"TableName": "t", "Limit": "5"}),
    "limit as float": ("Scan", {"TableName": "t", "Limit": 2.9, "Segment": True}),
    "limit not a number": ("Query", {"TableName": "t", "Limit": "five"}),
    "limit as list": ("Query", {"TableName": "t", "Limit": [1]}),
    "bad base64": ("GetItem", {"TableName": "t", "Key": {"PK": {"B": "abc"}}}),
    "number as blob": ("GetItem", {"TableName": "t", "Key": {"PK": {"B": 5}}}),
    "list as text": ("PutItem", {"TableName": "t", "Item": {"l": {"L": "abc"}}}),
    "list as map": ("PutItem", {"TableName": "t", "Item": {"l": {"L": {"k": {"S": "v"}}}}}),
    "item as list": ("PutItem", {"TableName": "t", "Item": [{"S": "a"}]}),
    "item as text": ("PutItem", {"TableName": "t", "Item": "PK"}),
    "value as text": ("PutItem", {"TableName": "t", "Item": {"PK": "a"}}),
    "keys as map": ("BatchGetItem", {"RequestItems": {"t": {"Keys": {"PK": {"S": "a"}}}}}),
    "empty request": ("DescribeTable", {}),
    "timestamp as text": ("ListBackups", {"TimeRangeLowerBound": "2026-01-02T03:04:05Z", "TimeRangeUpperBound": 1.5e9}),
    "timestamp not a time": ("ListBackups", {"TimeRangeLowerBound": "soon"}),
    "transaction of nulls": ("TransactWriteItems", {"TransactItems": [None, {"Put": None}, {"Update": {"Key": None}}]}),
}
RAW_BODIES = {
    "top level list": b"[]",
    "top level text": b'"text"',
    "top level number": b"12",
    "top level null": b"null",
    "empty body": b"",
    "not json": b"TableName=t",
    "not utf-8": b'{"TableName": "\xff"}',
    "message key": b'{"message": "hi", "TableName": "t"}',
    "duplicate keys": b'{"TableName": "a", "TableName": "b"}',
}


@pytest.mark.parametrize("name", BODIES)
def test_dynamodb_bodies_botocore_would_not_write(name):
    target, body = BODIES[name]
    assert_same(DynamoHandler, raw(DDB_URL, f"DynamoDB_20120810.{target}", json.dumps(body).encode()))


@pytest.mark.parametrize("name", RAW_BODIES)
def test_bodies_that_are_not_a_request(name):
    assert_same(DynamoHandler, raw(DDB_URL, "DynamoDB_20120810.PutItem", RAW_BODIES[name]))
    assert_same(SQSResponse, raw(SQS_URL, "AmazonSQS.SendMessage", RAW_BODIES[name]))


def test_sqs_message_attributes_of_every_kind():
    body = {"QueueUrl": QUEUE, "MessageBody": "", "MessageAttributes": {
        "b": {"DataType": "Binary", "BinaryValue": b64(b"\x00"), "BinaryListValues": [b64(b"1"), ""]},
        "s": {"DataType": "String", "StringValue": "", "StringListValues": []}, "x": None},
        "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "t"}}, "DelaySeconds": "0"}
    assert_same(SQSResponse, raw(SQS_URL, "AmazonSQS.SendMessage", json.dumps(body).encode(),
                                 **{"Content-Type": "application/x-amz-json-1.0"}))


@pytest.mark.parametrize("headers", [
    {"X-Amz-Target": "DynamoDB_20120810.NoSuchOperation"},  # an unknown operation: the same error
    {"Content-Type": "application/json"},  # another protocol: moto's parse
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Encoding": "gzip"},  # werkzeug's own handling: moto's parse
    {"Content-Length": "3"},
])
def test_requests_the_plan_does_not_cover_are_motos(headers):
    request = raw(DDB_URL, "DynamoDB_20120810.GetItem", json.dumps({"TableName": "t", "Key": KEY}).encode(), **headers)
    assert_same(DynamoHandler, request)


def test_installed_for_the_tests():
    assert BaseResponse.parse_parameters is moto_parse.parse_parameters
