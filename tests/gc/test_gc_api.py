"""Harbor's /system/gc through the management API: a manual run is the Step Functions
execution of the state machine in infra/gc.yaml (moto executes it; each task is the app's gc_task), its
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


def execution_ended(world, arn: str, timeout: float = 60) -> dict:
    """The run's Step Functions execution once it has ended (moto runs it in a thread)."""
    sfn = world.svc.stepfunctions
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} did not end")


def test_a_run_is_an_execution_named_for_the_console(world, admin):
    run = wait_for(world, start(admin, dry_run=True))
    assert run.status == "Success"
    assert run.workflow_arn.rsplit(":", 1)[1] == f"gc-{run.run_id}-manual-dry-run" == gc.workflow_name(run)
    assert execution_ended(world, run.workflow_arn)["status"] == "SUCCEEDED"


def test_a_failed_step_is_recorded_and_fails_the_execution(world, admin, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the sweep broke")

    monkeypatch.setattr(gc, "sweep", broken)
    run = wait_for(world, start(admin))
    assert run.status == "Error"
    assert "the sweep broke" in "\n".join(world.svc.gc.log_lines(run.run_id))
    ended = execution_ended(world, run.workflow_arn)
    # what GcExecutionsFailedAlarm counts (infra/operations.yaml)
    assert (ended["status"], ended.get("error")) == ("FAILED", "GarbageCollectionFailed")
    assert world.svc.gc.holder() is None


def test_a_run_whose_execution_failed_without_it_gives_up_its_lease(world, admin, monkeypatch):
    """The task function cannot be invoked at all: neither a step nor `fail` writes the run,
    so the execution fails with the run still Running and holding the lease. The next start
    describes the execution, records the run's end and starts."""
    import app as app_module

    def unreachable(event, context):
        raise PermissionError("AccessDeniedException: not allowed to invoke berth-*-gc_task")

    monkeypatch.setattr(app_module, "gc_task", unreachable)
    dead = start(admin)
    assert execution_ended(world, world.svc.gc.get(dead).workflow_arn)["status"] == "FAILED"
    assert world.svc.gc.get(dead).status == "Running" and world.svc.gc.holder() == dead
    monkeypatch.undo()
    run = wait_for(world, start(admin, dry_run=True))
    assert run.status == "Success"
    assert world.svc.gc.get(dead).status == "Error"
    assert "the run's workflow ended FAILED before the run did" in "\n".join(world.svc.gc.log_lines(dead))
    assert admin.get(f"/system/gc/{dead}").json()["job_status"] == "Error"


def test_a_run_whose_execution_was_stopped_in_the_console_reads_stopped(world, admin, monkeypatch):
    """Read through the API, a running run's execution is described: one aborted outside
    Berth (the Step Functions console) while a step waits for its retry makes the run
    Stopped and frees the lease."""
    import threading

    import app as app_module

    failed = threading.Event()
    # the error Lambda answers when its service fails: the workflow retries it after 2 s
    service_exception = type("Lambda.ServiceException", (Exception,), {})

    def unavailable(event, context):
        failed.set()
        raise service_exception("Lambda is unavailable")

    monkeypatch.setattr(app_module, "gc_task", unavailable)
    run_id = start(admin)
    assert failed.wait(30)
    assert admin.get(f"/system/gc/{run_id}").json()["job_status"] == "Running"
    arn = world.svc.gc.get(run_id).workflow_arn
    world.svc.stepfunctions.stop_execution(executionArn=arn, cause="an operator")
    assert execution_ended(world, arn)["status"] == "ABORTED"
    assert world.svc.gc.holder() == run_id and world.svc.gc.get(run_id).status == "Running"
    assert admin.get(f"/system/gc/{run_id}").json()["job_status"] == "Stopped"
    history = admin.get("/system/gc?page=1&page_size=10").json()
    assert next(h for h in history if h["id"] == run_id)["job_status"] == "Stopped"
    assert world.svc.gc.holder() is None
    assert "the run's workflow ended ABORTED before the run did" in "\n".join(world.svc.gc.log_lines(run_id))
