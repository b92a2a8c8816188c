"""Garbage collection under faults: a run over a registry holding a deleted image (whose
layer another image shares), an untagged manifest and a blob no manifest names, failed
at every AWS call it makes with every kind of fault. Whatever the failed run did, no
state breaks an invariant (tests/faults/state.py: no link without its record and bytes,
no manifest without its blobs' links, no index without its children), nothing a tag
reaches loses a byte, and the next run (after the workflow's `fail` step released the
lease, as its Catch does) finishes the job: it ends in the state the unfaulted run
leaves, item for item and object for object (_contents says what only tells the runs'
own story and is left out), and no lease is left."""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace

from chalicelib import gc
from chalicelib.meta import keys
from chalicelib.services import Services
from tests.api.helpers import push_blob, push_image
from tests.faults import state
from tests.faults.conftest import NOW
from tests.faults.injector import KINDS, applies

REPO, OTHER = "library/app", "library/other"
FULL = os.environ.get("BERTH_FAULTS_FULL") == "1"
LATER = NOW + 3 * 3600  # past the grace period


def _setup(cell_svc, api) -> dict:
    kept, _ = push_image(api, REPO, "kept", seed="kept", layers=2)
    gone, _ = push_image(api, OTHER, "gone", seed="gone", layers=1)
    # the deleted image shares the first layer of the kept one
    kept_record = cell_svc.meta.get_manifest(REPO, kept)
    push_image(api, OTHER, "untagged", seed="moved", layers=1)
    push_image(api, OTHER, "untagged", seed="moved-again", layers=1)  # the tag moves: one untagged manifest
    assert api.delete(f"/v2/{OTHER}/manifests/{gone}").status == 202
    lone = push_blob(api, REPO, b"a blob no manifest names" * 10)
    # a registry whose runs have visited every repository once: the untagged step drains
    # the change marks the pushes and the deletion wrote (tests/gc/test_untagged.py has the
    # first run's visit of every repository)
    cell_svc.gc.set_every_repository_visited()
    return {"kept": kept, "kept_blobs": kept_record.blobs, "lone": lone}


