"""Web-console sessions (Harbor's `/c/login`) and their CSRF token.

A login checks the password once (database, LDAP; robots may not log in to the
console, as in Harbor) and starts a session: the browser keeps the cookie
`sid=<username>.<secret>` (HttpOnly, SameSite=Lax, Secure on HTTPS), the table
keeps the secret's hash (chalicelib/meta/sessions.py). Every later request reads
the session and the user in one BatchGetItem, so a user who is deleted, demoted
or changes password loses the session's rights at once. A session belongs to the
account's immutable id and its epoch, never to a name: a user deleted and made
again under the same name does not inherit the old one's sessions.

CSRF: the session holds a random token, answered in `X-Harbor-CSRF-Token` on every
response to a session request; a state-changing request that came with the
cookie must send it back in that header (synchronizer token). Requests with
Basic credentials carry no ambient authority and need no token, as in Harbor.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.authenticator import same_account, user_principal
from chalicelib.auth.principal import Principal
from chalicelib.meta.sessions import Session, SessionStore

COOKIE = "sid"
CSRF_HEADER = "X-Harbor-CSRF-Token"
COOKIE_PATH = "/v2"  # the stage: the console, the API and /c/login all live below it
DEFAULT_TIMEOUT_MINUTES = 60
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
_SECRET_BYTES = 32
_MAX_COOKIE = 512


@dataclass(frozen=True)
class Started:
    principal: Principal
    session: Session
    cookie: str  # the Set-Cookie header's value


@dataclass(frozen=True)
class Resumed:
    principal: Principal
    session: Session


class ConsoleSessions:
    def __init__(
        self,
        store: SessionStore,
        logins: Any,
        clock: Callable[[], float],
        *,
        timeout_minutes: Callable[[], int],
    ):
        self._store = store
        self._logins = logins  # chalicelib/auth/login_gate.py: throttled, audited
        self._clock = clock
        self._timeout_minutes = timeout_minutes

    # -- starting and ending -------------------------------------------------------------
    def login(self, username: str, password: str, *, source_ip: str = "", secure: bool = True) -> Started | None:
        """A new session for these credentials; None if they are wrong (or a robot's).
        `secure`: the request came over HTTPS, so the cookie may say Secure.
        LoginThrottled after too many failed logins."""
        login = self._logins.login(username, password, source_ip)
        principal = login.principal if login is not None else None
        if principal is None or principal.kind != "user":
            return None
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        now = self._clock()
        session = Session(
            secret_hash=_hash(secret),
            username=principal.name,
            csrf=secrets.token_urlsafe(_SECRET_BYTES),
            created=now,
            expires=now + self._timeout(),
            user_id=principal.account_id,
            epoch=principal.epoch,
            source_ip=source_ip,
        )
        self._store.create(session)
        return Started(principal, session, self._set_cookie(_cookie_value(principal.name, secret), secure))

    def logout(self, cookie_header: str | None) -> Session | None:
        """End the session the cookie names (if it is live); the ended session."""
        parsed = parse_cookie(cookie_header)
        if parsed is None:
            return None
        username, secret = parsed
        session, _ = self._store.get_with_user(_hash(secret), username)
        self._store.delete(_hash(secret))
        return session

    # -- every request ---------------------------------------------------------------------
    def resume(self, cookie_header: str | None) -> Resumed | None:
        """The caller behind a session cookie; None when there is none that is live."""
        parsed = parse_cookie(cookie_header)
        if parsed is None:
            return None
        username, secret = parsed
        session, user = self._store.get_with_user(_hash(secret), username)
        if session is None or user is None:
            return None
        principal = user_principal(user)
        if not same_account(principal, session.user_id, session.epoch):
            return None  # another account of the same name, or a new password or a demotion since
        timeout = self._timeout()
        now = self._clock()
        # sliding: renewed once half the period has passed, so at most twice per period
        if session.expires - now < timeout / 2 and not self._store.extend(session.secret_hash, now + timeout):
            return None  # logged out meanwhile
        return Resumed(principal, session)

    @staticmethod
    def csrf_valid(session: Session, presented: str | None) -> bool:
        return bool(presented) and presented is not None and hmac.compare_digest(session.csrf.encode(), presented.strip().encode())

    @staticmethod
    def clear_cookie(secure: bool = True) -> str:
        return _attributes(f"{COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT", secure)

    # -- internals ----------------------------------------------------------------------------
    def _timeout(self) -> float:
        try:
            minutes = int(self._timeout_minutes())
        except (TypeError, ValueError):
            minutes = DEFAULT_TIMEOUT_MINUTES
        return max(1, min(minutes, MAX_TIMEOUT_MINUTES)) * 60

    @staticmethod
    def _set_cookie(value: str, secure: bool) -> str:
        # no Max-Age: the browser forgets it when it closes; the server ends it after the timeout
        return _attributes(f"{COOKIE}={value}", secure)


def _attributes(first: str, secure: bool) -> str:
    parts = [first, f"Path={COOKIE_PATH}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _cookie_value(username: str, secret: str) -> str:
    encoded = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    return f"{encoded}.{secret}"


def _cookies(header: str | None):
    for part in (header or "")[:8192].split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            yield name.strip(), value.strip().strip('"')


def has_session_cookie(cookie_header: str | None) -> bool:
    """The request carries a session cookie, live or not."""
    return bool(cookie_header) and any(name == COOKIE for name, _ in _cookies(cookie_header))


def parse_cookie(header: str | None) -> tuple[str, str] | None:
    """(username, secret) from the first well-formed `sid` cookie of a Cookie header."""
    for name, value in _cookies(header):
        if name != COOKIE or not value or len(value) > _MAX_COOKIE:
            continue
        encoded, sep, secret = value.partition(".")
        if not sep or not encoded or len(secret) < 32:
            continue
        try:
            username = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if username and username.isprintable() and len(username) <= 255:
            return username, secret
    return None
