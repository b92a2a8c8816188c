"""The local stack's update-expression validation (devstack/moto_update_validation.py) is
moto's own: for every expression, item, names and values, the same validated tree or the
same error, the first time and when a structural check's pass is remembered; a copy of
the tree that is the deep copy's twin; and the same items and errors from the same
updates through the API."""
from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import UpdateExpressionValidator, Validator

from devstack import moto_update_validation as ours
from tests.conftest import create_key_table


class Table:
    """What moto's validator reads of a table: keyed by PK and SK, and an index's key G,
    all strings."""

    def __init__(self) -> None:
        self.table_key_attrs = ["PK", "SK"]
        self.attribute_keys = ["PK", "SK", "G"]
        self.attr = [{"AttributeName": k, "AttributeType": "S"} for k in self.attribute_keys]


VALUES = {
    ":s": {"S": "x"}, ":n": {"N": "2"}, ":one": {"N": "1"}, ":l": {"L": [{"S": "a"}]}, ":empty": {"S": ""},
    ":ss": {"SS": ["a", "b"]}, ":m": {"M": {"k": {"S": "v"}}},
}
NAMES = {"#e": "e", "#n": "n", "#pk": "PK", "#m": "m", "#task": "t1", "#f": "st"}
ITEMS = {
    "new": {},
    "full": {"e": {"S": "old"}, "n": {"N": "5"}, "l": {"L": [{"S": "z"}, {"S": "y"}]}, "ss": {"SS": ["a"]},
             "m": {"M": {"inr": {"L": [{"N": "1"}, {"N": "2"}]}, "t1": {"M": {"st": {"S": "q"}}}}},
             "txt": {"S": "t"}},
}
EXPRESSIONS = [
    "SET #e = :s",
    "SET e = :s, n = n + :one, created = if_not_exists(created, :n), used = if_not_exists(n, :one)",
    "SET l = list_append(l, :l), c = :n - :one, m.inr[1] = :s",
    "SET l = list_append(absent, :l)",
    "SET l = list_append(txt, :l)",
    "SET x = txt + :one",
    "SET #m.#task.#f = :s, #m.#task.oth = :n",
    "SET a.b.c = :s",
    "SET txt[0] = :s",
    "ADD n :one, ss :ss SET #e = :s REMOVE gone, l[0], l[1]",
    "ADD n :one DELETE ss :ss",
    "REMOVE m.inr[0], l[1], e",
    "SET #pk = :s",
    "SET G = :empty",
    "SET G = :n",
    "SET #e = :absent",
    "SET #undefined = :s",
    "SET a = :s, a = :n",
    "SET m.inr = :s, m.inr[0] = :n",
    "SET #e = :s, #e = :n",
    "SET #e = :s, e = :n",
    "SET a = :s SET b = :s",
    "ADD n :one ADD m :one",
    "REMOVE a REMOVE b",
    "SET comment = :s",  # a reserved word
    "SET txt.x = :s",  # a path through a string
    "SET a = :n + :one, b = :s + :one",
]


