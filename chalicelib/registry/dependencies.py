"""What the OCI API's handlers need from the object graph: the domain's dependencies
(chalicelib/dependencies.py) and the registry's own pieces."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from chalicelib.dependencies import DomainDependencies

if TYPE_CHECKING:
    from chalicelib.auth.access import Authorizer
    from chalicelib.proxy_cache import ProxyCache
    from chalicelib.registry.upload_service import UploadService
    from chalicelib.registry.upload_tokens import UploadTokens


class RegistryDependencies(DomainDependencies, Protocol):
    @property
    def authorizer(self) -> Authorizer: ...
    @property
    def uploads(self) -> UploadService: ...
    @property
    def upload_tokens(self) -> UploadTokens: ...
    @property
    def proxy_cache(self) -> ProxyCache: ...
