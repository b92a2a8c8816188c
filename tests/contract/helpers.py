"""Helpers for the contract tests: a settable clock, S3 inspection, and a DynamoDB
transaction as the domain sees a store's (a failed condition is a Conflict)."""
from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta.table import is_condition_failure

T0 = 1_700_000_000


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def keys_under(s3, bucket: str, prefix: str = "") -> list[str]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return out


def open_multiparts(s3, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def read_object(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def conflicting_transact(table) -> Callable[[list], None]:
    """`table.transact`, a failed condition raised as Conflict: how the domain runs the
    operations a store hands out (quota changes, a project's removals) in one transaction."""

    def transact(ops: list) -> None:
        try:
            table.transact(ops)
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict("stale") from None
            raise

    return transact
