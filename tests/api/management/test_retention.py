"""Tag retention (/retentions): a project's policy and its metadata, Harbor's rule
templates and selectors run over content written as pushes write it, a dry run's
deletions equal to the real run's, immutable tags kept, the quota given back, runs that
happen after the request that started them (the app's run_schedule, invoked
asynchronously), a run that died part-way run again, and bad policies answered with 400s."""
from __future__ import annotations

import json

import pytest

from chalicelib import artifacts as artifacts_module
from chalicelib.meta.labels import Label
from tests.api.management.conftest import codes
from tests.api.management.test_immutable import Registry

DAY = 24 * 3600


def tag_selector(pattern: str = "**", decoration: str = "matches", untagged: bool | None = True) -> dict:
    selector = {"kind": "doublestar", "decoration": decoration, "pattern": pattern}
    if untagged is not None:
        selector["extras"] = '{"untagged":%s}' % ("true" if untagged else "false")
    return selector


def rule(template: str, n: int | None = None, *, tags=None, repository: str = "**", repo_decoration: str = "repoMatches",
         disabled: bool = False) -> dict:
    return {
        "disabled": disabled,
        "action": "retain",
        "template": template,
        "params": {} if n is None else {template: n},
        "tag_selectors": tags or [tag_selector()],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repository}]},
    }


def policy(project_id: int, *rules, cron: str = "") -> dict:
    return {"algorithm": "or", "rules": list(rules), "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
            "scope": {"level": "project", "ref": project_id}}


def make_project(world):
    project = world.project()
    return project.name, project.project_id


def create(admin, body) -> int:
    reply = admin.post("/retentions", body)
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


