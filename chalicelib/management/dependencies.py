"""What the management API's handlers need from the object graph: the domain's
dependencies (chalicelib/dependencies.py) and the console's sessions, the login gate,
webhooks, the password hasher and the AWS clients its system endpoints ask directly."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.dependencies import DomainDependencies

if TYPE_CHECKING:
    from chalicelib.auth.login_gate import LoginGate
    from chalicelib.auth.passwords import PasswordHasher
    from chalicelib.auth.sessions import ConsoleSessions
    from chalicelib.meta.webhooks import WebhookStore
    from chalicelib.webhooks.sender import HttpSender


class ManagementDependencies(DomainDependencies, Protocol):
    @property
    def sessions(self) -> ConsoleSessions: ...
    @property
    def login_gate(self) -> LoginGate: ...
    @property
    def webhooks(self) -> WebhookStore: ...
    @property
    def webhook_sender(self) -> HttpSender: ...
    @property
    def passwords(self) -> PasswordHasher: ...  # new users' passwords, robots' secrets

    # boto3 clients (untyped): the health check and the configuration's SSM writes
    @property
    def s3(self) -> Any: ...
    @property
    def ssm(self) -> Any: ...
