"""The stored state of a cell, as a value two runs can compare, and the invariants
every state must keep whatever failed.

DynamoDB is compared exactly, item by item, with three exceptions that are not
state a client can see as half-written:
- audit entries (LOG#...) and their day counters: best effort by design (a fault in describing a change
  never fails the change), so a faulted run may lack one;
- login-throttle bookkeeping (LOGIN#...): a remembered good login or a counted
  failure is best effort too (a fault there never fails the request it rides on);
- id counters (COUNTER): sequences that a failed create may advance, like a
  database sequence; ids are never reused, gaps are harmless;
- random names (upload ids, multipart ids, event ids, an account's session epoch),
  salted hashes (a password or robot secret set again hashes differently) and the
  integer ids that counters hand out are replaced by placeholders.
S3 may hold more than the reference (content-addressed bytes or upload scratch
written before a later step failed: garbage that the bucket's lifecycle rules
and garbage collection remove, invisible to clients), never less: every object a
record points to must exist, with its size.
"""
from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.meta import keys
from chalicelib.meta.table import unmarshal
from chalicelib.storage import paths

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EXCLUDED_PARTITIONS = ("LOG#", f"{keys.count_pk('LOGS#')}", "LOGIN#")
_PLACEHOLDERS = {
    "multipart_id": "<multipart>",
    "version": "<version>",
    "password_hash": "<hash>",
    "secret_hash": "<hash>",
    "account_epoch": "<epoch>",
    "project_id": "<id>",
    "user_id": "<id>",
    "robot_id": "<id>",
    "member_id": "<id>",
}
_ID_KEY = re.compile(r"^(ID#[a-z]+#)[0-9]+$")
_COUNTERS = keys.COUNTER_PK