class Background:
    """Lambda's asynchronous invocations of the app's functions (svc.functions): queued
    when invoked, run through the app's handler when the test lets them (`drain`)."""

    def __init__(self):
        self.jobs: list[tuple[str, dict]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
        assert InvocationType == "Event"
        self.jobs.append((FunctionName, json.loads(Payload)))
        return {"StatusCode": 202}

    def drain(self) -> int:
        """Run the queued jobs, and those they queue, to the end; how many ran."""
        import app as app_module

        ran = 0
        while self.jobs:
            function, job = self.jobs.pop(0)
            assert function.endswith("-run_schedule")
            app_module.run_schedule(job, None)
            ran += 1
        return ran


@pytest.fixture(autouse=True)
def background(world, monkeypatch) -> Background:
    queue = Background()
    monkeypatch.setattr(world.svc, "functions", queue)
    return queue


def execution_of(admin, policy_id: int, eid: int) -> dict:
    return next(e for e in admin.get(f"/retentions/{policy_id}/executions").json() if e["id"] == eid)


def trigger(admin, policy_id: int, dry_run: bool) -> int:
    reply = admin.post(f"/retentions/{policy_id}/executions", {"dry_run": dry_run})
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def run(admin, policy_id: int, dry_run: bool) -> dict:
    """Start a run through the API, then let the background run it."""
    eid = trigger(admin, policy_id, dry_run)
    admin.api.svc.functions.drain()  # the world's services: their functions are a Background
    return execution_of(admin, policy_id, eid)


def deleted_of(world, execution_id: int) -> dict[str, set[str]]:
    return {t.repository: set(t.deleted) for t in world.svc.retention.tasks(execution_id)}


def push_at(world, when: float, repository: str, tag: str | None, seed: str) -> str:
    real = world.svc.clock
    world.svc.clock = lambda: when
    try:
        return world.push(repository, tag, seed=seed)
    finally:
        world.svc.clock = real


def push_through_v2(world, when: float, registry, tag: str | None, seed: str) -> str:
    """A real push (/v2, so the quota is charged) at `when`."""
    from tests.api.helpers import digest

    real = world.svc.clock
    world.svc.clock = lambda: when
    try:
        body = registry.image(seed)
        assert registry.put(tag or digest(body), body).status == 201
    finally:
        world.svc.clock = real
    return digest(body)


def digests(world, repository: str) -> set[str]:
    return {m.digest for m in world.svc.meta.list_manifests(repository, with_body=False)}


def test_metadata_lists_harbors_templates_and_selectors(world, admin):
    found = admin.get("/retentions/metadatas").json()
    assert [t["rule_template"] for t in found["templates"]] == [
        "latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always"]
    assert found["scope_selectors"][0]["decorations"] == ["repoMatches", "repoExcludes"]
    assert {s["kind"] for s in found["tag_selectors"]} == {"doublestar", "label"}


def test_a_project_has_one_policy_which_its_metadata_names(world, admin):
    _, pid = make_project(world)
    policy_id = create(admin, policy(pid, rule("latestPushedK", 3)))
    project = admin.get(f"/projects/{pid}").json()
    assert project["metadata"]["retention_id"] == str(policy_id)
    got = admin.get(f"/retentions/{policy_id}").json()
    assert got["id"] == policy_id and got["scope"] == {"level": "project", "ref": pid}
    assert got["rules"][0]["params"] == {"latestPushedK": 3}
    # a second policy for the project: Harbor's 400
    assert codes(admin.post("/retentions", policy(pid, rule("always")))) == ["BAD_REQUEST"]
    # a change of its rules and its schedule
    assert admin.put(f"/retentions/{policy_id}", policy(pid, rule("nDaysSinceLastPush", 7), cron="0 0 3 * * *")).status == 200
    got = admin.get(f"/retentions/{policy_id}").json()
    assert got["rules"][0]["template"] == "nDaysSinceLastPush" and got["trigger"]["settings"]["cron"] == "0 0 3 * * *"
    assert admin.delete(f"/retentions/{policy_id}").status == 200
    assert "retention_id" not in admin.get(f"/projects/{pid}").json()["metadata"]
    assert admin.get(f"/retentions/{policy_id}").status == 404
    assert create(admin, policy(pid, rule("always"))) > policy_id


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"rules": [rule("latestPushedK")]}, "BAD_REQUEST"),  # the parameter is required
        ({"rules": [rule("latestPushedK", -1)]}, "BAD_REQUEST"),
        ({"rules": [rule("nearlyAlways")]}, "BAD_REQUEST"),
        ({"rules": [rule("always", tags=[tag_selector("release-{1,2")])]}, "BAD_REQUEST"),
        ({"rules": [rule("always", tags=[{"kind": "doublestar", "decoration": "sometimes", "pattern": "*"}])]}, "BAD_REQUEST"),
        ({"rules": [rule("always", tags=[{"kind": "label", "decoration": "withLabels", "pattern": " , "}])]}, "BAD_REQUEST"),
        ({"rules": [rule("always", repo_decoration="nsMatches")]}, "BAD_REQUEST"),
        ({"rules": [rule("always")] * 16}, "BAD_REQUEST"),
        ({"rules": [rule("always"), rule("always")]}, "CONFLICT"),
        ({"trigger": {"kind": "Schedule", "settings": {"cron": "every day"}}}, "BAD_REQUEST"),
        ({"trigger": {"kind": "Schedule", "settings": {"cron": "0 61 * * * *"}}}, "BAD_REQUEST"),
        ({"trigger": {"kind": "Event"}}, "BAD_REQUEST"),
        ({"algorithm": "and"}, "BAD_REQUEST"),
        ({"scope": {"level": "system", "ref": 0}}, "BAD_REQUEST"),
        ({"scope": {"level": "project", "ref": 999999}}, "BAD_REQUEST"),
    ],
)
def test_bad_policies_are_400s(world, admin, change, code):
    _, pid = make_project(world)
    reply = admin.post("/retentions", {**policy(pid, rule("always")), **change})
    assert codes(reply) == [code], reply.body


