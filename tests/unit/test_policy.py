"""The one policy module: every entry point's "may P do A in X" and "which projects
may P see" answered from one place, checked against Harbor's rules written out."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib import policy
from chalicelib.auth.access import Access
from chalicelib.auth.principal import Principal
from chalicelib.roles import Role


@dataclass
class P:  # a project, as the stores answer it
    name: str
    public: bool = False


PRIVATE, PUBLIC = P("team"), P("lib", public=True)
USER = Principal(kind="user", name="ann")
ADMIN = Principal(kind="user", name="root", admin=True)


def robot(**held: set[str]) -> Principal:
    return Principal(kind="robot", name="robot$team+ci", robot_permissions={k: frozenset(v) for k, v in held.items()})


@pytest.mark.parametrize(
    "role, may, may_not",
    [
        (Role.PROJECT_ADMIN, {"pull", "push", "delete", "member.write", "project.write", "robot.write"}, set()),
        (Role.MAINTAINER, {"pull", "push", "delete", "tag.delete", "robot.read"}, {"member.write", "project.write"}),
        (Role.DEVELOPER, {"pull", "push", "tag.create", "artifact.copy"}, {"delete", "tag.delete", "robot.read"}),
        (Role.GUEST, {"pull", "member.read", "log.read"}, {"push", "delete", "tag.create"}),
        (Role.LIMITED_GUEST, {"pull", "project.read"}, {"push", "delete", "member.read", "log.read"}),
    ],
)
def test_a_members_role_decides_in_a_private_project(role, may, may_not):
    granted = policy.actions_in(USER, PRIVATE, [role])
    assert may <= granted
    assert not may_not & granted


def test_the_strongest_of_several_roles_counts():
    assert policy.may(USER, PRIVATE, "delete", [Role.GUEST, Role.MAINTAINER])


def test_no_role_no_project_no_rights():
    assert policy.actions_in(USER, PRIVATE, []) == frozenset()
    assert policy.actions_in(ADMIN, None, []) == frozenset()


def test_anyone_reads_a_public_project_and_only_reads():
    for who in (None, USER, robot()):
        assert policy.actions_in(who, PUBLIC, []) == policy.PUBLIC_ACTIONS


def test_a_system_administrator_may_do_everything():
    assert policy.actions_in(ADMIN, PRIVATE, []) == policy.ALL_ACTIONS


def test_a_robot_acts_through_its_registry_permissions():
    ci = robot(team={"pull", "push"})
    assert policy.actions_in(ci, PRIVATE) == {"pull", "push", "project.read", "repository.read", "tag.create", "artifact.copy"}
    assert policy.actions_in(ci, P("other")) == frozenset()
    assert policy.may(robot(**{"*": {"delete"}}), P("other"), "artifact.delete")
    assert not policy.may(ci, PRIVATE, "member.read")  # robots manage no accounts


@pytest.mark.parametrize(
    "principal, project, roles, asked, granted",
    [
        (None, PUBLIC, [], ("pull", "push"), ("pull",)),
        (None, PRIVATE, [], ("pull",), ()),
        (USER, PRIVATE, [Role.DEVELOPER], ("pull", "push", "delete"), ("pull", "push")),
        (USER, PRIVATE, [Role.MAINTAINER], ("*",), ("*",)),
        (USER, PRIVATE, [Role.DEVELOPER], ("*",), ()),
        (ADMIN, PRIVATE, [], ("*",), ("*",)),
        (ADMIN, None, [], ("pull",), ()),
    ],
)
def test_a_token_grants_what_the_caller_may_never_more(principal, project, roles, asked, granted):
    scope = Access("repository", f"{project.name if project else 'none'}/app", asked)
    assert policy.token_grant(principal, scope, project, roles) == granted


def test_everyone_may_ask_for_the_catalog():
    assert policy.token_grant(None, Access("registry", "catalog", ("*",)), None, []) == ("*",)
    assert policy.token_grant(USER, Access("registry", "other", ("*",)), None, []) == ()


def test_who_sees_which_projects():
    projects = [PRIVATE, PUBLIC, P("secret")]
    assert policy.visible(ADMIN, projects, {}) == projects
    assert policy.visible(USER, projects, {"team": Role.GUEST, "secret": None}) == [PRIVATE, PUBLIC]
    assert policy.visible(robot(secret={"pull"}), projects, {}) == [PUBLIC, projects[2]]


def test_robot_permissions_are_parsed_once_and_confined_to_a_project_robots_own_project():
    permissions = [
        {"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "push"}]},
        {"kind": "project", "namespace": "other", "access": [{"resource": "repository", "action": "pull"}]},
        {"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "delete", "effect": "deny"}]},
    ]

    @dataclass
    class Robot:
        permissions: list
        level: str
        project: str | None

    assert policy.robot_grants(Robot(permissions, "system", None)) == {"team": {"push"}, "other": {"pull"}}
    assert policy.robot_grants(Robot(permissions, "project", "team")) == {"team": {"push"}}
