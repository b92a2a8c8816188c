"""Harbor's labels in DynamoDB (key layout: keys.py): global ones and a project's,
and which artifacts carry them.

A label is one item by id (a GET is one GetItem) and one listing item under its
scope, keyed by name: the listing's conditional put is what keeps names unique
within a scope, and a scope's labels in name order are one Query. An artifact's
labels sit in its repository's partition (`L#<digest>#<id>`), so the artifact list
reads them with one Query beside its manifests and tags, and a repository's
deletion takes them with it. A deleted label's references on artifacts are not
hunted down across repositories: ids are never reused, and readers keep only the
references whose label still exists (one BatchGetItem).

`LabelStore` is the contract the domain and the API are written against; `DynamoLabels`
keeps it in DynamoDB, `MemoryLabels` in memory (for fast tests of the code that uses it);
tests/contract/test_label_store.py runs the same suite over both.
"""
from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.registry import VERSION
from chalicelib.meta.table import Table, delete_op, is_condition_failure, put_op, update_op


@dataclass(frozen=True)
class Label:
    name: str
    scope: str  # "g" (global) | "p" (a project's)
    project_id: int = 0  # 0 for a global label
    description: str = ""
    color: str = ""
    label_id: int = 0  # 0: allocate on create
    created: int = 0
    updated: int = 0

    def to_item(self, pk: str, sk: str) -> dict[str, Any]:
        return {
            "PK": pk,
            "SK": sk,
            "label_id": self.label_id,
            "label_name": self.name,
            "scope": self.scope,
            "project_id": self.project_id,
            "description": self.description,
            "color": self.color,
            "created": self.created,
            "updated": self.updated,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Label:
        return cls(
            name=item["label_name"],
            scope=item["scope"],
            project_id=int(item.get("project_id", 0)),
            description=item.get("description", ""),
            color=item.get("color", ""),
            label_id=int(item["label_id"]),
            created=int(item.get("created", 0)),
            updated=int(item.get("updated", 0)),
        )


def _listing_of(label: Label) -> str:
    return keys.labels_pk(label.scope, label.project_id)


class NameTaken(Conflict):
    """Another label of the scope has this name."""


class LabelStore(Protocol):
    def create(self, label: Label) -> Label:
        """Store a new label with a new id; NameTaken if its scope has the name."""
        ...

    def get(self, label_id: int) -> Label | None: ...

    def get_many(self, label_ids: Iterable[int]) -> dict[int, Label]:
        """The labels among `label_ids` that exist."""
        ...

    def list(self, scope: str, project_id: int = 0) -> list[Label]:
        """A scope's labels in name order."""
        ...

    def update(self, previous: Label, name: str, description: str, color: str) -> Label:
        """Rename or recolour; NameTaken if another label of the scope has `name`,
        Conflict if the label changed or went since `previous` was read."""
        ...

    def delete(self, label: Label) -> bool:
        """False if it was not there."""
        ...

    def add_to_artifact(self, repository: str, digest: str, label: Label) -> None:
        """Put `label` on the artifact; Conflict if it is on it already, KeyError if the
        artifact or the label is not there."""
        ...

    def remove_from_artifact(self, repository: str, digest: str, label_id: int) -> bool:
        """False if the label was not on the artifact."""
        ...

    def artifact_label_ids(self, repository: str) -> dict[str, builtins.list[int]]:
        """{digest: label ids} of every labelled artifact of the repository."""
        ...

    def artifact_labels(self, repository: str) -> dict[str, builtins.list[Label]]:
        """{digest: labels, by name} for the repository, only labels that still exist."""
        ...


class DynamoLabels:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    # -- labels ------------------------------------------------------------------------------
    def create(self, label: Label) -> Label:
        """Store a new label with a new id; NameTaken if its scope has the name."""
        now = int(self._clock())
        created = replace(label, label_id=self._next_id(), created=now, updated=now)
        self._write_pair(created, previous=None)
        return created

    def get(self, label_id: int) -> Label | None:
        item = self._t.get(keys.label_pk(label_id), keys.LABEL_SK, consistent=True)
        return Label.from_item(item) if item else None

    def get_many(self, label_ids: Iterable[int]) -> dict[int, Label]:
        """The labels among `label_ids` that exist (one BatchGetItem per 100)."""
        wanted = {(keys.label_pk(i), keys.LABEL_SK) for i in label_ids}
        if not wanted:
            return {}
        found = self._t.batch_get(wanted, projection=None)
        labels = [Label.from_item(i) for i in found]
        return {label.label_id: label for label in labels}

    def list(self, scope: str, project_id: int = 0) -> list[Label]:
        """A scope's labels in name order (one Query)."""
        items = self._t.query_all(keys.labels_pk(scope, project_id), low="\x00", high="\U0010ffff")
        return [Label.from_item(i) for i in items]

    def update(self, previous: Label, name: str, description: str, color: str) -> Label:
        """Rename or recolour; NameTaken if another label of the scope has `name`,
        Conflict if the label changed or went since `previous` was read."""
        updated = replace(previous, name=name, description=description, color=color, updated=int(self._clock()))
        self._write_pair(updated, previous=previous)
        return updated

    def delete(self, label: Label) -> bool:
        try:
            self._t.transact(
                [
                    _if_exists(delete_op(keys.label_pk(label.label_id), keys.LABEL_SK)),
                    delete_op(_listing_of(label), label.name),
                ]
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def _write_pair(self, label: Label, *, previous: Label | None) -> None:
        record = label.to_item(keys.label_pk(label.label_id), keys.LABEL_SK)
        ops = []
        if previous is None:
            ops.append(put_op(record, "attribute_not_exists(PK)"))
        else:
            ops.append(_if_same(put_op(record), previous.updated))
        renamed = previous is None or previous.name != label.name
        listing = put_op(label.to_item(_listing_of(label), label.name), "attribute_not_exists(PK)" if renamed else None)
        ops.append(listing)
        if previous is not None and renamed:
            ops.append(delete_op(_listing_of(previous), previous.name))
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise NameTaken(f"a label named {label.name} already exists") from None
            raise Conflict("the label changed meanwhile; retry") from None

    def _next_id(self) -> int:
        return self._t.next_id("label")

    # -- on artifacts -------------------------------------------------------------------------
    def add_to_artifact(self, repository: str, digest: str, label: Label) -> None:
        """Put `label` on the artifact; Conflict if it is on it already, KeyError if the
        artifact or the label went meanwhile (one transaction)."""
        pk = keys.repo_pk(repository)
        ops = [
            put_op(
                {"PK": pk, "SK": keys.artifact_label_sk(digest, label.label_id), "label_id": label.label_id, "created": int(self._clock())},
                "attribute_not_exists(PK)",
            ),
            # the artifact must be there, and gets a new version: a deletion that read its
            # labels before this one fails rather than leave this label behind (meta/registry.py)
            _if_exists(update_op(pk, keys.manifest_sk(digest), "SET #v = :v", {":v": uuid.uuid4().hex}, {"#v": VERSION})),
            {"ConditionCheck": {"Key": keys.key(keys.label_pk(label.label_id), keys.LABEL_SK), "ConditionExpression": "attribute_exists(PK)"}},
        ]
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise Conflict(f"label {label.label_id} is already on artifact {digest}") from None
            if "ConditionalCheckFailed" in reasons:
                raise KeyError(digest) from None
            raise

    def remove_from_artifact(self, repository: str, digest: str, label_id: int) -> bool:
        return self._t.delete(keys.repo_pk(repository), keys.artifact_label_sk(digest, label_id), return_old=True) is not None

    def artifact_label_ids(self, repository: str) -> dict[str, builtins.list[int]]:
        """{digest: label ids} of every labelled artifact of the repository (one Query)."""
        prefix = keys.ARTIFACT_LABEL_PREFIX
        out: dict[str, list[int]] = {}
        for item in self._t.query_all(keys.repo_pk(repository), low=prefix, high=prefix[:-1] + "$", projection="SK, label_id"):
            digest = item["SK"][len(prefix) :].rsplit("#", 1)[0]
            out.setdefault(digest, []).append(int(item["label_id"]))
        return {digest: sorted(ids) for digest, ids in out.items()}  # by id (the keys sort them as text)

    def artifact_labels(self, repository: str) -> dict[str, builtins.list[Label]]:
        """{digest: labels, by name} for the repository: its references, then the labels
        that still exist (one Query, one BatchGetItem)."""
        ids = self.artifact_label_ids(repository)
        known = self.get_many({i for found in ids.values() for i in found})
        return {
            digest: sorted((known[i] for i in found if i in known), key=lambda label: label.name)
            for digest, found in ids.items()
        }


class MemoryLabels:
    """LabelStore in memory: the same answers as DynamoLabels, for fast tests.
    `artifact_exists(repository, digest)`: whether the registry holds that manifest (the
    DynamoDB store checks the manifest's item in its transaction)."""

    def __init__(self, clock: Callable[[], float], artifact_exists: Callable[[str, str], bool]):
        self._clock = clock
        self._artifact_exists = artifact_exists
        self._labels: dict[int, Label] = {}
        self._on: dict[str, dict[str, list[int]]] = {}  # repository -> digest -> label ids, in order put
        self._last_id = 0

    def _named(self, label: Label) -> Label | None:
        return next((other for other in self._labels.values()
                     if (other.scope, other.project_id, other.name) == (label.scope, label.project_id, label.name)), None)

    def create(self, label: Label) -> Label:
        self._last_id += 1  # an id is used up even when the name is refused, as the counter does
        if self._named(label) is not None:
            raise NameTaken(f"a label named {label.name} already exists")
        now = int(self._clock())
        created = replace(label, label_id=self._last_id, created=now, updated=now)
        self._labels[created.label_id] = created
        return created

    def get(self, label_id: int) -> Label | None:
        return self._labels.get(label_id)

    def get_many(self, label_ids: Iterable[int]) -> dict[int, Label]:
        return {i: self._labels[i] for i in set(label_ids) if i in self._labels}

    def list(self, scope: str, project_id: int = 0) -> list[Label]:
        found = [label for label in self._labels.values() if (label.scope, label.project_id) == (scope, project_id)]
        return sorted(found, key=lambda label: label.name)

    def update(self, previous: Label, name: str, description: str, color: str) -> Label:
        current = self._labels.get(previous.label_id)
        if current is None or current.updated != previous.updated:
            raise Conflict("the label changed meanwhile; retry")
        updated = replace(previous, name=name, description=description, color=color, updated=int(self._clock()))
        named = self._named(updated)
        if named is not None and named.label_id != previous.label_id:
            raise NameTaken(f"a label named {name} already exists")
        self._labels[previous.label_id] = updated
        return updated

    def delete(self, label: Label) -> bool:
        return self._labels.pop(label.label_id, None) is not None

    def add_to_artifact(self, repository: str, digest: str, label: Label) -> None:
        on = self._on.setdefault(repository, {}).setdefault(digest, [])
        if label.label_id in on:
            raise Conflict(f"label {label.label_id} is already on artifact {digest}")
        if not self._artifact_exists(repository, digest) or label.label_id not in self._labels:
            raise KeyError(digest)
        on.append(label.label_id)

    def remove_from_artifact(self, repository: str, digest: str, label_id: int) -> bool:
        on = self._on.get(repository, {}).get(digest, [])
        if label_id not in on:
            return False
        on.remove(label_id)
        return True

    def artifact_label_ids(self, repository: str) -> dict[str, builtins.list[int]]:
        return {digest: sorted(ids) for digest, ids in self._on.get(repository, {}).items() if ids}

    def artifact_labels(self, repository: str) -> dict[str, builtins.list[Label]]:
        return {
            digest: sorted((self._labels[i] for i in ids if i in self._labels), key=lambda label: label.name)
            for digest, ids in self.artifact_label_ids(repository).items()
        }


def _if_exists(op: dict[str, Any]) -> dict[str, Any]:
    next(iter(op.values()))["ConditionExpression"] = "attribute_exists(PK)"
    return op


def _if_same(op: dict[str, Any], updated: int) -> dict[str, Any]:
    body = next(iter(op.values()))
    body["ConditionExpression"] = "attribute_exists(PK) AND #u = :u"
    body["ExpressionAttributeNames"] = {"#u": "updated"}
    body["ExpressionAttributeValues"] = {":u": {"N": str(updated)}}
    return op
