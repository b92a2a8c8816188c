"""The local stack's Query (devstack/moto_queries.py) answers every query as moto's own
does: the same items, in the same order, the same pages and errors; it only reads less.
Each query runs on both and compares."""
from __future__ import annotations

import random

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.table import Table

from devstack import moto_queries
from tests.conftest import REGION, create_key_table, use_fake_aws

TABLE = "t"
PARTITIONS = ["REPO#a", "REPO#b", "REPO#a/b", "USER#x"]


@pytest.fixture(scope="module")
def dynamodb():
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            create_key_table(client, TABLE)
            create_key_table(client, "flat", sort_key=False)
            rng = random.Random(7)
            for n in range(300):
                pk = rng.choice(PARTITIONS)
                item = {"PK": {"S": pk}, "SK": {"S": f"TAG#{rng.randrange(10**6):06d}"}, "n": {"N": str(n % 17)}}
                client.put_item(TableName=TABLE, Item=item)
            for pk in PARTITIONS:
                client.put_item(TableName="flat", Item={"PK": {"S": pk}, "v": {"S": pk[::-1]}})
            yield client


def both(monkeypatch, client, **query):
    """(moto's answer, the local stack's answer): items and paging, or the error code."""
    answers = []
    for implementation in (moto_queries.MOTOS_QUERY, moto_queries.query):
        monkeypatch.setattr(Table, "query", implementation)
        pages, start = [], None
        try:
            while True:
                page = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
                pages.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        except ClientError as exc:
            pages = [exc.response["Error"]["Code"]]
        answers.append(pages)
    return answers


QUERIES = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "REPO#a"}}},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "REPO#a"}}, "ScanIndexForward": False},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "REPO#b"}}, "Limit": 7},
    {"KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
     "ExpressionAttributeValues": {":p": {"S": "REPO#a/b"}, ":s": {"S": "TAG#1"}}, "Limit": 5},
    {"KeyConditionExpression": "PK = :p AND SK > :s", "ExpressionAttributeValues": {":p": {"S": "USER#x"}, ":s": {"S": "TAG#5"}},
     "ScanIndexForward": False, "Limit": 9},
    {"KeyConditionExpression": "PK = :p AND SK BETWEEN :a AND :b",
     "ExpressionAttributeValues": {":p": {"S": "REPO#a"}, ":a": {"S": "TAG#2"}, ":b": {"S": "TAG#7"}}},
    {"KeyConditionExpression": "PK = :p", "FilterExpression": "n > :n", "ProjectionExpression": "SK, n",
     "ExpressionAttributeValues": {":p": {"S": "REPO#b"}, ":n": {"N": "8"}}, "Limit": 10},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "REPO#none"}}},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "REPO#a"}}, "IndexName": "nope"},
    {"KeyConditionExpression": "SK = :s", "ExpressionAttributeValues": {":s": {"S": "TAG#1"}}},
]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_a_query_answers_as_motos_own(dynamodb, monkeypatch, query):
    ours, motos = both(monkeypatch, dynamodb, TableName=TABLE, **query)
    assert ours == motos
    assert ours != [[([], 0, None)]] or "none" in str(query)  # the data is there to be found


@pytest.mark.parametrize("pk", ["USER#x", "REPO#none"])
def test_a_table_without_a_range_key_answers_as_motos_own(dynamodb, monkeypatch, pk):
    ours, motos = both(monkeypatch, dynamodb, TableName="flat", KeyConditionExpression="PK = :p",
                       ExpressionAttributeValues={":p": {"S": pk}})
    assert ours == motos


def test_a_query_leaves_no_empty_partition_behind(dynamodb):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE]
    held = len(table.items)
    dynamodb.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "NEW#1"}})
    assert len(table.items) == held


def test_scans_still_see_the_whole_table(dynamodb):
    assert dynamodb.scan(TableName=TABLE)["Count"] == 300


def test_a_query_does_not_list_the_table(dynamodb, monkeypatch):
    listed = []
    monkeypatch.setattr(Table, "query", moto_queries.query)
    monkeypatch.setattr(moto_queries, "MOTOS_ALL_ITEMS", lambda table: listed.append(table) or [])
    found = dynamodb.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "REPO#a"}})
    assert found["Count"] > 0 and listed == []
    dynamodb.scan(TableName=TABLE)
    assert len(listed) == 1
