"""Upload sessions in DynamoDB, one item each, expiring through the table's TTL."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import RangeInvalid
from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, is_condition_failure, marshal


@dataclass
class UploadSession:
    id: str
    name: str
    created: int
    expires_at: int
    offset: int = 0  # bytes received so far
    multipart_id: str | None = None  # S3 multipart upload, started with the first part
    parts: list[tuple[int, str]] = field(default_factory=list)
    tail_key: str | None = None  # bytes after the last part, in S3
    tail_size: int = 0
    hash_state: bytes | None = None  # resumable sha256 over bytes 0..offset

    @property
    def parts_size(self) -> int:
        """Where the tail starts: bytes already in multipart parts."""
        return self.offset - self.tail_length

    @property
    def tail_length(self) -> int:
        return self.tail_size if self.tail_key else 0

    def to_item(self) -> dict[str, Any]:
        return {
            "PK": keys.upload_pk(self.id),
            "SK": keys.UPLOAD_SK,
            "name": self.name,
            "created": self.created,
            keys.TTL_ATTRIBUTE: self.expires_at,
            "offset": self.offset,
            "multipart_id": self.multipart_id,
            "parts": [[n, e] for n, e in self.parts] or None,
            "tail_key": self.tail_key,
            "tail_size": self.tail_size if self.tail_key else None,
            "hash_state": self.hash_state,
        }

    @classmethod
    def from_item(cls, upload_id: str, item: dict[str, Any]) -> UploadSession:
        return cls(
            id=upload_id,
            name=item["name"],
            created=int(item["created"]),
            expires_at=int(item[keys.TTL_ATTRIBUTE]),
            offset=int(item.get("offset", 0)),
            multipart_id=item.get("multipart_id"),
            parts=[(int(n), str(e)) for n, e in item.get("parts") or []],
            tail_key=item.get("tail_key"),
            tail_size=int(item.get("tail_size") or 0),
            hash_state=item.get("hash_state"),
        )


class DynamoUploadSessions:
    def __init__(self, table: Table):
        self._t = table

    def create(self, session: UploadSession) -> None:
        self._t.put(session.to_item(), condition="attribute_not_exists(PK)")

    def get(self, upload_id: str) -> UploadSession | None:
        item = self._t.get(keys.upload_pk(upload_id), keys.UPLOAD_SK, consistent=True)
        return UploadSession.from_item(upload_id, item) if item else None

    def save(self, session: UploadSession, *, expected_offset: int) -> None:
        """Store the session's new state, unless another request moved it first."""
        item = session.to_item()
        try:
            self._t.client.put_item(
                TableName=self._t.name,
                Item=marshal(item),
                ConditionExpression="attribute_exists(PK) AND #o = :expected",
                ExpressionAttributeNames={"#o": "offset"},
                ExpressionAttributeValues={":expected": {"N": str(expected_offset)}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise RangeInvalid("a concurrent request changed this upload", offset=expected_offset) from None
            raise

    def delete(self, upload_id: str) -> None:
        self._t.delete(keys.upload_pk(upload_id), keys.UPLOAD_SK)

    @staticmethod
    def delete_op(upload_id: str) -> dict:
        """Deleting the session as part of another transaction."""
        return delete_op(keys.upload_pk(upload_id), keys.UPLOAD_SK)
