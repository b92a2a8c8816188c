"""Section 9: garbage collection on 10,000 blobs of which 1,000 are garbage, and the same
run when nothing changed (``--quick``: 1,000 and 100).

On in-process moto: the blobs are written through the store layer as a push writes them
(the upload service's put_monolithic, what a monolithic /v2 upload calls; not HTTP, which
would measure the gateway 10,000 times over) and named by manifests pushed through
artifacts.push_manifest (10 blobs each, the manifest PUT's transaction); the manifests of
1,000 blobs are deleted. Three runs with `delete_untagged`, each every step of the workflow
in this process (gc.run_all: what the Step Functions tasks do), counted on a session of
their own:

1. the first run: every blob was uploaded since the last run, so all 10,000 are candidates;
   the 9,000 named ones are dropped, the 1,000 garbage ones deleted; the untagged step
   visits every repository once (no run has), then the repositories the pushes marked;
2. nothing changed since: the run reads the 16 empty candidate partitions and the 16
   empty partitions of change marks;
3. 1,000 more blobs became garbage (their manifests deleted): the run's work is those.

Then the untagged step with many repositories and few changes: the registry grows to
1,000 repositories (one small image each; a run drains their marks), a tag moves in 10 of
them (10 untagged manifests), and a run is measured; then the same change again with the
record of the first visit removed, so the run visits every repository, as the untagged
step did before the change marks (and does on the first run after an upgrade).

moto's Query sorts every item of the table on each call (`Table.all_items`) before it keeps
the partition asked for: with the ~100,000 items of this bench a Query takes seconds, and the
seeding alone did not end within 20 minutes. `partition_queries()` has a Query read only its
partition, as DynamoDB does (the same items, in the same order, the same ScannedCount): the
calls and units measured are unchanged, the wall time is no longer moto's sort.

The cost "as billed" prices the counted calls at AWS's list prices (us-east-1, on-demand
DynamoDB, S3 standard, Step Functions standard, Lambda at 512 MB; see PRICES), with the
items of each batch and transaction counted as DynamoDB bills them.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from bench.util import log

# USD, us-east-1 list prices (DynamoDB on-demand since November 2024)
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "s3_write_request": 0.005 / 1000,  # PUT, COPY, POST (DeleteObjects), LIST
    "s3_read_request": 0.0004 / 1000,  # GET, HEAD
    "sfn_transition": 0.025 / 1000,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
}
LAMBDA_GB = 0.5
BLOBS_PER_MANIFEST = 10
HOUR = 3600


@dataclass
class Measured:
    label: str
    wall: float
    calls: Counter
    write_units: float
    read_units: float
    transitions: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def cost(self) -> float:
        s3_writes = sum(n for (svc, op), n in self.calls.items() if svc == "s3" and op not in ("GetObject", "HeadObject"))
        s3_reads = sum(n for (svc, op), n in self.calls.items() if svc == "s3" and op in ("GetObject", "HeadObject"))
        tasks = max(1, (self.transitions - 4) // 2)
        return (self.write_units * PRICES["dynamodb_write_unit"] + self.read_units * PRICES["dynamodb_read_unit"]
                + s3_writes * PRICES["s3_write_request"] + s3_reads * PRICES["s3_read_request"]
                + self.transitions * PRICES["sfn_transition"] + tasks * PRICES["lambda_request"]
                + self.wall * LAMBDA_GB * PRICES["lambda_gb_second"])


class Units:
    """DynamoDB's billed units of each call, from its request and reply (items under 1 KB
    written, 4 KB read: a strongly consistent read 1 unit, an eventually consistent 0.5,
    a transaction's item 2)."""

    def __init__(self):
        self.calls: Counter = Counter()
        self.write_units = 0.0
        self.read_units = 0.0

    def install(self, session: Any) -> None:
        session.events.register("before-call", self._before)
        session.events.register("after-call", self._after)

    def _before(self, model: Any, params: dict, **_: Any) -> None:
        service, op = model.service_model.service_name, model.name
        self.calls[(service, op)] += 1
        if service != "dynamodb":
            return
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_units += 1
        elif op == "BatchWriteItem":
            self.write_units += sum(len(v) for v in params.get("RequestItems", {}).values())
        elif op == "TransactWriteItems":
            self.write_units += 2 * len(params.get("TransactItems", []))
        elif op == "GetItem":
            self.read_units += 1 if params.get("ConsistentRead") else 0.5

    def _after(self, model: Any, parsed: Any = None, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb" or not isinstance(parsed, dict):
            return
        if model.name in ("Query", "Scan"):
            # small items: one 4 KB unit per ~20 items, at least one half unit per page
            self.read_units += max(0.5, 0.5 * int(parsed.get("ScannedCount", parsed.get("Count", 0))) / 20)
        elif model.name == "BatchGetItem":
            self.read_units += 0.5 * sum(len(v) for v in (parsed.get("Responses") or {}).values())

    def take(self) -> tuple[Counter, float, float]:
        out = (self.calls, self.write_units, self.read_units)
        self.calls, self.write_units, self.read_units = Counter(), 0.0, 0.0
        return out


def _transitions(svc, run) -> int:
    """The state transitions of the run's workflow (infra/gc.yaml), from its steps:
    Begin, the untagged loop (task + choice per call), StartSweep, the sweep loop (task +
    choice per call), Uploads, Finish, Done."""
    from chalicelib.gc import STEP_ITEMS

    checked = run.counts.get("checked", 0)
    sweep_calls = max(1, -(-checked // STEP_ITEMS)) + (1 if checked >= STEP_ITEMS else 0)
    untagged_calls = 1 if run.parameters.get("delete_untagged") else 0
    return 1 + 1 + 2 * untagged_calls + 1 + 2 * sweep_calls + 3


def partition_queries() -> None:
    """moto's Table.query, reading only the partition of its hash key when it queries the
    table itself (not an index), as DynamoDB does; see the module's doc."""
    import threading

    from moto.dynamodb.models.table import Table

    if getattr(Table, "_bench_partition", False):
        return
    local = threading.local()
    query, all_items = Table.query, Table.all_items

    def partition_query(self, hash_key, *args, **kwargs):
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return query(self, hash_key, *args, **kwargs)
        local.partition = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            local.partition = None

    def partition_items(self):
        key = getattr(local, "partition", None)
        if key is None:
            return all_items(self)
        return sorted((self.items.get(key) or {}).values(), key=lambda item: item.range_key)

    Table.query, Table.all_items = partition_query, partition_items
    Table._bench_partition = True


def run(quick: bool = False) -> dict:
    import boto3

    from bench.inproc import InProcessRegistry
    from devstack import moto_transactions

    moto_transactions.install()  # as the local stack runs: a transaction costs its items, not the table
    partition_queries()  # a Query reads its partition, not the whole table sorted
    from chalicelib import artifacts, gc
    from chalicelib.config import Settings
    from chalicelib.meta import keys
    from chalicelib.meta.registry import ManifestRecord
    from chalicelib.oci.digests import Digest
    from chalicelib.oci.manifests import parse_manifest
    from chalicelib.services import Services
    from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, encode

    total, garbage = (1000, 100) if quick else (10_000, 1000)
    results: dict = {"total": total, "garbage": garbage, "runs": []}
    with InProcessRegistry(stage="benchgc") as reg:
        setup = reg.setup_services()
        offset = [0.0]

        def clock() -> float:
            return time.time() + offset[0]

        writer = Services(setup.settings, session=reg.setup_session, clock=clock)
        log(f"gc: uploading {total:,} blobs and naming them in {total // BLOBS_PER_MANIFEST:,} manifests")
        started = time.perf_counter()
        manifests: list[tuple[str, str]] = []
        for m in range(total // BLOBS_PER_MANIFEST):
            repository = f"library/gc{m % 50:02d}"
            layers = [os.urandom(64) for _ in range(BLOBS_PER_MANIFEST - 1)]
            config = encode({"architecture": "amd64", "os": "linux", "n": m})
            for data in [config, *layers]:
                writer.uploads.put_monolithic(repository, Digest.of(data), data, project="library")
            body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, d) for d in layers]})
            digest = str(Digest.of(body))
            record = ManifestRecord.of(digest, body, parse_manifest(body, OCI_MANIFEST), int(clock()))
            artifacts.push_manifest(writer, repository, record, f"v{m}", project="library")
            manifests.append((repository, digest))
        for repository, digest in manifests[: garbage // BLOBS_PER_MANIFEST]:
            artifacts.delete_manifest(writer, repository, digest)
        results["setup_seconds"] = time.perf_counter() - started
        log(f"gc: set up in {results['setup_seconds']:.0f} s")

        session = boto3.session.Session(region_name="us-east-1")
        units = Units()
        units.install(session)
        offset[0] += 3 * HOUR  # past the grace period
        svc = Services(replace(Settings.from_env(), gc_grace_seconds=2 * HOUR), session=session, clock=clock)

        visits = [0]
        read = type(svc.meta).repository_contents

        def counted(self, name):
            visits[0] += 1
            return read(self, name)

        type(svc.meta).repository_contents = counted

        def measured(label: str) -> Measured:
            units.take()
            visits[0] = 0
            t0 = time.perf_counter()
            record = svc.gc.create_run(gc.MANUAL, gc.parameters_of({"workers": 4, "delete_untagged": True}))
            svc.gc.acquire(record.run_id, gc.LEASE_SECONDS)
            done = gc.run_all(svc, record)
            wall = time.perf_counter() - t0
            calls, write_units, read_units = units.take()
            assert done.status == "Success", done
            m = Measured(label, wall, calls, write_units, read_units, _transitions(svc, done),
                         {**done.counts, "visited": visits[0]})
            log(f"gc: {label}: {wall:.1f} s, {m.total_calls} calls, ${m.cost:.6f}, {m.counts}")
            return m

        first = measured(f"first run: {total:,} new blobs, {garbage:,} garbage")
        results["runs"].append(first)
        results["runs"].append(measured("nothing changed since"))
        for repository, digest in manifests[garbage // BLOBS_PER_MANIFEST : 2 * garbage // BLOBS_PER_MANIFEST]:
            artifacts.delete_manifest(writer, repository, digest)
        offset[0] += 3 * HOUR
        results["runs"].append(measured(f"{garbage:,} blobs became garbage since"))

        # the untagged step with many repositories and few changes
        repositories, changed = (100, 5) if quick else (1000, 10)
        existing = len({r for r, _ in manifests})
        log(f"gc: growing to {repositories:,} repositories")
        small: list[str] = []
        for n in range(repositories - existing):
            repository = f"library/many{n:04d}"
            layer = os.urandom(32)
            config = encode({"architecture": "amd64", "os": "linux", "many": n})
            for data in (config, layer):
                writer.uploads.put_monolithic(repository, Digest.of(data), data, project="library")
            body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, layer)]})
            record = ManifestRecord.of(str(Digest.of(body)), body, parse_manifest(body, OCI_MANIFEST), int(clock()))
            artifacts.push_manifest(writer, repository, record, "latest", project="library")
            small.append(repository)
        offset[0] += 3 * HOUR
        measured("(not shown) the new repositories' marks drained")

        def move_tags(repos: list[str], seed: str) -> None:
            for repository in repos:
                body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "seed": seed,
                               "config": descriptor(OCI_CONFIG, b"{}"), "layers": []})
                writer.uploads.put_monolithic(repository, Digest.of(b"{}"), b"{}", project="library")
                record = ManifestRecord.of(str(Digest.of(body)), body, parse_manifest(body, OCI_MANIFEST), int(clock()))
                artifacts.push_manifest(writer, repository, record, "latest", project="library")

        step = len(small) // (2 * changed)
        move_tags(small[0 : step * changed : step], "a")
        offset[0] += 3 * HOUR
        few = measured(f"{repositories:,} repositories, a tag moved in {changed}")
        move_tags(small[1 : step * changed : step], "b")
        offset[0] += 3 * HOUR
        svc.table.delete(keys.GC_STATE_PK, keys.GC_UNTAGGED_SK)  # as before the change marks: every repository
        every = measured("the same, visiting every repository (before the change marks)")
        results["repositories"] = {"total": repositories, "changed": changed, "runs": [few, every]}
    return results


