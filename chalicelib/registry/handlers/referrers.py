from __future__ import annotations

from typing import Any

from chalicelib.meta.registry import Referrer
from chalicelib.oci import mediatypes
from chalicelib.oci.digests import Digest
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.web.http import Request, Response


def get_referrers(svc: RegistryDependencies, req: Request, name: str, digest: str) -> Response:
    subject = str(Digest.parse(digest))
    referrers = svc.meta.list_referrers(name, subject)
    if not referrers:
        upstream = svc.proxy_cache.upstream_of(name)
        if upstream is not None:  # a proxy cache project: what its upstream lists (docs/proxy-cache.md)
            referrers = svc.proxy_cache.referrers(upstream, name, subject, referrers)
    headers = {}
    wanted = req.arg("artifactType")
    if wanted:
        referrers = [r for r in referrers if r.artifact_type == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [descriptor(r) for r in referrers]}
    response = Response.json(200, index, headers)
    response.headers["Content-Type"] = mediatypes.OCI_INDEX
    return response


def descriptor(referrer: Referrer) -> dict[str, Any]:
    """The referrer's OCI descriptor (image-spec descriptor.md): artifactType and annotations
    only when it has them."""
    out: dict[str, Any] = {"mediaType": referrer.media_type, "digest": referrer.digest, "size": referrer.size}
    if referrer.artifact_type is not None:
        out["artifactType"] = referrer.artifact_type
    if referrer.annotations is not None:
        out["annotations"] = referrer.annotations
    return out
