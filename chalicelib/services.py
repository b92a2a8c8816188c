"""The object graph, built once per Lambda container (or upload-host process).

AWS clients and the clock are made here and passed down; nothing below
reaches for a global. Each piece is built on first use, so a request only
pays for the clients it needs. Any piece it builds may be handed in instead, by its
name (`Services(settings, meta=..., blobs=...)`): the tests' in-memory stores
(tests/memory_graph.py: `MemoryGraph.parts`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings

if TYPE_CHECKING:
    from chalicelib.auth.authenticator import Authenticator
    from chalicelib.auth.context_cache import AccessContextCache
    from chalicelib.auth.keys import TokenKeys
    from chalicelib.auth.ldap import LdapAuthenticator
    from chalicelib.auth.login_gate import LoginGate
    from chalicelib.auth.passwords import PasswordHasher
    from chalicelib.auth.sessions import ConsoleSessions
    from chalicelib.events.forwarder import EventBridgeBus
    from chalicelib.events.outbox import Outbox
    from chalicelib.meta.accounts import AccountStore
    from chalicelib.meta.audit import AuditLog
    from chalicelib.meta.gc import GCStore
    from chalicelib.meta.immutable_rules import ImmutableRuleStore
    from chalicelib.meta.labels import LabelStore
    from chalicelib.meta.login_attempts import LoginAttemptStore
    from chalicelib.meta.quotas import QuotaStore
    from chalicelib.meta.registries import RegistryStore
    from chalicelib.meta.registry import RegistryMeta
    from chalicelib.meta.replication import ReplicationPolicyStore, ReplicationRunStore
    from chalicelib.meta.retention import RetentionStore
    from chalicelib.meta.table import Table
    from chalicelib.meta.webhooks import WebhookStore
    from chalicelib.proxy_cache import ProxyCache
    from chalicelib.registry.upload_service import UploadService
    from chalicelib.registry.upload_tokens import UploadTokens
    from chalicelib.runtime_config import RuntimeConfig
    from chalicelib.schedules import Schedules
    from chalicelib.secrets import Secrets
    from chalicelib.storage.s3 import S3BlobStore
    from chalicelib.webhooks.delivery import Deliverer, JobQueue
    from chalicelib.webhooks.sender import HttpSender


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        session: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        authorizer: Any = None,
        passwords: PasswordHasher | None = None,
        **given: Any,
    ):
        unknown = sorted(name for name in given if not isinstance(getattr(Services, name, None), cached_property))
        if unknown:
            raise TypeError(f"Services builds no part named {', '.join(unknown)}")
        # parts handed in instead of built (the tests' in-memory stores): they are the
        # graph's from the start, so nothing builds them on first use
        self._given = given
        self.__dict__.update(given)
        self.settings = settings
        self.clock = clock
        self._passwords = passwords
        self.sleep = sleep  # a write's backoff after it lost a race (chalicelib/artifacts.py)
        self._session = session
        self._authorizer = authorizer

    def replace(self, **changes: Any) -> Services:
        """A new graph built from this one's parts (settings, AWS session, clock, sleep,
        authorizer, password hasher, the parts it was given) with `changes` in their place,
        e.g. another setting or clock for one run; nothing already built is shared (a
        given part is: it is not built)."""
        parts = {
            "settings": self.settings,
            "session": self._session,
            "clock": self.clock,
            "sleep": self.sleep,
            "authorizer": self._authorizer,
            "passwords": self._passwords,
            **self._given,
        }
        return Services(**{**parts, **changes})

    # -- AWS clients -----------------------------------------------------------
    @cached_property
    def _boto(self) -> Any:
        if self._session is not None:
            return self._session
        import boto3

        return boto3.session.Session(region_name=self.settings.region)

    @property
    def aws_session(self) -> Any:
        """The boto3 session every client of this graph comes from."""
        return self._boto

    def client(self, service: str, **extra: Any) -> Any:
        """A new AWS client with the deployment's configuration (retries, timeouts)."""
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=3,
            read_timeout=20,
            **extra,
        )
        return self._boto.client(service, region_name=self.settings.region, config=config)

    @cached_property
    def s3(self) -> Any:
        # SigV4 and path-style keep presigned URLs valid on every endpoint, moto included
        return self.client("s3", signature_version="s3v4", s3={"addressing_style": "path"})

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def ssm(self) -> Any:
        return self.client("ssm")

    # -- stores and services ---------------------------------------------------
    @cached_property
    def table(self) -> Table:
        from chalicelib.meta.table import Table

        return Table(self.dynamodb, self.settings.table_name)

    @cached_property
    def meta(self) -> RegistryMeta:
        from chalicelib.meta.registry import DynamoRegistryMeta

        return DynamoRegistryMeta(self.table, self.outbox)

    @cached_property
    def outbox(self) -> Outbox:
        from chalicelib.events.outbox import Outbox

        # the stage's SSM prefix ("/berth/<stage>") names it: the events' `source`
        return Outbox(self.settings.ssm_prefix, self.clock)

    @cached_property
    def event_bus(self) -> EventBridgeBus:
        from chalicelib.config import ConfigurationError
        from chalicelib.events.forwarder import EventBridgeBus

        if not self.settings.event_bus_name:
            raise ConfigurationError("environment variable BERTH_EVENT_BUS is not set")
        return EventBridgeBus(self.client("events"), self.settings.event_bus_name)

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def webhooks(self) -> WebhookStore:
        from chalicelib.meta.webhooks import DynamoWebhooks

        return DynamoWebhooks(self.table, self.clock)

    @cached_property
    def immutable_rules(self) -> ImmutableRuleStore:
        from chalicelib.meta.immutable_rules import DynamoImmutableRules

        return DynamoImmutableRules(self.table)

    @cached_property
    def quotas(self) -> QuotaStore:
        from chalicelib.meta.quotas import DynamoQuotas

        return DynamoQuotas(self.table, self.clock)

    @cached_property
    def retention(self) -> RetentionStore:
        from chalicelib.meta.retention import DynamoRetention

        return DynamoRetention(self.table, self.clock)

    @cached_property
    def gc(self) -> GCStore:
        from chalicelib.meta.gc import DynamoGC

        return DynamoGC(self.table, self.clock)

    @cached_property
    def labels(self) -> LabelStore:
        from chalicelib.meta.labels import DynamoLabels

        return DynamoLabels(self.table, self.clock)

    @cached_property
    def registries(self) -> RegistryStore:
        from chalicelib.meta.registries import DynamoRegistries
        from chalicelib.secrets import SsmSecretParameters

        return DynamoRegistries(self.table, self.clock, SsmSecretParameters(self.ssm, self.settings.ssm_prefix, "registries"))

    @cached_property
    def proxy_cache(self) -> ProxyCache:
        from chalicelib.proxy_cache import ProxyCache

        return ProxyCache(self)

    @cached_property
    def replication_policies(self) -> ReplicationPolicyStore:
        from chalicelib.meta.replication import DynamoReplicationPolicies

        return DynamoReplicationPolicies(self.table, self.clock)

    @cached_property
    def replication_runs(self) -> ReplicationRunStore:
        from chalicelib.meta.replication import DynamoReplicationRuns

        return DynamoReplicationRuns(self.table, self.clock)

    @cached_property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    @cached_property
    def functions(self) -> Any:
        """Lambda, to start the app's own functions in the background (proxy_fill)."""
        return self.client("lambda")

    @cached_property
    def schedules(self) -> Schedules:
        """Jobs on a cron (chalicelib/schedules.py): EventBridge Scheduler."""
        from chalicelib.schedules import EventBridgeSchedules

        s = self.settings
        return EventBridgeSchedules(self.client("scheduler"), prefix=s.schedule_prefix,
                                    target_arn=s.schedule_target_arn, role_arn=s.schedule_role_arn)

    @cached_property
    def webhook_sender(self) -> HttpSender:
        from chalicelib.webhooks.sender import HttpSender

        return HttpSender(self.settings.webhook_timeout_seconds)

    @cached_property
    def webhook_jobs(self) -> JobQueue:
        from chalicelib.config import ConfigurationError
        from chalicelib.webhooks.delivery import JobQueue

        if not self.settings.webhook_queue_url:
            raise ConfigurationError("environment variable BERTH_WEBHOOK_QUEUE is not set")
        return JobQueue(self.sqs, self.settings.webhook_queue_url)

    @cached_property
    def webhook_deliverer(self) -> Deliverer:
        from urllib.parse import urlsplit

        from chalicelib.webhooks.delivery import Deliverer, RetryPolicy

        return Deliverer(
            self.webhooks,
            self.webhook_sender,
            self.webhook_jobs,
            urlsplit(self.settings.public_url).netloc,
            self.clock,
            RetryPolicy(base=self.settings.webhook_retry_base_seconds),
        )

    @cached_property
    def blobs(self) -> S3BlobStore:
        from chalicelib.storage.s3 import S3BlobStore

        return S3BlobStore(self.s3, self.settings.bucket_name)

    @cached_property
    def uploads(self) -> UploadService:
        from chalicelib.registry.upload_service import UploadService

        return UploadService(self.blobs, self.meta, self.clock, self.settings.upload_ttl_seconds)

    @cached_property
    def secrets(self) -> Secrets:
        from chalicelib.secrets import SsmSecrets

        return SsmSecrets(self.ssm, self.settings.ssm_prefix)

    @cached_property
    def upload_tokens(self) -> UploadTokens:
        from chalicelib.config import ConfigurationError
        from chalicelib.registry.upload_tokens import UploadTokens
        from chalicelib.secrets import UPLOAD_TOKEN_KEY

        try:
            return UploadTokens(bytes.fromhex(self.secrets.get(UPLOAD_TOKEN_KEY)))
        except ValueError:
            raise ConfigurationError(f"SSM parameter {self.settings.ssm_prefix}/{UPLOAD_TOKEN_KEY} is not hex") from None

    # -- auth --------------------------------------------------------------------
    @cached_property
    def passwords(self) -> PasswordHasher:
        """Makes new password hashes: at production's cost unless the caller that built
        this graph passed a hasher of its own (the test suites, for speed)."""
        from chalicelib.auth.passwords import DEFAULT_HASHER

        return self._passwords or DEFAULT_HASHER

    @cached_property
    def authorizer(self):
        if self._authorizer is not None:
            return self._authorizer
        if self.settings.auth == "none":
            from chalicelib.auth.access import OpenAuthorizer

            return OpenAuthorizer()
        from chalicelib.auth.token_authorizer import TokenAuthorizer

        return TokenAuthorizer(
            self.token_keys.verifier, service=self.settings.token_service, public_url=self.settings.public_url
        )

    @cached_property
    def token_keys(self) -> TokenKeys:
        from chalicelib.auth.keys import TokenKeys

        return TokenKeys(
            self.secrets, service=self.settings.token_service, issuer=self.settings.token_issuer, clock=self.clock
        )

    @cached_property
    def runtime_config(self) -> RuntimeConfig:
        from chalicelib.runtime_config import RuntimeConfig

        return RuntimeConfig(self.ssm, self.settings.ssm_prefix)

    @cached_property
    def accounts(self) -> AccountStore:
        from chalicelib.meta.accounts import DynamoAccounts

        return DynamoAccounts(self.table, self.clock, self.outbox)

    @cached_property
    def audit(self) -> AuditLog:
        from chalicelib.meta.audit import DynamoAuditLog

        return DynamoAuditLog(self.table, self.clock, lambda: self.runtime_config.typed("audit_log_retention_days"))

    @cached_property
    def sessions(self) -> ConsoleSessions:
        from chalicelib.auth.sessions import ConsoleSessions
        from chalicelib.meta.sessions import DynamoSessions

        return ConsoleSessions(
            DynamoSessions(self.table, self.clock),
            self.login_gate,
            self.clock,
            timeout_minutes=lambda: self.runtime_config.typed("session_timeout"),
        )

    @cached_property
    def access_contexts(self) -> AccessContextCache:
        from chalicelib.auth.context_cache import AccessContextCache

        return AccessContextCache(self.accounts)

    @cached_property
    def login_attempts(self) -> LoginAttemptStore:
        from chalicelib.meta.login_attempts import DynamoLoginAttempts

        return DynamoLoginAttempts(self.table, self.clock)

    @cached_property
    def login_gate(self) -> LoginGate:
        """Every password login: throttled, counted, failures audited (boundedly)."""
        from chalicelib.auth.login_gate import LoginGate
        from chalicelib.auth.throttle import Policy

        return LoginGate(
            self.accounts,
            self.authenticator,
            self.login_attempts,
            self.audit,
            policy=lambda: Policy.from_config(self.runtime_config.values()),
            clock=self.clock,
        )

    @cached_property
    def authenticator(self) -> Authenticator:
        from chalicelib.auth.authenticator import Authenticator
        from chalicelib.auth.passwords import CredentialCache

        return Authenticator(
            self.accounts,
            self.runtime_config,
            ldap=self._ldap,
            cache=CredentialCache(),
            clock=self.clock,
            hasher=self.passwords,
            admin_password=self.settings.admin_password or None,
        )

    def _ldap(self) -> LdapAuthenticator:
        from chalicelib.auth.ldap import LdapAuthenticator, LdapSettings

        return LdapAuthenticator(LdapSettings.from_mapping(self.runtime_config.values()))


if TYPE_CHECKING:
    from chalicelib.management.dependencies import ManagementDependencies
    from chalicelib.registry.dependencies import RegistryDependencies
    from chalicelib.tokens.dependencies import TokenDependencies

    def _provides(s: Services) -> tuple[RegistryDependencies, ManagementDependencies, TokenDependencies]:
        """mypy's check that the graph gives each API everything its handlers are typed to use."""
        return s, s, s
