"""What the domain needs from the object graph, as a type: the `svc` every domain
function takes.

`chalicelib/services.py: Services` builds the real graph once per Lambda container;
tests build it over moto or hand in fakes. A domain function is typed against this
Protocol, never against `Services` (which sits above every layer), so the layering holds
and mypy (`make check`) checks both sides: the functions use only what is listed here, and
`Services` provides all of it (its `_provides` check). The HTTP adapters extend it with
what only they use (`registry/dependencies.py`, `management/dependencies.py`,
`tokens/dependencies.py`).

The members are read-only properties: the graph builds each piece on first use.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.events.outbox import Outbox
    from chalicelib.meta.accounts import AccountStore
    from chalicelib.meta.audit import AuditLog
    from chalicelib.meta.gc import GCStore
    from chalicelib.meta.immutable_rules import ImmutableRuleStore
    from chalicelib.meta.labels import LabelStore
    from chalicelib.meta.quotas import QuotaStore
    from chalicelib.meta.registries import RegistryStore
    from chalicelib.meta.registry import RegistryMeta
    from chalicelib.meta.replication import ReplicationPolicyStore, ReplicationRunStore
    from chalicelib.meta.retention import RetentionStore
    from chalicelib.oci.digests import Digest
    from chalicelib.runtime_config import RuntimeConfig
    from chalicelib.schedules import Schedules
    from chalicelib.storage.blobs import BlobStore


class BlobUploads(Protocol):
    """The upload service (chalicelib/registry/upload_service.py), as the proxy cache uses
    it: one blob written whole, verified and linked like a client's upload."""

    def start(self, name: str) -> Any: ...

    def complete(self, session: Any, digest: Digest, body: BinaryIO, length: int | None, content_range: Any,
                 *, project: str | None = None) -> int: ...


class DomainDependencies(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def sleep(self) -> Callable[[float], None]: ...

    # metadata (chalicelib/meta/) and blobs (chalicelib/storage/)
    @property
    def meta(self) -> RegistryMeta: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def accounts(self) -> AccountStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def uploads(self) -> BlobUploads: ...
    @property
    def quotas(self) -> QuotaStore: ...
    @property
    def immutable_rules(self) -> ImmutableRuleStore: ...
    @property
    def labels(self) -> LabelStore: ...
    @property
    def registries(self) -> RegistryStore: ...
    @property
    def replication_policies(self) -> ReplicationPolicyStore: ...
    @property
    def replication_runs(self) -> ReplicationRunStore: ...
    @property
    def retention(self) -> RetentionStore: ...
    @property
    def gc(self) -> GCStore: ...
    @property
    def runtime_config(self) -> RuntimeConfig: ...
    @property
    def schedules(self) -> Schedules: ...

    # AWS clients for work handed off the request (boto3 clients are untyped)
    @property
    def stepfunctions(self) -> Any: ...
    @property
    def functions(self) -> Any: ...
