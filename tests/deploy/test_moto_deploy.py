"""The README's deployment on moto: infra/berth.yaml and infra/operations.yaml deployed into
CloudFormation, deploy/configure.py pointing the stage at their outputs, the bootstrap, and a
push and pull through the handler configured exactly as the Lambda function would be."""
from __future__ import annotations

import json
import os

import pytest

from deploy import configure
from tests.api.conftest import ApiClient
from tests.deploy.conftest import deploy
from tests.deploy.registry import ADMIN_PASSWORD, OCI_MANIFEST, MiB, Run, digest


def test_configure_points_the_stage_at_the_stacks(deployed):
    stage = deployed.config["stages"][deployed.stage]
    assert stage["api_gateway_stage"] == "v2"
    assert stage["autogen_policy"] is False
    assert stage["iam_policy_file"] == f"policy-{deployed.stage}.json"
    assert stage["environment_variables"] == {
        "BERTH_TABLE": deployed.data["TableName"],
        "BERTH_BUCKET": deployed.data["BucketName"],
        "BERTH_SSM_PREFIX": f"/berth/{deployed.stage}",
        "BERTH_EVENT_BUS": deployed.data["EventBusName"],
        # read by app.py while Chalice builds the app: the event functions' sources
        "BERTH_EVENT_STREAM_ARN": deployed.data["TableStreamArn"],
        "BERTH_AUDIT_QUEUE_ARN": deployed.data["AuditEventsQueueArn"],
        "BERTH_WEBHOOK_EVENTS_QUEUE_ARN": deployed.data["WebhookEventsQueueArn"],
        "BERTH_WEBHOOK_DELIVERIES_QUEUE_ARN": deployed.data["WebhookDeliveriesQueueArn"],
        "BERTH_WEBHOOK_QUEUE": deployed.data["WebhookDeliveriesQueueUrl"],
        "BERTH_REPLICATION_EVENTS_QUEUE_ARN": deployed.data["ReplicationEventsQueueArn"],
        "BERTH_REPLICATION_STATE_MACHINE": deployed.replication["ReplicationStateMachineArn"],
        # infra/gc.yaml: the state machine a garbage collection run executes
        "BERTH_GC_STATE_MACHINE": deployed.gc["GcStateMachineArn"],
        # infra/operations.yaml: the app's functions' names (the API invokes proxy_fill)
        "BERTH_FUNCTION_PREFIX": f"berth-{deployed.stage}-",
        # infra/schedules.yaml: jobs on a cron call run_schedule with the stage's role
        "BERTH_SCHEDULE_PREFIX": f"berth-{deployed.stage}-",
        "BERTH_SCHEDULE_TARGET_ARN": f"arn:aws:lambda:us-east-1:123456789012:function:berth-{deployed.stage}-run_schedule",
        "BERTH_SCHEDULE_ROLE_ARN": f"arn:aws:iam::123456789012:role/berth-{deployed.stage}-schedules",
    }
    assert stage["lambda_functions"]["challenge"]["iam_policy_file"] == f"policy-{deployed.stage}-challenge.json"
    assert stage["lambda_functions"]["api_handler"]["environment_variables"] == {"BERTH_PULL_RECORDING": "log"}
    # the rest of the file is kept: the other stages, the shared settings
    config = deployed.config
    assert {"dev", "prod", deployed.stage} <= set(config["stages"])
    assert config["environment_variables"]["BERTH_AUTH"] == "token"
    assert config["api_gateway_stage"] == "v2"


def test_operations_stack_creates_log_groups_with_retention_and_a_dashboard(deployed, moto_session):
    logs = moto_session.client("logs")
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/berth-{deployed.stage}")["logGroups"]
    }
    stage = deployed.stage
    assert groups == {
        f"/aws/lambda/berth-{stage}": 30,
        f"/aws/lambda/berth-{stage}-clean_up_uploads": 30,
        f"/aws/lambda/berth-{stage}-record_pulls": 30,
        f"/aws/lambda/berth-{stage}-replication_task": 30,
        f"/aws/lambda/berth-{stage}-replication_events": 30,
        f"/aws/lambda/berth-{stage}-run_schedule": 30,
        f"/aws/lambda/berth-{stage}-proxy_fill": 30,
        f"/aws/lambda/berth-{stage}-gc_task": 30,
        f"/aws/lambda/berth-{stage}-challenge": 30,
        f"/aws/lambda/berth-{stage}-forward_events": 30,
        f"/aws/lambda/berth-{stage}-audit_events": 30,
        f"/aws/lambda/berth-{stage}-webhook_events": 30,
        f"/aws/lambda/berth-{stage}-deliver_webhooks": 30,
    }
    body = moto_session.client("cloudwatch").get_dashboard(DashboardName=deployed.ops["DashboardName"])["DashboardBody"]
    widgets = json.loads(body)["widgets"]
    assert deployed.data["TableName"] in body and f'"berth-{stage}"' in body
    assert {w["type"] for w in widgets} == {"text", "metric", "log"}
    assert "AlarmTopicArn" not in deployed.ops  # no AlarmEmail: no topic


def test_alarm_email_creates_the_topic(moto_session, tmp_path):
    from tests.deploy.conftest import INFRA, deploy_stack

    cfn = moto_session.client("cloudformation")
    outputs = deploy_stack(
        cfn,
        "berth-mail-ops",
        INFRA / "operations.yaml",
        {"Stage": "mail", "TableName": "t-table", "BucketName": "t-bucket", "AlarmEmail": "ops@example.com"},
    )
    topic = outputs["AlarmTopicArn"]
    subscriptions = moto_session.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]


