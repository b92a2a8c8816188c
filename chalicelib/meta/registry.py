"""Registry metadata in DynamoDB: repositories, blob links, manifests, tags, referrers."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, is_condition_failure, put_op, update_op

# Manifests up to this size are kept in the item itself (and copied into the tag
# item), so a pull by tag is one GetItem. Larger ones go to S3.
INLINE_MANIFEST_LIMIT = 64 * 1024
# A DynamoDB item holds at most 400 KB. Annotations are copied into the manifest
# and referrer items only up to this size; larger ones (possible only in a
# manifest kept in S3) stay in the manifest's bytes alone.
INLINE_ANNOTATIONS_LIMIT = 192 * 1024


def _annotations_attr(annotations: dict[str, str] | None) -> str | None:
    if not annotations:
        return None
    text = json.dumps(annotations)
    return text if len(text.encode()) <= INLINE_ANNOTATIONS_LIMIT else None


@dataclass
class ManifestRecord:
    digest: str
    media_type: str
    size: int
    body: bytes | None  # None when the bytes live in S3
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    blobs: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    created: int = 0

    def to_item(self, name: str) -> dict[str, Any]:
        return {
            "PK": keys.repo_pk(name),
            "SK": keys.manifest_sk(self.digest),
            "digest": self.digest,
            "media_type": self.media_type,
            "nbytes": self.size,
            "body": self.body,
            "subject": self.subject,
            "artifact_type": self.artifact_type,
            "annotations": _annotations_attr(self.annotations),
            "blobs": self.blobs or None,
            "children": self.children or None,
            "created": self.created,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ManifestRecord:
        return cls(
            digest=item["digest"],
            media_type=item["media_type"],
            size=int(item["nbytes"]),
            body=item.get("body"),
            subject=item.get("subject"),
            artifact_type=item.get("artifact_type"),
            annotations=json.loads(item["annotations"]) if item.get("annotations") else None,
            blobs=list(item.get("blobs") or []),
            children=list(item.get("children") or []),
            created=int(item.get("created", 0)),
        )


@dataclass
class TagRecord:
    tag: str
    digest: str
    media_type: str
    size: int
    body: bytes | None


class DynamoRegistryMeta:
    def __init__(self, table: Table):
        self._t = table

    # -- blobs -----------------------------------------------------------------
    def link_size(self, name: str, digest: str) -> int | None:
        item = self._t.get(keys.repo_pk(name), keys.link_sk(digest), projection="nbytes")
        return int(item["nbytes"]) if item else None

    def blob_size(self, digest: str) -> int | None:
        """Size of the blob if its bytes are in the store (any repository)."""
        item = self._t.get(keys.blob_pk(digest), keys.BLOB_SK, projection="nbytes")
        return int(item["nbytes"]) if item else None

    def link_blob(self, name: str, digest: str, size: int, now: int, *, extra: Iterable[dict] = ()) -> None:
        """Make `digest` servable from `name`, and record that its bytes exist."""
        self._t.transact(
            [
                put_op({"PK": keys.repo_pk(name), "SK": keys.link_sk(digest), "nbytes": size, "created": now}),
                update_op(
                    keys.blob_pk(digest),
                    keys.BLOB_SK,
                    "SET #n = :s, #c = if_not_exists(#c, :now)",
                    {":s": size, ":now": now},
                    names={"#n": "nbytes", "#c": "created"},
                ),
                *extra,
            ]
        )

    def unlink_blob(self, name: str, digest: str) -> bool:
        return self._t.delete(keys.repo_pk(name), keys.link_sk(digest), return_old=True) is not None

    def missing_references(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> list[str]:
        """Which of these blobs and manifests the repository does not hold (one BatchGetItem)."""
        wanted = {keys.link_sk(d): d for d in blobs}
        wanted.update({keys.manifest_sk(d): d for d in manifests})
        if not wanted:
            return []
        found = self._t.batch_get((keys.repo_pk(name), s) for s in wanted)
        present = {i["SK"] for i in found}
        return [d for s, d in wanted.items() if s not in present]

    # -- manifests and tags ----------------------------------------------------
    def put_manifest(self, name: str, record: ManifestRecord, tag: str | None, now: int) -> None:
        pk = keys.repo_pk(name)
        ops = [
            put_op(record.to_item(name)),
            # the repository appears in the catalog with its first manifest
            update_op(keys.CATALOG_PK, name, "SET #c = if_not_exists(#c, :now)", {":now": now}, names={"#c": "created"}),
        ]
        if tag is not None:
            ops.append(
                put_op(
                    {
                        "PK": pk,
                        "SK": keys.tag_sk(tag),
                        "tag": tag,
                        "digest": record.digest,
                        "media_type": record.media_type,
                        "nbytes": record.size,
                        "body": record.body,
                        "updated": now,
                    }
                )
            )
        if record.subject:
            ops.append(
                put_op(
                    {
                        "PK": pk,
                        "SK": keys.referrer_sk(record.subject, record.digest),
                        "digest": record.digest,
                        "media_type": record.media_type,
                        "nbytes": record.size,
                        "artifact_type": record.artifact_type,
                        "annotations": _annotations_attr(record.annotations),
                    }
                )
            )
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise Conflict("a concurrent change to this repository won; retry the push") from None
            raise

    def get_manifest(self, name: str, digest: str) -> ManifestRecord | None:
        item = self._t.get(keys.repo_pk(name), keys.manifest_sk(digest))
        return ManifestRecord.from_item(item) if item else None

    def get_tag(self, name: str, tag: str) -> TagRecord | None:
        item = self._t.get(keys.repo_pk(name), keys.tag_sk(tag))
        if not item:
            return None
        return TagRecord(tag, item["digest"], item["media_type"], int(item["nbytes"]), item.get("body"))

    def delete_tag(self, name: str, tag: str) -> bool:
        return self._t.delete(keys.repo_pk(name), keys.tag_sk(tag), return_old=True) is not None

    def delete_manifest(self, name: str, digest: str) -> ManifestRecord | None:
        """Delete the manifest, the tags that point at it and its referrer entry."""
        pk = keys.repo_pk(name)
        record = self.get_manifest(name, digest)
        if record is None:
            return None
        tags = [
            i["SK"]
            for i in self._t.query_all(
                pk, low=keys.TAG_PREFIX, high=_prefix_end(keys.TAG_PREFIX), projection="SK, digest"
            )
            if i.get("digest") == digest
        ]
        ops = [delete_op(pk, keys.manifest_sk(digest))]
        if record.subject:
            ops.append(delete_op(pk, keys.referrer_sk(record.subject, digest)))
        ops.extend(delete_op(pk, sk) for sk in tags)
        for start in range(0, len(ops), 100):
            try:
                self._t.transact(ops[start : start + 100])
            except ClientError as exc:
                if is_condition_failure(exc):
                    raise Conflict("a concurrent change to this repository won; retry") from None
                raise
        return record

    def list_tags(self, name: str, *, last: str | None, limit: int) -> tuple[list[str], bool]:
        low = keys.tag_sk(last) + "\x00" if last else keys.TAG_PREFIX
        items = self._t.query_page(
            keys.repo_pk(name), low=low, high=_prefix_end(keys.TAG_PREFIX), limit=limit + 1, projection="SK"
        )
        tags = [i["SK"][len(keys.TAG_PREFIX) :] for i in items]
        return tags[:limit], len(tags) > limit

    # -- repositories ------------------------------------------------------------
    def repository_exists(self, name: str) -> bool:
        return self._t.get(keys.CATALOG_PK, name, projection="SK") is not None

    def list_repositories(self, *, last: str | None, limit: int) -> tuple[list[str], bool]:
        low = last + "\x00" if last else "\x00"
        items = self._t.query_page(keys.CATALOG_PK, low=low, high="\U0010ffff", limit=limit + 1, projection="SK")
        names = [i["SK"] for i in items]
        return names[:limit], len(names) > limit

    # -- referrers ---------------------------------------------------------------
    def list_referrers(self, name: str, subject: str) -> list[dict[str, Any]]:
        prefix = keys.referrer_prefix(subject)
        out = []
        for item in self._t.query_all(keys.repo_pk(name), low=prefix, high=_prefix_end(prefix)):
            desc: dict[str, Any] = {
                "mediaType": item["media_type"],
                "digest": item["digest"],
                "size": int(item["nbytes"]),
            }
            if item.get("artifact_type"):
                desc["artifactType"] = item["artifact_type"]
            if item.get("annotations"):
                desc["annotations"] = json.loads(item["annotations"])
            out.append(desc)
        return out


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
