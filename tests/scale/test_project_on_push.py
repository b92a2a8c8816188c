"""A project created on push follows the rules of POST /projects (reserved names refused,
the same audit entry), with tests/api/auth's fixtures and a system admin of its own
(tests/api/auth/test_roles.py has the rest of the role table): in `make e2e`, since
draining the events of the pushes before it was most of its time in `make check`."""
from __future__ import annotations

import pytest

from tests.api.auth.conftest import api, checked_replies, unverified_claims, wired, world
from tests.api.auth.test_roles import token_for

__all__ = ["api", "checked_replies", "wired", "world"]  # fixtures


@pytest.fixture(scope="module", autouse=True)
def sysadmin(world):
    world.user("sysadmin", sysadmin=True)


def test_a_project_created_on_push_follows_the_rules_of_post_projects(world, api):
    """One rule for creating a project (chalicelib/projects.py): the reserved names are
    refused on both paths, and both leave the same audit entry."""
    for reserved in ("ui", "api", "service"):
        claims = unverified_claims(token_for(world, "sysadmin", f"repository:{reserved}/app:pull,push"))
        assert claims["access"][0]["actions"] == []
        assert world.svc.accounts.get_project(reserved) is None
    token_for(world, "sysadmin", "repository:audited/app:pull,push")
    world.drain_events()  # entered from its project.created event, as POST /projects' is
    entries = [e for e in world.svc.audit.matching(project="audited") if e.operation == "create"]
    assert [(e.username, e.resource_type, e.resource) for e in entries] == [("sysadmin", "project", "audited")]