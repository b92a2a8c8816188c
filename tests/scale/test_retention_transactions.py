"""A retention run deleting eighteen of twenty images a few to a transaction gives back
to the quota exactly what no kept image names (tests/api/management/test_retention.py has
the rest of retention, and the helpers used here): a scale check, in `make e2e` so that
`make check` stays quick (its twenty pushes through /v2 were most of its time)."""
from __future__ import annotations

from tests.api.management.conftest import admin, checked_replies, wired, world
from tests.api.management.test_retention import (
    Registry,
    background,
    create,
    deleted_of,
    digests,
    make_project,
    policy,
    rule,
    run,
)

__all__ = ["admin", "background", "checked_replies", "wired", "world"]  # fixtures


def test_deletions_in_many_transactions_give_back_exactly_what_no_kept_image_names(world, admin):
    """Twenty images sharing a base layer, pushed through /v2: the run deletes eighteen, a
    few to a transaction; the quota then counts what the two kept name, the shared layer
    once, as a recount of the project's blobs finds it."""
    from chalicelib.oci.digests import Digest
    from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode

    name, pid = make_project(world)
    registry = Registry(world, f"{name}/app")
    base = b"a base layer shared by every image " * 40
    registry.blob(base)
    now = world.svc.clock()
    pushed = []
    for i in range(20):
        config, layer = encode({"n": i}), f"layer {i}".encode() * 30
        registry.blob(config)
        registry.blob(layer)
        body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                       "layers": [descriptor(OCI_LAYER, base), descriptor(OCI_LAYER, layer)]})
        real = world.svc.clock
        world.svc.clock = lambda i=i: now - (20 - i) * 60
        try:
            assert registry.put(f"v{i}", body).status == 201
        finally:
            world.svc.clock = real
        pushed.append(digest(body))
    policy_id = create(admin, policy(pid, rule("latestPushedK", 2)))
    done = run(admin, policy_id, False)
    assert done["status"] == "Success"
    assert deleted_of(world, done["id"]) == {"app": set(pushed[:18])}
    assert digests(world, f"{name}/app") == set(pushed[18:])
    used = admin.get(f"/quotas/{pid}").json()["used"]["storage"]
    assert world.svc.quotas.recount(name) == (used, used)
    assert world.svc.quotas.blob_refs(name, [str(Digest.of(base))])[str(Digest.of(base))].refs == 2