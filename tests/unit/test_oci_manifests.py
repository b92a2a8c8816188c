"""Manifest parsing: media types, descriptors, what must exist, referrers data."""
from __future__ import annotations

import copy
import json

import pytest

from chalicelib.errors import InvalidManifest
from chalicelib.oci import mediatypes as mt
from chalicelib.oci.digests import Digest
from chalicelib.oci.manifests import Descriptor, parse_manifest

CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
FOREIGN_TYPE = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"


def desc(data: bytes, media_type: str = LAYER_TYPE, **extra) -> dict:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


CONFIG = desc(b"{}", CONFIG_TYPE)
LAYER1 = desc(b"layer-1")
LAYER2 = desc(b"layer-2")
CHILD1 = desc(b"child-1", mt.OCI_MANIFEST)
CHILD2 = desc(b"child-2", mt.OCI_MANIFEST)
SUBJECT = desc(b"subject", mt.OCI_MANIFEST)


def image(media_type: str | None = mt.OCI_MANIFEST, **fields) -> dict:
    doc = {"schemaVersion": 2, "config": CONFIG, "layers": [LAYER1, LAYER2]}
    if media_type is not None:
        doc["mediaType"] = media_type
    doc.update(fields)
    return copy.deepcopy(doc)


def index(media_type: str | None = mt.OCI_INDEX, **fields) -> dict:
    doc = {"schemaVersion": 2, "manifests": [CHILD1, CHILD2]}
    if media_type is not None:
        doc["mediaType"] = media_type
    doc.update(fields)
    return copy.deepcopy(doc)


def raw(doc) -> bytes:
    return json.dumps(doc).encode()


# -- media types ---------------------------------------------------------------
@pytest.mark.parametrize("media_type", [mt.OCI_MANIFEST, mt.DOCKER_MANIFEST])
def test_image_manifests_by_content_type(media_type):
    parsed = parse_manifest(raw(image(media_type)), media_type)
    assert parsed.media_type == media_type
    assert not parsed.is_index
    assert parsed.blobs == (CONFIG["digest"], LAYER1["digest"], LAYER2["digest"])
    assert parsed.children == ()
    assert parsed.config_media_type == CONFIG_TYPE


@pytest.mark.parametrize("media_type", [mt.OCI_INDEX, mt.DOCKER_LIST])
def test_indexes_by_content_type(media_type):
    parsed = parse_manifest(raw(index(media_type)), media_type)
    assert parsed.media_type == media_type
    assert parsed.is_index
    assert parsed.children == (CHILD1["digest"], CHILD2["digest"])
    assert parsed.blobs == ()
    assert parsed.config_media_type is None


@pytest.mark.parametrize(
    "content_type",
    [
        mt.OCI_MANIFEST + "; charset=utf-8",
        " " + mt.OCI_MANIFEST + " ",
        mt.OCI_MANIFEST.upper(),
    ],
)
def test_content_type_parameters_and_case_are_ignored(content_type):
    assert parse_manifest(raw(image()), content_type).media_type == mt.OCI_MANIFEST


@pytest.mark.parametrize("content_type", [mt.OCI_MANIFEST, mt.OCI_INDEX])
def test_media_type_field_is_optional_when_content_type_says(content_type):
    doc = image(None) if content_type == mt.OCI_MANIFEST else index(None)
    assert parse_manifest(raw(doc), content_type).media_type == content_type


GENERIC = [None, "", "application/json", "application/octet-stream", "text/plain", "application/json; charset=utf-8"]


@pytest.mark.parametrize("content_type", GENERIC)
@pytest.mark.parametrize(
    "doc",
    [image(mt.OCI_MANIFEST), image(mt.DOCKER_MANIFEST), index(mt.OCI_INDEX), index(mt.DOCKER_LIST)],
    ids=["oci-manifest", "docker-manifest", "oci-index", "docker-list"],
)
def test_generic_content_type_falls_back_to_media_type_field(content_type, doc):
    assert parse_manifest(raw(doc), content_type).media_type == doc["mediaType"]


@pytest.mark.parametrize("content_type", GENERIC)
def test_generic_content_type_without_media_type_infers_from_shape(content_type):
    assert parse_manifest(raw(image(None)), content_type).media_type == mt.OCI_MANIFEST
    assert parse_manifest(raw(index(None)), content_type).media_type == mt.OCI_INDEX


def test_generic_content_type_and_no_clue_is_refused():
    with pytest.raises(InvalidManifest):
        parse_manifest(raw({"schemaVersion": 2, "layers": []}), "application/json")


