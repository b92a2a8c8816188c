"""Checking credentials: database accounts, LDAP and robot accounts.

Every failure is the same `None`: a caller learns nothing about which part was
wrong. An unreachable directory is different (LdapUnavailable propagates).

In LDAP mode the directory answers for every name but the local system
administrator `admin` (Harbor's rule), and a directory login resolves only to an
LDAP account: when its name is a local account's, up to case and confusable
characters, the login is refused (`check` raises NameCollision, for the audit log),
never merged into the local account.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import policy
from chalicelib.auth.principal import NameCollision, Principal

if TYPE_CHECKING:
    from chalicelib.meta.accounts import AccountStore

logger = logging.getLogger("berth.auth")
ROBOT_PREFIX = "robot$"
ADMIN = "admin"
MAX_CREDENTIAL_LENGTH = 1024


class Authenticator:
    def __init__(
        self,
        accounts: AccountStore,
        config: Any,
        *,
        ldap: Callable[[], Any],
        cache: Any,
        clock: Callable[[], float],
        hasher: Any = None,
        admin_password: str | None = None,
    ):
        self._accounts = accounts
        self._config = config
        self._ldap = ldap
        self._cache = cache
        self._clock = clock
        self._admin_password = admin_password
        self._hasher = hasher
        self._decoy: str | None = None

    def authenticate(self, username: str, password: str, **known: Any) -> Principal | None:
        try:
            return self.check(username, password, **known)
        except NameCollision as refused:
            logger.warning("login refused", extra={"user": username[:64], "reason": str(refused)})
            return None

    def check(
        self,
        username: str,
        password: str,
        *,
        user: Any = None,
        user_known: bool = False,
        robot: Any = None,
        robot_known: bool = False,
    ) -> Principal | None:
        """`user` (`robot`) may carry the account's item when the caller already
        fetched it. NameCollision: a directory login whose name is a local account's."""
        if not username or not password or len(username) > 255 or len(password) > MAX_CREDENTIAL_LENGTH:
            return None
        if any(ord(c) < 32 for c in username):
            return None
        if username.startswith(ROBOT_PREFIX):
            return self._robot(username, password, robot if robot_known else self._accounts.get_robot(username))
        if self._config.auth_mode == "ldap_auth" and username != ADMIN:
            return self._ldap_user(username, password)
        if not user_known:
            user = self._accounts.get_user(username)
        if user is None and username == ADMIN and self._admin_password:
            user = self._bootstrap_admin(self._admin_password)
        if user is None or not getattr(user, "password_hash", None):
            self._spend_like_a_check(password)  # an unknown user costs what a wrong password does
            return None
        if not self._check(cache_key("user", user.user_id, user.epoch, user.username), password, user.password_hash):
            return None
        return user_principal(user)

    def _spend_like_a_check(self, secret: str) -> None:
        from chalicelib.auth.passwords import DEFAULT_HASHER, verify_password

        if self._decoy is None:
            # made at the cost of new hashes, so that it costs what a real check does
            self._decoy = (self._hasher or DEFAULT_HASHER).hash("decoy password, never matches")
        verify_password(secret, self._decoy)

    def _check(self, account: str, secret: str, encoded: str) -> bool:
        """`account`: the kind, id, epoch and name, so a cached check belongs to one
        account as it is now, never to a later account of the same name."""
        from chalicelib.auth.passwords import verify_password

        cached = self._cache.check(account, secret, encoded)
        if cached is not None:
            return cached
        ok = verify_password(secret, encoded)
        if ok:
            self._cache.remember(account, secret, encoded)
        return ok

    def _robot(self, name: str, secret: str, robot: Any) -> Principal | None:
        principal = robot_principal(robot, self._clock()) if robot is not None else None
        if principal is None:
            self._spend_like_a_check(secret)
            return None
        account = cache_key("robot", robot.robot_id, robot.epoch, robot.full_name)
        return principal if self._check(account, secret, robot.secret_hash) else None

    def _ldap_user(self, username: str, password: str) -> Principal | None:
        found = self._ldap().authenticate(username, password)
        if found is None:
            return None
        user = self._remember_ldap_user(found)
        if user is None:
            return None
        return Principal(
            kind="user",
            name=user.username,
            admin=bool(user.sysadmin),
            groups=tuple(found.groups),
            account_id=user.user_id,
            epoch=user.epoch,
        )

    def _remember_ldap_user(self, found: Any) -> Any:
        """The LDAP account of a directory login: made at the first login, refreshed
        at later ones. NameCollision if the name (up to case and confusables) is a
        local account's or a robot's, or another LDAP account's look-alike."""
        from chalicelib.errors import Conflict
        from chalicelib.meta.account_names import BadName, normalise
        from chalicelib.meta.accounts import User

        try:
            name = normalise(found.username)
        except BadName:
            raise NameCollision(f"the directory name {found.username!r} cannot be an account name") from None
        for _ in range(2):  # once more if a concurrent first login made the account meanwhile
            user = self._ldap_account(name)
            if user is not None:
                break
            try:
                user = self._accounts.create_user(
                    User(
                        username=name,
                        email=found.email,
                        realname=found.realname,
                        source="ldap",
                        ldap_dn=found.dn,
                        groups=list(found.groups),
                    )
                )
                logger.info("LDAP account created", extra={"user": name})
                return user
            except Conflict:
                continue
        if user is None:
            return None
        if list(user.groups or []) != list(found.groups) or user.ldap_dn != found.dn:
            user = self._accounts.update_user(user.username, groups=list(found.groups), ldap_dn=found.dn)
        return user

    def _ldap_account(self, name: str) -> Any:
        """The LDAP account named `name`; None if there is none (nor a look-alike);
        NameCollision if the name, or a look-alike, belongs to another account."""
        owner = self._accounts.owner_of_name(name)
        stored = owner[1] if owner is not None and owner[0] == "user" else None
        if owner is not None and stored != name:
            raise NameCollision(f"{name} is taken by the {owner[0]} account {owner[1]}")
        user = self._accounts.get_user(name)  # accounts made before name items exist have none
        if user is not None and user.source != "ldap":
            raise NameCollision(f"{name} is a local account")
        return user

    def _bootstrap_admin(self, password: str) -> Any:
        """First start: create `admin` from BERTH_ADMIN_PASSWORD (only if absent)."""
        from chalicelib.auth.passwords import DEFAULT_HASHER
        from chalicelib.errors import Conflict
        from chalicelib.meta.accounts import User

        encoded = (self._hasher or DEFAULT_HASHER).hash(password)
        user = User(username=ADMIN, email="", realname="System Administrator", password_hash=encoded, sysadmin=True, source="db")
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
        account_id=int(user.user_id or 0),
        epoch=user.epoch or "",
    )


def robot_principal(robot: Any, now: float) -> Principal | None:
    """The principal of a robot account, or None if it is disabled or expired."""
    if robot.disabled or robot.is_expired(now):
        return None
    return Principal(
        kind="robot",
        name=robot.name,
        robot_permissions=policy.robot_grants(robot),
        account_id=int(robot.robot_id or 0),
        epoch=robot.epoch or "",
    )


def cache_key(kind: str, account_id: int, epoch: str, name: str) -> str:
    return f"{kind}\x00{account_id}\x00{epoch}\x00{name}"


def same_account(principal: Principal, account_id: int, epoch: str) -> bool:
    """Whether what was issued to `account_id` at `epoch` still belongs to the
    account the principal is now (not deleted and re-created, no new password,
    not demoted or disabled since)."""
    return principal.account_id == account_id and principal.epoch == epoch


