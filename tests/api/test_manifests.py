"""Manifests: PUT, GET, HEAD and DELETE on /v2/<name>/manifests/<reference>.

On the in-memory stores (tests/api/conftest.py); the tests that read S3 or DynamoDB
themselves, or a presigned URL's S3 shape, on moto (`aws_api`, `aws_services`)."""
from __future__ import annotations

import json

import pytest

from chalicelib.storage.paths import manifest_key
from tests.api.helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    MiB,
    artifact_manifest,
    assert_error,
    descriptor,
    digest,
    encode,
    image_manifest,
    index_manifest,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
)

NAME = "library/app"


def _kinds(api, name: str) -> dict[str, tuple[bytes, str]]:
    """Each kind of manifest the registry accepts, its blobs and children pushed."""
    docker = image_manifest(api, name, DOCKER_MANIFEST, seed="docker")
    oci = image_manifest(api, name, OCI_MANIFEST, seed="oci")
    return {
        "docker-manifest": (docker, DOCKER_MANIFEST),
        "oci-manifest": (oci, OCI_MANIFEST),
        "artifact": (artifact_manifest(api, name, "application/vnd.example.sbom+json"), OCI_MANIFEST),
        "docker-list": (index_manifest([(DOCKER_MANIFEST, docker)], DOCKER_LIST), DOCKER_LIST),
        "oci-index": (index_manifest([(OCI_MANIFEST, oci)]), OCI_INDEX),
    }


def _push_children(api, name: str, kind: str, kinds) -> None:
    if kind == "docker-list":
        push_manifest(api, name, digest(kinds["docker-manifest"][0]), *kinds["docker-manifest"])
    elif kind == "oci-index":
        push_manifest(api, name, digest(kinds["oci-manifest"][0]), *kinds["oci-manifest"])


def _assert_manifest_reply(r, body: bytes, media_type: str, *, head: bool = False) -> None:
    assert r.status == 200, (r.status, r.body[:300])
    assert r.headers["content-type"] == media_type
    assert r.headers["docker-content-digest"] == digest(body)
    assert r.headers["content-length"] == str(len(body))
    assert r.body == (b"" if head else body)


KINDS = ["docker-manifest", "oci-manifest", "artifact", "docker-list", "oci-index"]


