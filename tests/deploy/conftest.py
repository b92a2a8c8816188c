"""Deployment tests: the templates in infra/, deploy/configure.py, the IAM policy, `chalice
package`, the upload host's start command. AWS is moto; nothing here needs an account.

`deployed` deploys infra/berth.yaml, infra/operations.yaml, infra/replication.yaml, infra/gc.yaml and
infra/schedules.yaml into moto's CloudFormation
(in-process) as the README's commands do, and runs deploy/configure.py against them, on a
copy of .chalice/ in a temporary project, so the repository's config is never touched.
"""
from __future__ import annotations

import itertools
import json
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
REGION = "us-east-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# anything that could point boto3 at a real account or another endpoint
UNSET = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "AWS_SESSION_TOKEN")

_stages = itertools.count()


@dataclass
class Deployment:
    stage: str
    data: dict[str, str]  # outputs of infra/berth.yaml's stack
    ops: dict[str, str]  # outputs of infra/operations.yaml's stack
    replication: dict[str, str]  # outputs of infra/replication.yaml's stack
    gc: dict[str, str]  # outputs of infra/gc.yaml's stack
    project: Path  # a temporary project holding the configured .chalice/
    session: boto3.session.Session

    @property
    def config(self) -> dict:
        return json.loads((self.project / ".chalice" / "config.json").read_text())

    @property
    def policy(self) -> dict:
        return json.loads((self.project / ".chalice" / f"policy-{self.stage}.json").read_text())

    @property
    def stage_env(self) -> dict[str, str]:
        return self.config["stages"][self.stage]["environment_variables"]


def deploy_stack(cfn, name: str, template: Path, parameters: dict[str, str]) -> dict[str, str]:
    with warnings.catch_warnings():
        # moto builds no alarms (AWS::CloudWatch::Alarm); cfn-lint checks them (test_templates.py)
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudWatch::Alarm")
        cfn.create_stack(
            StackName=name,
            TemplateBody=template.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy(session, tmp: Path, stage: str | None = None) -> Deployment:
    """The README's first steps on moto: the infra stacks, then deploy/configure.py."""
    from deploy import configure

    stage = stage or f"d{next(_stages)}"
    cfn = session.client("cloudformation")
    data = deploy_stack(cfn, f"berth-{stage}", INFRA / "berth.yaml", {"Stage": stage})
    ops = deploy_stack(
        cfn,
        f"berth-{stage}-ops",
        INFRA / "operations.yaml",
        {"Stage": stage, "TableName": data["TableName"], "BucketName": data["BucketName"]},
    )
    replication = deploy_stack(cfn, f"berth-{stage}-replication", INFRA / "replication.yaml",
                               {"Stage": stage, "BucketArn": data["BucketArn"]})
    gc = deploy_stack(cfn, f"berth-{stage}-gc", INFRA / "gc.yaml", {"Stage": stage})
    deploy_stack(cfn, f"berth-{stage}-schedules", INFRA / "schedules.yaml", {"Stage": stage})
    project = tmp / f"project-{stage}"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    assert configure.main(["--stage", stage], cfn=cfn, project=project) == 0
    return Deployment(stage=stage, data=data, ops=ops, replication=replication, gc=gc, project=project, session=session)


@pytest.fixture(scope="module")
def moto_session() -> Iterator[boto3.session.Session]:
    """An in-process moto for one test module (tests/deploy/test_uploadhost_process.py talks
    to a moto server instead, which an active mock would intercept)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_ENV.items():
            mp.setenv(name, value)
        for name in UNSET:
            mp.delenv(name, raising=False)
        with mock_aws():
            yield boto3.session.Session(region_name=REGION)


@pytest.fixture(scope="module")
def deployed(moto_session, tmp_path_factory) -> Deployment:
    """A stage deployed and configured once per module (tests must not change it)."""
    return deploy(moto_session, tmp_path_factory.mktemp("deploy"))