def motos_own(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(Validator, "__init__", ours.MOTOS_VALIDATOR_INIT)
    mp.setattr(Validator, "validate", ours.MOTOS_VALIDATE)
    mp.setattr(DepthFirstTraverser, "traverse", ours.MOTOS_TRAVERSE)
    mp.setattr(Node, "find_clauses", ours.MOTOS_FIND_CLAUSES)


def shape(node):
    """A validated tree as plain data: each node's class and children, values as JSON."""
    if isinstance(node, DynamoType):
        return "DynamoType", node.to_json()
    if isinstance(node, list):
        return [shape(n) for n in node]
    if not isinstance(node, Node):
        return repr(node)
    return type(node).__name__, shape(node.children or [])


def validated(text: str, item: str, names=NAMES, values=VALUES):
    tree = UpdateExpressionParser.make(text)
    target = Item(DynamoType({"S": "p"}), DynamoType({"S": "s"}), attrs={"PK": {"S": "p"}, "SK": {"S": "s"}, **ITEMS[item]})
    try:
        result = UpdateExpressionValidator(
            tree, expression_attribute_names=names, expression_attribute_values=values, item=target, table=Table()
        ).validate()
        result.normalize()
        return shape(result)
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("item", sorted(ITEMS))
def test_the_same_tree_or_error_as_motos_own(text, item):
    for names in (NAMES, {}, None, {**NAMES, "#extra": "x"}):
        with pytest.MonkeyPatch.context() as mp:
            motos_own(mp)
            expected = validated(text, item, names)
        assert validated(text, item, names) == expected
        assert validated(text, item, names) == expected  # a remembered pass changes nothing


def test_outcomes_of_every_kind_are_compared():
    outcomes = [validated(text, "full") for text in EXPRESSIONS]
    errors = {o.split(":")[0] for o in outcomes if isinstance(o, str)}
    assert {"TooManyClauses", "DuplicateUpdateExpression", "UpdateHashRangeKeyException", "ExpressionAttributeValueNotDefined",
            "InvalidAttributeTypeError", "EmptyKeyAttributeException", "AttributeIsReservedKeyword"} <= errors
    assert sum(not isinstance(o, str) for o in outcomes) >= 6


def test_a_pass_is_remembered_only_for_the_same_names_and_keys():
    text = "SET #a = :s, #b = :n"
    assert not isinstance(validated(text, "new", {"#a": "x", "#b": "y"}), str)
    assert validated(text, "new", {"#a": "x", "#b": "x"}).startswith("DuplicateUpdateExpression")
    assert validated(text, "new", {"#a": "x", "#b": "PK"}).startswith("UpdateHashRangeKeyException")


def test_the_copy_is_the_deep_copys_twin_and_shares_nothing():
    tree = UpdateExpressionParser.make(EXPRESSIONS[2])
    copied, tree_shape = ours.copy_tree(tree)
    assert tree_shape is not None and shape(copied) == shape(copy.deepcopy(tree))

    def nodes(node):
        yield node
        for child in node.children or []:
            if isinstance(child, Node):
                assert child.parent is node
                yield from nodes(child)

    assert not {id(n) for n in nodes(copied)} & {id(n) for n in nodes(tree)}
    assert [n.__dict__.keys() for n in nodes(copied)] == [n.__dict__.keys() for n in nodes(tree)]


def test_a_tree_of_anything_else_is_deep_copied():
    validated_tree = UpdateExpressionValidator(
        UpdateExpressionParser.make("SET a = :s"), expression_attribute_names={}, expression_attribute_values=VALUES,
        item=Item(DynamoType({"S": "p"}), None, attrs={"PK": {"S": "p"}}), table=Table(),
    ).validate()  # holds DynamoType values now
    shared = UpdateExpressionParser.make("SET a = :s")
    shared.children.append(shared.children[0])  # one node held twice
    tagged = UpdateExpressionParser.make("SET a = :s")
    tagged.note = "extra"
    for tree in (validated_tree, shared, tagged):
        copied, tree_shape = ours.copy_tree(tree)
        assert tree_shape is None and shape(copied) == shape(tree) and copied is not tree
    assert getattr(ours.copy_tree(tagged)[0], "note", None) == "extra"


@pytest.fixture
def table(moto_dynamodb):
    create_key_table(moto_dynamodb, "t")
    return moto_dynamodb


UPDATES = [  # (expression, its names, its values, the condition if any)
    ("SET #e = :e", {"#e": "e"}, {":e": {"S": "x"}}, None),
    ("SET hard = :h, created = if_not_exists(created, :now), used = if_not_exists(used, :zero)", {},
     {":h": {"N": "10"}, ":now": {"N": "7"}, ":zero": {"N": "0"}}, "attribute_exists(PK)"),
    ("SET used = used + :one, l = list_append(if_not_exists(l, :empty), :more)", {},
     {":one": {"N": "1"}, ":empty": {"L": []}, ":more": {"L": [{"S": "a"}]}}, None),
    ("SET m.inner = :one", {}, {":one": {"N": "1"}}, None),
    ("ADD used :one, tags :tags", {}, {":one": {"N": "1"}, ":tags": {"SS": ["a", "b"]}}, "used < :one"),
    ("SET big = :big", {}, {":big": {"S": "x" * 300_000}}, None),  # over the item size limit
    ("SET #pk = :e", {"#pk": "PK"}, {":e": {"S": "x"}}, None),
    ("SET a = :e, a = :e", {}, {":e": {"S": "x"}}, None),
    ("REMOVE l[0], used DELETE tags :tags", {}, {":tags": {"SS": ["a"]}}, None),
]


def run_updates(ddb, key: str) -> list:
    seen = []
    for _ in range(2):
        for text, names, values, condition in UPDATES:
            for transact in (False, True):
                spec = {"TableName": "t", "Key": {"PK": {"S": key}, "SK": {"S": "s"}}, "UpdateExpression": text}
                spec.update({"ExpressionAttributeNames": names} if names else {})
                spec.update({"ExpressionAttributeValues": values} if values else {})
                spec.update({"ConditionExpression": condition} if condition else {})
                try:
                    ddb.transact_write_items(TransactItems=[{"Update": spec}]) if transact else ddb.update_item(**spec)
                    item = ddb.get_item(TableName="t", Key=spec["Key"], ConsistentRead=True)["Item"]
                    seen.append({name: value for name, value in item.items() if name != "PK"})
                except ClientError as exc:
                    seen.append((exc.response["Error"], exc.response.get("CancellationReasons")))
    return seen


def test_the_same_items_and_errors_through_the_api(table):
    with pytest.MonkeyPatch.context() as mp:
        motos_own(mp)
        with_motos = run_updates(table, "motos")
    assert run_updates(table, "ours") == with_motos
    codes = {seen[0]["Code"] for seen in with_motos if isinstance(seen, tuple)}
    assert {"ValidationException", "ConditionalCheckFailedException", "TransactionCanceledException"} <= codes


def test_installed_for_the_tests():
    assert Validator.__dict__["__init__"] is ours.validator_init and Validator.__dict__["validate"] is ours.validate
    assert DepthFirstTraverser.__dict__["traverse"] is ours.traverse and Node.__dict__["find_clauses"] is ours.find_clauses


def test_a_structural_check_that_passed_is_not_walked_again(monkeypatch):
    walked = []

    def counting(self, node):
        walked.append(type(self).__name__)
        return ours.traverse(self, node)

    monkeypatch.setattr(DepthFirstTraverser, "traverse", counting)
    text = "SET a = :s, b = if_not_exists(b, :n) ADD n :one"
    for names in (None, {}, {"#unused": "x"}):
        validated(text, "full", names)  # moto's own parse: its pickle may differ from the remembered parse's
        validated(text, "full", names)
        walked.clear()
        validated(text, "full", names)
        assert walked and not {"ActionCountValidator", "OverlappingPathsValidator", "UpdateHashRangeKeyValidator"} & set(walked)