@pytest.mark.parametrize("kind", KINDS)
def test_push_and_pull_by_tag_and_digest(api, kind):
    kinds = _kinds(api, NAME)
    _push_children(api, NAME, kind, kinds)
    body, media_type = kinds[kind]
    d = digest(body)
    r = put_manifest(api, NAME, "v1", body, media_type)
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == d
    assert r.headers["location"] == f"/v2/{NAME}/manifests/{d}"
    assert "oci-subject" not in r.headers
    for ref in ("v1", d):
        _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{ref}", headers={"Accept": media_type}), body, media_type)
        _assert_manifest_reply(api.head(f"/v2/{NAME}/manifests/{ref}"), body, media_type, head=True)
    # by digest, the same bytes once more
    r = put_manifest(api, NAME, d, body, media_type)
    assert r.status == 201 and r.headers["docker-content-digest"] == d
    # delete by digest: gone under both references
    r = api.delete(f"/v2/{NAME}/manifests/{d}")
    assert r.status == 202
    for ref in ("v1", d):
        assert_error(api.get(f"/v2/{NAME}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
        assert_error(api.head(f"/v2/{NAME}/manifests/{ref}"), 404)


@pytest.mark.parametrize("kind", KINDS)
def test_push_by_digest_only(api, kind):
    kinds = _kinds(api, NAME)
    _push_children(api, NAME, kind, kinds)
    body, media_type = kinds[kind]
    d = push_manifest(api, NAME, digest(body), body, media_type)
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{d}"), body, media_type)
    assert api.get(f"/v2/{NAME}/tags/list").json()["tags"] == []


def test_stored_media_type_is_returned_whatever_the_accept(api):
    body = image_manifest(api, NAME, DOCKER_MANIFEST)
    push_manifest(api, NAME, "v1", body, DOCKER_MANIFEST)
    r = api.get(f"/v2/{NAME}/manifests/v1", headers={"Accept": "*/*"})
    _assert_manifest_reply(r, body, DOCKER_MANIFEST)
    r = api.get(f"/v2/{NAME}/manifests/v1")
    _assert_manifest_reply(r, body, DOCKER_MANIFEST)


@pytest.mark.parametrize("content_type", ["application/json", "", "application/octet-stream"])
def test_media_type_from_the_document_when_content_type_is_generic(api, content_type):
    body = image_manifest(api, NAME, OCI_MANIFEST)
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.put(f"/v2/{NAME}/manifests/v1", body, headers=headers)
    assert r.status == 201, r.body
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/v1"), body, OCI_MANIFEST)


def test_content_type_with_parameters(api):
    body = image_manifest(api, NAME, OCI_MANIFEST)
    r = api.put(f"/v2/{NAME}/manifests/v1", body, headers={"Content-Type": OCI_MANIFEST + "; charset=utf-8"})
    assert r.status == 201, r.body
    assert api.get(f"/v2/{NAME}/manifests/v1").headers["content-type"] == OCI_MANIFEST


def test_manifest_bytes_are_kept_exactly(api):
    # whitespace and key order are part of the digest
    doc = json.loads(image_manifest(api, NAME, OCI_MANIFEST))
    body = json.dumps(doc, indent=3).encode() + b"\n"
    d = push_manifest(api, NAME, "pretty", body, OCI_MANIFEST)
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{d}"), body, OCI_MANIFEST)


def test_artifact_manifest_with_empty_config(api):
    body = artifact_manifest(api, NAME, "application/vnd.example.thing", payload=b"payload bytes")
    doc = json.loads(body)
    assert doc["config"] == {"mediaType": OCI_EMPTY, "digest": digest(EMPTY_JSON), "size": 2}
    d = push_manifest(api, NAME, "artifact", body, OCI_MANIFEST)
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{d}"), body, OCI_MANIFEST)
    assert api.get(f"/v2/{NAME}/blobs/{digest(EMPTY_JSON)}").status == 307


def test_foreign_layers_need_not_exist(api):
    doc = json.loads(image_manifest(api, NAME, DOCKER_MANIFEST))
    foreign = b"windows base layer"
    doc["layers"].append(
        descriptor(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", foreign, urls=["https://example.com/layer"]
        )
    )
    push_manifest(api, NAME, "win", encode(doc), DOCKER_MANIFEST)


# -- invalid pushes -------------------------------------------------------------------
def test_put_by_digest_that_does_not_match(api):
    body = image_manifest(api, NAME)
    wrong = digest(body + b" ")
    r = put_manifest(api, NAME, wrong, body)
    assert_error(r, 400, "DIGEST_INVALID")
    assert_error(api.get(f"/v2/{NAME}/manifests/{wrong}"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/manifests/{digest(body)}"), 404, "MANIFEST_UNKNOWN")


def test_put_by_sha512_digest(api):
    body = image_manifest(api, NAME)
    d = digest(body, "sha512")
    r = put_manifest(api, NAME, d, body)
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == d
    r = api.get(f"/v2/{NAME}/manifests/{d}")
    assert r.status == 200 and r.body == body
    assert r.headers["docker-content-digest"] == d


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "Z" * 64])
def test_put_by_malformed_digest(api, bad):
    body = image_manifest(api, NAME)
    assert_error(put_manifest(api, NAME, bad, body), 400, "DIGEST_INVALID")


@pytest.mark.parametrize("missing", ["config", "layer"])
def test_manifest_referencing_a_missing_blob(api, missing):
    body = image_manifest(api, NAME, push=False, seed="missing")
    doc = json.loads(body)
    # push all but one
    config = encode({"architecture": "amd64", "os": "linux", "seed": "missing"})
    layer = b"layer 0 missing" * 50
    push_blob(api, NAME, layer if missing == "config" else config)
    assert doc["config"]["digest"] == digest(config) and doc["layers"][0]["digest"] == digest(layer)
    r = put_manifest(api, NAME, "v1", body)
    assert_error(r, 404, "MANIFEST_BLOB_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/manifests/v1"), 404)
    assert_error(api.get(f"/v2/{NAME}/manifests/{digest(body)}"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/tags/list"), 404, "NAME_UNKNOWN")


def test_manifest_referencing_a_blob_of_another_repository(api):
    body = image_manifest(api, "library/other")
    assert_error(put_manifest(api, NAME, "v1", body), 404, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_referencing_a_missing_child(api, media_type):
    child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
    present = image_manifest(api, NAME, child_type, seed="present")
    push_manifest(api, NAME, digest(present), present, child_type)
    absent = image_manifest(api, NAME, child_type, seed="absent")  # blobs pushed, manifest not
    body = index_manifest([(child_type, present), (child_type, absent)], media_type)
    r = put_manifest(api, NAME, "multi", body, media_type)
    assert_error(r, 404, "MANIFEST_BLOB_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/manifests/multi"), 404, "MANIFEST_UNKNOWN")


def test_index_child_of_another_repository(api):
    child = image_manifest(api, "library/other", seed="child")
    push_manifest(api, "library/other", digest(child), child)
    body = index_manifest([(OCI_MANIFEST, child)])
    assert_error(put_manifest(api, NAME, "multi", body, OCI_INDEX), 404, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'"a string"',
        b"\xff\xfe\x00",
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',  # no config/layers
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}',  # no manifests
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {}, "layers": []}',
    ],
)
def test_invalid_manifest_documents(api, body):
    r = api.put(f"/v2/{NAME}/manifests/v1", body, headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_INVALID")


def test_invalid_descriptors(api):
    good = json.loads(image_manifest(api, NAME))
    variants = [
        {**good, "config": {**good["config"], "digest": "sha256:abc"}},
        {**good, "config": {**good["config"], "size": -1}},
        {**good, "config": {**good["config"], "size": "12"}},
        {**good, "config": {k: v for k, v in good["config"].items() if k != "mediaType"}},
        {**good, "layers": "nope"},
        {**good, "layers": [1]},
        {**good, "annotations": {"a": 1}},
        {**good, "subject": "sha256:abc"},
        {**good, "mediaType": 5},
        {**good, "artifactType": ["x"]},
    ]
    for doc in variants:
        r = put_manifest(api, NAME, "v1", encode(doc))
        assert_error(r, 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        OCI_MANIFEST,
    ],
)
def test_schema_version_1(api, content_type):
    body = json.dumps(
        {"schemaVersion": 1, "name": NAME, "tag": "v1", "architecture": "amd64", "fsLayers": [], "history": []}
    ).encode()
    assert_error(put_manifest(api, NAME, "v1", body, content_type), 400, "MANIFEST_INVALID")


