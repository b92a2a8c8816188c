"""The README's `chalice deploy` sequence, run as written against moto in server mode, and what
exists afterwards; then the same sequence again (nothing changes), and the README's deletion
(nothing is left but the data).

The commands are read from README's "Deploying to AWS" section and run with bash in a copy of
the project, with AWS_ENDPOINT_URL pointing boto3 (and so Chalice) at moto. Two departures,
both named: the project's requirements.txt is empty (the dependencies do not change what is
deployed, and bundling them would download manylinux wheels; the bundle's size is measured by
`make bench`, bench/package.py), and `make` is told that the virtual environment is up to date
(`-o .venv/.installed-stack`; it is the test's own).

What moto lacks (tests/deploy/moto_apigw.py, MOTO_LACKS): it cannot import the Swagger 2.0
document Chalice sends for the REST API, and creates no authorizer from one; the bridge there
hands moto the same paths as OpenAPI 3, and the authorizer is checked in the document Chalice
sent. moto does not run API Gateway in front of Lambda either, so `docker login` itself is
not run here (tests/e2e drive docker against the local stack).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import boto3
import pytest

from tests.deploy.apigw_routes import GUARDED, OPEN, guarded_by, resource_for
from tests.deploy.conftest import INFRA, REGION, ROOT, UNSET
from tests.deploy.moto_apigw import MOTO_LACKS, BridgedMotoServer

# moto builds no alarms (AWS::CloudWatch::Alarm); cfn-lint checks them (test_templates.py)
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.{2}CloudWatch.{2}Alarm")
STAGE = "prod"
ADMIN_PASSWORD = "a-long-admin-password-for-the-test"
FUNCTIONS = {  # name -> (handler, memory MB, timeout s), as .chalice/config.json sets them
    f"berth-{STAGE}": ("app.app", 1024, 29),
    f"berth-{STAGE}-challenge": ("app.challenge", 256, 5),
    f"berth-{STAGE}-clean_up_uploads": ("app.clean_up_uploads", 256, 300),
    f"berth-{STAGE}-record_pulls": ("app.record_pulls", 256, 60),
    f"berth-{STAGE}-replication_task": ("app.replication_task", 1024, 900),
    f"berth-{STAGE}-replication_events": ("app.replication_events", 256, 60),
    f"berth-{STAGE}-run_schedule": ("app.run_schedule", 256, 60),
    f"berth-{STAGE}-proxy_fill": ("app.proxy_fill", 1024, 900),
    f"berth-{STAGE}-gc_task": ("app.gc_task", 512, 900),
    f"berth-{STAGE}-forward_events": ("app.forward_events", 256, 60),
    f"berth-{STAGE}-audit_events": ("app.audit_events", 256, 60),
    f"berth-{STAGE}-webhook_events": ("app.webhook_events", 256, 60),
    f"berth-{STAGE}-deliver_webhooks": ("app.deliver_webhooks", 256, 60),
}


def readme_commands(marker: str, *starts: str) -> list[str]:
    """The lines that start with one of `starts` in the first block of README's 'Deploying to
    AWS' section that holds `marker`, without their trailing comments."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Deploying to AWS") :]
    block = next(b for b in re.findall(r"```\n(.*?)```", section, flags=re.DOTALL) if marker in b)
    return [line.split("   #")[0].strip() for line in block.splitlines() if line.startswith(starts)]


DEPLOY = readme_commands("chalice deploy", "make infra ", "chalice deploy ", "make finish ", "HOST=$(")
DELETE = readme_commands("chalice delete", "chalice delete ", "make infra-delete ")


def test_the_readme_shows_chalice_deploy_first():
    assert DEPLOY[:3] == [
        "make infra STAGE=$STAGE INFRA_ARGS=AlarmEmail=ops@example.com",
        "chalice deploy --stage $STAGE",
        "make finish STAGE=$STAGE",
    ]
    assert DEPLOY[3].startswith("HOST=$(")
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Deploying to AWS") :]
    assert section.index("chalice deploy --stage") < section.index("chalice package")
    assert "docker login $HOST" in section and "docker push $HOST/" in section
    assert DELETE == ["chalice delete --stage $STAGE", "make infra-delete STAGE=$STAGE"]


