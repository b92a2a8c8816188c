"""The local stack's update-expression parses (devstack/moto_update_expressions.py) are
moto's own: the same tree for every kind of clause, the same error for what does not
parse, a tree that moto's validator and executor may rewrite without changing the next
parse of the same text, and the same items and errors from the same updates."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

from devstack import moto_update_expressions
from tests.conftest import create_key_table

EXPRESSIONS = [
    "SET #e = :e",
    "SET login_good_until = :g, #e = :g REMOVE login_failures, login_last_failure",
    "ADD written :one SET #e = :e",
    "SET hard = :h, updated = :now, created = if_not_exists(created, :now), used = if_not_exists(used, :zero)",
    "SET tasks.#task.#f0 = :v0, tasks.#task.#f1 = :v1",
    "SET l = list_append(l, :more), n = n + :one, m.inner[1] = :x, c = :a - :b",
    "ADD s :s, n :one DELETE ss :gone",
    "REMOVE m.inner[0], l[1]",
    "  set  a=:a,b = :b  ",
]
BAD = ["SET = :e", "SET a = :a SET b = :b", "REMOVE", "SET a = ", "FOO a :b", "SET a = :a,"]


def shape(node):
    """A tree as plain data: each node's class, its value if a leaf, its children."""
    if isinstance(node, list | tuple):
        return [shape(n) for n in node]
    if not hasattr(node, "children"):
        return repr(node)
    return type(node).__name__, repr(getattr(node, "value", None)), shape(node.children or [])


def motos(text: str):
    return moto_update_expressions.MOTOS_MAKE.__func__(UpdateExpressionParser, text)


def outcome(parse, text: str):
    try:
        return shape(parse(text))
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", EXPRESSIONS + BAD)
def test_the_same_tree_or_error_as_motos_own(text):
    first, again = outcome(UpdateExpressionParser.make, text), outcome(UpdateExpressionParser.make, text)
    assert first == again == outcome(motos, text)


def test_each_parse_is_a_fresh_tree_that_rewriting_does_not_reach():
    text = EXPRESSIONS[3]
    one, two = UpdateExpressionParser.make(text), UpdateExpressionParser.make(text)
    assert one is not two
    one.children.clear()  # what moto's validator does to a tree, in the large
    assert shape(UpdateExpressionParser.make(text)) == shape(motos(text))


@pytest.fixture
def table(moto_dynamodb):
    create_key_table(moto_dynamodb, "t", sort_key=False)
    return moto_dynamodb


UPDATES = [  # (expression, its names, its values): each run twice, in a transaction and not
    ("SET #e = :e", {"#e": "e"}, {":e": {"S": "x"}}),
    ("ADD written :one SET #e = :e", {"#e": "e"}, {":one": {"N": "1"}, ":e": {"S": "y"}}),
    ("SET hard = :h, updated = :now, created = if_not_exists(created, :now), used = if_not_exists(used, :zero)",
     {}, {":h": {"N": "10"}, ":now": {"N": "7"}, ":zero": {"N": "0"}}),
    ("SET used = used + :one, l = list_append(if_not_exists(l, :empty), :more)", {},
     {":one": {"N": "1"}, ":empty": {"L": []}, ":more": {"L": [{"S": "a"}]}}),
    ("SET m.inner = :one", {}, {":one": {"N": "1"}}),  # no map m: an error, the same each time
    ("REMOVE written, l[0]", {}, {}),
    ("SET #e = :missing", {"#e": "e"}, {":e": {"S": "x"}}),
]


def run_updates(ddb, key: str) -> list:
    seen = []
    for _ in range(2):
        for text, names, values in UPDATES:
            for transact in (False, True):
                spec = {"TableName": "t", "Key": {"PK": {"S": key}}, "UpdateExpression": text}
                spec.update({"ExpressionAttributeNames": names} if names else {})
                spec.update({"ExpressionAttributeValues": values} if values else {})
                try:
                    ddb.transact_write_items(TransactItems=[{"Update": spec}]) if transact else ddb.update_item(**spec)
                    item = ddb.get_item(TableName="t", Key={"PK": {"S": key}}, ConsistentRead=True)["Item"]
                    seen.append({name: value for name, value in item.items() if name != "PK"})
                except ClientError as exc:
                    seen.append(exc.response["Error"])
    return seen


def test_the_same_items_and_errors_as_with_motos_own(table, monkeypatch):
    monkeypatch.setattr(UpdateExpressionParser, "make", moto_update_expressions.MOTOS_MAKE)
    with_motos = run_updates(table, "motos")
    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(moto_update_expressions.make))
    ours = run_updates(table, "ours")
    assert ours == with_motos
    assert any("Code" in seen for seen in ours) and any("used" in seen for seen in ours)  # both kinds happened


def test_installed_for_the_tests():
    assert UpdateExpressionParser.__dict__["make"].__func__ is moto_update_expressions.make
