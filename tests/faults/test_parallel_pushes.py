"""Many images pushed at once into different repositories of one project, as `docker
push` of a build farm does: every push succeeds, and the project's usage stays the sum
of its distinct blobs.

The images share a base layer (and two of every three share their config), so their
manifest writes all touch the same per-project items: the quota item (`used`) and the
shared blobs' `PBLOB` counts. Each write is conditional on what it read; a write that
lost to a concurrent one reads again and retries (chalicelib/artifacts.py), so none
is refused with 429. The requests run with every AWS call interleaved at random
(tests/faults/interleave.py), one call at a time, as concurrent Lambdas meet DynamoDB.
"""
from __future__ import annotations

import io
import json
import random

import pytest

from chalicelib import artifacts
from chalicelib.meta import keys
from chalicelib.registry.dispatch import dispatch
from chalicelib.web.http import Headers, Request
from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode
from tests.faults import state
from tests.faults.interleave import Interleaver

PROJECT = "library"
PUSHES = 20
BASE = b"a base layer every image is built on " * 40


def _image(svc, repository: str, n: int) -> bytes:
    config = encode({"architecture": "amd64", "os": "linux", "variant": n % 3 == 0 and str(n) or "shared"})
    top = f"the layer of image {n} ".encode() * 30
    for data in (config, BASE, top):
        svc.blobs.put_blob(digest(data), data)
        svc.meta.link_blob(repository, digest(data), len(data), 0)
    return encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                   "layers": [descriptor(OCI_LAYER, BASE), descriptor(OCI_LAYER, top)]})


def _put(repository: str, body: bytes) -> Request:
    return Request(method="PUT", path=f"{repository}/manifests/v1", headers=Headers({"Content-Type": OCI_MANIFEST}),
                   body=io.BytesIO(body), content_length=len(body))


def _cancelled(svc) -> list[int]:
    """A counter of the transactions DynamoDB cancelled (the races some write lost)."""
    count = [0]

    def after(parsed, **_) -> None:
        count[0] += "CancellationReasons" in parsed or parsed.get("Error", {}).get("Code") == "TransactionCanceledException"

    svc.dynamodb.meta.events.register("after-call.dynamodb.TransactWriteItems", after)
    return count


@pytest.mark.parametrize("seed", range(2))
def test_parallel_pushes_into_one_project_all_succeed_with_exact_usage(new_cell, seed):
    svc, _, _ = new_cell("none")
    repositories = [f"{PROJECT}/app-{n}" for n in range(PUSHES)]
    bodies = [_image(svc, r, n) for n, r in enumerate(repositories)]
    interleaver = Interleaver([svc.dynamodb, svc.s3])
    cancelled = _cancelled(svc)
    results = interleaver.run([lambda r=r, b=b: dispatch(svc, _put(r, b)) for r, b in zip(repositories, bodies)],
                              random.Random(seed))
    statuses = [r.status if not isinstance(r, BaseException) else repr(r) for r in results]
    assert statuses == [201] * PUSHES, f"answers: {sorted(map(str, statuses))}"
    assert cancelled[0], "no write lost a race: the interleaving never reached the interesting cases"
    used, refs = state.usage_from_manifests(svc, repositories)
    stored = {i["SK"]: int(i["refs"]) for i in svc.table.query_all(keys.project_blobs_pk(PROJECT), low="\x00", high="\U0010ffff")}
    assert (svc.quotas.get(PROJECT).used, stored) == (used, refs)
    assert refs[digest(BASE)] == PUSHES


@pytest.mark.parametrize("seed", range(2))
def test_parallel_pushes_never_take_usage_over_the_limit(new_cell, seed):
    svc, _, _ = new_cell("none")
    repositories = [f"{PROJECT}/app-{n}" for n in range(PUSHES)]
    bodies = [_image(svc, r, n) for n, r in enumerate(repositories)]
    # room for about half of them
    one = len(bodies[1]) + len(f"the layer of image {1} ".encode() * 30)
    svc.quotas.set_hard(PROJECT, len(BASE) + 600 + one * PUSHES // 2)
    interleaver = Interleaver([svc.dynamodb, svc.s3])
    results = interleaver.run([lambda r=r, b=b: dispatch(svc, _put(r, b)) for r, b in zip(repositories, bodies)],
                              random.Random(seed))
    statuses = [r.status if not isinstance(r, BaseException) else repr(r) for r in results]
    assert set(statuses) <= {201, 403}, f"answers: {sorted(map(str, statuses))}"
    assert 0 < statuses.count(201) < PUSHES
    used, _ = state.usage_from_manifests(svc, repositories)
    quota = svc.quotas.get(PROJECT)
    assert quota.used == used <= quota.hard


def _conflicts(svc, times: int) -> list[int]:
    """DynamoDB's answer to a transaction that met another one in flight on an item they
    both write (the quota item, in AWS), for the next `times` TransactWriteItems."""
    from tests.faults.injector import _reply

    made = [0]

    def before(params, **_):
        if made[0] >= times:
            return None
        made[0] += 1
        items = json.loads(params["body"])["TransactItems"]
        reasons = [{"Code": "TransactionConflict" if i == 0 else "None"} for i in range(len(items))]
        return _reply(400, "TransactionCanceledException", "injected: conflict", CancellationReasons=reasons)

    svc.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", before)
    return made


@pytest.mark.parametrize("conflicts", [1, artifacts.WRITE_ATTEMPTS - 1, artifacts.WRITE_ATTEMPTS])
def test_a_push_that_meets_transactions_in_flight_retries_them(new_cell, conflicts):
    svc, _, _ = new_cell("none")
    svc.sleep = lambda seconds: None
    body = _image(svc, f"{PROJECT}/app", 1)
    made = _conflicts(svc, conflicts)
    reply = dispatch(svc, _put(f"{PROJECT}/app", body))
    assert made[0] == conflicts
    if conflicts < artifacts.WRITE_ATTEMPTS:
        assert reply.status == 201
        assert svc.quotas.get(PROJECT).used == state.usage_from_manifests(svc, [f"{PROJECT}/app"])[0] > 0
    else:  # conflicts that outlast the retries: 429 (clients retry), nothing written
        assert reply.status == 429 and reply.headers.get("Retry-After")
        assert svc.meta.list_manifests(f"{PROJECT}/app") == [] and svc.quotas.get(PROJECT).used == 0