@pytest.mark.parametrize(
    "content_type, declared",
    [
        (mt.OCI_MANIFEST, mt.DOCKER_MANIFEST),
        (mt.DOCKER_MANIFEST, mt.OCI_MANIFEST),
        (mt.OCI_INDEX, mt.OCI_MANIFEST),
        (mt.OCI_MANIFEST, mt.OCI_INDEX),
        (mt.DOCKER_LIST, mt.OCI_INDEX),
    ],
)
def test_content_type_and_media_type_must_agree(content_type, declared):
    doc = image(declared) if declared in mt.IMAGE_MANIFESTS else index(declared)
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), content_type)


def test_index_content_type_with_an_image_body_is_refused():
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(image(None)), mt.OCI_INDEX)


def test_image_content_type_with_an_index_body_is_refused():
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(index(None)), mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    "content_type, declared",
    [
        ("application/vnd.example.thing+json", None),
        ("application/xml", mt.OCI_MANIFEST),
        ("application/json", "application/vnd.example.thing+json"),
        (None, "application/vnd.oci.image.config.v1+json"),
    ],
)
def test_unknown_media_types_are_refused(content_type, declared):
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(image(declared)), content_type)


@pytest.mark.parametrize("schema1", mt.DOCKER_SCHEMA1)
def test_docker_schema1_is_refused(schema1):
    doc = {
        "schemaVersion": 1,
        "name": "library/app",
        "tag": "latest",
        "fsLayers": [{"blobSum": LAYER1["digest"]}],
        "history": [],
    }
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), schema1)
    with pytest.raises(InvalidManifest):
        parse_manifest(raw({**doc, "mediaType": schema1}), "application/json")
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), None)
    # even dressed up as schema 2
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(image(schema1)), None)


# -- the document --------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"manifest"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"2", id="number"),
    ],
)
def test_bodies_that_are_not_a_json_object(body):
    with pytest.raises(InvalidManifest):
        parse_manifest(body, mt.OCI_MANIFEST)


@pytest.mark.parametrize("version", [None, 1, 3, "2", 2.5, True])
def test_schema_version_must_be_2(version):
    doc = image()
    if version is None:
        del doc["schemaVersion"]
    else:
        doc["schemaVersion"] = version
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(image(layers=None), id="layers-null"),
        pytest.param(image(layers={}), id="layers-object"),
        pytest.param({k: v for k, v in image().items() if k != "layers"}, id="layers-missing"),
        pytest.param({k: v for k, v in image().items() if k != "config"}, id="config-missing"),
        pytest.param(image(config=None), id="config-null"),
        pytest.param(image(config=[CONFIG]), id="config-array"),
        pytest.param(image(layers=[LAYER1, None]), id="layer-null"),
        pytest.param(image(mediaType=7), id="media-type-number"),
        pytest.param(image(artifactType=["x"]), id="artifact-type-array"),
        pytest.param(image(annotations=["a"]), id="annotations-array"),
        pytest.param(image(annotations={"a": 1}), id="annotations-number-value"),
    ],
)
def test_malformed_image_manifests(doc):
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({k: v for k, v in index().items() if k != "manifests"}, id="manifests-missing"),
        pytest.param(index(manifests=None), id="manifests-null"),
        pytest.param(index(manifests={"a": CHILD1}), id="manifests-object"),
        pytest.param(index(manifests=[CHILD1, "sha256:" + "0" * 64]), id="manifests-string-entry"),
        pytest.param(index(manifests=[None]), id="manifests-null-entry"),
    ],
)
def test_malformed_indexes(doc):
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), mt.OCI_INDEX)


def test_empty_index_and_image_without_layers_are_valid():
    assert parse_manifest(raw(index(manifests=[])), mt.OCI_INDEX).children == ()
    assert parse_manifest(raw(image(layers=[])), mt.OCI_MANIFEST).blobs == (CONFIG["digest"],)