def test_who_may_manage_read_and_run_it(world, admin):
    name, pid = make_project(world)
    policy_id = create(admin, policy(pid, rule("always")))
    maintainer, developer = world.user(), world.user()
    world.member(name, maintainer.username, 4)
    world.member(name, developer.username, 2)
    assert world.as_(maintainer.username).get(f"/retentions/{policy_id}").status == 200
    assert world.as_(maintainer.username).post(f"/retentions/{policy_id}/executions", {"dry_run": True}).status == 403
    assert world.as_(maintainer.username).delete(f"/retentions/{policy_id}").status == 403
    assert world.as_(developer.username).get(f"/retentions/{policy_id}").status == 403
    assert world.as_(developer.username).post("/retentions", policy(pid, rule("latestPushedK", 1))).status == 403


def test_latest_pushed_keeps_k_and_the_dry_run_deletes_what_the_real_run_does(world, admin):
    name, pid = make_project(world)
    now = world.svc.clock()
    registry = Registry(world, f"{name}/app")
    pushed = [push_through_v2(world, now - (10 - i) * DAY, registry, f"v{i}", f"app{i}") for i in range(5)]
    untagged = push_through_v2(world, now - 20 * DAY, registry, None, "old-untagged")
    other = [push_at(world, now - (10 - i) * DAY, f"{name}/other", f"v{i}", f"other{i}") for i in range(2)]
    used_before = admin.get(f"/quotas/{pid}").json()["used"]["storage"]
    assert used_before > 0
    policy_id = create(admin, policy(pid, rule("latestPushedK", 2, repository="app")))

    dry = run(admin, policy_id, True)
    assert dry["status"] == "Success" and dry["dry_run"] is True and dry["trigger"] == "MANUAL"
    planned = deleted_of(world, dry["id"])
    assert planned == {"app": {*pushed[:3], untagged}}  # `other` is outside the rule's repositories
    assert digests(world, f"{name}/app") == {*pushed, untagged}  # nothing deleted

    real = run(admin, policy_id, False)
    assert real["status"] == "Success"
    assert deleted_of(world, real["id"]) == planned
    assert digests(world, f"{name}/app") == set(pushed[3:])
    assert digests(world, f"{name}/other") == set(other)
    tasks = admin.get(f"/retentions/{policy_id}/executions/{real['id']}/tasks").json()
    assert [(t["repository"], t["total"], t["retained"], t["status"]) for t in tasks] == [("app", 6, 2, "Success")]
    log = admin.get(f"/retentions/{policy_id}/executions/{real['id']}/tasks/{tasks[0]['id']}")
    assert log.headers["content-type"].startswith("text/plain")
    assert f"| {pushed[4]} | v4 |" in log.body.decode() and log.body.decode().count("| DEL |") == 4 and log.body.decode().count("| RETAIN |") == 2
    # the quota got the deleted artifacts' bytes back, as an API delete gives them: what is
    # left counts the two kept images' manifests, configs and layers
    kept = sum(len(world.svc.meta.get_manifest(f"{name}/app", d).body) for d in pushed[3:])
    kept += sum(world.svc.meta.link_size(f"{name}/app", b) for d in pushed[3:]
                for b in world.svc.meta.get_manifest(f"{name}/app", d).blobs)
    assert admin.get(f"/quotas/{pid}").json()["used"]["storage"] == kept < used_before
    # a run with nothing more to delete deletes nothing
    assert deleted_of(world, run(admin, policy_id, False)["id"]) == {"app": set()}


