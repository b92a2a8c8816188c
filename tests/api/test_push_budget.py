"""What a push costs in AWS calls, counted with botocore's event hooks on the app's own
clients: a new blob at most one existence check, its bytes written once and one metadata
write (3 calls); a blob that exists, one call; the manifest PUT reads its references in one
batch. These tests fail when a push costs more than that budget (issue 12)."""
from __future__ import annotations

import collections
import json
import os
from contextlib import contextmanager

import pytest

from tests.api.helpers import OCI_MANIFEST, digest, with_query

NAME = "library/budget"
OCTET = {"Content-Type": "application/octet-stream"}
PER_NEW_BLOB = 3  # HEAD: GetItem; PATCH: PutObject; PUT: TransactWriteItems
PER_EXISTING_BLOB = 1  # HEAD: GetItem
# manifest PUT: one BatchGetItem of the references, one TransactWriteItems (and what other
# rules add inside that write); a little room for a write that may need a second call
PER_MANIFEST = 3


@contextmanager
def counted(services):
    """(service, operation) -> calls made by the app's clients inside the block."""
    calls: collections.Counter = collections.Counter()

    def before(model, **_):
        calls[(model.service_model.service_name, model.name)] += 1

    clients = [services.s3, services.dynamodb]
    for client in clients:
        client.meta.events.register("before-call", before)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", before)


def _push_blob_as_docker(api, name: str, data: bytes) -> str:
    """docker, skopeo, podman: HEAD, POST, one PATCH with the whole blob, PUT ?digest=."""
    d = digest(data)
    if api.head(f"/v2/{name}/blobs/{d}").status == 307:
        return d
    loc = api.post(f"/v2/{name}/blobs/uploads/").headers["location"]
    loc = api.patch(loc, data, headers=OCTET).headers["location"]
    reply = api.put(with_query(loc, digest=d))
    assert reply.status == 201, reply.body
    return d


def _push_blob_as_containerd(api, name: str, data: bytes) -> str:
    """containerd, oras: HEAD, POST, PUT ?digest= carrying the whole blob."""
    d = digest(data)
    if api.head(f"/v2/{name}/blobs/{d}").status == 307:
        return d
    loc = api.post(f"/v2/{name}/blobs/uploads/").headers["location"]
    reply = api.put(with_query(loc, digest=d), data, headers=OCTET)
    assert reply.status == 201, reply.body
    return d


def _manifest(config: tuple[str, int], layers: list[tuple[str, int]]) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n} for d, n in layers],
    }).encode()


def _push_image(api, name: str, tag: str, blobs: list[bytes], push_blob) -> None:
    pushed = [(push_blob(api, name, b), len(b)) for b in blobs]
    reply = api.put(f"/v2/{name}/manifests/{tag}", _manifest(pushed[0], pushed[1:]), headers={"Content-Type": OCI_MANIFEST})
    assert reply.status == 201, reply.body


@pytest.mark.parametrize("push_blob", [_push_blob_as_docker, _push_blob_as_containerd], ids=["docker", "containerd"])
@pytest.mark.parametrize("layers, size", [(3, 100_000), (30, 2_000), (2, 7 * 1024 * 1024)], ids=["3", "30", "large"])
def test_a_new_image_costs_three_calls_per_blob(aws_api, aws_services, push_blob, layers, size):
    blobs = [b'{"architecture":"amd64","os":"linux","x":"%s"}' % os.urandom(8).hex().encode()]
    blobs += [os.urandom(size) for _ in range(layers)]
    with counted(aws_services) as calls:
        _push_image(aws_api, NAME, "1", blobs, push_blob)
    budget = PER_NEW_BLOB * len(blobs) + PER_MANIFEST
    assert sum(calls.values()) <= budget, dict(calls)
    # the bytes were written once: one PutObject per blob, nothing copied or read back
    assert calls[("s3", "PutObject")] == len(blobs), dict(calls)
    assert not {op for _, op in calls} & {"CopyObject", "UploadPartCopy", "GetObject", "HeadObject"}, dict(calls)
    # the references were checked in one batch
    assert calls[("dynamodb", "BatchGetItem")] == 1


def test_an_image_whose_blobs_exist_costs_one_call_per_blob(aws_api, aws_services):
    blobs = [b'{"os":"linux"}'] + [os.urandom(5000) for _ in range(5)]
    _push_image(aws_api, NAME, "1", blobs, _push_blob_as_docker)
    with counted(aws_services) as calls:
        _push_image(aws_api, NAME, "2", blobs, _push_blob_as_docker)
    assert sum(calls.values()) <= PER_EXISTING_BLOB * len(blobs) + PER_MANIFEST, dict(calls)
    assert calls[("dynamodb", "GetItem")] == len(blobs)
