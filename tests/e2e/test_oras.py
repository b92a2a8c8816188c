"""Artifacts and the referrers API, with the oras SDK and plain HTTP.

oras uploads a blob as POST then one PUT carrying the whole blob (no PATCH), so
the 6 MiB artifact takes the upload host in a single request.

Two referrers point at the same subject: one pushed by the SDK (its
artifactType comes from the config's mediaType, as the spec says when the
manifest has no `artifactType`), one built by hand with an explicit
`artifactType`, an empty config and annotations, pushed by digest (untagged).
"""
from __future__ import annotations

import json
import os

import oras.oci
import pytest
import requests

from tests.e2e.images import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, sha256_digest
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

REPO = "library/artifact"
SIGNATURE_TYPE = "application/vnd.berth.test.signature.v1+json"
SBOM_TYPE = "application/vnd.berth.test.sbom.v1+json"
PAYLOAD_TYPE = "application/vnd.berth.test.payload.v1"
EMPTY_JSON = b"{}"


@pytest.fixture(scope="module")
def pushed(stack, oras_client, tmp_path_factory):
    """Push the subject artifact and two referrers; return what the tests compare against."""
    work = tmp_path_factory.mktemp("oras")
    client = oras_client(stack)
    http = stack.http()

    payload = os.urandom(6 * 1024 * 1024 + 123)
    payload_path = work / "payload.bin"
    payload_path.write_bytes(payload)
    notes_path = work / "notes.txt"
    notes_path.write_text("berth e2e artifact notes\n")

    response = client.push(
        target=f"{stack.host}/{REPO}:v1",
        files=[f"{payload_path}:{PAYLOAD_TYPE}", str(notes_path)],
        disable_path_validation=True,
        manifest_annotations={"org.opencontainers.image.description": "berth e2e subject"},
        quiet=True,
    )
    assert response.status_code == 201, describe(response)

    got = http.get_manifest(REPO, "v1")
    assert got.status_code == 200, describe(got)
    subject_bytes = got.content
    subject_digest = sha256_digest(subject_bytes)
    assert got.headers.get("Docker-Content-Digest") == subject_digest, describe(got)
    assert response.headers.get("Docker-Content-Digest", subject_digest) == subject_digest
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_bytes)}

    # Referrer 1, by the SDK: artifactType comes from the config's mediaType.
    signature_config = work / "signature-config.json"
    signature_config.write_text(json.dumps({"signer": "berth-e2e"}))
    signature_path = work / "signature.sig"
    signature_path.write_bytes(os.urandom(512))
    response = client.push(
        target=f"{stack.host}/{REPO}:signature",
        files=[f"{signature_path}:application/vnd.berth.test.signature.blob"],
        disable_path_validation=True,
        manifest_config=f"{signature_config}:{SIGNATURE_TYPE}",
        subject=oras.oci.Subject(**subject),
        quiet=True,
    )
    assert response.status_code == 201, describe(response)
    sig = http.get_manifest(REPO, "signature")
    assert sig.status_code == 200, describe(sig)
    signature_manifest = sig.content
    assert json.loads(signature_manifest)["subject"] == subject

    # Referrer 2, by hand: explicit artifactType, empty config, annotations, no tag.
    sbom = json.dumps({"packages": [{"name": "berth-e2e", "version": "1"}]}).encode()
    assert http.upload_blob(REPO, EMPTY_JSON) == sha256_digest(EMPTY_JSON)
    sbom_digest = http.upload_blob(REPO, sbom, monolithic_put=False)
    sbom_annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z",
                        "org.example.kind": "sbom"}
    sbom_manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SBOM_TYPE,
        "config": {"mediaType": OCI_EMPTY, "digest": sha256_digest(EMPTY_JSON), "size": 2,
                   "data": "e30="},
        "layers": [{"mediaType": SBOM_TYPE, "digest": sbom_digest, "size": len(sbom)}],
        "subject": subject,
        "annotations": sbom_annotations,
    }, indent=1).encode()
    sbom_manifest_digest = sha256_digest(sbom_manifest)
    put = http.put_manifest(REPO, sbom_manifest_digest, sbom_manifest)
    assert put.status_code == 201, describe(put)
    assert put.headers.get("Docker-Content-Digest") == sbom_manifest_digest, describe(put)
    # Spec v1.1: a registry that supports referrers answers a PUT with a subject
    # with OCI-Subject.
    assert put.headers.get("OCI-Subject") == subject_digest, describe(put)

    return {
        "client": client,
        "http": http,
        "work": work,
        "payload": payload,
        "notes": notes_path.read_bytes(),
        "subject": subject,
        "subject_bytes": subject_bytes,
        "signature_manifest": signature_manifest,
        "sbom": sbom,
        "sbom_manifest": sbom_manifest,
        "sbom_annotations": sbom_annotations,
    }


def _descriptors(response) -> list[dict]:
    assert response.status_code == 200, describe(response)
    assert response.headers.get("Content-Type", "").split(";")[0] == OCI_INDEX, describe(response)
    index = json.loads(response.content)
    assert index.get("schemaVersion") == 2, index
    assert index.get("mediaType") == OCI_INDEX, index
    return index["manifests"]


