"""The blob record's garbage-collection ledger: the attributes the push, upload and
deletion paths keep in their own transactions so that garbage collection can delete a
blob with one conditional write and never lose one a concurrent push names
(docs/decisions/garbage-collection.md has the argument).

On `BLOB#<digest>`:
- `projects`: how many projects' `PBLOB` items count the blob (meta/quotas.py adds and
  takes 1 when a project starts or stops naming it);
- `last_ref`: the last time an upload, a mount, a copy or a manifest new to a project
  named it;
- `repos`: every repository that linked it (their links go with it);
- `tracked`: the record was created with its count (by an upload): only those are ever
  collected (records older than the ledger have no trustworthy count);
- `gone`: a run committed to deleting it; nothing links it or names it any more.

And `GCQ#<hex digit>` / `<digest>`: a candidate, written where the blob may have become
garbage (an upload linked a new blob; a project stopped naming it), so that a run reads
what changed since the last one, not everything stored.

And `GCDIRTY#<hex digit>` / `<repo>`: a change mark, written in every transaction after
which a manifest of the repository may be reached by no tag any more (a manifest put, so
a tag moved or a manifest arrived untagged; a tag deleted; a manifest deleted, so its
index's children or its referrers lost what reached them), so that the untagged step
(`delete_untagged`) visits the repositories that changed, not every repository.
"""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib.meta import keys
from chalicelib.meta.table import update_op

PROJECTS = "projects"
LAST_REF = "last_ref"
LINKED_IN = "repos"
TRACKED = "tracked"
GONE = "gone"
# the conditions every write that makes a blob reachable again carries: the record is there
# and no run has committed to deleting it
LIVE = f"attribute_exists(PK) AND attribute_not_exists({GONE})"


def starts_naming(op: dict[str, Any]) -> str | None:
    """The digest whose record `op` (named_op(digest, +1, ...)) counts one more project
    on (by one); None for any other operation. A write that also links the blob folds it into the
    link's update of the same record (a transaction touches an item once)."""
    body = op.get("Update")
    if not body or body.get("UpdateExpression") != _STARTS_NAMING or body["Key"]["SK"]["S"] != keys.BLOB_SK:
        return None
    if body["ExpressionAttributeValues"][":d"] != {"N": "1"}:
        return None
    return keys.digest_of_blob_pk(body["Key"]["PK"]["S"])


def candidate_op(digest: str, project: str, now: int) -> dict[str, Any]:
    """The blob may have become garbage: a run will look at it (once, however often it is
    written; `from_projects`: whose usage a run corrects). Every write draws a new `nonce`:
    a run that read the candidate before this write drops it only if the nonce it read is
    still there (meta/gc.py drop_candidate), so a write the run did not see is not lost."""
    return update_op(
        keys.gc_candidates_pk(digest),
        digest,
        "SET since = if_not_exists(since, :now), nonce = :nonce ADD from_projects :p",
        {":now": now, ":nonce": str(uuid.uuid4()), ":p": {project}},
    )


_STARTS_NAMING = f"ADD {PROJECTS} :d SET {LAST_REF} = :now"


def named_op(digest: str, delta: int, now: int) -> dict[str, Any]:
    """A project starts (+1) or stops (-1) naming the blob. Starting requires the record to
    be live: if a run committed to deleting it first, the push fails and writes nothing."""
    if delta > 0:
        op = update_op(keys.blob_pk(digest), keys.BLOB_SK, _STARTS_NAMING, {":d": delta, ":now": now})
        op["Update"]["ConditionExpression"] = LIVE
        return op
    op = update_op(keys.blob_pk(digest), keys.BLOB_SK, f"ADD {PROJECTS} :d", {":d": delta})
    op["Update"]["ConditionExpression"] = "attribute_exists(PK)"
    return op


def changed_op(repository: str) -> dict[str, Any]:
    """A manifest of `repository` may have become untagged: the untagged step of the next
    run will look at it. Every write draws a new `nonce`: a run drops the mark only if
    the nonce it read is still there (meta/gc.py drop_changed), so a change made while the
    run was looking is seen by the next run."""
    return update_op(keys.gc_changed_pk(keys.gc_changed_shard(repository)), repository, "SET nonce = :nonce",
                     {":nonce": str(uuid.uuid4())})