def _copy(template, new_cell):
    """A new cell holding exactly what the template's setup stored: its items and its
    objects, copied (pushing the images again costs more than a run; every cell starts
    from the very same registry, upload ids and all)."""
    svc, _, injector = new_cell("none")
    source = template.settings
    assert not svc.s3.list_multipart_uploads(Bucket=source.bucket_name).get("Uploads")  # nothing copy_object misses
    scan = {"TableName": source.table_name, "ConsistentRead": True}
    while True:
        page = template.dynamodb.scan(**scan)
        items = page.get("Items", [])
        for start in range(0, len(items), 25):
            pending = {svc.settings.table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
            while pending:
                pending = svc.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not page.get("LastEvaluatedKey"):
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for page in template.s3.get_paginator("list_objects_v2").paginate(Bucket=source.bucket_name):
        for obj in page.get("Contents", []):
            svc.s3.copy_object(Bucket=svc.settings.bucket_name, Key=obj["Key"],
                               CopySource={"Bucket": source.bucket_name, "Key": obj["Key"]})
    return svc, injector


def _gc_services(svc, injector=None, *, at: int = LATER) -> Services:
    """The cell's registry seen by a garbage collection three hours later (or at `at`)."""
    later = svc.replace(settings=replace(svc.settings, gc_grace_seconds=3600), clock=lambda: at)
    if injector is not None:
        injector.attach(later.dynamodb)
        injector.attach(later.s3)
    return later


def _run(svc) -> gc.Run:
    run = svc.gc.create_run(gc.MANUAL, gc.parameters_of({"delete_untagged": True}))
    assert svc.gc.acquire(run.run_id, gc.LEASE_SECONDS) == run.run_id
    try:
        return gc.run_all(svc, run)
    except Exception as exc:
        gc.fail(svc, svc.gc.get(run.run_id), {"Error": type(exc).__name__, "Cause": str(exc)})
        raise


# what tells only the runs' own story: their records, logs and the lease (checked on its own)
_RUNS_OWN = (keys.GC_RUNS_PK, keys.gc_log_pk(""), keys.GC_LEASE_PK)


def _contents(svc) -> dict:
    """What a run leaves, to compare with what the reference run left: every item (as
    state.snapshot normalises them: random ids and versions as placeholders) and every
    object, less what differs only because another run, at another time, did the work:
    - the runs' own records and logs (GCRUNS, GCLOG#<id>): the faulted run keeps its
      own, with its status and counts, under an id the next run's does not have;
    - the clock of the run that did a step: the quota's `updated` and the `time` of the
      untagged manifest's deletion event (the usage and the event themselves are
      compared), and how far the uploads' clean-up has judged (GCSTATE `sessions`: the
      cutoff of the last clean-up, the next run's clock less the upload URLs' lifetime;
      it is written after the clean-up it records, so a faulted run leaves it behind,
      never ahead)."""
    snap = state.snapshot(svc)
    items = []
    for text in snap["items"]:
        item = json.loads(text)
        if item["PK"].startswith(_RUNS_OWN):
            continue
        if item["PK"].startswith(keys.quota_pk("")):
            item.pop("updated", None)
        if item["PK"] == keys.GC_STATE_PK:
            item.pop("sessions", None)
        if isinstance(item.get("event"), dict):
            item["event"].pop("time", None)
        items.append(json.dumps(item, sort_keys=True))
    return {"items": sorted(items), "objects": sorted(snap["objects"].items())}


def _difference(want: dict, got: dict) -> str:
    lines = [f"- {i[:240]}" for i in want["items"] if i not in got["items"]]
    lines += [f"+ {i[:240]}" for i in got["items"] if i not in want["items"]]
    lines += [f"- object {o}" for o in want["objects"] if o not in got["objects"]]
    lines += [f"+ object {o}" for o in got["objects"] if o not in want["objects"]]
    return "\n    ".join(lines[:12]) or "(the same items, counted differently)"


def _reference(new_cell):
    template, api, _ = new_cell("none")
    ctx = _setup(template, api)
    before = _contents(template)
    svc, injector = _copy(template, new_cell)
    assert _contents(svc) == before, "the copy differs from what the setup stored"
    later = _gc_services(svc, injector)
    injector.arm()
    run = _run(later)
    calls = injector.disarm()
    assert run.status == "Success"
    return template, ctx, before, _contents(svc), calls


def test_a_run_failed_at_any_call_is_finished_by_the_next(new_cell):
    template, ctx, before, after, calls = _reference(new_cell)
    assert before != after and calls
    problems = []
    for position, call in enumerate(calls, 1):
        kinds = [k for k in KINDS if applies(k, call)]
        if not FULL and kinds:
            # every call fails once, the kinds taking turns (each cell is a registry of its
            # own, seconds each); BERTH_FAULTS_FULL=1 fails every call with every kind
            kinds = [kinds[position % len(kinds)]]
        for kind in kinds:
            svc, injector = _copy(template, new_cell)
            later = _gc_services(svc, injector)
            injector.arm(position, kind)
            with contextlib.suppress(Exception):  # the fault; what matters is the state it left
                _run(later)
            injector.disarm()
            where = f"call {position} ({call}) / {kind}"
            if injector.fired is None or str(injector.fired) != str(call):
                problems.append(f"{where}: the calls differ from the reference run's (fired at {injector.fired})")
                continue
            found = state.violations(svc, state.snapshot(svc))
            if found:
                problems.append(f"{where}: {found}")
            kept = svc.meta.get_manifest(REPO, ctx["kept"])
            if kept is None or any(svc.meta.get_link(REPO, d) is None for d in kept.blobs):
                problems.append(f"{where}: the kept image lost something")
            # the next run: after the failed one's lease expired (a fault may have kept its
            # `fail` step from releasing it; the lease's expiry is what frees it then)
            again = _run(_gc_services(svc, at=LATER + gc.LEASE_SECONDS + 1))
            final = _contents(svc)
            if again.status != "Success" or final != after:
                problems.append(f"{where}: the next run did not finish the job ({again.status}):\n    "
                                f"{_difference(after, final)}")
            if svc.table.get(keys.GC_LEASE_PK, keys.GC_LEASE_SK) is not None:
                problems.append(f"{where}: the lease was left")
    assert not problems, f"{len(problems)} of the cells failed:\n" + "\n".join(problems[:20])
