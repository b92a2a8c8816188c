"""The local stack's condition parses (devstack/moto_conditions.py) are moto's own: for
every expression, names and values, a tree that finds the same items true, the same
names and values found, the same error; a fresh tree for each parse; and through the
API the same writes, cancellations and filtered reads."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from devstack import moto_conditions
from tests.conftest import create_key_table

NAMES = {"#v": "version", "#r": "repo", "#t": "tags"}
VALUES = {":v": {"N": "3"}, ":n": {"N": "2"}, ":p": {"S": "lib/"}, ":s": {"S": "x"}, ":l": {"L": [{"S": "a"}]},
          ":ss": {"SS": ["a"]}, ":t": {"S": "SS"}, ":m": {"M": {"k": {"N": "1"}}}}
EXPRESSIONS = [
    "attribute_not_exists(PK)",
    "attribute_exists(PK) AND #v = :v",
    "attribute_not_exists(PK) OR (#v < :v AND size(#t) < :n AND begins_with(#r, :p))",
    "NOT contains(#t, :s) AND attribute_type(#t, :t)",
    "#v BETWEEN :n AND :v OR #r IN (:p, :s)",
    "m.k = :n OR m = :m OR l = :l",
    "#v <> :v",
    "#v = :missing",
    "#missing = :v",
    "attribute_exists(PK) AND",
    "((#v = :v))",
    "size = :v",  # a reserved word
    "#v = :v AND unknown_function(#r)",
]
ITEMS = [
    None,
    {"version": {"N": "3"}, "repo": {"S": "lib/alpine"}, "tags": {"SS": ["a", "b"]}, "m": {"M": {"k": {"N": "2"}}}},
    {"version": {"N": "1"}, "repo": {"S": "x"}, "tags": {"SS": ["x"]}, "l": {"L": [{"S": "a"}]}, "m": {"M": {"k": {"N": "1"}}}},
]


def item(attrs):
    if attrs is None:
        return None
    return Item(DynamoType({"S": "p"}), DynamoType({"S": "s"}), {"PK": {"S": "p"}, "SK": {"S": "s"}, **attrs})


def outcome(parse, expression, names, values):
    parser = ConditionExpressionParser(expression, names, values)
    try:
        tree = parse(parser)
        found = (list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
        return [tree.expr(item(attrs)) for attrs in ITEMS], found, type(tree).__name__
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_same_truths_names_and_errors_as_motos_own(expression):
    for names, values in ((NAMES, VALUES), ({}, VALUES), (NAMES, {**VALUES, ":v": {"N": "1"}}), (None, None)):
        motos = outcome(moto_conditions.MOTOS_PARSE, expression, names, values)
        assert outcome(moto_conditions.parse, expression, names, values) == motos
        assert outcome(moto_conditions.parse, expression, names, values) == motos  # the remembered one


def test_outcomes_of_every_kind_are_compared():
    outcomes = [outcome(moto_conditions.parse, e, NAMES, VALUES) for e in EXPRESSIONS]
    truths = {truth for o in outcomes if not isinstance(o, str) for truth in o[0]}
    assert truths == {True, False}
    assert sum(isinstance(o, str) for o in outcomes) >= 4


def test_a_value_that_changes_is_a_new_parse():
    expression = "#v = :v"
    assert outcome(moto_conditions.parse, expression, NAMES, VALUES)[0] == [False, True, False]
    assert outcome(moto_conditions.parse, expression, NAMES, {**VALUES, ":v": {"N": "1"}})[0] == [False, False, True]
    assert outcome(moto_conditions.parse, expression, {**NAMES, "#v": "repo"}, VALUES)[0] == [False, False, False]


def test_each_parse_is_a_fresh_tree():
    one = ConditionExpressionParser("#v = :v", NAMES, VALUES).parse()
    two = ConditionExpressionParser("#v = :v", NAMES, VALUES).parse()
    assert one is not two and type(one) is type(two)


@pytest.fixture
def table(moto_dynamodb):
    return moto_dynamodb


def through_the_api(ddb, table: str) -> list:
    """The same calls on a table of their own (a scan reads all of it)."""
    create_key_table(ddb, table)
    key = {"PK": {"S": "p"}, "SK": {"S": "s"}}
    bump = {"UpdateExpression": "SET #v = #v + :one", "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"}}
    calls = [
        lambda: ddb.put_item(TableName=table, Item={**key, "version": {"N": "1"}}, ConditionExpression="attribute_not_exists(PK)"),
        lambda: ddb.put_item(TableName=table, Item={**key, "version": {"N": "9"}}, ConditionExpression="attribute_not_exists(PK)"),
        lambda: ddb.update_item(TableName=table, Key=key, **bump, ExpressionAttributeValues={":v": {"N": "1"}, ":one": {"N": "1"}}),
        lambda: ddb.update_item(TableName=table, Key=key, **bump, ExpressionAttributeValues={":v": {"N": "1"}, ":one": {"N": "1"}},
                                ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        lambda: ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": key, **bump, "ExpressionAttributeValues": {":v": {"N": "2"}, ":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {**key, "SK": {"S": "other"}}, "ConditionExpression": "attribute_exists(PK)"}},
        ]),
        lambda: ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": key, **bump, "ExpressionAttributeValues": {":v": {"N": "2"}, ":one": {"N": "1"}}}},
        ]),
        lambda: ddb.delete_item(TableName=table, Key=key, ConditionExpression="#v > :v",
                                ExpressionAttributeNames={"#v": "version"}, ExpressionAttributeValues={":v": {"N": "5"}}),
        lambda: ddb.put_item(TableName=table, Item=key, ConditionExpression="PK = :v", ExpressionAttributeNames={"#unused": "x"},
                             ExpressionAttributeValues={":v": {"N": "1"}}),
        lambda: ddb.put_item(TableName=table, Item=key, ConditionExpression="PK = :v",
                             ExpressionAttributeValues={":v": {"N": "1"}, ":unused": {"N": "1"}}),
        lambda: ddb.query(TableName=table, KeyConditionExpression="PK = :pk", FilterExpression="#v >= :v",
                          ExpressionAttributeNames={"#v": "version"}, ExpressionAttributeValues={":pk": key["PK"], ":v": {"N": "3"}}),
        lambda: ddb.scan(TableName=table, FilterExpression="#v < :v", ExpressionAttributeNames={"#v": "version"},
                         ExpressionAttributeValues={":v": {"N": "3"}}),
    ]
    seen = []
    for call in calls:
        try:
            answer = call()
            answer.pop("ResponseMetadata", None)
            answer.pop("ConsumedCapacity", None)  # names the table
            seen.append(answer)
        except ClientError as exc:
            seen.append((exc.response["Error"], exc.response.get("Item"), exc.response.get("CancellationReasons")))
    return seen


def test_the_same_writes_and_errors_through_the_api(table, monkeypatch):
    monkeypatch.setattr(ConditionExpressionParser, "parse", moto_conditions.MOTOS_PARSE)
    with_motos = through_the_api(table, "motos")
    monkeypatch.setattr(ConditionExpressionParser, "parse", moto_conditions.parse)
    assert through_the_api(table, "ours") == with_motos
    codes = {seen[0]["Code"] for seen in with_motos if isinstance(seen, tuple)}
    assert {"ConditionalCheckFailedException", "TransactionCanceledException", "ValidationException"} <= codes


def test_installed_for_the_tests():
    assert ConditionExpressionParser.__dict__["parse"] is moto_conditions.parse
