"""A project's tag immutability rules in DynamoDB: all of them in one item
(`IMMUTABLE#<project>` / `RULES`; Harbor allows a handful per project), so that a push
reads them in the same BatchGetItem as the manifest's references, and a tag delete
with one GetItem. Changes are read-modify-write, conditional on the version read.

The rules are kept as Harbor's JSON (chalicelib/immutability.py checks and reads them).

`ImmutableRuleStore` is the contract the domain and the API are written against;
`DynamoImmutableRules` keeps it in DynamoDB, `MemoryImmutableRules` in memory (for fast
tests of the code that uses it); tests/contract/test_immutable_rule_store.py runs the same
suite over both. (A push reads the rules in its own batch, meta/registry.py read_for_push.)
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, is_condition_failure

# the attribute holding the rules (a JSON list), read by the push's batch too
RULES_ATTRIBUTE = "rule_set"


@dataclass(frozen=True)
class RuleSet:
    rules: list[dict[str, Any]] = field(default_factory=list)  # Harbor's ImmutableRule, each with its "id"
    last_id: int = 0
    version: str | None = None  # None: no item yet

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> RuleSet:
        if not item:
            return cls()
        return cls(json.loads(item.get(RULES_ATTRIBUTE) or "[]"), int(item.get("last_id", 0)), item.get("version"))


def rules_key(project: str) -> tuple[str, str]:
    return keys.immutable_pk(project), keys.RULES_SK


class ImmutableRuleStore(Protocol):
    def get(self, project: str) -> RuleSet:
        """The project's rules (an empty RuleSet, version None, when it has none)."""
        ...

    def save(self, project: str, previous: RuleSet, rules: list[dict[str, Any]], last_id: int) -> None:
        """Replace the rules, if nobody changed them since `previous` was read (Conflict)."""
        ...

    def removal(self, project: str) -> Any:
        """The operation deleting the project's rules, to join the project's deletion."""
        ...


class MemoryImmutableRules:
    """ImmutableRuleStore in memory: the same answers as DynamoImmutableRules, for fast tests."""

    def __init__(self) -> None:
        self._sets: dict[str, RuleSet] = {}

    def get(self, project: str) -> RuleSet:
        return copy.deepcopy(self._sets.get(project, RuleSet()))

    def save(self, project: str, previous: RuleSet, rules: list[dict[str, Any]], last_id: int) -> None:
        if self._sets.get(project, RuleSet()).version != previous.version:
            raise Conflict("the rules changed meanwhile; retry")
        self._sets[project] = RuleSet(copy.deepcopy(rules), last_id, uuid.uuid4().hex)

    def removal(self, project: str) -> Any:
        return lambda: self._sets.pop(project, None)


class DynamoImmutableRules:
    def __init__(self, table: Table):
        self._t = table

    def get(self, project: str) -> RuleSet:
        return RuleSet.from_item(self._t.get(*rules_key(project), consistent=True))

    def save(self, project: str, previous: RuleSet, rules: list[dict[str, Any]], last_id: int) -> None:
        """Replace the rules, if nobody changed them since `previous` was read (Conflict)."""
        pk, sk = rules_key(project)
        item = {"PK": pk, "SK": sk, RULES_ATTRIBUTE: json.dumps(rules), "last_id": last_id, "version": uuid.uuid4().hex}
        try:
            if previous.version is None:
                self._t.put(item, condition="attribute_not_exists(PK)")
            else:
                self._t.put(item, condition="#v = :v", values={":v": previous.version}, names={"#v": "version"})
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict("the rules changed meanwhile; retry") from None
            raise

    def removal(self, project: str) -> Any:
        return delete_op(*rules_key(project))

