"""`make infra` (deploy/stacks.py, deploy/infra.py) over any set of templates in infra/: a new
template is deployed after the stacks whose outputs it takes, its Berth::Environment reaches
the Chalice stage; and the first start's admin password given once through SSM."""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from deploy import configure, stacks
from tests.deploy.conftest import INFRA, ROOT

EVENTS_TEMPLATE = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: "2010-09-09"
    Description: a stack another feature adds; it takes the data stack's table
    Metadata:
      Berth::Environment:
        BERTH_EVENT_QUEUE: QueueUrl
    Parameters:
      Stage:
        Type: String
      TableName:
        Type: String
    Resources:
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub berth-${Stage}-events-${TableName}
    Outputs:
      QueueUrl:
        Value: !Ref Queue
    """
)


@pytest.fixture
def infra(tmp_path, monkeypatch):
    """infra/ as it is, plus a template of a feature to come (a-events.yaml: sorts first)."""
    directory = tmp_path / "infra"
    shutil.copytree(INFRA, directory)
    (directory / "a-events.yaml").write_text(EVENTS_TEMPLATE)
    monkeypatch.setattr(stacks, "INFRA", directory)
    return directory


def test_plan_orders_by_outputs_and_skips_fragments(infra):
    plan = stacks.plan("prod", infra)
    names = [s.name for s in plan]
    assert names[0] == "berth-prod"  # the data stack: every other takes its outputs
    assert set(names) == {"berth-prod", "berth-prod-a-events", "berth-prod-ops", "berth-prod-replication", "berth-prod-gc",
                          "berth-prod-schedules", "berth-prod-uploadhost"}
    assert "apigw-extras" not in " ".join(names)  # a fragment for `chalice package`
    with pytest.raises(stacks.StackError):
        stacks.plan("Prod_1", infra)


def test_a_new_template_is_deployed_and_its_environment_configured(infra, moto_session, tmp_path, capsys):
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    cfn = moto_session.client("cloudformation")

    outputs = stacks.deploy(cfn, "ev1", {}, infra, say=print)
    assert outputs["QueueUrl"].endswith("berth-ev1-events-" + outputs["TableName"])
    printed = capsys.readouterr().out
    assert "berth-ev1-a-events: created" in printed and "berth-ev1-uploadhost: skipped" in printed

    assert configure.main(["--stage", "ev1"], cfn=cfn, project=project) == 0
    env = json.loads((project / ".chalice" / "config.json").read_text())["stages"]["ev1"]["environment_variables"]
    assert env["BERTH_EVENT_QUEUE"] == outputs["QueueUrl"] and env["BERTH_TABLE"] == outputs["TableName"]

    again = stacks.deploy(cfn, "ev1", {}, infra, say=print)
    assert again == outputs
    assert capsys.readouterr().out.count(": unchanged") == 6


def test_the_admin_password_given_once_through_ssm_is_deleted_once_used(moto_session, tmp_path):
    from chalicelib import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from tests.deploy.conftest import deploy

    deployment = deploy(moto_session, tmp_path)
    settings = Settings.from_env({**deployment.config["environment_variables"], **deployment.stage_env})
    svc = Services(settings, session=moto_session)
    ssm = moto_session.client("ssm")
    name = f"{settings.ssm_prefix}/{bootstrap.ADMIN_PASSWORD_PARAMETER}"

    lines = bootstrap.first_start(svc, bootstrap.given_admin_password(svc, environ={}))
    assert any(line.startswith("admin: not created") for line in lines)

    ssm.put_parameter(Name=name, Value="the-first-password-1", Type="SecureString")
    given = bootstrap.given_admin_password(svc, environ={})
    assert given == bootstrap.GivenPassword("the-first-password-1", name)
    lines = bootstrap.first_start(svc, given)
    assert "admin: created" in lines and f"{name}: read once and deleted" in lines
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=name)
    user = svc.accounts.get_user("admin")
    assert user.sysadmin and "the-first-password-1" not in json.dumps(user.__dict__, default=str)
    # given again later, it changes nothing and is deleted all the same
    ssm.put_parameter(Name=name, Value="another-password-2", Type="SecureString")
    lines = bootstrap.first_start(svc, bootstrap.given_admin_password(svc, environ={}))
    assert "admin: already there" in lines
    assert ssm.get_parameters_by_path(Path=f"{settings.ssm_prefix}/bootstrap")["Parameters"] == []