class Stage:
    """The project copy, moto, and a way to run README lines against them."""

    def __init__(self, project: Path, moto: BridgedMotoServer) -> None:
        self.project = project
        self.moto = moto
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith(("AWS_", "BERTH_"))},
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "STAGE": STAGE,
            "BERTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MAKEFLAGS": "-o .venv/.installed-stack -o .venv/.installed",
        }

    def client(self, name: str):
        return self.session.client(name, endpoint_url=self.moto.url)

    def run(self, command: str) -> str:
        result = subprocess.run(
            ["bash", "-c", f"set -e -o pipefail\n{command}"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"$ {command}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def deploy(self) -> dict[str, str]:
        outputs = {}
        for command in DEPLOY:
            if command.startswith("HOST=$("):
                outputs["HOST"] = self.run(f"{command}\necho \"$HOST\"").strip()
            else:
                outputs[command.split()[0] + " " + command.split()[1]] = self.run(command)
        return outputs

    def api_id(self) -> str:
        apis = self.client("apigateway").get_rest_apis()["items"]
        assert len(apis) == 1, apis
        return apis[0]["id"]


def copy_project(target: Path) -> Path:
    for name in ("app.py", "Makefile", "requirements-dev.txt", "requirements-stack.txt"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("chalicelib", "deploy", "infra"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    (target / ".chalice").mkdir()
    shutil.copy2(ROOT / ".chalice" / "config.json", target / ".chalice" / "config.json")
    (target / "requirements.txt").write_text("")
    (target / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return target


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    with warnings.catch_warnings(), BridgedMotoServer() as moto:
        warnings.simplefilter("ignore", ResourceWarning)
        stage = Stage(copy_project(tmp_path_factory.mktemp("project")), moto)
        stage.outputs = stage.deploy()
        yield stage


def stack_outputs(stage: Stage, name: str) -> dict[str, str]:
    stack = stage.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_moto_gap_is_bridged_and_named(stage):
    # Chalice sent its Swagger 2.0 document; moto would refuse it (MOTO_LACKS)
    assert stage.moto.bridge.documents and stage.moto.bridge.documents[-1]["swagger"] == "2.0", MOTO_LACKS


def test_infra_made_the_stacks_and_pointed_the_stage_at_them(stage):
    cfn = stage.client("cloudformation")
    stacks = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    assert stacks == {f"berth-{STAGE}": "CREATE_COMPLETE", f"berth-{STAGE}-ops": "CREATE_COMPLETE",
                      f"berth-{STAGE}-replication": "CREATE_COMPLETE", f"berth-{STAGE}-gc": "CREATE_COMPLETE",
                      f"berth-{STAGE}-schedules": "CREATE_COMPLETE"}
    assert "berth-prod-uploadhost: skipped" in stage.outputs["make infra"]  # optional: needs an image, a VPC, ...
    data = stack_outputs(stage, f"berth-{STAGE}")
    config = json.loads((stage.project / ".chalice" / "config.json").read_text())
    env = config["stages"][STAGE]["environment_variables"]
    assert (env["BERTH_TABLE"], env["BERTH_BUCKET"], env["BERTH_SSM_PREFIX"]) == (
        data["TableName"], data["BucketName"], f"/berth/{STAGE}"
    )
    machine = stack_outputs(stage, f"berth-{STAGE}-replication")["ReplicationStateMachineArn"]
    assert env["BERTH_REPLICATION_STATE_MACHINE"] == machine
    assert stage.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["name"] == f"berth-{STAGE}-replication"
    gc_machine = stack_outputs(stage, f"berth-{STAGE}-gc")["GcStateMachineArn"]
    assert env["BERTH_GC_STATE_MACHINE"] == gc_machine
    assert stage.client("stepfunctions").describe_state_machine(stateMachineArn=gc_machine)["name"] == f"berth-{STAGE}-gc"
    # jobs on a cron (infra/schedules.yaml): the run_schedule function, with the stage's role
    schedules = stack_outputs(stage, f"berth-{STAGE}-schedules")
    assert (env["BERTH_SCHEDULE_PREFIX"], env["BERTH_SCHEDULE_TARGET_ARN"], env["BERTH_SCHEDULE_ROLE_ARN"]) == (
        f"berth-{STAGE}-", schedules["ScheduleTargetArn"], schedules["ScheduleRoleArn"])
    assert schedules["ScheduleTargetArn"].endswith(f":function:berth-{STAGE}-run_schedule")
    topic = stack_outputs(stage, f"berth-{STAGE}-ops")["AlarmTopicArn"]
    subscriptions = stage.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == ["ops@example.com"]


def test_functions_with_their_settings_and_the_stages_policy(stage):
    lam, iam = stage.client("lambda"), stage.client("iam")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert {name: (f["Handler"], f["MemorySize"], f["Timeout"]) for name, f in functions.items()} == FUNCTIONS
    data = stack_outputs(stage, f"berth-{STAGE}")
    api_env = functions[f"berth-{STAGE}"]["Environment"]["Variables"]
    assert api_env["BERTH_TABLE"] == data["TableName"] and api_env["BERTH_BUCKET"] == data["BucketName"]
    assert api_env["BERTH_PULL_RECORDING"] == "log" and api_env["BERTH_AUTH"] == "token"
    assert "BERTH_PULL_RECORDING" not in functions[f"berth-{STAGE}-record_pulls"]["Environment"]["Variables"]
    policy = json.loads((stage.project / ".chalice" / f"policy-{STAGE}.json").read_text())
    challenge = json.loads((stage.project / ".chalice" / f"policy-{STAGE}-challenge.json").read_text())
    for name, function in functions.items():
        role = function["Role"].rsplit("/", 1)[1]
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        documents = [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]
        # the authorizer reads nothing: it may write its own log, no more
        assert documents == [challenge if name.endswith("-challenge") else policy], role
    group = stack_outputs(stage, f"berth-{STAGE}-ops")["ChallengeFunctionLogGroupArn"]
    assert [s["Resource"] for s in challenge["Statement"]] == [f"{group}:*"]


def test_event_sources_the_schedule_and_the_pull_log_subscription(stage):
    events, logs, lam = stage.client("events"), stage.client("logs"), stage.client("lambda")
    arns = {f["FunctionName"]: f["FunctionArn"] for f in lam.list_functions()["Functions"]}
    rules = events.list_rules()["Rules"]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 hour)"]
    targets = events.list_targets_by_rule(Rule=rules[0]["Name"])["Targets"]
    assert [t["Arn"] for t in targets] == [arns[f"berth-{STAGE}-clean_up_uploads"]]
    filters = logs.describe_subscription_filters(logGroupName=f"/aws/lambda/berth-{STAGE}")["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["destinationArn"]) for f in filters] == [
        (f"berth-{STAGE}-pulls", '{ $.message = "pull" }', arns[f"berth-{STAGE}-record_pulls"])
    ]
    statements = json.loads(lam.get_policy(FunctionName=f"berth-{STAGE}-record_pulls")["Policy"])["Statement"]
    assert [s["Principal"] for s in statements] == [{"Service": "logs.amazonaws.com"}]
    # the domain events' sources (docs/events.md): the table's stream and the audit queue,
    # the deployment's own ARNs (app.py reads them from the stage's environment)
    data = stack_outputs(stage, f"berth-{STAGE}")
    mappings = {m["FunctionArn"].rsplit(":", 1)[-1]: m["EventSourceArn"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert mappings == {
        f"berth-{STAGE}-forward_events": data["TableStreamArn"],
        f"berth-{STAGE}-audit_events": data["AuditEventsQueueArn"],
        f"berth-{STAGE}-webhook_events": data["WebhookEventsQueueArn"],
        f"berth-{STAGE}-deliver_webhooks": data["WebhookDeliveriesQueueArn"],
        f"berth-{STAGE}-replication_events": data["ReplicationEventsQueueArn"],
    }
    # every function's log group is the operations stack's (retention from the first line)
    groups = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]}
    assert {f"/aws/lambda/{name}" for name in FUNCTIONS} <= groups


def test_rest_api_stage_v2_routes_and_chalices_authorizer(stage):
    apigw, lam = stage.client("apigateway"), stage.client("lambda")
    api_id = stage.api_id()
    assert apigw.get_rest_api(restApiId=api_id)["name"] == f"berth-{STAGE}"  # the alarms' ApiName
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]] == ["v2"]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    api_arn = lam.get_function(FunctionName=f"berth-{STAGE}")["Configuration"]["FunctionArn"]
    for path in ("/", "/{proxy+}", "/service/{proxy+}", "/api/{proxy+}", "/c/login", "/ui/{asset}"):
        integration = apigw.get_integration(restApiId=api_id, resourceId=resources[path]["id"], httpMethod="GET")
        assert integration["type"].upper() == "AWS_PROXY" and api_arn in integration["uri"], path
    # the authorizer, where API Gateway reads it: the document Chalice sent (MOTO_LACKS)
    document = stage.moto.bridge.documents[-1]
    for path in GUARDED:
        assert guarded_by(document, resource_for(document["paths"], path)) == {"challenge"}, path
    for path in OPEN:
        assert guarded_by(document, resource_for(document["paths"], path)) == set(), path
    authorizer = document["securityDefinitions"]["challenge"]["x-amazon-apigateway-authorizer"]
    challenge_arn = lam.get_function(FunctionName=f"berth-{STAGE}-challenge")["Configuration"]["FunctionArn"]
    assert authorizer["type"] == "token" and challenge_arn in authorizer["authorizerUri"]
    statements = json.loads(lam.get_policy(FunctionName=challenge_arn)["Policy"])["Statement"]
    assert any(s["Principal"] == {"Service": "apigateway.amazonaws.com"} for s in statements)


def test_gateway_response_carries_the_challenge_in_the_stages_deployment(stage):
    apigw = stage.client("apigateway")
    api_id = stage.api_id()
    host = f"{api_id}.execute-api.{REGION}.amazonaws.com"
    assert stage.outputs["HOST"] == host  # the README's HOST=$(...) line
    response = apigw.get_gateway_response(restApiId=api_id, responseType="UNAUTHORIZED")
    assert response["statusCode"] == "401"
    assert response["responseParameters"] == {
        "gatewayresponse.header.WWW-Authenticate": f"'Bearer realm=\"https://{host}/v2/service/token\",service=\"berth-registry\"'",
        "gatewayresponse.header.Docker-Distribution-API-Version": "'registry/2.0'",
    }
    deployment = apigw.get_stage(restApiId=api_id, stageName="v2")["deploymentId"]
    assert apigw.get_deployment(restApiId=api_id, deploymentId=deployment)["description"].startswith("berth finish: Bearer")


def test_first_start_secrets_library_and_admin_never_in_plain_text(stage):
    ssm = stage.client("ssm")
    parameters = ssm.get_parameters_by_path(Path=f"/berth/{STAGE}", Recursive=True)["Parameters"]
    assert {p["Name"].rsplit("/", 1)[1]: p["Type"] for p in parameters} == {
        "token-signing-key": "SecureString", "upload-token-key": "SecureString"
    }
    table = stack_outputs(stage, f"berth-{STAGE}")["TableName"]
    items = json.dumps(stage.client("dynamodb").scan(TableName=table)["Items"])
    assert ADMIN_PASSWORD not in items
    assert '"admin"' in items and '"library"' in items
    assert "admin: created" in stage.outputs["make finish"] and "library: created" in stage.outputs["make finish"]


def snapshot(stage: Stage) -> dict:
    """What the sequence deployed, minus what moves on its own (times, request ids)."""
    lam, apigw, cfn = stage.client("lambda"), stage.client("apigateway"), stage.client("cloudformation")
    api_id = stage.api_id()
    return {
        "functions": sorted(
            (f["FunctionName"], f["Handler"], f["MemorySize"], f["Timeout"], f["Role"], json.dumps(f.get("Environment")))
            for f in lam.list_functions()["Functions"]
        ),
        "policies": {name: json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"] for name in FUNCTIONS if name.endswith(("challenge", "record_pulls"))},
        "rules": stage.client("events").list_rules()["Rules"],
        "mappings": sorted(
            (m["FunctionArn"], m["EventSourceArn"], m["BatchSize"])
            for m in stage.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        ),
        "filters": stage.client("logs").describe_subscription_filters(logGroupName=f"/aws/lambda/berth-{STAGE}")["subscriptionFilters"],
        "api": (api_id, apigw.get_rest_api(restApiId=api_id)["name"]),
        "resources": sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]),
        "response": apigw.get_gateway_response(restApiId=api_id, responseType="UNAUTHORIZED")["responseParameters"],
        "stacks": sorted(
            (s["StackName"], s["StackStatus"], json.dumps(s.get("Outputs"), sort_keys=True, default=str))
            for s in cfn.describe_stacks()["Stacks"]
        ),
        "roles": sorted(r["RoleName"] for r in stage.client("iam").list_roles()["Roles"]),
        "parameters": sorted(
            (p["Name"], p["Version"]) for p in stage.client("ssm").get_parameters_by_path(Path="/berth", Recursive=True)["Parameters"]
        ),
    }


def test_running_the_sequence_again_changes_nothing_and_deleting_leaves_only_the_data(stage):
    before = snapshot(stage)
    outputs = stage.deploy()
    assert snapshot(stage) == before
    assert "berth-prod: unchanged" in outputs["make infra"] and "berth-prod-ops: unchanged" in outputs["make infra"]
    # `chalice deploy` made a deployment of its own (from the same definition), which
    # `make finish` follows with one that surely holds the gateway response
    assert "stage v2 deployed with it: done" in outputs["make finish"]
    assert "admin: already there" in outputs["make finish"]
    again = stage.run("make finish STAGE=$STAGE")
    assert again.count(": unchanged") == 4, again  # name, response, stage, subscription

    data = stack_outputs(stage, f"berth-{STAGE}")
    deployment_bucket = stack_outputs(stage, f"berth-{STAGE}-ops")["DeploymentBucketName"]
    stage.client("s3").put_object(Bucket=deployment_bucket, Key="deployment.zip", Body=b"x")  # as `aws cloudformation package` leaves
    for command in DELETE:
        stage.run(command)

    assert stage.client("lambda").list_functions()["Functions"] == []
    assert stage.client("apigateway").get_rest_apis()["items"] == []
    assert [r["RoleName"] for r in stage.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("berth")] == []
    assert stage.client("events").list_rules()["Rules"] == []
    assert [b["Name"] for b in stage.client("events").list_event_buses()["EventBuses"]] == ["default"]
    assert stage.client("sqs").list_queues().get("QueueUrls", []) == []
    assert stage.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert stage.client("logs").describe_log_groups()["logGroups"] == []
    assert stage.client("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert stage.client("sns").list_topics()["Topics"] == []
    assert stage.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert [s["StackName"] for s in stage.client("cloudformation").describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"] == []
    # kept on purpose: the blobs, the metadata and (belonging to no stack) the secrets
    assert [b["Name"] for b in stage.client("s3").list_buckets()["Buckets"]] == [data["BucketName"]]
    assert stage.client("dynamodb").list_tables()["TableNames"] == [data["TableName"]]
    assert snapshot_parameters(stage) == [f"/berth/{STAGE}/token-signing-key", f"/berth/{STAGE}/upload-token-key"]
    assert INFRA.is_dir()


def snapshot_parameters(stage: Stage) -> list[str]:
    return sorted(p["Name"] for p in stage.client("ssm").get_parameters_by_path(Path="/berth", Recursive=True)["Parameters"])
