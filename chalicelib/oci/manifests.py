"""Parsing and validating manifests (image-spec manifest.md, image-index.md).

Pure: bytes in, a `ParsedManifest` out, or `InvalidManifest`. What the
registry must check against storage (referenced blobs and child manifests)
is returned as data for the caller to check.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib import strict_json
from chalicelib.errors import InvalidDigest, InvalidManifest
from chalicelib.oci import mediatypes as mt
from chalicelib.oci.digests import Digest

# Content types that say nothing about the manifest kind: fall back to its mediaType field.
_GENERIC_TYPES = {"", "application/json", "application/octet-stream", "text/plain"}
# RFC 6838 4.2: type and subtype names are at most 127 characters each. Media
# types are stored in DynamoDB items (artifactType, a config's type), so a
# longer one must be refused here, not fail the write.
MAX_MEDIA_TYPE_LENGTH = 255


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[str, ...] = ()  # config and layers, which must be blobs in the repository
    children: tuple[str, ...] = ()  # manifests an index points to
    subject: Descriptor | None = None
    artifact_type: str | None = None  # as the referrers API reports it
    annotations: dict[str, str] | None = field(default=None)
    config_media_type: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    try:
        doc = strict_json.loads(body)
    except strict_json.JsonRejected as exc:
        raise InvalidManifest(f"manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest("manifest must be a JSON object")
    media_type = _media_type(doc, mt.bare(content_type))
    # the integer 2: not 2.0, not true, not "2" (Python's 2.0 == 2 would let them in)
    version = doc.get("schemaVersion")
    if type(version) is not int or version != 2:
        raise InvalidManifest("schemaVersion must be 2", detail={"schemaVersion": version})
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    annotations = _annotations(doc.get("annotations"), "annotations")
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and (not isinstance(artifact_type, str) or len(artifact_type) > MAX_MEDIA_TYPE_LENGTH):
        raise InvalidManifest("artifactType must be a media type string")

    if media_type in mt.INDEXES:
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidManifest("an index must have a manifests array")
        children = tuple(_descriptor(d, f"manifests[{i}]").digest for i, d in enumerate(manifests))
        return ParsedManifest(
            media_type=media_type,
            children=children,
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )

    config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifest("an image manifest must have a layers array")
    blobs = [config.digest]
    for i, raw in enumerate(layers):
        layer = _descriptor(raw, f"layers[{i}]")
        # Foreign layers (with urls) live outside the registry by design.
        if not layer.urls:
            blobs.append(layer.digest)
    return ParsedManifest(
        media_type=media_type,
        blobs=tuple(dict.fromkeys(blobs)),
        subject=subject,
        artifact_type=artifact_type or config.media_type,
        annotations=annotations,
        config_media_type=config.media_type,
    )


def _media_type(doc: dict[str, Any], content_type: str) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifest("mediaType must be a string")
    if content_type in mt.DOCKER_SCHEMA1 or declared in mt.DOCKER_SCHEMA1:
        raise InvalidManifest("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if content_type in mt.MANIFEST_TYPES:
        if declared and declared != content_type:
            raise InvalidManifest(
                f"mediaType {declared!r} does not match Content-Type {content_type!r}"
            )
        return content_type
    if content_type not in _GENERIC_TYPES:
        raise InvalidManifest(f"unsupported manifest media type {content_type!r}")
    if declared in mt.MANIFEST_TYPES:
        return declared
    if declared:
        raise InvalidManifest(f"unsupported manifest media type {declared!r}")
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc:
        return mt.OCI_MANIFEST
    raise InvalidManifest("cannot tell the manifest's media type; send a Content-Type")


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidManifest(f"{where} must be a descriptor object")
    media_type = raw.get("mediaType")
    if not isinstance(media_type, str) or not media_type or len(media_type) > MAX_MEDIA_TYPE_LENGTH:
        raise InvalidManifest(f"{where}.mediaType must be a media type string")
    digest = raw.get("digest")
    if not isinstance(digest, str):
        raise InvalidManifest(f"{where}.digest must be a string")
    try:
        Digest.parse(digest)
    except InvalidDigest as exc:
        raise InvalidManifest(f"{where}.digest: {exc.message}", detail={"digest": digest}) from None
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"{where}.size must be a non-negative integer")
    urls = raw.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise InvalidManifest(f"{where}.urls must be an array of strings")
    artifact_type = raw.get("artifactType")
    if artifact_type is not None and (not isinstance(artifact_type, str) or len(artifact_type) > MAX_MEDIA_TYPE_LENGTH):
        raise InvalidManifest(f"{where}.artifactType must be a media type string")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=artifact_type,
        annotations=_annotations(raw.get("annotations"), f"{where}.annotations"),
        urls=tuple(urls),
    )


def _annotations(raw: Any, where: str) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise InvalidManifest(f"{where} must map strings to strings")
    return raw or None
