"""The referrers API: /v2/<name>/referrers/<digest> (distribution-spec v1.1)."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.api.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    MiB,
    artifact_manifest,
    assert_error,
    descriptor,
    digest,
    image_manifest,
    index_manifest,
    push_image,
    push_manifest,
)

NAME = "library/app"
SBOM = "application/vnd.example.sbom+json"
SIG = "application/vnd.example.signature"


@pytest.fixture
def subject(api):
    """An image pushed as `v1`; returns its descriptor."""
    _, body = push_image(api, NAME, "v1")
    return descriptor(OCI_MANIFEST, body)


def _referrers(api, subject_digest: str, query: str = "", name: str = NAME):
    r = api.get(f"/v2/{name}/referrers/{subject_digest}{query}")
    assert r.status == 200, r.body
    assert r.headers["content-type"] == OCI_INDEX
    doc = r.json()
    assert doc["schemaVersion"] == 2 and doc["mediaType"] == OCI_INDEX
    return r, doc["manifests"]


def _push_referrer(api, subject: dict, artifact_type: str, annotations: dict | None = None, tag: str | None = None):
    body = artifact_manifest(api, NAME, artifact_type, subject=subject, annotations=annotations, payload=artifact_type.encode())
    d = digest(body)
    r = api.put(f"/v2/{NAME}/manifests/{tag or d}", body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r.body
    assert r.headers["oci-subject"] == subject["digest"]
    return d, body


def test_subject_without_referrers(api, subject):
    r, manifests = _referrers(api, subject["digest"])
    assert manifests == []
    assert "oci-filters-applied" not in r.headers


def test_unknown_subject_and_unknown_repository(api):
    # the spec: a registry that supports referrers never answers 404 here
    _, manifests = _referrers(api, digest(b"nothing"), name="library/nowhere")
    assert manifests == []


def test_referrers_are_listed(api, subject):
    sbom, sbom_body = _push_referrer(api, subject, SBOM, {"org.example.kind": "sbom", "created": "2024-01-01"})
    sig, sig_body = _push_referrer(api, subject, SIG)
    _, manifests = _referrers(api, subject["digest"])
    by_digest = {m["digest"]: m for m in manifests}
    assert set(by_digest) == {sbom, sig}
    assert by_digest[sbom] == {
        "mediaType": OCI_MANIFEST,
        "digest": sbom,
        "size": len(sbom_body),
        "artifactType": SBOM,
        "annotations": {"org.example.kind": "sbom", "created": "2024-01-01"},
    }
    assert by_digest[sig] == {"mediaType": OCI_MANIFEST, "digest": sig, "size": len(sig_body), "artifactType": SIG}


def test_artifact_type_of_image_referrer_is_its_config_media_type(api, subject):
    body = image_manifest(api, NAME, seed="referrer", subject=subject)
    d = push_manifest(api, NAME, digest(body), body)
    _, manifests = _referrers(api, subject["digest"])
    assert manifests == [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": len(body), "artifactType": json.loads(body)["config"]["mediaType"]}
    ]


def test_index_as_referrer(api, subject):
    child = image_manifest(api, NAME, seed="child")
    push_manifest(api, NAME, digest(child), child)
    body = index_manifest([(OCI_MANIFEST, child)], subject=subject, artifactType=SBOM, annotations={"k": "v"})
    d = push_manifest(api, NAME, digest(body), body, OCI_INDEX)
    _, manifests = _referrers(api, subject["digest"])
    assert manifests == [
        {"mediaType": OCI_INDEX, "digest": d, "size": len(body), "artifactType": SBOM, "annotations": {"k": "v"}}
    ]


def test_artifact_type_filter(api, subject):
    sbom, _ = _push_referrer(api, subject, SBOM)
    _push_referrer(api, subject, SIG)
    # "+" in a query means a space: clients percent-encode it
    r, manifests = _referrers(api, subject["digest"], "?" + urlencode({"artifactType": SBOM}))
    assert r.headers["oci-filters-applied"] == "artifactType"
    assert [m["digest"] for m in manifests] == [sbom]
    r, manifests = _referrers(api, subject["digest"], "?artifactType=application/vnd.example.none")
    assert r.headers["oci-filters-applied"] == "artifactType"
    assert manifests == []


def test_referrers_of_another_subject_are_not_listed(api, subject):
    _, other_body = push_image(api, NAME, "v2", seed="other")
    other = descriptor(OCI_MANIFEST, other_body)
    _push_referrer(api, other, SBOM)
    _, manifests = _referrers(api, subject["digest"])
    assert manifests == []
    _, manifests = _referrers(api, other["digest"])
    assert len(manifests) == 1


def test_referrers_are_per_repository(api, subject):
    _push_referrer(api, subject, SBOM)
    _, manifests = _referrers(api, subject["digest"], name="library/other")
    assert manifests == []


def test_referrer_pushed_before_its_subject(api):
    future = descriptor(OCI_MANIFEST, b"a manifest that does not exist yet")
    d, _ = _push_referrer(api, future, SIG)
    _, manifests = _referrers(api, future["digest"])
    assert [m["digest"] for m in manifests] == [d]


def test_deleting_a_referrer_removes_it(api, subject):
    sbom, _ = _push_referrer(api, subject, SBOM)
    sig, _ = _push_referrer(api, subject, SIG)
    assert api.delete(f"/v2/{NAME}/manifests/{sbom}").status == 202
    _, manifests = _referrers(api, subject["digest"])
    assert [m["digest"] for m in manifests] == [sig]
    assert api.delete(f"/v2/{NAME}/manifests/{sig}").status == 202
    _, manifests = _referrers(api, subject["digest"])
    assert manifests == []


def test_deleting_a_referrer_tag_keeps_the_referrer(api, subject):
    sbom, _ = _push_referrer(api, subject, SBOM, tag="sbom")
    assert api.delete(f"/v2/{NAME}/manifests/sbom").status == 202
    _, manifests = _referrers(api, subject["digest"])
    assert [m["digest"] for m in manifests] == [sbom]


def test_deleting_the_subject_keeps_its_referrers_listed(api, subject):
    sbom, _ = _push_referrer(api, subject, SBOM)
    assert api.delete(f"/v2/{NAME}/manifests/{subject['digest']}").status == 202
    _, manifests = _referrers(api, subject["digest"])
    assert [m["digest"] for m in manifests] == [sbom]


def test_large_referrer_stored_in_s3(api, subject):
    annotations = {f"org.example.{i:05d}": "a" * 64 for i in range(1200)}
    d, body = _push_referrer(api, subject, SBOM, annotations)
    assert len(body) > 64 * 1024
    _, manifests = _referrers(api, subject["digest"])
    assert manifests == [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": len(body), "artifactType": SBOM, "annotations": annotations}
    ]


def test_referrer_with_annotations_too_large_for_an_item(api, subject):
    # ~1 MiB of annotations: accepted, served, and listed
    annotations = {"org.example.blob": "b" * MiB}
    d, body = _push_referrer(api, subject, SBOM, annotations)
    r = api.get(f"/v2/{NAME}/manifests/{d}")
    assert r.status == 200 and r.body == body
    _, manifests = _referrers(api, subject["digest"])
    assert [m["digest"] for m in manifests] == [d]
    assert manifests[0]["artifactType"] == SBOM


@pytest.mark.parametrize("bad", ["sha256:abc", "nonsense", "sha256:" + "X" * 64])
def test_invalid_digest(api, bad):
    assert_error(api.get(f"/v2/{NAME}/referrers/{bad}"), 400, "DIGEST_INVALID")


def test_unsupported_algorithm(api):
    assert_error(api.get(f"/v2/{NAME}/referrers/md5:{'0' * 32}"), 400, "DIGEST_INVALID")


def test_invalid_name(api):
    assert_error(api.get(f"/v2/Library/referrers/{digest(b'x')}"), 400, "NAME_INVALID")
