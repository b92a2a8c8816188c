"""Harbor's /system/gc through the management API: a manual run is the Step Functions
execution of infra/gc.asl.json (moto executes it; each task is the app's gc_task), its
history, one run, its log, stop; the schedule with its parameters; system administrators
only; Harbor's error bodies for bad input; one run at a time."""
from __future__ import annotations

import json
import os
import time

from chalicelib import gc
from tests.gc.images import push_blob

HOUR = 3600


def wait_for(world, run_id: int, timeout: float = 120):
    """A run's record once it has ended (moto executes the workflow in a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = world.svc.gc.get(run_id)
        if run.status in ("Success", "Error", "Stopped"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end: {world.svc.gc.get(run_id)}")


def start(admin, **parameters) -> int:
    reply = admin.post("/system/gc/schedule", {"schedule": {"type": "Manual"}, "parameters": parameters})
    assert reply.status == 201, reply.body
    assert reply.headers["location"].startswith("/api/v2.0/system/gc/")
    return int(reply.headers["location"].rsplit("/", 1)[1])


def test_a_manual_run_frees_a_blob_and_is_in_the_history(world, admin):
    project = world.project().name
    data = os.urandom(3000)
    digest = push_blob(world.svc, f"{project}/app", data)
    world.clock.advance(2 * HOUR)
    run_id = start(admin, delete_untagged=True, workers=2)
    run = wait_for(world, run_id)
    assert run.status == "Success", world.svc.gc.log_lines(run_id)
    assert world.svc.meta.blob_size(digest) is None
    one = admin.get(f"/system/gc/{run_id}")
    assert one.status == 200
    body = one.json()
    assert body["id"] == run_id and body["job_name"] == "GARBAGE_COLLECTION" and body["job_kind"] == "MANUAL"
    assert body["job_status"] == "Success" and body["schedule"] == {"type": "MANUAL"}
    parameters = json.loads(body["job_parameters"])
    assert parameters["delete_untagged"] is True and parameters["workers"] == 2 and parameters["dry_run"] is False
    assert parameters["freed_bytes"] >= len(data)
    history = admin.get("/system/gc?page=1&page_size=10")
    assert history.status == 200 and history.json()[0]["id"] == run_id
    assert int(history.headers["x-total-count"]) >= 1
    log = admin.get(f"/system/gc/{run_id}/log")
    assert log.status == 200 and log.headers["content-type"].startswith("text/plain")
    assert f"deleted blob {digest}" in log.body.decode()
    assert "success to run gc in job." in log.body.decode()


def test_a_dry_run_through_the_api_reports_bytes(world, admin):
    project = world.project().name
    data = os.urandom(7000)
    digest = push_blob(world.svc, f"{project}/app", data)
    world.clock.advance(2 * HOUR)
    run = wait_for(world, start(admin, dry_run=True))
    assert run.status == "Success" and run.counts["bytes"] >= len(data)
    assert world.svc.meta.blob_size(digest) == len(data)


def test_one_run_at_a_time(world, admin):
    holder = world.svc.gc.create_run(gc.MANUAL, gc.parameters_of({}))
    assert world.svc.gc.acquire(holder.run_id, gc.LEASE_SECONDS) == holder.run_id
    try:
        reply = admin.post("/system/gc/schedule", {"schedule": {"type": "Manual"}})
        assert reply.status == 409 and reply.json()["errors"][0]["code"] == "CONFLICT"
    finally:
        world.svc.gc.release(holder.run_id)


def test_stop(world, admin):
    run = world.svc.gc.create_run(gc.MANUAL, gc.parameters_of({}))
    world.svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    assert admin.put(f"/system/gc/{run.run_id}").status == 200
    assert world.svc.gc.get(run.run_id).status == "Stopped"
    assert world.svc.gc.holder() is None
    assert admin.put("/system/gc/999999").status == 404


def test_the_schedule(world, admin):
    assert admin.get("/system/gc/schedule").status == 200
    reply = admin.post("/system/gc/schedule", {"schedule": {"type": "Daily"}, "parameters": {"delete_untagged": True, "workers": 3}})
    assert reply.status == 201, reply.body
    got = admin.get("/system/gc/schedule").json()
    assert got["schedule"]["type"] == "Daily" and got["schedule"]["cron"] == "0 0 0 * * *"
    assert got["schedule"]["next_scheduled_time"].endswith("T00:00:00Z")
    assert json.loads(got["job_parameters"]) == {"delete_untagged": True, "dry_run": False, "workers": 3}
    fired = world.svc.schedules.schedules["gc"]  # EventBridge Scheduler's schedule: midnight UTC
    assert fired.expression == "cron(0 0 * * ? *)" and fired.job == {"kind": "gc"}
    reply = admin.put("/system/gc/schedule", {"schedule": {"type": "Custom", "cron": "0 30 2 * * 6"}})
    assert reply.status == 200, reply.body
    assert admin.get("/system/gc/schedule").json()["schedule"]["cron"] == "0 30 2 * * 6"
    assert admin.put("/system/gc/schedule", {"schedule": {"type": "None"}}).status == 200
    assert admin.get("/system/gc/schedule").json() == {}
    assert "gc" not in world.svc.schedules.schedules


def test_a_scheduled_run_starts_unless_one_is_running(world, admin):
    from chalicelib import scheduled_jobs

    assert admin.put("/system/gc/schedule", {"schedule": {"type": "Hourly"}, "parameters": {"dry_run": True}}).status == 200
    started = scheduled_jobs.run(world.svc, {"kind": "gc"})
    run = wait_for(world, started["gc_id"])
    assert run.trigger == "Schedule" and run.dry_run and run.status == "Success"
    assert admin.get(f"/system/gc/{run.run_id}").json()["job_kind"] == "SCHEDULE"
    holder = world.svc.gc.create_run(gc.MANUAL, gc.parameters_of({}))
    world.svc.gc.acquire(holder.run_id, gc.LEASE_SECONDS)
    try:
        assert "skipped" in scheduled_jobs.run(world.svc, {"kind": "gc"})
    finally:
        world.svc.gc.release(holder.run_id)
    assert admin.put("/system/gc/schedule", {"schedule": {"type": "None"}}).status == 200
    assert "skipped" in scheduled_jobs.run(world.svc, {"kind": "gc"})


def test_bad_input_is_a_harbor_400(world, admin):
    bad = [
        {"schedule": {"type": "Custom", "cron": "* * *"}},
        {"schedule": {"type": "Custom", "cron": "0 61 * * * *"}},
        {"schedule": {"type": "Custom", "cron": "30 0 * * * *"}},  # EventBridge keeps minutes, not seconds
        {"schedule": {"type": "Custom", "cron": "0 0 0 1 * 1"}},  # both day fields: EventBridge cannot
        {"schedule": {"type": "Sometimes"}},
        {"schedule": {"type": "Manual"}, "parameters": {"workers": 11}},
        {"schedule": {"type": "Manual"}, "parameters": {"workers": "two"}},
        {"schedule": {"type": "Manual"}, "parameters": {"dry_run": "yes"}},
        {"schedule": "Daily"},
    ]
    for body in bad:
        reply = admin.post("/system/gc/schedule", body)
        assert reply.status == 400, (body, reply.body)
        assert reply.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert admin.get("/system/gc/abc").status == 400
    assert admin.get("/system/gc/424242").status == 404
    assert admin.get("/system/gc/424242/log").status == 404
    assert admin.get("/system/gc?sort=name").status == 400


def test_system_administrators_only(world):
    user = world.user()
    as_user = world.as_(user.username)
    for method, path in [("GET", "/system/gc"), ("GET", "/system/gc/schedule"), ("GET", "/system/gc/1"),
                         ("GET", "/system/gc/1/log"), ("PUT", "/system/gc/1")]:
        assert as_user.request(method, path).status == 403, path
    assert as_user.post("/system/gc/schedule", {"schedule": {"type": "Manual"}}).status == 403
    assert world.anonymous.get("/system/gc").status == 401