def test_print_modes_feed_the_readme_commands(deployed, moto_session, capsys):
    cfn = moto_session.client("cloudformation")
    stage = deployed.stage

    def printed(*args: str) -> str:
        assert configure.main(["--stage", stage, *args], cfn=cfn, project=deployed.project) == 0
        return capsys.readouterr().out.strip()

    assert printed("--print", "ops-parameters") == (
        f"Stage={stage} TableName={deployed.data['TableName']} BucketName={deployed.data['BucketName']}"
    )
    sources = " ".join(
        f"{key}={deployed.data[output]}"
        for key, output in (
            ("EventStreamArn", "TableStreamArn"), ("AuditEventsQueueArn", "AuditEventsQueueArn"),
            ("WebhookEventsQueueArn", "WebhookEventsQueueArn"), ("WebhookDeliveriesQueueArn", "WebhookDeliveriesQueueArn"),
            ("ReplicationEventsQueueArn", "ReplicationEventsQueueArn"),
        )
    )
    assert printed("--print", "app-parameters") == f"Stage={stage} {sources}"
    assert printed("--print", "app-parameters", "--public-url", "https://registry.example.com/") == (
        f"Stage={stage} {sources} PublicUrl=https://registry.example.com"
    )
    uploadhost = dict(pair.split("=", 1) for pair in printed("--print", "uploadhost-parameters").split())
    keys = ("TableName", "TableArn", "BucketName", "BucketArn", "SsmParameterArn")
    assert uploadhost == {"Stage": stage, **{k: deployed.data[k] for k in keys}}
    env = printed("--print", "env").splitlines()
    assert f"export BERTH_TABLE={deployed.data['TableName']}" in env
    assert f"export BERTH_SSM_PREFIX=/berth/{stage}" in env


def test_app_parameters_follow_the_configured_public_url(moto_session, tmp_path, capsys):
    deployment = deploy(moto_session, tmp_path)
    cfn, stage = moto_session.client("cloudformation"), deployment.stage
    args = ["--stage", stage, "--public-url", "https://registry.example.com"]
    assert configure.main(args, cfn=cfn, project=deployment.project) == 0
    assert deployment.stage_env["BERTH_PUBLIC_URL"] == "https://registry.example.com"
    assert configure.main(["--stage", stage], cfn=cfn, project=deployment.project) == 0  # kept
    capsys.readouterr()
    assert configure.main(["--stage", stage, "--print", "app-parameters"], cfn=cfn, project=deployment.project) == 0
    assert capsys.readouterr().out.strip().endswith("PublicUrl=https://registry.example.com")


def test_configure_names_what_is_missing(moto_session, tmp_path, capsys):
    cfn = moto_session.client("cloudformation")
    assert configure.main(["--stage", "nosuch"], cfn=cfn, project=tmp_path) == 1
    assert "berth-nosuch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        configure.main(["--stage", "Bad_Stage"], cfn=cfn, project=tmp_path)


def test_configure_refuses_a_malformed_url(deployed, moto_session, capsys):
    cfn = moto_session.client("cloudformation")
    args = ["--stage", deployed.stage, "--print", "env", "--public-url", "registry.example.com/v2"]
    assert configure.main(args, cfn=cfn, project=deployed.project) == 1
    assert "--public-url" in capsys.readouterr().err


@pytest.fixture
def configured_app(moto_session, tmp_path, monkeypatch):
    """A fresh stage: the stacks, configure.py, the bootstrap, and the app with the
    environment Chalice would give the Lambda function for that stage."""
    import app as app_module
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services

    deployment = deploy(moto_session, tmp_path)
    config = deployment.config
    env = {**config["environment_variables"], **deployment.stage_env}
    for name in [n for n in os.environ if n.startswith("BERTH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings.from_env()
    assert settings.auth == "token" and settings.table_name == deployment.data["TableName"]
    done = bootstrap(Services(settings, session=moto_session), admin_password=ADMIN_PASSWORD)
    assert done == {"list_sizes": False, "upload_key": True, "signing_key": True, "library": True, "admin": True}
    with app_module.serving(Services(settings, session=moto_session)):
        yield deployment, app_module


def test_push_and_pull_against_the_deployed_resources(configured_app, moto_session):
    deployment, app_module = configured_app
    run = Run(ApiClient(app_module.app))
    name = "library/hello"
    run.call("GET", "/v2/", 401)
    run.login(f"repository:{name}:pull,push")
    config = b'{"architecture":"amd64","os":"linux"}'
    config_digest = run.push_blob(name, config)
    layer = os.urandom(5 * MiB + 1000)
    layer_digest, _ = run.chunked(name, [layer[: 3 * MiB], layer[3 * MiB :]])
    image_digest, body = run.manifest(name, "v1", (config_digest, len(config)), [(layer_digest, len(layer))])

    # pull, as a client would: manifest by tag, then each blob through its presigned URL
    pulled = run.call("GET", f"/v2/{name}/manifests/v1", 200, headers={"Accept": OCI_MANIFEST})
    assert pulled.body == body and pulled.headers["docker-content-digest"] == image_digest
    s3 = moto_session.client("s3")
    for d, expected in ((config_digest, config), (layer_digest, layer)):
        location = run.call("GET", f"/v2/{name}/blobs/{d}", 307).headers["location"]
        bucket, key = location.split("?")[0].split("amazonaws.com/", 1)[1].split("/", 1)
        assert bucket == deployment.data["BucketName"]
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert data == expected and digest(data) == d
    # the bytes and the records are in this stage's bucket and table
    items = moto_session.client("dynamodb").scan(TableName=deployment.data["TableName"])["Items"]
    assert any(i["SK"]["S"] == "T#v1" for i in items)