def test_referrers_lists_both(pushed):
    http, subject = pushed["http"], pushed["subject"]
    found = {d["digest"]: d for d in _descriptors(http.referrers(REPO, subject["digest"]))}

    sig_digest = sha256_digest(pushed["signature_manifest"])
    sbom_digest = sha256_digest(pushed["sbom_manifest"])
    assert set(found) == {sig_digest, sbom_digest}, found

    sig = found[sig_digest]
    assert sig["mediaType"] == OCI_MANIFEST
    assert sig["size"] == len(pushed["signature_manifest"])
    assert sig["artifactType"] == SIGNATURE_TYPE  # from config.mediaType

    sbom = found[sbom_digest]
    assert sbom["mediaType"] == OCI_MANIFEST
    assert sbom["size"] == len(pushed["sbom_manifest"])
    assert sbom["artifactType"] == SBOM_TYPE
    assert sbom.get("annotations") == pushed["sbom_annotations"]


def test_referrers_filter_by_artifact_type(pushed):
    http, subject = pushed["http"], pushed["subject"]
    response = http.referrers(REPO, subject["digest"], artifact_type=SBOM_TYPE)
    descriptors = _descriptors(response)
    assert [d["digest"] for d in descriptors] == [sha256_digest(pushed["sbom_manifest"])]
    assert descriptors[0]["artifactType"] == SBOM_TYPE
    assert response.headers.get("OCI-Filters-Applied") == "artifactType", describe(response)

    none = http.referrers(REPO, subject["digest"], artifact_type="application/vnd.berth.nothing")
    assert _descriptors(none) == []
    assert none.headers.get("OCI-Filters-Applied") == "artifactType", describe(none)


def test_referrers_of_unknown_digest_is_empty(pushed):
    # Spec v1.1: a registry supporting referrers must not answer 404 here.
    response = pushed["http"].referrers(REPO, sha256_digest(b"no such manifest"))
    assert _descriptors(response) == []


def test_untagged_referrer_is_retrievable_by_digest(pushed):
    http = pushed["http"]
    got = http.get_manifest(REPO, sha256_digest(pushed["sbom_manifest"]))
    assert got.status_code == 200, describe(got)
    assert got.content == pushed["sbom_manifest"]
    blob = http.get_blob(REPO, sha256_digest(pushed["sbom"]))
    assert blob.status_code == 200, describe(blob)
    assert blob.content == pushed["sbom"]
    assert set(http.tags(REPO)) == {"v1", "signature"}


def test_pull_with_sdk(pushed, tmp_path):
    client = pushed["client"]
    stack_host = client.hostname
    files = client.pull(target=f"{stack_host}/{REPO}:v1", outdir=str(tmp_path))
    by_name = {os.path.basename(f): f for f in files}
    assert set(by_name) == {"payload.bin", "notes.txt"}, files
    with open(by_name["payload.bin"], "rb") as f:
        assert f.read() == pushed["payload"]
    with open(by_name["notes.txt"], "rb") as f:
        assert f.read() == pushed["notes"]

    manifest = client.get_manifest(f"{stack_host}/{REPO}:v1")
    layers = {layer["annotations"]["org.opencontainers.image.title"]: layer
              for layer in manifest["layers"]}
    assert layers["payload.bin"]["mediaType"] == PAYLOAD_TYPE
    assert layers["payload.bin"]["digest"] == sha256_digest(pushed["payload"])
    assert manifest["annotations"]["org.opencontainers.image.description"] == "berth e2e subject"


def test_chunked_push_with_sdk(stack, oras_client, tmp_path):
    """oras's chunked mode: POST, several PATCHes with Content-Range, PUT `?digest=`.

    Chunks of 3 MiB + 1 are below S3's 5 MiB part minimum, so the upload host has
    to coalesce them into parts; the blob must still come back byte for byte.
    """
    client = oras_client(stack)
    payload = os.urandom(11 * 1024 * 1024 + 5)
    path = tmp_path / "chunked.bin"
    path.write_bytes(payload)
    response = client.push(target=f"{stack.host}/library/chunked:1", files=[str(path)],
                           disable_path_validation=True, do_chunked=True,
                           chunk_size=3 * 1024 * 1024 + 1, quiet=True)
    assert response.status_code == 201, describe(response)

    out = tmp_path / "out"
    files = client.pull(target=f"{stack.host}/library/chunked:1", outdir=str(out))
    assert [os.path.basename(f) for f in files] == ["chunked.bin"]
    with open(files[0], "rb") as f:
        assert f.read() == payload


def test_monolithic_push_with_apigw_limits(limited_stack, oras_client, tmp_path):
    """POST then one 7 MiB PUT (oras, containerd): too big for Lambda, so it must
    take the upload host; the pull goes through the presigned redirect."""
    client = oras_client(limited_stack)
    # Through API Gateway the app's own 401s carry their challenge only as
    # x-amzn-Remapped-WWW-Authenticate (the deployment's authorizer answers just the
    # requests without a token), so a client must ask for the scope it needs up front,
    # as the oras CLI, docker and skopeo do; oras-py asks scope by scope.
    client.auth.token = scoped_token(limited_stack, "repository:library/artifact:pull,push")
    payload = os.urandom(7 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    response = client.push(target=f"{limited_stack.host}/library/artifact:big",
                           files=[str(path)], disable_path_validation=True, quiet=True)
    assert response.status_code == 201, describe(response)
    files = client.pull(target=f"{limited_stack.host}/library/artifact:big",
                        outdir=str(tmp_path / "out"))
    with open(files[0], "rb") as f:
        assert f.read() == payload


def scoped_token(stack, scope: str) -> str:
    """A token for `scope` from the stack's token service, as the stack's admin."""
    reply = requests.get(f"{stack.api}/v2/service/token", params={"service": "berth-registry", "scope": scope},
                         auth=stack.credentials, timeout=30)
    assert reply.status_code == 200, describe(reply)
    return reply.json()["token"]