def test_schema_version_must_be_2(api):
    doc = json.loads(image_manifest(api, NAME))
    for version in (1, 3, "2", None):
        assert_error(put_manifest(api, NAME, "v1", encode({**doc, "schemaVersion": version})), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "declared, content_type",
    [
        (OCI_MANIFEST, DOCKER_MANIFEST),
        (DOCKER_MANIFEST, OCI_MANIFEST),
        (OCI_MANIFEST, OCI_INDEX),
        (OCI_INDEX, OCI_MANIFEST),
        (OCI_MANIFEST, "application/vnd.example.unknown+json"),
    ],
)
def test_content_type_mismatching_media_type(api, declared, content_type):
    doc = json.loads(image_manifest(api, NAME))
    body = encode({**doc, "mediaType": declared})
    assert_error(put_manifest(api, NAME, "v1", body, content_type), 400, "MANIFEST_INVALID")
    assert_error(api.get(f"/v2/{NAME}/manifests/v1"), 404)


def test_manifest_larger_than_4_mib(api):
    doc = json.loads(image_manifest(api, NAME))
    doc["annotations"] = {"big": "x" * (4 * MiB)}
    r = put_manifest(api, NAME, "huge", encode(doc))
    assert_error(r, 413, "SIZE_INVALID")
    assert_error(api.get(f"/v2/{NAME}/manifests/huge"), 404)


@pytest.mark.parametrize("tag", ["-leading-dash", ".dot", "a" * 129, "bad*char", "t%25"])
def test_invalid_tag(api, tag):
    body = image_manifest(api, NAME)
    r = put_manifest(api, NAME, tag, body)
    assert r.status == 400, r.body
    assert r.error_codes == ["MANIFEST_INVALID"]
    # a reference that cannot be a tag names no manifest: 404, as the reference registry
    assert_error(api.get(f"/v2/{NAME}/manifests/{tag}"), 404, "MANIFEST_UNKNOWN")
    r = api.head(f"/v2/{NAME}/manifests/{tag}")
    assert r.status == 404 and r.body == b""
    assert_error(api.delete(f"/v2/{NAME}/manifests/{tag}"), 400)