def test_immutable_tags_are_kept(world, admin):
    name, pid = make_project(world)
    now = world.svc.clock()
    old = push_at(world, now - 30 * DAY, f"{name}/app", "release-1", "rel")
    older = push_at(world, now - 40 * DAY, f"{name}/app", "dev-1", "dev")
    fresh = push_at(world, now, f"{name}/app", "dev-2", "dev2")
    immutable = {"template": "immutable_template", "action": "immutable",
                 "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
                 "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
    assert admin.post(f"/projects/{pid}/immutabletagrules", immutable).status == 201
    policy_id = create(admin, policy(pid, rule("nDaysSinceLastPush", 7)))
    execution = run(admin, policy_id, False)
    assert deleted_of(world, execution["id"]) == {"app": {older}}
    assert digests(world, f"{name}/app") == {old, fresh}
    task = world.svc.retention.tasks(execution["id"])[0]
    assert any(old in line and "IMMUTABLE" in line for line in task.log)


def test_pulled_within_days_uses_the_recorded_pulls(world, admin):
    from chalicelib import pulls

    name, pid = make_project(world)
    now = world.svc.clock()
    pulled = push_at(world, now - 90 * DAY, f"{name}/app", "pulled", "p")
    idle = push_at(world, now - 90 * DAY, f"{name}/app", "idle", "i")
    pulls.record(world.svc, [pulls.Pull("admin", f"{name}/app", "pulled", pulled, "10.0.0.1", now - DAY, "req-1")])
    policy_id = create(admin, policy(pid, rule("nDaysSinceLastPull", 30)))
    assert deleted_of(world, run(admin, policy_id, False)["id"]) == {"app": {idle}}
    assert digests(world, f"{name}/app") == {pulled}


def test_labels_and_untagged_selectors(world, admin):
    name, pid = make_project(world)
    keep = world.push(f"{name}/app", "a", seed="keep")
    plain = world.push(f"{name}/app", "b", seed="plain")
    untagged = world.push(f"{name}/app", None, seed="untagged")
    label = world.svc.labels.create(Label(name=world.name("golden"), scope="p", project_id=pid))
    world.svc.labels.add_to_artifact(f"{name}/app", keep, label)
    labelled = rule("always", tags=[tag_selector(), {"kind": "label", "decoration": "withLabels", "pattern": label.name}])
    policy_id = create(admin, policy(pid, labelled))
    assert deleted_of(world, run(admin, policy_id, True)["id"]) == {"app": {plain, untagged}}
    # every tagged artifact, the untagged ones excluded
    tagged_only = rule("always", tags=[tag_selector(untagged=False)])
    assert admin.put(f"/retentions/{policy_id}", policy(pid, tagged_only)).status == 200
    assert deleted_of(world, run(admin, policy_id, False)["id"]) == {"app": {untagged}}
    assert digests(world, f"{name}/app") == {keep, plain}


def test_an_index_goes_with_its_untagged_children(world, admin):
    name, pid = make_project(world)
    now = world.svc.clock()
    children = [push_at(world, now - 50 * DAY, f"{name}/multi", None, f"c{i}") for i in range(2)]
    real = world.svc.clock
    world.svc.clock = lambda: now - 50 * DAY
    try:
        index = world.push_index(f"{name}/multi", "old", children)
    finally:
        world.svc.clock = real
    fresh = world.push(f"{name}/multi", "new", seed="fresh")
    policy_id = create(admin, policy(pid, rule("nDaysSinceLastPush", 10)))
    dry = deleted_of(world, run(admin, policy_id, True)["id"])
    assert dry == {"multi": {index, *children}}
    assert deleted_of(world, run(admin, policy_id, False)["id"]) == dry
    assert digests(world, f"{name}/multi") == {fresh}


def test_a_manual_run_answers_at_once_and_runs_in_the_background(world, admin, background):
    """Harbor's POST /executions answers 201 and the run goes on after the answer: the
    request only records it (Running, no tasks yet) and hands it to run_schedule."""
    name, pid = make_project(world)
    keep = world.push(f"{name}/app", "keep", seed="keep")
    drop = world.push(f"{name}/app", "drop", seed="drop")
    policy_id = create(admin, policy(pid, rule("always", tags=[tag_selector("keep", untagged=False)])))
    eid = trigger(admin, policy_id, False)
    assert execution_of(admin, policy_id, eid)["status"] == "Running"
    assert admin.get(f"/retentions/{policy_id}/executions/{eid}/tasks").json() == []
    assert digests(world, f"{name}/app") == {keep, drop}  # nothing deleted within the request
    assert background.jobs == [(world.svc.settings.function_name("run_schedule"),
                                {"kind": "retention", "policy_id": policy_id, "execution_id": eid})]
    assert background.drain() == 1
    done = execution_of(admin, policy_id, eid)
    assert done["status"] == "Success" and done["end_time"]
    assert digests(world, f"{name}/app") == {keep}
    # a second delivery of the same event (Lambda delivers at least once) changes nothing
    background.jobs.append((world.svc.settings.function_name("run_schedule"),
                            {"kind": "retention", "policy_id": policy_id, "execution_id": eid}))
    background.drain()
    assert execution_of(admin, policy_id, eid) == done
    assert [t["status"] for t in admin.get(f"/retentions/{policy_id}/executions/{eid}/tasks").json()] == ["Success"]


def test_a_run_that_could_not_be_handed_on_ends_as_an_error(world, admin, monkeypatch):
    from botocore.exceptions import ClientError

    _, pid = make_project(world)
    policy_id = create(admin, policy(pid, rule("always")))

    def refuses(**_):
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")

    monkeypatch.setattr(world.svc.functions, "invoke", refuses)
    eid = trigger(admin, policy_id, False)
    failed = execution_of(admin, policy_id, eid)
    assert failed["status"] == "Error" and failed["end_time"]
    assert world.svc.retention.execution(policy_id, eid).status_text == "the run could not start: ClientError"


class Died(BaseException):
    """The function's end part-way (a timeout, a lost container): nothing of its own
    catches it, nothing after it runs."""


def test_a_run_whose_step_died_part_way_finishes_when_lambda_retries_it(world, admin, monkeypatch, background):
    name, pid = make_project(world)
    now = world.svc.clock()
    old = [push_at(world, now - (30 + i) * DAY, f"{name}/app", f"old{i}", f"old{i}") for i in range(4)]
    fresh = world.push(f"{name}/app", "fresh", seed="fresh")
    policy_id = create(admin, policy(pid, rule("latestPushedK", 1)))
    planned = deleted_of(world, run(admin, policy_id, True)["id"])["app"]
    assert planned == set(old)

    real_delete = artifacts_module.delete_manifests

    def dies_after_two(svc, repository, digests_, contents):
        real_delete(svc, repository, digests_[:2], contents)
        raise Died

    monkeypatch.setattr(artifacts_module, "delete_manifests", dies_after_two)
    eid = trigger(admin, policy_id, False)
    [(function, job)] = background.jobs
    with pytest.raises(Died):
        background.drain()
    assert execution_of(admin, policy_id, eid)["status"] == "Running"
    assert len(digests(world, f"{name}/app")) == 3  # two deleted before it died
    monkeypatch.setattr(artifacts_module, "delete_manifests", real_delete)
    background.jobs.append((function, job))  # Lambda retries an asynchronous invocation that failed
    background.drain()
    again = execution_of(admin, policy_id, eid)
    assert again["status"] == "Success"
    assert digests(world, f"{name}/app") == {fresh}
    # the retry deleted what was left of the plan, and nothing else; the task is the same one
    [task] = world.svc.retention.tasks(eid)
    assert task.status == "Success" and set(task.deleted) < planned and len(task.deleted) == 2
    assert (task.total, task.retained) == (5, 1)


def test_a_run_nobody_finished_is_an_error_and_the_next_run_does_the_rest(world, admin, monkeypatch, background):
    from chalicelib.retention import runs

    name, pid = make_project(world)
    now = world.svc.clock()
    old = [push_at(world, now - (30 + i) * DAY, f"{name}/app", f"old{i}", f"old{i}") for i in range(3)]
    fresh = world.push(f"{name}/app", "fresh", seed="fresh")
    policy_id = create(admin, policy(pid, rule("latestPushedK", 1)))
    lost = trigger(admin, policy_id, False)
    background.jobs.clear()  # its event was lost (every retry failed)
    later = world.svc.retention.execution(policy_id, lost).started + runs.STALE_AFTER + 1
    monkeypatch.setattr(world.svc, "clock", lambda: later)
    finished = run(admin, policy_id, False)
    assert finished["status"] == "Success"
    assert world.svc.retention.execution(policy_id, lost).status == "Error"
    assert deleted_of(world, finished["id"])["app"] == set(old)
    assert digests(world, f"{name}/app") == {fresh}


def test_stopping_and_unknown_executions(world, admin):
    _, pid = make_project(world)
    policy_id = create(admin, policy(pid, rule("always")))
    done = run(admin, policy_id, True)
    assert admin.patch(f"/retentions/{policy_id}/executions/{done['id']}", {"action": "pause"}).status == 400
    assert admin.patch(f"/retentions/{policy_id}/executions/{done['id']}", {"action": "stop"}).status == 200
    assert admin.get(f"/retentions/{policy_id}/executions/999999/tasks").status == 404
    assert admin.get(f"/retentions/{policy_id}/executions/{done['id']}/tasks/77").status == 404
    assert admin.get("/retentions/999999").status == 404


def test_a_deleted_projects_policy_goes_with_it(world, admin):
    _, pid = make_project(world)
    policy_id = create(admin, policy(pid, rule("always")))
    assert admin.delete(f"/projects/{pid}").status == 200
    assert world.svc.retention.get(policy_id) is None
    assert admin.get(f"/retentions/{policy_id}").status == 404


def test_a_scheduled_policy_keeps_a_schedule_that_runs_it(world, admin):
    """The policy's cron is an EventBridge Scheduler schedule that follows the policy; when it
    comes due, the local stack's Scheduler stand-in fires run_schedule, which runs the policy
    (trigger SCHEDULE, not a dry run)."""
    import calendar
    import json

    import app as app_module
    from devstack.schedules import ScheduleFiring

    scheduler = world.svc.client("scheduler")
    prefix = world.svc.settings.schedule_prefix

    def schedule(policy_id: int):
        try:
            return scheduler.get_schedule(Name=f"{prefix}retention-{policy_id}")
        except scheduler.exceptions.ResourceNotFoundException:
            return None

    name, pid = make_project(world)
    keep = world.push(f"{name}/app", "keep", seed="keep")
    world.push(f"{name}/app", "drop", seed="drop")
    body = policy(pid, rule("always", tags=[tag_selector("keep", untagged=False)]), cron="0 30 2 * * *")
    policy_id = create(admin, body)
    assert schedule(policy_id)["ScheduleExpression"] == "cron(30 2 * * ? *)"
    assert json.loads(schedule(policy_id)["Target"]["Input"]) == {"kind": "retention", "policy_id": policy_id}

    at = calendar.timegm((2026, 12, 3, 2, 29, 59))
    firing = ScheduleFiring(scheduler, prefix, app_module.run_schedule, clock=lambda: at)
    assert f"{prefix}retention-{policy_id}" in firing.tick(at + 2)
    firing.stop()
    [execution] = admin.get(f"/retentions/{policy_id}/executions").json()
    assert (execution["trigger"], execution["dry_run"], execution["status"]) == ("SCHEDULE", False, "Success")
    assert digests(world, f"{name}/app") == {keep}

    # a cron EventBridge cannot keep is a 400 and leaves the schedule; an empty cron removes it
    bad = admin.put(f"/retentions/{policy_id}", {**body, "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 1 * MON"}}})
    assert bad.status == 400 and "not both" in bad.json()["errors"][0]["message"]
    assert schedule(policy_id)["ScheduleExpression"] == "cron(30 2 * * ? *)"
    assert admin.put(f"/retentions/{policy_id}", {**body, "trigger": {"kind": "Schedule", "settings": {"cron": ""}}}).status == 200
    assert schedule(policy_id) is None
    assert admin.put(f"/retentions/{policy_id}", body).status == 200
    assert schedule(policy_id) is not None
    # deleting the policy removes its schedule; a schedule that outlived its policy removes itself
    assert admin.delete(f"/retentions/{policy_id}").status == 200
    assert schedule(policy_id) is None
    world.svc.schedules.put(f"retention-{policy_id}", "0 0 3 * * *", {"kind": "retention", "policy_id": policy_id})
    assert "skipped" in app_module.run_schedule({"kind": "retention", "policy_id": policy_id}, None)
    assert schedule(policy_id) is None


