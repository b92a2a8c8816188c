"""Accounts for the auth tests, written straight into a running stack's store.

There is no management API yet, so users, projects, members and robot
accounts are created through `chalicelib.services.Services` built on the
stack's own environment: the DynamoDB table, bucket and SSM prefix devstack
printed in its banner, on its moto server. The registry reads accounts at
token time (no cache of projects or memberships), so what is written here
counts from the next token request on.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"

# Harbor role ids (chalicelib.roles.Role)
PROJECT_ADMIN, DEVELOPER, GUEST, MAINTAINER, LIMITED_GUEST = 1, 2, 3, 4, 5


def stack_env(stack: Stack) -> dict[str, str]:
    """The environment the stack's app runs with, as far as the store needs it."""
    resources = stack.resources
    if not resources:
        import pytest

        pytest.fail("the stack printed no `resources: table X, bucket Y, SSM Z` banner line, so its "
                    "store cannot be opened to create accounts", pytrace=False)
    return {
        "BERTH_TABLE": resources["table"],
        "BERTH_BUCKET": resources["bucket"],
        "BERTH_SSM_PREFIX": resources["ssm"],
        "AWS_ENDPOINT_URL": stack.moto,
        "AWS_DEFAULT_REGION": REGION,
        **MOTO_CREDENTIALS,
    }


class _MotoSession:
    """A boto3 session whose clients all go to the stack's moto, whatever this
    process's own AWS environment says (profiles, per-service endpoints, ...)."""

    def __init__(self, env: dict[str, str]) -> None:
        import boto3

        self._endpoint = env["AWS_ENDPOINT_URL"]
        self._session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint, **kwargs)


def admin_store(stack: Stack):
    """`chalicelib.services.Services` on the stack's moto-backed resources."""
    from chalicelib.config import Settings
    from chalicelib.services import Services

    env = stack_env(stack)
    return Services(Settings.from_env(env), session=_MotoSession(env))


def create_user(svc, username: str, password: str, **fields: Any):
    from chalicelib.auth.passwords import hash_password
    from chalicelib.meta.accounts import User

    return svc.accounts.create_user(User(username=username, password_hash=hash_password(password), **fields))


def create_project(svc, name: str, *, public: bool = False):
    from chalicelib.meta.accounts import Project

    return svc.accounts.create_project(Project(name=name, public=public, owner="admin"))


def add_member(svc, project: str, username: str, role_id: int):
    from chalicelib.meta.accounts import Member

    return svc.accounts.add_member(project, Member(entity_type="u", entity_name=username, role_id=role_id))


def create_project_robot(svc, project: str, name: str, secret: str,
                         actions: tuple[str, ...] = ("pull", "push")):
    """A project-level robot `robot$<project>+<name>` with Harbor's permission list."""
    from chalicelib.auth.passwords import hash_password
    from chalicelib.meta.accounts import Robot, robot_full_name

    permissions = [{"kind": "project", "namespace": project,
                    "access": [{"resource": "repository", "action": a} for a in actions]}]
    return svc.accounts.create_robot(Robot(
        full_name=robot_full_name(name, project),
        secret_hash=hash_password(secret),
        level="project",
        project=project,
        permissions=json.dumps(permissions),
        description="berth e2e",
        creator="admin",
    ))
