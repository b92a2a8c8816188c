"""A tag and its manifest change together or not at all (issue 10, integrity).

Hundreds of random interleavings, at AWS-call granularity (tests/faults/interleave.py),
of tag PUTs, manifest PUTs by digest, tag moves, tag DELETEs and manifest DELETEs by
digest on one repository. After each run:
- no tag names a manifest the repository does not hold, and each tag's copy of its
  manifest (media type, size) is that manifest's;
- the tags and manifests are exactly what the successful requests did, applied in
  the order their writes committed (a linearisation): a DELETE that read the tags
  before a concurrent tag PUT cannot remove a tag that moved, nor leave one behind.
Requests that lost a race answer 429 (TOOMANYREQUESTS), which clients retry.
"""
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
from tests.faults.operations import REPO

RUNS = int(__import__("os").environ.get("RACE_RUNS", "240"))
TAG = "t"


def _image(svc, seed: str) -> bytes:
    """A manifest whose config and layer are linked in the repository (through the stores:
    the setup is not under test)."""
    config, layer = encode({"seed": seed}), f"layer {seed}".encode()
    for data in (config, layer):
        svc.blobs.put_blob(digest(data), data)
        svc.meta.link_blob(REPO, digest(data), len(data), 0)
    return encode(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, layer)],
        }
    )


def _wipe(svc) -> None:
    """An empty table for the next run (cheaper than a new one, and the same clients)."""
    for item in list(state.snapshot(svc)["raw"]):
        svc.table.delete(item["PK"], item["SK"])


def _request(method: str, reference: str, body: bytes = b"") -> Request:
    headers = {"Content-Type": OCI_MANIFEST} if body else {}
    return Request(
        method=method,
        path=f"{REPO}/manifests/{reference}",
        headers=Headers(headers),
        body=io.BytesIO(body),
        content_length=len(body),
    )


def _operations(d_body: bytes, e_body: bytes) -> dict[str, tuple[str, str, bytes]]:
    d = digest(d_body)
    return {
        "put D as t": ("PUT", TAG, d_body),
        "move t to E": ("PUT", TAG, e_body),
        "put D by digest": ("PUT", d, d_body),
        "delete D": ("DELETE", d, b""),
        "delete t": ("DELETE", TAG, b""),
    }


def _apply(model: tuple[set[str], dict[str, str]], name: str, d: str, e: str) -> None:
    manifests, tags = model
    if name == "put D as t":
        manifests.add(d)
        tags[TAG] = d
    elif name == "move t to E":
        manifests.add(e)
        tags[TAG] = e
    elif name == "put D by digest":
        manifests.add(d)
    elif name == "delete D":
        manifests.discard(d)
        for tag in [t for t, target in tags.items() if target == d]:
            del tags[tag]
    elif name == "delete t":
        tags.pop(TAG, None)


def _commit_order(schedule, count: int) -> list[int]:
    """Requests in the order of their first write to the registry's items (the commit:
    each of these requests writes its tags and manifests in one call); audit entries
    and reads do not count."""
    order: list[int] = []
    for index, operation, body in schedule:
        if operation in ("TransactWriteItems", "DeleteItem", "PutItem") and b'"R#' in body and index not in order:
            order.append(index)
    return order


def _stored(svc) -> tuple[set[str], dict[str, str], list[str]]:
    snapshot = state.snapshot(svc)
    manifests, tags, problems = set(), {}, state.violations(svc, snapshot)
    items = {(i["PK"], i["SK"]): i for i in snapshot["raw"]}
    for (pk, sk), item in items.items():
        if pk != keys.repo_pk(REPO):
            continue
        if sk.startswith("M#"):
            manifests.add(item["digest"])
        if sk.startswith(keys.TAG_PREFIX):
            tags[sk[len(keys.TAG_PREFIX) :]] = item["digest"]
            manifest = items.get((pk, keys.manifest_sk(item["digest"])))
            if manifest is not None and (manifest["media_type"], manifest["nbytes"]) != (item["media_type"], item["nbytes"]):
                problems.append(f"tag {sk} carries another view of its manifest than the manifest's")
    return manifests, tags, problems


@pytest.mark.parametrize("seed", range(3))
def test_tags_and_manifests_change_together_under_any_interleaving(new_cell, seed):
    rng = random.Random(seed)
    failures: list[str] = []
    outcomes: dict[int, int] = {}
    svc, _, _ = new_cell("none")
    interleaver = Interleaver([svc.dynamodb, svc.s3])
    for run in range(RUNS // 3):
        _wipe(svc)
        d_body, e_body = _image(svc, "D"), _image(svc, "E")
        d, e = digest(d_body), digest(e_body)
        operations = _operations(d_body, e_body)
        model: tuple[set[str], dict[str, str]] = (set(), {})
        # a random starting point: nothing, D, or D tagged t
        start = rng.choice(["empty", "D", "D as t"])
        if start != "empty":
            assert dispatch(svc, _request("PUT", TAG if start == "D as t" else d, d_body)).status == 201
            _apply(model, "put D as t" if start == "D as t" else "put D by digest", d, e)
        names = rng.sample(sorted(operations), k=rng.choice([2, 3]))
        if "delete D" not in names:
            names[0] = "delete D"  # the race under test: a DELETE by digest against tag writes
        results = interleaver.run([lambda op=operations[n], svc=svc: dispatch(svc, _request(*op)) for n in names], rng)
        where = f"seed {seed} run {run}: start {start}, {names}"
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                failures.append(f"{where}: {name} raised {result!r}")
                continue
            outcomes[result.status] = outcomes.get(result.status, 0) + 1
            if result.status not in (201, 202, 404, 429):
                failures.append(f"{where}: {name} answered {result.status} {result.body[:200]!r}")
        for index in _commit_order(interleaver.schedule, len(names)):
            result = results[index]
            if not isinstance(result, BaseException) and result.status in (201, 202):
                _apply(model, names[index], d, e)
        manifests, tags, problems = _stored(svc)
        failures.extend(f"{where}: {p}" for p in problems)
        if (manifests, tags) != model:
            failures.append(f"{where}: stored {sorted(manifests)}, {tags}; the requests did {sorted(model[0])}, {model[1]}")
    assert not failures, f"{len(failures)} of {RUNS // 3} runs broke:\n" + "\n".join(failures[:20])
    assert outcomes.get(429, 0) > 0, "no run lost a race: the interleaving does not reach the interesting cases"