def render(result: dict) -> str:
    lines = ["| run | blobs deleted | bytes freed | candidates read | repositories visited (untagged) | wall time | AWS calls | DynamoDB units (write / read) | state transitions | cost as billed (USD) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in result["runs"]:
        c = m.counts
        lines.append(f"| {m.label} | {c.get('blobs', 0):,} | {c.get('bytes', 0):,} | {c.get('checked', 0):,} | {c.get('visited', 0):,} | {m.wall:.1f} s "
                     f"| {m.total_calls:,} | {m.write_units:,.0f} / {m.read_units:,.1f} | {m.transitions} | {m.cost:.6f} |")
    many = result.get("repositories")
    if many:
        lines += ["", (f"The untagged step with {many['total']:,} repositories, a tag moved in {many['changed']} of them "
                       "(each leaves one untagged manifest):"), "",
                  "| run | repositories visited | manifests deleted | wall time | AWS calls | DynamoDB units (write / read) | cost as billed (USD) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in many["runs"]:
            c = m.counts
            lines.append(f"| {m.label} | {c.get('visited', 0):,} | {c.get('manifests', 0):,} | {m.wall:.1f} s | {m.total_calls:,} "
                         f"| {m.write_units:,.0f} / {m.read_units:,.1f} | {m.cost:.6f} |")
    lines += ["", "Calls by operation:", ""]
    for m in [*result["runs"], *(many["runs"] if many else [])]:
        parts = ", ".join(f"{s}.{op} ×{n}" for (s, op), n in sorted(m.calls.items()))
        lines.append(f"- {m.label}: {parts}")
    return "\n".join(lines)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(render(run(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
