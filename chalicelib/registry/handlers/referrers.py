from __future__ import annotations

from chalicelib.oci import mediatypes
from chalicelib.oci.digests import Digest
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.web.http import Request, Response


def get_referrers(svc: RegistryDependencies, req: Request, name: str, digest: str) -> Response:
    subject = str(Digest.parse(digest))
    manifests = svc.meta.list_referrers(name, subject)
    if not manifests:
        upstream = svc.proxy_cache.upstream_of(name)
        if upstream is not None:  # a proxy cache project: what its upstream lists (docs/proxy-cache.md)
            manifests = svc.proxy_cache.referrers(upstream, name, subject, manifests)
    headers = {}
    wanted = req.arg("artifactType")
    if wanted:
        manifests = [m for m in manifests if m.get("artifactType") == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": manifests}
    response = Response.json(200, index, headers)
    response.headers["Content-Type"] = mediatypes.OCI_INDEX
    return response
