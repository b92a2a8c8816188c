"""The CloudFormation templates in infra/: cfn-lint clean, and consistent with each other,
with .chalice/config.json and with what deploy/configure.py reads from them."""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
import yaml

from deploy import configure
from devstack.resources import load_template
from tests.deploy.conftest import INFRA, ROOT

FULL_TEMPLATES = {"berth.yaml", "operations.yaml", "replication.yaml", "gc.yaml", "schedules.yaml", "uploadhost.yaml"}  # deploy/stacks.py deploys each
# merged into Chalice's template by `chalice package`; linted merged (test_package.py)
FRAGMENTS = {"apigw-extras.yaml"}


def test_every_file_in_infra_is_a_known_template():
    assert {p.name for p in INFRA.iterdir() if p.is_file()} == FULL_TEMPLATES | FRAGMENTS


@pytest.mark.parametrize("name", sorted(FULL_TEMPLATES))
def test_cfn_lint(name):
    from cfnlint.api import lint_file

    matches = lint_file(INFRA / name)
    assert not matches, "\n".join(str(m) for m in matches)


def test_cfnlintrc_lints_the_same_set():
    rc = yaml.safe_load((ROOT / ".cfnlintrc").read_text())
    assert rc["templates"] == ["infra/*.yaml"]
    assert {Path(p).name for p in rc["ignore_templates"]} == FRAGMENTS


def test_data_stack_outputs_what_configure_and_the_app_read():
    outputs = load_template(INFRA / "berth.yaml")["Outputs"]
    assert set(configure.DATA_OUTPUTS) <= set(outputs)
    assert outputs["SsmPrefix"]["Value"] == {"Fn::Sub": "/berth/${Stage}"}


def test_schedules_stack_outputs_what_configure_reads():
    outputs = load_template(INFRA / "schedules.yaml")["Outputs"]
    assert set(configure.SCHEDULES_OUTPUTS) <= set(outputs)


def test_state_machine_stacks_output_what_configure_reads():
    assert set(configure.REPLICATION_OUTPUTS) <= set(load_template(INFRA / "replication.yaml")["Outputs"])
    assert set(configure.GC_OUTPUTS) <= set(load_template(INFRA / "gc.yaml")["Outputs"])


def test_operations_stack_outputs_what_configure_reads():
    outputs = load_template(INFRA / "operations.yaml")["Outputs"]
    assert set(configure.OPS_OUTPUTS) <= set(outputs)


@pytest.mark.parametrize("template", [configure.POLICY_TEMPLATE, configure.CHALLENGE_POLICY_TEMPLATE], ids=lambda p: p.name)
def test_policy_template_uses_only_stack_outputs(template):
    text = template.read_text()
    names = {m.group(1) for m in re.finditer(r"\$\{(\w+)\}", text)}
    outputs = (*configure.DATA_OUTPUTS, *configure.OPS_OUTPUTS, *configure.REPLICATION_OUTPUTS, *configure.GC_OUTPUTS,
               *configure.SCHEDULES_OUTPUTS)
    assert names and names <= set(outputs)
    json.loads(string.Template(text).substitute({n: f"arn:aws:x:::{n}" for n in names}))


def test_alarms_cover_errors_throttles_duration_and_the_5xx_rate():
    resources = load_template(INFRA / "operations.yaml")["Resources"]
    alarms = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = set()
    for props in alarms.values():
        metrics = [props] if "MetricName" in props else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        watched.update((m["Namespace"], m["MetricName"]) for m in metrics)
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"]["Fn::If"][0] == "HasAlarmEmail"
    assert {
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
    } <= watched
    duration = next(p for p in alarms.values() if p.get("MetricName") == "Duration")
    assert duration["ExtendedStatistic"] == "p99"


def test_duration_alarm_is_80_percent_of_the_functions_timeout():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    default = load_template(INFRA / "operations.yaml")["Parameters"]["DurationAlarmMilliseconds"]["Default"]
    assert default == int(config["lambda_timeout"] * 1000 * 0.8)
    assert config["lambda_timeout"] <= 29, "API Gateway stops waiting after 29 s"


def test_dashboard_body_is_json_once_substituted():
    body, names = load_template(INFRA / "operations.yaml")["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {"Stage": "prod", "TableName": "t", "BucketName": "b", "AWS::Region": "us-east-1", "AWS::Partition": "aws",
              "AWS::AccountId": "123456789012",
              "AWS::StackName": "berth-prod-ops", "DurationAlarmMilliseconds": "23000", **{k: "/aws/lambda/x" for k in names}}
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], body)
    widgets = json.loads(rendered)["widgets"]
    assert any(w["type"] == "log" for w in widgets)
    assert all(w["properties"].get("region", "us-east-1") == "us-east-1" for w in widgets)


def test_upload_host_task_runs_the_dockerfiles_image_with_the_apps_settings():
    resources = load_template(INFRA / "uploadhost.yaml")["Resources"]
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["PortMappings"][0]["ContainerPort"] == 8080
    env = {e["Name"] for e in container["Environment"]}
    assert {"BERTH_TABLE", "BERTH_BUCKET", "BERTH_SSM_PREFIX"} <= env
    assert resources["TargetGroup"]["Properties"]["HealthCheckPath"] == "/healthz"
    dockerfile = (ROOT / "uploadhost" / "Dockerfile").read_text()
    assert "EXPOSE 8080" in dockerfile and "PORT=8080" in dockerfile


def test_every_alarm_has_a_runbook_entry():
    """docs/runbook.md: what each alarm of every stack means and what to do (README links it)."""
    from deploy.stacks import plan

    runbook = (ROOT / "docs" / "runbook.md").read_text()
    headings = set(re.findall(r"^## (\w+) — ", runbook, flags=re.MULTILINE))
    alarms = {
        logical
        for stack in plan("prod")
        for logical, resource in (stack.body.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    }
    assert alarms and alarms == headings, f"in a template only: {alarms - headings}; in the runbook only: {headings - alarms}"
    assert "docs/runbook.md" in (ROOT / "README.md").read_text()