# -- descriptors ---------------------------------------------------------------
BAD_DESCRIPTORS = [
    pytest.param({**LAYER1, "mediaType": None}, id="media-type-null"),
    pytest.param({**LAYER1, "mediaType": ""}, id="media-type-empty"),
    pytest.param({**LAYER1, "mediaType": 3}, id="media-type-number"),
    pytest.param({k: v for k, v in LAYER1.items() if k != "mediaType"}, id="media-type-missing"),
    pytest.param({k: v for k, v in LAYER1.items() if k != "digest"}, id="digest-missing"),
    pytest.param({**LAYER1, "digest": 12}, id="digest-number"),
    pytest.param({**LAYER1, "digest": LAYER1["digest"].upper()}, id="digest-uppercase"),
    pytest.param({**LAYER1, "digest": "sha256:" + LAYER1["digest"][7:].upper()}, id="digest-uppercase-hex"),
    pytest.param({**LAYER1, "digest": LAYER1["digest"][:-1]}, id="digest-short"),
    pytest.param({**LAYER1, "digest": "md5:" + "0" * 32}, id="digest-md5"),
    pytest.param({**LAYER1, "digest": "sha512:" + "0" * 64}, id="digest-sha512-wrong-length"),
    pytest.param({**LAYER1, "digest": "not a digest"}, id="digest-garbage"),
    pytest.param({k: v for k, v in LAYER1.items() if k != "size"}, id="size-missing"),
    pytest.param({**LAYER1, "size": -1}, id="size-negative"),
    pytest.param({**LAYER1, "size": "7"}, id="size-string"),
    pytest.param({**LAYER1, "size": 7.0}, id="size-float"),
    pytest.param({**LAYER1, "size": True}, id="size-bool"),
    pytest.param({**LAYER1, "size": None}, id="size-null"),
    pytest.param({**LAYER1, "urls": "https://example.com/layer"}, id="urls-string"),
    pytest.param({**LAYER1, "urls": [1]}, id="urls-number"),
    pytest.param({**LAYER1, "urls": {"a": "b"}}, id="urls-object"),
    pytest.param({**LAYER1, "artifactType": 1}, id="artifact-type-number"),
    pytest.param({**LAYER1, "annotations": {"a": None}}, id="annotations-null-value"),
    pytest.param({**LAYER1, "annotations": "a=b"}, id="annotations-string"),
    pytest.param("sha256:" + "0" * 64, id="not-an-object"),
    pytest.param([LAYER1], id="array"),
]


@pytest.mark.parametrize("bad", BAD_DESCRIPTORS)
@pytest.mark.parametrize("where", ["config", "layer", "subject", "child"])
def test_bad_descriptors_anywhere_are_refused(bad, where):
    if where == "config":
        doc, content_type = image(config=bad), mt.OCI_MANIFEST
    elif where == "layer":
        doc, content_type = image(layers=[LAYER1, bad]), mt.OCI_MANIFEST
    elif where == "subject":
        doc, content_type = image(subject=bad), mt.OCI_MANIFEST
    else:
        doc, content_type = index(manifests=[CHILD1, bad]), mt.OCI_INDEX
    with pytest.raises(InvalidManifest):
        parse_manifest(raw(doc), content_type)


def test_bad_descriptor_digest_is_reported_in_detail():
    bad = "sha256:" + "A" * 64
    with pytest.raises(InvalidManifest) as caught:
        parse_manifest(raw(image(layers=[{**LAYER1, "digest": bad}])), mt.OCI_MANIFEST)
    assert caught.value.detail == {"digest": bad}


def test_zero_size_and_sha512_descriptors_are_valid():
    empty = desc(b"")
    wide = {**LAYER1, "digest": str(Digest.of(b"layer-1", "sha512"))}
    parsed = parse_manifest(raw(image(layers=[empty, wide])), mt.OCI_MANIFEST)
    assert parsed.blobs == (CONFIG["digest"], empty["digest"], wide["digest"])


def test_foreign_layers_are_not_required_blobs():
    foreign = desc(b"windows-base", FOREIGN_TYPE, urls=["https://mcr.microsoft.com/layer"])
    parsed = parse_manifest(raw(image(mt.DOCKER_MANIFEST, layers=[foreign, LAYER1])), mt.DOCKER_MANIFEST)
    assert parsed.blobs == (CONFIG["digest"], LAYER1["digest"])


def test_layer_with_empty_urls_is_not_foreign():
    layer = {**LAYER2, "urls": []}
    parsed = parse_manifest(raw(image(layers=[layer])), mt.OCI_MANIFEST)
    assert parsed.blobs == (CONFIG["digest"], LAYER2["digest"])


def test_required_blobs_are_unique_and_keep_order():
    config_as_layer = {**CONFIG, "mediaType": LAYER_TYPE}
    parsed = parse_manifest(raw(image(layers=[LAYER2, LAYER1, LAYER2, config_as_layer])), mt.OCI_MANIFEST)
    assert parsed.blobs == (CONFIG["digest"], LAYER2["digest"], LAYER1["digest"])


def test_index_children_keep_duplicates_and_order():
    # platforms may share a manifest; the caller checks each digest
    parsed = parse_manifest(raw(index(manifests=[CHILD2, CHILD1, CHILD2])), mt.OCI_INDEX)
    assert parsed.children == (CHILD2["digest"], CHILD1["digest"], CHILD2["digest"])


