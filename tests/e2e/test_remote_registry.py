"""The remote-registry client and the Harbor adapter against a running Berth: Docker token
auth (a token per scope from the realm the challenge names), uploads whose Location is
on the separate upload host (no credentials sent there), and Harbor's /api/v2.0 lists,
found at Berth's /v2/api/v2.0."""
from __future__ import annotations

import io
import os

import pytest

from chalicelib.errors import RemoteUnauthorized
from chalicelib.remote.adapters import HarborAdapter, adapter_for
from chalicelib.remote.client import Credential, RegistryClient
from tests.replication.test_remote_client import digest_of, push_image


def test_token_auth_uploads_through_the_upload_host_and_reads_back(stack):
    user, password = stack.credentials
    client = RegistryClient(stack.api, Credential(user, password), chunk_size=256 * 1024)
    client.ping()
    layer = os.urandom(600 * 1024)  # three chunks to the upload host
    pushed = push_image(client, "library/remote-e2e", "v1", layer)
    assert client.get_manifest("library/remote-e2e", "v1").digest == pushed.digest
    assert client.blob_size("library/remote-e2e", digest_of(layer)) == len(layer)
    reply = client.open_blob("library/remote-e2e", digest_of(layer))  # a redirect to S3, followed
    assert b"".join(reply.stream(64 * 1024)) == layer
    reply.release_conn()
    assert "v1" in client.tags("library/remote-e2e")

    with pytest.raises(RemoteUnauthorized):
        RegistryClient(stack.api, Credential(user, "not-the-password")).tags("library/remote-e2e")


def test_the_harbor_adapter_lists_berths_projects_repositories_and_artifacts(stack):
    user, password = stack.credentials
    client = RegistryClient(stack.api, Credential(user, password))
    one = push_image(client, "library/harbor-listed", "a", os.urandom(100))
    client.put_manifest("library/harbor-listed", "b", one)
    adapter = adapter_for("harbor", stack.api, Credential(user, password))
    assert isinstance(adapter, HarborAdapter)
    adapter.ping()
    assert adapter.api_base() == stack.api + "/v2/api/v2.0"
    assert "library/harbor-listed" in set(adapter.repositories())
    [artifact] = adapter.artifacts("library/harbor-listed")
    assert (artifact.repository, artifact.digest, sorted(artifact.tags), artifact.media_type) == (
        "library/harbor-listed", one.digest, ["a", "b"], "application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(RemoteUnauthorized):
        adapter_for("harbor", stack.api, Credential(user, "wrong")).ping()
    assert adapter.info()["supported_copy_by_chunk"] is True


def test_a_small_upload_is_one_put(stack):
    user, password = stack.credentials
    client = RegistryClient(stack.api, Credential(user, password))
    data = os.urandom(1000)
    client.upload_blob("library/remote-small", digest_of(data), io.BytesIO(data), len(data))
    assert client.blob_size("library/remote-small", digest_of(data)) == len(data)
