"""Checking credentials: database accounts, LDAP and robot accounts.

Every failure is the same `None`: a caller learns nothing about which part was
wrong. An unreachable directory is different (LdapUnavailable propagates).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from chalicelib import policy
from chalicelib.auth.principal import Principal

logger = logging.getLogger("berth.auth")
ROBOT_PREFIX = "robot$"
ADMIN = "admin"
MAX_CREDENTIAL_LENGTH = 1024


class Authenticator:
    def __init__(
        self,
        accounts: Any,
        config: Any,
        *,
        ldap: Callable[[], Any],
        cache: Any,
        clock: Callable[[], float],
        admin_password: str | None = None,
    ):
        self._accounts = accounts
        self._config = config
        self._ldap = ldap
        self._cache = cache
        self._clock = clock
        self._admin_password = admin_password
        self._decoy: str | None = None

    def authenticate(self, username: str, password: str, *, user: Any = None, user_known: bool = False) -> Principal | None:
        """`user` may carry the user item when the caller already fetched it."""
        if not username or not password or len(username) > 255 or len(password) > MAX_CREDENTIAL_LENGTH:
            return None
        if any(ord(c) < 32 for c in username):
            return None
        if username.startswith(ROBOT_PREFIX):
            return self._robot(username, password)
        if not user_known:
            user = self._accounts.get_user(username)
        if self._config.auth_mode == "ldap_auth" and username != ADMIN and (user is None or user.source == "ldap"):
            return self._ldap_user(username, password)
        if user is None and username == ADMIN and self._admin_password:
            user = self._bootstrap_admin()
        if user is None or not getattr(user, "password_hash", None):
            self._spend_like_a_check(password)  # an unknown user costs what a wrong password does
            return None
        if not self._check(username, password, user.password_hash):
            return None
        return user_principal(user)

    def _spend_like_a_check(self, secret: str) -> None:
        from chalicelib.auth.passwords import hash_password, verify_password

        if self._decoy is None:
            self._decoy = hash_password("decoy password, never matches")
        verify_password(secret, self._decoy)

    def _check(self, name: str, secret: str, encoded: str) -> bool:
        from chalicelib.auth.passwords import verify_password

        cached = self._cache.check(name, secret, encoded)
        if cached is not None:
            return cached
        ok = verify_password(secret, encoded)
        if ok:
            self._cache.remember(name, secret, encoded)
        return ok

    def _robot(self, name: str, secret: str) -> Principal | None:
        robot = self._accounts.get_robot(name)
        principal = robot_principal(robot, self._clock()) if robot is not None else None
        if principal is None:
            self._spend_like_a_check(secret)
            return None
        return principal if self._check(name, secret, robot.secret_hash) else None

    def _ldap_user(self, username: str, password: str) -> Principal | None:
        found = self._ldap().authenticate(username, password)
        if found is None:
            return None
        user = self._remember_ldap_user(found)
        return Principal(
            kind="user",
            name=found.username,
            admin=bool(getattr(user, "sysadmin", False)),
            groups=tuple(found.groups),
        )

    def _remember_ldap_user(self, found: Any) -> Any:
        """A user first seen through LDAP gets an account; later logins refresh it."""
        from chalicelib.errors import Conflict
        from chalicelib.meta.accounts import User

        user = self._accounts.get_user(found.username)
        if user is None:
            try:
                return self._accounts.create_user(
                    User(
                        username=found.username,
                        email=found.email,
                        realname=found.realname,
                        source="ldap",
                        ldap_dn=found.dn,
                        groups=list(found.groups),
                    )
                )
            except Conflict:
                user = self._accounts.get_user(found.username)
        if user is not None and (list(user.groups or []) != list(found.groups) or user.ldap_dn != found.dn):
            user = self._accounts.update_user(found.username, groups=list(found.groups), ldap_dn=found.dn)
        return user

    def _bootstrap_admin(self) -> Any:
        """First start: create `admin` from BERTH_ADMIN_PASSWORD (only if absent)."""
        from chalicelib.auth.passwords import hash_password
        from chalicelib.errors import Conflict
        from chalicelib.meta.accounts import User

        user = User(username=ADMIN, email="", realname="System Administrator", password_hash=hash_password(self._admin_password), sysadmin=True, source="db")
        try:
            self._accounts.create_user(user)
            logger.info("bootstrapped the admin account")
        except Conflict:
            pass
        return self._accounts.get_user(ADMIN)


def user_principal(user: Any) -> Principal:
    return Principal(
        kind="user",
        name=user.username,
        admin=bool(user.sysadmin),
        groups=tuple(user.groups or ()),
        # refresh tokens carry it, so a password change ends them
        password_version=int(getattr(user, "password_version", 0) or 0),
    )


def robot_principal(robot: Any, now: float) -> Principal | None:
    """The principal of a robot account, or None if it is disabled or expired."""
    if robot.disabled or robot.is_expired(now):
        return None
    return Principal(
        kind="robot",
        name=robot.name,
        robot_permissions=policy.robot_grants(robot),
        # refresh tokens carry it: a refreshed (new) secret ends them
        password_version=secret_version(robot.secret_hash),
    )


def secret_version(secret_hash: str | None) -> int:
    """A number that changes whenever a robot's stored secret does."""
    return int(hashlib.sha256((secret_hash or "").encode()).hexdigest()[:12], 16)