@pytest.mark.parametrize("tag", ["a" * 128, "_underscore", "v1.2.3-rc_1", "LATEST", "0"])
def test_valid_unusual_tags(api, tag):
    d, _ = push_image(api, NAME, tag)
    assert api.get(f"/v2/{NAME}/manifests/{tag}").headers["docker-content-digest"] == d


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "0" * 32])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_or_delete_by_malformed_digest(api, method, bad):
    assert_error(api.request(method, f"/v2/{NAME}/manifests/{bad}"), 400, "DIGEST_INVALID")


def test_unknown_manifest(api):
    push_image(api, NAME, "v1")
    assert_error(api.get(f"/v2/{NAME}/manifests/v2"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/manifests/{digest(b'x')}"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get("/v2/library/nothing/manifests/v1"), 404)
    assert_error(api.delete(f"/v2/{NAME}/manifests/v2"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.delete(f"/v2/{NAME}/manifests/{digest(b'x')}"), 404, "MANIFEST_UNKNOWN")


def test_manifest_of_another_repository_is_unknown_here(api):
    d, _ = push_image(api, "library/other", "v1")
    assert_error(api.get(f"/v2/{NAME}/manifests/{d}"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/manifests/v1"), 404, "MANIFEST_UNKNOWN")


# -- subject ---------------------------------------------------------------------------
def test_push_with_subject_answers_oci_subject(api):
    subject_digest, subject_body = push_image(api, NAME, "v1")
    subject = descriptor(OCI_MANIFEST, subject_body)
    body = artifact_manifest(api, NAME, "application/vnd.example.signature", subject=subject)
    r = put_manifest(api, NAME, digest(body), body)
    assert r.status == 201, r.body
    assert r.headers["oci-subject"] == subject_digest


def test_push_with_subject_that_does_not_exist(api):
    # the spec lets a referrer arrive before its subject
    subject = descriptor(OCI_MANIFEST, b"not pushed yet")
    body = artifact_manifest(api, NAME, "application/vnd.example.signature", subject=subject)
    r = put_manifest(api, NAME, digest(body), body)
    assert r.status == 201, r.body
    assert r.headers["oci-subject"] == subject["digest"]


# -- tags and deletes ---------------------------------------------------------------------
def test_delete_manifest_removes_its_tags(api):
    d, body = push_image(api, NAME, "a")
    push_manifest(api, NAME, "b", body)
    other, _ = push_image(api, NAME, "c", seed="other")
    assert api.delete(f"/v2/{NAME}/manifests/{d}").status == 202
    assert api.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["c"]
    for ref in ("a", "b", d):
        assert_error(api.get(f"/v2/{NAME}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
    assert api.get(f"/v2/{NAME}/manifests/c").headers["docker-content-digest"] == other
    assert_error(api.delete(f"/v2/{NAME}/manifests/{d}"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_removes_only_the_tag(api):
    d, body = push_image(api, NAME, "a")
    push_manifest(api, NAME, "b", body)
    r = api.delete(f"/v2/{NAME}/manifests/a")
    assert r.status == 202
    assert_error(api.get(f"/v2/{NAME}/manifests/a"), 404, "MANIFEST_UNKNOWN")
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{d}"), body, OCI_MANIFEST)
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/b"), body, OCI_MANIFEST)
    assert api.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["b"]
    assert_error(api.delete(f"/v2/{NAME}/manifests/a"), 404, "MANIFEST_UNKNOWN")


def test_a_manifest_an_index_lists_is_not_deleted_until_the_index_is(api):
    """One rule with the management API (chalicelib/artifacts.py): Harbor refuses both."""
    child, child_body = push_image(api, NAME, "child")
    index = push_manifest(api, NAME, "multi", index_manifest([(OCI_MANIFEST, child_body)]), OCI_INDEX)
    reply = api.delete(f"/v2/{NAME}/manifests/{child}")
    assert_error(reply, 412, "DENIED")
    assert index in reply.json()["errors"][0]["message"]
    assert api.get(f"/v2/{NAME}/manifests/{child}").status == 200  # nothing was removed
    assert api.delete(f"/v2/{NAME}/manifests/child").status == 202  # a tag is not the manifest
    assert api.delete(f"/v2/{NAME}/manifests/{index}").status == 202
    assert api.delete(f"/v2/{NAME}/manifests/{child}").status == 202


def test_tag_move(api):
    first, first_body = push_image(api, NAME, "latest", seed="one")
    second, second_body = push_image(api, NAME, "latest", seed="two")
    assert first != second
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/latest"), second_body, OCI_MANIFEST)
    _assert_manifest_reply(api.head(f"/v2/{NAME}/manifests/latest"), second_body, OCI_MANIFEST, head=True)
    # the first manifest is still there by digest
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{first}"), first_body, OCI_MANIFEST)
    assert api.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["latest"]
    # deleting the first no longer touches the tag
    assert api.delete(f"/v2/{NAME}/manifests/{first}").status == 202
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/latest"), second_body, OCI_MANIFEST)


def test_tag_move_across_media_types(api):
    push_image(api, NAME, "latest", DOCKER_MANIFEST, seed="docker")
    _, body = push_image(api, NAME, "latest", OCI_MANIFEST, seed="oci")
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/latest"), body, OCI_MANIFEST)


def test_same_manifest_pushed_twice(api):
    d, body = push_image(api, NAME, "v1")
    assert push_manifest(api, NAME, "v1", body) == d
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/v1"), body, OCI_MANIFEST)


def test_large_manifest_is_stored_in_s3(aws_api, aws_services):
    doc = json.loads(image_manifest(aws_api, NAME))
    doc["annotations"] = {f"org.example.key.{i:05d}": "v" * 64 for i in range(1500)}
    body = encode(doc)
    assert len(body) > 64 * 1024
    d = push_manifest(aws_api, NAME, "big", body)
    stored = aws_services.s3.get_object(Bucket=aws_services.settings.bucket_name, Key=manifest_key(d))["Body"].read()
    assert stored == body
    for ref in ("big", d):
        _assert_manifest_reply(aws_api.get(f"/v2/{NAME}/manifests/{ref}"), body, OCI_MANIFEST)
        _assert_manifest_reply(aws_api.head(f"/v2/{NAME}/manifests/{ref}"), body, OCI_MANIFEST, head=True)
    assert aws_api.delete(f"/v2/{NAME}/manifests/{d}").status == 202
    assert_error(aws_api.get(f"/v2/{NAME}/manifests/big"), 404, "MANIFEST_UNKNOWN")


def test_large_index_is_stored_in_s3(aws_api, aws_services):
    children = []
    for i in range(4):
        body = image_manifest(aws_api, NAME, seed=f"child{i}")
        push_manifest(aws_api, NAME, digest(body), body)
        children.append((OCI_MANIFEST, body))
    body = index_manifest(children, annotations={f"k{i:05d}": "x" * 100 for i in range(800)})
    assert len(body) > 64 * 1024
    d = push_manifest(aws_api, NAME, "multi", body, OCI_INDEX)
    _assert_manifest_reply(aws_api.get(f"/v2/{NAME}/manifests/multi"), body, OCI_INDEX)
    assert aws_services.s3.head_object(Bucket=aws_services.settings.bucket_name, Key=manifest_key(d))["ContentLength"] == len(body)


def test_manifest_just_under_4_mib(api):
    """The largest manifest a client may push (4 MiB) is accepted and served."""
    doc = json.loads(image_manifest(api, NAME))
    base = len(encode({**doc, "annotations": {"pad": ""}}))
    doc["annotations"] = {"pad": "p" * (4 * MiB - base)}
    body = encode(doc)
    assert len(body) == 4 * MiB
    d = push_manifest(api, NAME, "max", body)
    r = api.get(f"/v2/{NAME}/manifests/{d}")
    assert r.status == 200 and r.body == body


@pytest.mark.parametrize("field", ["config", "layer", "artifactType", "subject"])
def test_media_type_longer_than_rfc_6838_allows(api, field):
    doc = json.loads(image_manifest(api, NAME))
    long_type = "application/" + "x" * 300_000
    if field == "config":
        doc["config"]["mediaType"] = long_type
    elif field == "layer":
        doc["layers"][0]["mediaType"] = long_type
    elif field == "artifactType":
        doc["artifactType"] = long_type
    else:
        doc["subject"] = {**descriptor(OCI_MANIFEST, b"s"), "artifactType": long_type}
    assert_error(put_manifest(api, NAME, "v1", encode(doc)), 400, "MANIFEST_INVALID")


def test_index_listing_one_child_many_times(api):
    child = image_manifest(api, NAME)
    push_manifest(api, NAME, digest(child), child)
    body = encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_MANIFEST, child)] * 20_000})
    assert len(body) > 2 * MiB
    d = push_manifest(api, NAME, "many", body, OCI_INDEX)
    _assert_manifest_reply(api.get(f"/v2/{NAME}/manifests/{d}"), body, OCI_INDEX)