def snapshot(svc) -> dict[str, Any]:
    """{"items": sorted normalised items, "counters": {kind: value}, "objects": {key: size}}."""
    items, counters = [], {}
    for item in _scan(svc):
        pk = item["PK"]
        if pk.startswith(_EXCLUDED_PARTITIONS):
            continue
        if pk == _COUNTERS:
            counters[item["SK"]] = item.get("last_id")
            continue
        items.append(_normalise(item))
    objects = {}
    paginator = svc.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=svc.settings.bucket_name):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj["Size"]
    return {"items": sorted(items), "counters": counters, "objects": objects, "raw": list(_scan(svc))}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same DynamoDB state (what clients and the registry read)."""
    return a["items"] == b["items"]


def diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    left, right = set(a["items"]), set(b["items"])
    lines = [f"- {i[:300]}" for i in sorted(left - right)] + [f"+ {i[:300]}" for i in sorted(right - left)]
    return "\n".join(lines) or "(same items)"


def _scan(svc):
    kwargs = {"TableName": svc.settings.table_name, "ConsistentRead": True}
    while True:
        out = svc.dynamodb.scan(**kwargs)
        yield from (unmarshal(i) for i in out.get("Items", []))
        if not out.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]


def _normalise(item: dict[str, Any]) -> str:
    def clean(value: Any) -> Any:
        if isinstance(value, bytes):
            return "b:" + value.hex()
        if isinstance(value, str):
            return _UUID.sub("<uuid>", value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [clean(v) for v in value]
        return value

    if item["PK"].startswith(keys.OUTBOX_PREFIX):
        item = _event_item(item)
    cleaned = clean(item)
    for name, placeholder in _PLACEHOLDERS.items():
        if cleaned.get(name) is not None:
            cleaned[name] = placeholder
    cleaned["PK"] = _ID_KEY.sub(r"\1<id>", cleaned["PK"])
    return json.dumps(cleaned, sort_keys=True, default=str)


def _event_item(item: dict[str, Any]) -> dict[str, Any]:
    """An outbox item (part of the change's transaction, so compared like the rest) without
    its random event id (and the counters' ids it names)."""
    event = json.loads(item.get("event", "{}"))
    event.pop("id", None)
    data = event.get("data") or {}
    for name, placeholder in _PLACEHOLDERS.items():
        if data.get(name) is not None:
            data[name] = placeholder
    return {"PK": "EVT#<event>", "SK": item["SK"], "event": event}


def violations(svc, state: dict[str, Any]) -> list[str]:
    """What no state may hold, whatever failed: a tag, referrer or index child without
    its manifest, a link without its blob's record or bytes, a manifest kept in S3
    without its bytes, a repository's contents without its catalog entry, counts of
    members and robots that do not match them."""
    raw = state["raw"]
    by_key = {(i["PK"], i["SK"]): i for i in raw}
    objects = state["objects"]
    found: list[str] = []
    catalog = {i["SK"] for i in raw if i["PK"] == keys.CATALOG_PK}
    refs: dict[tuple[str, str], int] = {}
    for item in raw:
        pk, sk = item["PK"], item["SK"]
        if pk.startswith("R#"):
            repo = pk[2:]
            if sk.startswith(keys.TAG_PREFIX) and (pk, keys.manifest_sk(item["digest"])) not in by_key:
                found.append(f"tag {repo}:{sk[2:]} -> {item['digest']} has no manifest")
            if sk.startswith("F#") and (pk, keys.manifest_sk(item["digest"])) not in by_key:
                found.append(f"referrer {sk} in {repo} has no manifest")
            if sk.startswith("B#"):
                digest = sk[2:]
                blob = by_key.get((keys.blob_pk(digest), keys.BLOB_SK))
                if blob is None:
                    found.append(f"link {repo}@{digest} has no blob record")
                # the bytes are where the link says (the object the blob's upload wrote), else at
                # the digest's own key
                elif objects.get(item.get("s3key") or paths.blob_key(digest)) != int(blob["nbytes"]):
                    found.append(f"blob {digest} has no bytes of its size in S3")
            if sk.startswith("M#"):
                if item.get("body") is None and paths.manifest_key(item["digest"]) not in objects:
                    found.append(f"manifest {repo}@{item['digest']} has no bytes")
                for child in item.get("children") or []:
                    if (pk, keys.manifest_sk(child)) not in by_key:
                        found.append(f"index {repo}@{item['digest']} lacks its child {child}")
                if repo not in catalog:
                    found.append(f"repository {repo} has a manifest but no catalog entry")
        if pk.startswith("PROJECT#") and sk.startswith(keys.MEMBER_PREFIX):
            refs[(pk, keys.PROJECT_SK)] = refs.get((pk, keys.PROJECT_SK), 0) + 1
        if pk.startswith("USER#") and sk.startswith(keys.MEMBEROF_PREFIX):
            refs[(pk, keys.USER_SK)] = refs.get((pk, keys.USER_SK), 0) + 1
        if pk.startswith("ROBOT#") and item.get("robot_level") == "project" and item.get("project_name"):
            owner = (keys.project_pk(item["project_name"]), keys.PROJECT_SK)
            refs[owner] = refs.get(owner, 0) + 1
    for item in raw:
        owner = (item["PK"], item["SK"])
        counted = owner[1] in (keys.PROJECT_SK, keys.USER_SK) and owner[0].startswith(("PROJECT#", "USER#"))
        if counted and int(item.get("refs", 0)) != refs.get(owner, 0):
            found.append(f"{owner[0]} counts {item.get('refs', 0)} dependents, has {refs.get(owner, 0)}")
    return found


def usage_from_manifests(svc, repositories: list[str]) -> tuple[int, dict[str, int]]:
    """What a project's usage and its blobs' reference counts must be, from the manifests
    its `repositories` store: each distinct blob (and manifest) counted once, by size."""
    refs: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for repository in repositories:
        for record in svc.meta.list_manifests(repository):
            for d in [*record.blobs, record.digest]:
                refs[d] = refs.get(d, 0) + 1
            sizes[record.digest] = record.size
            for d in record.blobs:
                sizes[d] = svc.meta.link_size(repository, d)
    return sum(sizes[d] for d in refs), refs
