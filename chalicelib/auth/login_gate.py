"""Every password login goes through here: the token service (GET and POST), the
web console's login and Basic credentials on the management API.

One BatchGetItem reads the account (with the roles the token service asks for)
and the login's throttling counters together; a login that comes too soon after
failed ones is refused with LoginThrottled (429, Retry-After) before its
password is checked (chalicelib/auth/throttle.py says how long). A failure is
counted and written to the audit log, boundedly: at most a few entries per
source and window, and a fixed number per minute in all, so unauthenticated
traffic cannot grow the table without limit (the rest are logged only).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.auth.authenticator import ROBOT_PREFIX
from chalicelib.auth.principal import NameCollision, Principal
from chalicelib.auth.throttle import AUDITED_PER_SOURCE, Policy, retry_after, source_of
from chalicelib.errors import LoginThrottled
from chalicelib.meta.login_attempts import Buckets

if TYPE_CHECKING:
    from chalicelib.meta.accounts import AccountStore
    from chalicelib.meta.audit import AuditLog
    from chalicelib.meta.login_attempts import LoginAttemptStore, Read

logger = logging.getLogger("berth.auth.login")
MAX_NAME = 255


__all__ = ["Login", "LoginGate", "LoginThrottled"]


@dataclass(frozen=True)
class Login:
    principal: Principal
    context: Any  # the AccessContext read with the login (None when it does not apply)


class LoginGate:
    def __init__(
        self,
        accounts: AccountStore,
        authenticator: Any,
        attempts: LoginAttemptStore,
        audit: AuditLog,
        *,
        policy: Callable[[], Policy],
        clock: Callable[[], float],
    ):
        self._accounts = accounts
        self._authenticator = authenticator
        self._attempts = attempts
        self._audit = audit
        self._policy = policy
        self._clock = clock

    def login(
        self, username: str, password: str, source_ip: str, *, projects: Any = (), audited: bool = True
    ) -> Login | None:
        """The login, or None for wrong credentials. LoginThrottled when it comes too
        soon after failed ones; IdentityProviderUnavailable passes through.
        `audited`: a failure is a failed login for the audit log (a console login, a
        password exchanged for a refresh token), not a pull's token or an API call
        with Basic credentials, which are counted only. A directory login refused
        for its name is always audited."""
        from chalicelib.meta.account_names import folded

        if not username or not password or len(username) > MAX_NAME:
            return None  # nothing to count: no account can have such a name
        source = source_of(source_ip)
        # the counters are read with the account, in one call (opaque to this module)
        wanted = self._attempts.read(folded(username), source)
        robot = username.startswith(ROBOT_PREFIX)
        context = None
        if robot:
            account, extra = self._accounts.robot_with(username, wanted)
            known: dict[str, Any] = {"robot": account, "robot_known": True}
        else:
            context = self._accounts.access_context(username, (), projects, also=wanted)
            extra = context.also
            known = {"user": context.user, "user_known": True}
        buckets = self._attempts.buckets(wanted, extra)
        policy = self._policy()
        wait = retry_after(policy, buckets, self._clock())
        if wait > 0:
            logger.info("login throttled", extra={"user": username[:64], "source_ip": source, "retry_after": wait})
            raise LoginThrottled(retry_after=wait)
        refusal = None
        try:
            principal = self._authenticator.check(username, password, **known)
        except NameCollision as exc:
            principal, refusal = None, str(exc)
        if principal is None:
            self._failed(username, source_ip, wanted, buckets, policy, refusal, audited)
            return None
        self._succeeded(wanted, buckets)
        if principal.groups or principal.kind != "user" or principal.name != username:
            context = None  # group roles, a robot's own list or the directory's spelling need their own read
        return Login(principal, context)

    def _failed(
        self, username: str, source_ip: str, wanted: Read, buckets: Buckets, policy: Policy, refusal: str | None, audited: bool
    ) -> None:
        logger.info("login failed", extra={"user": username[:64], "source_ip": source_ip, "reason": refusal or "credentials"})
        try:
            after = self._attempts.record_failure(
                wanted, buckets, window=policy.window, keep=policy.window + policy.max_delay
            )
            # a refused directory login had the right password: always worth an entry
            audited = refusal is not None or (
                audited
                and after.source.failures <= AUDITED_PER_SOURCE
                and self._attempts.take_audit_slot(policy.audit_per_minute)
            )
        except (ClientError, BotoCoreError):
            logger.exception("failed login not counted")
            return
        if not audited:
            logger.info("failed login not audited: the audit bound is reached", extra={"user": username[:64]})
            return
        self._record(username, source_ip, refusal)

    def _record(self, username: str, source_ip: str, refusal: str | None) -> None:
        from chalicelib.meta.audit import AuditEntry

        name = username[:MAX_NAME]
        resource = f"{name} (refused: {refusal})" if refusal else name
        try:
            self._audit.record(
                AuditEntry(
                    username=name,
                    operation="login",
                    resource_type="user",
                    resource=resource[:512],
                    source_ip=source_ip[:64],
                    succeeded=False,
                )
            )
        except (ClientError, BotoCoreError):
            logger.exception("failed-login audit entry not written")

    def _succeeded(self, wanted: Read, buckets: Buckets) -> None:
        try:
            self._attempts.remember_success(wanted, buckets)
        except (ClientError, BotoCoreError):
            logger.exception("successful login not remembered")