# -- referrers data --------------------------------------------------------------
def test_artifact_type_is_the_manifest_field_when_present():
    doc = image(artifactType="application/vnd.example.sbom", config=desc(b"{}", mt.OCI_EMPTY_CONFIG))
    assert parse_manifest(raw(doc), mt.OCI_MANIFEST).artifact_type == "application/vnd.example.sbom"


def test_artifact_type_falls_back_to_config_media_type():
    doc = image(config=desc(b"sig", "application/vnd.dev.cosign.artifact.sig.v1+json"))
    parsed = parse_manifest(raw(doc), mt.OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.dev.cosign.artifact.sig.v1+json"
    assert parsed.config_media_type == "application/vnd.dev.cosign.artifact.sig.v1+json"


def test_index_artifact_type_is_only_the_field():
    assert parse_manifest(raw(index()), mt.OCI_INDEX).artifact_type is None
    doc = index(artifactType="application/vnd.example.bundle")
    assert parse_manifest(raw(doc), mt.OCI_INDEX).artifact_type == "application/vnd.example.bundle"


@pytest.mark.parametrize("builder, content_type", [(image, mt.OCI_MANIFEST), (index, mt.OCI_INDEX)])
def test_subject_is_parsed(builder, content_type):
    subject = {**SUBJECT, "artifactType": "application/vnd.example", "annotations": {"k": "v"}}
    parsed = parse_manifest(raw(builder(subject=subject)), content_type)
    assert parsed.subject == Descriptor(
        media_type=mt.OCI_MANIFEST,
        digest=SUBJECT["digest"],
        size=SUBJECT["size"],
        artifact_type="application/vnd.example",
        annotations={"k": "v"},
    )


@pytest.mark.parametrize("builder, content_type", [(image, mt.OCI_MANIFEST), (index, mt.OCI_INDEX)])
def test_no_subject(builder, content_type):
    assert parse_manifest(raw(builder()), content_type).subject is None
    assert parse_manifest(raw(builder(subject=None)), content_type).subject is None


def test_subject_is_not_a_required_blob():
    # the subject may be pushed after its referrers (image-spec)
    parsed = parse_manifest(raw(image(subject=SUBJECT)), mt.OCI_MANIFEST)
    assert SUBJECT["digest"] not in parsed.blobs + parsed.children


def test_annotations():
    parsed = parse_manifest(raw(image(annotations={"org.opencontainers.image.created": "2024-01-01"})), None)
    assert parsed.annotations == {"org.opencontainers.image.created": "2024-01-01"}
    assert parse_manifest(raw(image(annotations={})), None).annotations is None
    assert parse_manifest(raw(image()), None).annotations is None


def test_descriptor_to_json():
    plain = Descriptor(media_type=LAYER_TYPE, digest=LAYER1["digest"], size=7)
    assert plain.to_json() == {"mediaType": LAYER_TYPE, "digest": LAYER1["digest"], "size": 7}
    full = Descriptor(LAYER_TYPE, LAYER1["digest"], 7, artifact_type="a/b", annotations={"k": "v"})
    assert full.to_json() == {
        "mediaType": LAYER_TYPE,
        "digest": LAYER1["digest"],
        "size": 7,
        "artifactType": "a/b",
        "annotations": {"k": "v"},
    }


def test_parsing_is_over_exact_bytes_not_a_reencoding():
    # whitespace and key order do not matter to parsing (the digest is the caller's)
    pretty = json.dumps(image(), indent=3, sort_keys=True).encode()
    assert parse_manifest(pretty, mt.OCI_MANIFEST) == parse_manifest(raw(image()), mt.OCI_MANIFEST)


# -- bad input (issue 10) --------------------------------------------------------
@pytest.mark.parametrize("version", [2.0, True, "2", 1, None])
def test_schema_version_must_be_the_integer_2(version):
    with pytest.raises(InvalidManifest, match="schemaVersion"):
        parse_manifest(json.dumps(image(schemaVersion=version)).encode(), mt.OCI_MANIFEST)


def test_a_manifest_with_a_duplicate_key_is_refused():
    # Go's decoder keeps the last "layers", so a client would see other layers than Berth checked
    body = json.dumps(image()).encode()[:-1] + b', "layers": []}'
    with pytest.raises(InvalidManifest, match="duplicate key 'layers'"):
        parse_manifest(body, mt.OCI_MANIFEST)


def test_a_deeply_nested_manifest_is_invalid_not_a_crash():
    body = b'{"schemaVersion": 2, "annotations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidManifest, match="deeper"):
        parse_manifest(body, mt.OCI_MANIFEST)
