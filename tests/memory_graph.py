"""The domain's object graph in memory: every store its in-memory twin (each proven to
answer as its DynamoDB or S3 implementation by its contract suite, tests/contract), wired
to each other as production's `Services` wires theirs, so the domain's rules run in a
test in milliseconds, without moto or HTTP.

    svc = MemoryGraph()
    projects.create(svc, "library", "alice")

`svc.now` is the clock (set it to move time); `svc.events` every domain event written, in
order, by whichever store wrote it (the outbox items of DynamoDB's transactions);
`svc.slept` the backoffs `artifacts.until_won` took. The AWS clients for work handed off the
request (Step Functions, Lambda) are not in memory: touching one raises NotInMemory.
mypy checks that the graph is a `DomainDependencies` (tests/unit/test_types.py).

`svc.parts()` are its stores by the names production's `Services` builds them under:
handed to `Services` (tests/conftest.py: memory_services), the app's handlers run on them
(tests/api), with `NoAws` as the AWS session, so a part with no twin fails loudly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings
from chalicelib.events.envelope import Event
from chalicelib.events.outbox import Outbox
from chalicelib.meta.accounts import MemoryAccounts
from chalicelib.meta.audit import MemoryAuditLog
from chalicelib.meta.gc import MemoryGC
from chalicelib.meta.immutable_rules import MemoryImmutableRules
from chalicelib.meta.labels import MemoryLabels
from chalicelib.meta.login_attempts import MemoryLoginAttempts
from chalicelib.meta.quotas import MemoryQuotas
from chalicelib.meta.registries import MemoryRegistries
from chalicelib.meta.registry_memory import MemoryRegistryMeta
from chalicelib.meta.replication import MemoryReplicationPolicies, MemoryReplicationRuns
from chalicelib.meta.retention import MemoryRetention
from chalicelib.registry.upload_service import UploadService
from chalicelib.runtime_config import MemoryRuntimeConfig
from chalicelib.schedules import MemorySchedules
from chalicelib.secrets import MemorySecrets
from chalicelib.storage.blobs import MemoryBlobStore

if TYPE_CHECKING:
    from chalicelib.dependencies import DomainDependencies

T0 = 1_700_000_000


# the graph's parts that `Services` builds on AWS, by the names it builds them under
PARTS = ("meta", "outbox", "accounts", "audit", "blobs", "uploads", "quotas", "immutable_rules", "labels", "gc",
         "registries", "replication_policies", "replication_runs", "retention", "runtime_config", "schedules",
         "login_attempts", "secrets")


class NotInMemory(RuntimeError):
    """The graph has no in-memory stand-in for this AWS client."""


class NoAws:
    """The AWS session of a `Services` on the graph's parts: whatever asks it for a client
    is a part with no twin in the graph."""

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotInMemory(f"{service_name}: a part of Services that has no in-memory twin asked for an AWS client")


class MemoryGraph:
    """DomainDependencies in memory (module docstring)."""

    def __init__(self, *, now: float = T0, settings: Settings | None = None, runtime: dict[str, str] | None = None):
        self.settings = settings or Settings(table_name="memory", bucket_name="memory", ssm_prefix="/berth/memory",
                                             region="us-east-1")
        self.now = now
        self.slept: list[float] = []
        self.events: list[Event] = []  # the one outbox every store writes to
        self.runtime_config = MemoryRuntimeConfig(runtime)
        self.outbox = Outbox(self.settings.ssm_prefix, self.clock)

        self.accounts = MemoryAccounts(self.clock, self.outbox)
        self.accounts.emitted = self.events
        self.audit = MemoryAuditLog(self.clock, lambda: self.runtime_config.typed("audit_log_retention_days"))
        self.immutable_rules = MemoryImmutableRules()
        self.gc = MemoryGC(self.clock)  # its ledger is the registry's
        self.labels = MemoryLabels(self.clock, lambda repository, digest: self.meta.get_manifest(repository, digest) is not None)
        self.quotas = MemoryQuotas(self.clock, lambda digest: self.meta.blob_live(digest), ledger=self.gc.ledger)
        self.meta = MemoryRegistryMeta(self.outbox, project_exists=self._project_exists, ledger=self.gc.ledger, labels=self.labels)
        self.meta.emitted = self.events
        self.blobs = MemoryBlobStore(self.clock)
        self.uploads = UploadService(self.blobs, self.meta, self.clock, self.settings.upload_ttl_seconds)
        self.registries = MemoryRegistries(self.clock)
        self.replication_policies = MemoryReplicationPolicies(self.clock)
        self.replication_runs = MemoryReplicationRuns(self.clock)
        self.retention = MemoryRetention(self.clock, self._project_exists)
        self.schedules = MemorySchedules()
        self.login_attempts = MemoryLoginAttempts(self.clock)
        self.secrets = MemorySecrets(self.settings.ssm_prefix)  # SSM's SecureStrings: none until a test stores one

    def parts(self) -> dict[str, Any]:
        """The graph's stores, by the names `Services` takes them under (module docstring)."""
        return {name: getattr(self, name) for name in PARTS}

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def _project_exists(self, project: str) -> bool:
        return self.accounts.get_project(project) is not None

    @property
    def stepfunctions(self) -> Any:
        raise NotInMemory("Step Functions (replication and garbage collection runs) has no in-memory stand-in")

    @property
    def functions(self) -> Any:
        raise NotInMemory("Lambda (the app's background functions) has no in-memory stand-in")


if TYPE_CHECKING:

    def _provides(graph: MemoryGraph) -> DomainDependencies:
        """mypy's check that the graph gives the domain everything it is typed to use."""
        return graph
