"""The adapter of a stored registry, its secret read from SSM only here, when a client
of that registry is made (the management API's checks and the replication workers)."""
from __future__ import annotations

from chalicelib.dependencies import DomainDependencies
from chalicelib.meta.registries import Registry
from chalicelib.remote import adapters
from chalicelib.remote.client import Credential


def adapter_of(svc: DomainDependencies, registry: Registry, secret: str | None = None) -> adapters.Adapter:
    if secret is None:
        secret = svc.registries.secret(registry)
    credential = Credential(registry.access_key, secret) if registry.access_key else None
    return adapters.adapter_for(registry.type, registry.url, credential, insecure=registry.insecure,
                                ca_certificate=registry.ca_certificate)
