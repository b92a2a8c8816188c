"""A project's tag immutability rules in DynamoDB: all of them in one item
(`IMMUTABLE#<project>` / `RULES`; Harbor allows a handful per project), so that a push
reads them in the same BatchGetItem as the manifest's references, and a tag delete
with one GetItem. Changes are read-modify-write, conditional on the version read.

The rules are kept as Harbor's JSON (chalicelib/immutability.py checks and reads them).

`ImmutableRuleStore` is the contract the domain and the API are written against;
`DynamoImmutableRules` keeps it in DynamoDB, `MemoryImmutableRules` in memory (for fast
tests of the code that uses it); tests/contract/test_immutable_rule_store.py runs the same
suite over both. A push reads the rules in the registry store's one read of what it needs
(`read` builds that part, meta/registry.py read_for_push answers it, `rules` reads the answer:
docs/decisions/store-operations-in-other-transactions.md).
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
from chalicelib.meta.table import ItemsRead, Table, delete_op, is_condition_failure

# the attribute holding the rules (a JSON list)
RULES_ATTRIBUTE = "rule_set"
# what a push reads of the rules' item, besides its key
_READ_ATTRIBUTES = (RULES_ATTRIBUTE, "last_id", "version")


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


# A read of a project's rules, joined to the registry store's read of a push
# (RegistryMeta.read_for_push(also=...)): DynamoDB's is a table.ItemsRead, the in-memory one a
# callable the in-memory registry store calls. Only this store looks into it or its answer.
Read = Any


class ImmutableRuleStore(Protocol):
    def get(self, project: str) -> RuleSet:
        """The project's rules (an empty RuleSet, version None, when it has none)."""
        ...

    def read(self, project: str) -> Read:
        """The read of the project's rules, for the registry store of the same backend to
        answer in a push's one read (RegistryMeta.read_for_push(also=...))."""
        ...

    def rules(self, read: Read, answer: Any) -> RuleSet:
        """The rules in the registry store's answer to `read` (PushReads.also), as `get`
        would have answered then."""
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

    def read(self, project: str) -> Read:
        return lambda: self.get(project)

    def rules(self, read: Read, answer: Any) -> RuleSet:
        return answer

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

    def read(self, project: str) -> ItemsRead:
        return ItemsRead((rules_key(project),), _READ_ATTRIBUTES)

    def rules(self, read: ItemsRead, answer: dict[tuple[str, str], dict[str, Any]] | None) -> RuleSet:
        """The rules' item in the answer ({key: item} of the items found)."""
        return RuleSet.from_item((answer or {}).get(read.keys[0]))

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

