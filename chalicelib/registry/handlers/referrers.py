from __future__ import annotations

from chalicelib.registry.http import OciRequest, OciResponse
from chalicelib.registry.oci import mediatypes
from chalicelib.registry.oci.digests import Digest


def get_referrers(svc, req: OciRequest, name: str, digest: str) -> OciResponse:
    subject = str(Digest.parse(digest))
    manifests = svc.meta.list_referrers(name, subject)
    headers = {}
    wanted = req.arg("artifactType")
    if wanted:
        manifests = [m for m in manifests if m.get("artifactType") == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": manifests}
    response = OciResponse.json(200, index, headers)
    response.headers["Content-Type"] = mediatypes.OCI_INDEX
    return response
