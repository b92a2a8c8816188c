"""Garbage collection's tests: a registry on moto whose Step Functions executes
the state machine of infra/gc.yaml for real, each task handed to the app's gc_task in process
(devstack/workflows.py), with a clock the tests move (the grace period passes without
waiting). Images are pushed through the registry's own push path (the upload service and
artifacts.push_manifest, as /v2 calls them); tests/e2e/test_gc.py pushes with skopeo."""
from __future__ import annotations

import time
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from tests.api.management.conftest import ADMIN_PASSWORD, Harbor, World, checked_replies  # noqa: F401
from tests.conftest import create_stack, stack_env, use_fake_aws


class Clock:
    """time.time, moved forward by the tests."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(scope="package")
def _moto():
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            import app as app_module
            from devstack.workflows import install

            install(app_module, one_at_a_time=True)
            yield boto3.session.Session(region_name="us-east-1")


_stages = iter(range(10_000))


@pytest.fixture(scope="module")
def world(_moto):
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from devstack.workflows import create_gc_workflow

    stage = f"gc{next(_stages)}"
    outputs = create_stack(f"berth-{stage}", stage=stage, session=_moto)
    settings = Settings.from_env(stack_env(outputs, auth="token"))
    machine = create_gc_workflow(lambda service: _moto.client(service, region_name="us-east-1"), stage)
    clock = Clock()
    svc = Services(replace(settings, gc_state_machine=machine, gc_grace_seconds=3600), session=_moto, clock=clock)
    bootstrap(svc, admin_password=ADMIN_PASSWORD)
    from chalicelib.schedules import MemorySchedules

    svc.schedules = MemorySchedules()  # EventBridge Scheduler's contract (chalicelib/schedules.py)
    world = World(svc=svc, outputs={})
    world.clock = clock
    return world


@pytest.fixture(autouse=True)
def wired(world):
    import app as app_module

    with app_module.serving(world.svc):
        yield


@pytest.fixture
def admin(world) -> Harbor:
    return world.admin
