"""Web-console sessions in DynamoDB.

    PK                           SK         item
    SESSION#<sha256 of secret>   SESSION    username, user_id, account_epoch, csrf, created,
                                            expires_at (TTL), source_ip

The cookie carries the username and a random secret; the table keeps only the
secret's hash, so a leaked table (or backup) holds no usable session. A request
reads the session and its user's item in one BatchGetItem. DynamoDB's TTL removes
an ended session within days, so `expires_at` is also checked on every read.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.table import Table, is_condition_failure

if TYPE_CHECKING:
    from chalicelib.meta.accounts import User

SESSION_SK = "SESSION"
_SESSION_ATTRIBUTES = ("csrf", keys.TTL_ATTRIBUTE, "source_ip")


def session_pk(secret_hash: str) -> str:
    return f"SESSION#{secret_hash}"


@dataclass(frozen=True)
class Session:
    secret_hash: str
    username: str
    csrf: str
    created: float
    expires: float
    user_id: int = 0  # the account's immutable id and epoch when the session started
    epoch: str = ""
    source_ip: str = ""

    def to_item(self) -> dict:
        return {
            "PK": session_pk(self.secret_hash),
            "SK": SESSION_SK,
            "username": self.username,
            "csrf": self.csrf,
            "created": int(self.created),
            keys.TTL_ATTRIBUTE: int(self.expires),
            "user_id": self.user_id,
            "account_epoch": self.epoch,
            "source_ip": self.source_ip[:64],
        }

    @classmethod
    def from_item(cls, item: dict) -> Session:
        return cls(
            secret_hash=item["PK"].removeprefix("SESSION#"),
            username=item.get("username", ""),
            csrf=item.get("csrf", ""),
            created=float(item.get("created", 0)),
            expires=float(item.get(keys.TTL_ATTRIBUTE, 0)),
            user_id=int(item.get("user_id", 0)),
            epoch=str(item.get("account_epoch", "")),
            source_ip=item.get("source_ip", ""),
        )


class SessionStore(Protocol):
    """What the console's sessions (chalicelib/auth/sessions.py) need of a store.
    Implementations: DynamoSessions (below), MemorySessions (tests); both pass
    tests/contract/test_session_store.py."""

    def create(self, session: Session) -> None:
        """Store a new session; Conflict if its secret's hash is stored already (never
        overwritten)."""

    def get_with_user(self, secret_hash: str, username: str) -> tuple[Session | None, User | None]:
        """The live session (None when unknown, ended or someone else's) and the user
        (None when there is no such account), in one read."""

    def extend(self, secret_hash: str, expires: float) -> bool:
        """Move the session's end; False if it is gone."""

    def delete(self, secret_hash: str) -> None:
        """End it (nothing if it is gone already)."""


class DynamoSessions:
    def __init__(self, table: Table, clock: Callable[[], float]):
        self._t = table
        self._clock = clock

    def create(self, session: Session) -> None:
        try:
            self._t.put(session.to_item(), condition="attribute_not_exists(PK)")
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict("a session with this secret exists") from exc
            raise

    def get_with_user(self, secret_hash: str, username: str) -> tuple[Session | None, User | None]:
        """The live session and its user, in one BatchGetItem; (None, …) when the
        session is unknown, ended, or belongs to someone else."""
        from chalicelib.meta.accounts import ACCOUNT_ATTRIBUTES, User, from_item

        session_key = (session_pk(secret_hash), SESSION_SK)
        user_key = (keys.user_pk(username), keys.USER_SK)
        projection = ", ".join((ACCOUNT_ATTRIBUTES, *_SESSION_ATTRIBUTES))
        found = {(i["PK"], i["SK"]): i for i in self._t.batch_get([session_key, user_key], projection=projection)}
        item, user_item = found.get(session_key), found.get(user_key)
        session = Session.from_item(item) if item else None
        user = from_item(User, user_item) if user_item else None
        if session is None or session.username != username or session.expires <= self._clock():
            return None, user
        return session, user

    def extend(self, secret_hash: str, expires: float) -> bool:
        """Move the session's end; False if it is gone (logged out meanwhile)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key={"PK": {"S": session_pk(secret_hash)}, "SK": {"S": SESSION_SK}},
                UpdateExpression="SET #e = :e",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#e": keys.TTL_ATTRIBUTE},
                ExpressionAttributeValues={":e": {"N": str(int(expires))}},
            )
            return True
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise

    def delete(self, secret_hash: str) -> None:
        self._t.delete(session_pk(secret_hash), SESSION_SK)


class MemorySessions:
    """SessionStore in memory, for the fast tests; `users` answers a user by name (or None),
    as an AccountStore's get_user does."""

    def __init__(self, clock: Callable[[], float], users: Callable[[str], User | None]):
        self._clock = clock
        self._users = users
        self.sessions: dict[str, Session] = {}  # by secret hash; tests may read it

    def create(self, session: Session) -> None:
        if session.secret_hash in self.sessions:
            raise Conflict("a session with this secret exists")
        self.sessions[session.secret_hash] = session

    def get_with_user(self, secret_hash: str, username: str) -> tuple[Session | None, User | None]:
        session, user = self.sessions.get(secret_hash), self._users(username)
        if session is None or session.username != username or session.expires <= self._clock():
            return None, user
        return session, user

    def extend(self, secret_hash: str, expires: float) -> bool:
        if secret_hash not in self.sessions:
            return False
        self.sessions[secret_hash] = dataclasses.replace(self.sessions[secret_hash], expires=expires)
        return True

    def delete(self, secret_hash: str) -> None:
        self.sessions.pop(secret_hash, None)