def test_a_step_out_of_time_hands_the_rest_to_the_next(world, admin, monkeypatch, background):
    """A step works SLICE_SECONDS, then invokes the function again for the rest of the run
    (the same execution, the same task), however big the run."""
    import itertools

    from chalicelib.retention import runs

    name, pid = make_project(world)
    now = world.svc.clock()
    old = [push_at(world, now - (30 + i) * DAY, f"{name}/app", f"old{i}", f"old{i}") for i in range(4)]
    fresh = world.push(f"{name}/app", "fresh", seed="fresh")
    policy_id = create(admin, policy(pid, rule("latestPushedK", 1)))
    eid = trigger(admin, policy_id, False)
    [(function, job)] = background.jobs
    background.jobs.clear()
    ticks = itertools.count()  # each look at the clock is a second later
    monkeypatch.setattr(runs, "monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(runs, "CHUNK", 1)
    # the step has 3.5 s: the repository starts at 1, deletes at 2 and 3, is out of time at 4
    step = runs.resume(world.svc, policy_id, eid, seconds=3.5)
    assert step.status == "Running"
    [task] = world.svc.retention.tasks(eid)
    assert task.status == "Running" and len(task.deleted) == 2 and (task.total, task.retained) == (5, 3)
    assert background.jobs == [(function, job)]  # handed on
    monkeypatch.undo()
    monkeypatch.setattr(world.svc, "functions", background)
    background.drain()
    assert execution_of(admin, policy_id, eid)["status"] == "Success"
    [task] = world.svc.retention.tasks(eid)
    assert task.status == "Success" and set(task.deleted) == set(old) and (task.total, task.retained) == (5, 1)
    assert digests(world, f"{name}/app") == {fresh}


def test_a_change_after_the_read_deletes_that_artifact_as_an_api_delete_would(world, admin):
    """artifacts.delete_manifests deletes from what was read once; a transaction that finds
    something changed since is done again one artifact at a time, each rule checked afresh:
    a tag that became immutable keeps its artifact, the others go."""
    from chalicelib import artifacts

    name, pid = make_project(world)
    repository = f"{name}/app"
    pushed = [world.push(repository, f"v{i}", seed=f"chg{i}") for i in range(3)]
    contents = world.svc.meta.repository_contents(repository)
    # after the read: the middle one gets a tag an immutability rule protects
    world.svc.meta.create_tag(repository, "release-1", world.svc.meta.get_manifest(repository, pushed[1]), int(world.svc.clock()))
    immutable = {"template": "immutable_template", "action": "immutable",
                 "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
                 "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
    assert admin.post(f"/projects/{pid}/immutabletagrules", immutable).status == 201
    deleted, refused = artifacts.delete_manifests(world.svc, repository, pushed, contents)
    assert deleted == [pushed[0], pushed[2]] and set(refused) == {pushed[1]}
    assert "release-1" in refused[pushed[1]] or "immutable" in refused[pushed[1]].lower()
    assert digests(world, repository) == {pushed[1]}


def test_a_stop_ends_the_run_between_two_chunks_of_deletions(world, admin, monkeypatch, background):
    from chalicelib.retention import runs

    name, pid = make_project(world)
    now = world.svc.clock()
    old = [push_at(world, now - (30 + i) * DAY, f"{name}/app", f"old{i}", f"old{i}") for i in range(3)]
    world.push(f"{name}/app", "fresh", seed="fresh")
    policy_id = create(admin, policy(pid, rule("latestPushedK", 1)))
    eid = trigger(admin, policy_id, False)
    monkeypatch.setattr(runs, "CHUNK", 1)
    real_delete = artifacts_module.delete_manifests

    def stop_after_the_first(svc, repository, digests_, contents):
        out = real_delete(svc, repository, digests_, contents)
        assert admin.patch(f"/retentions/{policy_id}/executions/{eid}", {"action": "stop"}).status == 200
        return out

    monkeypatch.setattr(artifacts_module, "delete_manifests", stop_after_the_first)
    background.drain()
    assert execution_of(admin, policy_id, eid)["status"] == "Stopped"
    [task] = world.svc.retention.tasks(eid)
    assert task.status == "Stopped" and len(task.deleted) == 1 and set(task.deleted) < set(old)
    assert len(digests(world, f"{name}/app")) == 3
