"""chalicelib/projects.py's rules on the in-memory graph (tests/memory_graph.py): a project's
name, its creation with its creator as admin, its deletion; and the one event each change
writes (none when it fails). tests/api/management/test_projects.py pins the same through
HTTP on moto."""
from __future__ import annotations

import pytest

from chalicelib import artifacts, projects
from chalicelib.errors import Conflict, InvalidName, ProjectGone
from chalicelib.events import audit as audit_events
from chalicelib.events.actor import Actor, acting_as
from chalicelib.events.envelope import PROJECT_CREATED, PROJECT_DELETED
from chalicelib.meta.accounts import User
from chalicelib.roles import Role
from tests.memory_graph import MemoryGraph
from tests.unit.memory_images import immutable, push_image


@pytest.fixture
def svc() -> MemoryGraph:
    svc = MemoryGraph()
    svc.accounts.create_user(User("alice"))
    return svc


def types(svc: MemoryGraph) -> list[str]:
    return [e.type for e in svc.events]


# -- names ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a", "library", "my-team", "a.b_c-d", "0", "x" * 255, "v1.2"])
def test_harbor_names_are_taken(name):
    assert projects.check_name(name) == name
    assert projects.is_valid_name(name)


@pytest.mark.parametrize("name", ["", "Library", "-lead", "trail.", "a--b", "a._b", "a b", "a/b", "é", "x" * 256])
def test_other_names_are_refused(name):
    with pytest.raises(InvalidName):
        projects.check_name(name)
    assert not projects.is_valid_name(name)


@pytest.mark.parametrize("name", ["service", "api", "ui"])
def test_paths_under_v2_are_reserved(name):
    with pytest.raises(InvalidName, match="reserved"):
        projects.check_name(name)


def test_a_refused_name_creates_nothing(svc):
    with pytest.raises(InvalidName):
        projects.create(svc, "Bad Name", "alice")
    assert svc.accounts.project_count() == 0
    assert svc.events == []


# -- creation ------------------------------------------------------------------------
def test_the_creator_is_the_projects_admin(svc):
    project = projects.create(svc, "library", "alice", public=True, metadata={"auto_scan": "true"})
    assert project.public and project.owner == "alice" and project.metadata["auto_scan"] == "true"
    member = svc.accounts.get_member("library", "u", "alice")
    assert member is not None and member.role_id == Role.PROJECT_ADMIN
    assert [m.entity_name for m in svc.accounts.list_members("library")] == ["alice"]
    assert svc.accounts.get_project("library") == project


def test_creation_writes_one_event_which_the_audit_log_enters(svc):
    with acting_as(Actor("alice", "10.0.0.1", "management")):
        project = projects.create(svc, "library", "alice")
    assert types(svc) == [PROJECT_CREATED]
    assert svc.events[0].subject == "library"
    assert svc.events[0].data["project_id"] == project.project_id
    assert audit_events.consume(svc.audit, svc.events) == 1
    [entry] = svc.audit.matching(project="library")
    assert (entry.username, entry.operation, entry.resource_type, entry.resource, entry.source_ip) == (
        "alice", "create", "project", "library", "10.0.0.1")


def test_a_name_taken_is_a_conflict_and_writes_nothing(svc):
    first = projects.create(svc, "library", "alice")
    svc.accounts.create_user(User("bob"))
    with pytest.raises(Conflict):
        projects.create(svc, "library", "bob")
    assert svc.accounts.get_project("library") == first
    assert svc.accounts.get_member("library", "u", "bob") is None
    assert types(svc) == [PROJECT_CREATED]


def test_the_bootstrap_admin_without_an_account_creates_a_project_nobody_is_member_of(svc):
    """An administrator's first push (the token service) before its account item exists."""
    project = projects.create(svc, "library", "admin")
    assert project.owner == "admin"
    assert svc.accounts.list_members("library") == []
    assert types(svc) == [PROJECT_CREATED]


# -- deletion ------------------------------------------------------------------------
def test_a_project_holding_repositories_is_not_deleted(svc):
    project = projects.create(svc, "library", "alice")
    push_image(svc, "library/app", "1", seed="a")
    push_image(svc, "library/tools/cli", "1", seed="b")
    before = list(svc.events)
    with pytest.raises(projects.ProjectNotEmpty, match="2 repositories"):
        projects.delete(svc, project)
    assert svc.accounts.get_project("library") is not None
    assert svc.events == before


def test_an_empty_project_is_deleted_with_one_event(svc):
    project = projects.create(svc, "library", "alice")
    push_image(svc, "library/app", "1", seed="a")
    assert artifacts.delete_repository(svc, "library/app")
    svc.events.clear()
    projects.delete(svc, project)
    assert svc.accounts.get_project("library") is None
    assert svc.accounts.get_member("library", "u", "alice") is None
    assert types(svc) == [PROJECT_DELETED]
    assert svc.events[0].subject == "library"


def test_a_project_made_again_starts_without_its_rules_and_quota(svc):
    project = projects.create(svc, "library", "alice")
    svc.immutable_rules.save("library", svc.immutable_rules.get("library"), [immutable()], 1)
    svc.quotas.set_hard("library", 1000)
    projects.delete(svc, project)
    projects.create(svc, "library", "alice")
    assert svc.immutable_rules.get("library").rules == []
    assert svc.quotas.get("library").hard == -1


def test_its_retention_policy_and_schedule_go_with_it(svc):
    from chalicelib.retention import scheduled

    project = projects.create(svc, "library", "alice")
    policy = {"algorithm": "or", "rules": [], "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 * * * *"}}}
    policy_id = svc.retention.create("library", policy).policy_id
    project = svc.accounts.update_project("library", metadata={"retention_id": str(policy_id)})
    scheduled.follow(svc.schedules, policy_id, policy)
    assert list(svc.schedules.schedules) == [scheduled.schedule_name(policy_id)]
    projects.delete(svc, project)
    assert svc.retention.get(policy_id) is None
    assert svc.schedules.schedules == {}


def test_a_push_into_a_deleted_project_is_refused(svc):
    project = projects.create(svc, "library", "alice")
    projects.delete(svc, project)
    svc.events.clear()
    with pytest.raises(ProjectGone):
        push_image(svc, "library/app", "1", seed="a")
    assert svc.meta.repositories("library/") == []
    assert svc.events == []
