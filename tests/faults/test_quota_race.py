"""A project's usage stays the sum of its distinct blobs under any interleaving
(tests/faults/interleave.py) of pushes that share a layer across repositories and
deletions of those manifests: each blob's count of manifests, and the usage, change in
the manifest writes' own transactions, conditional on what they read; a push that lost a
race reads again and retries (chalicelib/artifacts.py), a deletion that lost answers 429,
and either changed nothing when it lost."""
from __future__ import annotations

import io
import random

import pytest

from chalicelib.meta import keys
from chalicelib.registry.dispatch import dispatch
from chalicelib.web.http import Headers, Request
from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode
from tests.faults import state
from tests.faults.interleave import Interleaver
from tests.faults.test_tag_race import _wipe

RUNS = int(__import__("os").environ.get("RACE_RUNS", "240")) // 4
PROJECT = "library"
LAYER = b"shared layer " * 50


def _image(svc, repository: str, seed: str) -> bytes:
    config = encode({"seed": seed})
    for data in (config, LAYER):
        svc.blobs.put_blob(digest(data), data)
        svc.meta.link_blob(repository, digest(data), len(data), 0)
    return encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": [descriptor(OCI_LAYER, LAYER)]})


def _request(method: str, repository: str, reference: str, body: bytes = b"") -> Request:
    headers = {"Content-Type": OCI_MANIFEST} if body else {}
    return Request(method=method, path=f"{repository}/manifests/{reference}", headers=Headers(headers), body=io.BytesIO(body), content_length=len(body))


@pytest.mark.parametrize("seed", range(2))
def test_usage_is_the_sum_of_distinct_blobs_under_any_interleaving(new_cell, seed):
    rng = random.Random(seed)
    svc, _, _ = new_cell("none")
    interleaver = Interleaver([svc.dynamodb, svc.s3])
    failures: list[str] = []
    lost = 0
    for run in range(RUNS):
        _wipe(svc)
        a, b = _image(svc, f"{PROJECT}/a", f"a{run}"), _image(svc, f"{PROJECT}/b", f"b{run}")
        start = rng.choice(["empty", "a pushed"])
        if start == "a pushed":
            assert dispatch(svc, _request("PUT", f"{PROJECT}/a", "v1", a)).status == 201
        operations = {
            "push a": ("PUT", f"{PROJECT}/a", "v1", a),
            "push b": ("PUT", f"{PROJECT}/b", "v1", b),
            "push a again": ("PUT", f"{PROJECT}/a", "v2", a),
            "delete a": ("DELETE", f"{PROJECT}/a", digest(a)),
        }
        names = rng.sample(sorted(operations), k=rng.choice([2, 3]))
        results = interleaver.run([lambda op=operations[n]: dispatch(svc, _request(*op)) for n in names], rng)
        statuses = [r.status if not isinstance(r, BaseException) else repr(r) for r in results]
        lost += statuses.count(429)
        where = f"seed {seed} run {run}: start {start}, {names} -> {statuses}"
        if any(s not in (201, 202, 404, 429) for s in statuses):
            failures.append(f"{where}: unexpected answers")
        expected_used, expected_refs = state.usage_from_manifests(svc, [f"{PROJECT}/a", f"{PROJECT}/b"])
        quota = svc.quotas.get(PROJECT)
        stored = {i["SK"]: int(i["refs"]) for i in svc.table.query_all(keys.project_blobs_pk(PROJECT), low="\x00", high="\U0010ffff")}
        if quota.used != expected_used or stored != expected_refs:
            failures.append(f"{where}: used {quota.used}, refs {stored}; the manifests stored make {expected_used}, {expected_refs}")
    assert not failures, f"{len(failures)} of {RUNS} runs broke:\n" + "\n".join(failures[:20])
    assert lost, "no request lost a race: the interleaving never reached the interesting cases"
