"""`chalice package` for the prod stage, merged with infra/apigw-extras.yaml, as the README
deploys it: it succeeds without AWS credentials, its API routes every OCI path shape to the
app through Chalice's `challenge` authorizer (and the token service, management API and
console without it), passes cfn-lint and AWS SAM's own transform, and the small function it
adds (the stage redeployer) behaves. The authorizer's decisions: tests/unit/test_challenge.py.

The package is built from a copy of the project whose .chalice/ was configured by
deploy/configure.py against moto, with an empty requirements.txt: the dependencies do not
change the template, and resolving them would need the network.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from tests.deploy.apigw_routes import GUARDED, OPEN, guarded_by, resource_for
from tests.deploy.conftest import INFRA, ROOT, deploy

CHALICE = Path(sys.executable).parent / "chalice"
API_ID, REGION, ACCOUNT = "abc123defg", "us-east-1", "123456789012"


@pytest.fixture(scope="module")
def prod(moto_session, tmp_path_factory):
    return deploy(moto_session, tmp_path_factory.mktemp("prod"), stage="prod")


@pytest.fixture(scope="module")
def packaged(prod, tmp_path_factory) -> dict:
    project = prod.project
    shutil.copy(ROOT / "app.py", project / "app.py")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "requirements.txt").write_text("")
    out = tmp_path_factory.mktemp("package") / "out"
    # no credentials and no AWS configuration: packaging must not call AWS
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(project),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = subprocess.run(
        [str(CHALICE), "package", "--stage", "prod", "--merge-template", str(INFRA / "apigw-extras.yaml"), str(out)],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "deployment.zip").stat().st_size > 0
    path = out / "sam.yaml"
    return {"path": path, "template": yaml.safe_load(path.read_text()), "policy": prod.policy}


def resources_of(template: dict, kind: str) -> dict:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def sub(value, params: dict[str, str]) -> str:
    """Resolve the Fn::Sub / Ref / Fn::If forms this template uses, with HasPublicUrl from params."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return params[value["Ref"]]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: params[m.group(1)], text)
    if "Fn::If" in value:
        condition, yes, no = value["Fn::If"]
        assert condition == "HasPublicUrl"
        return sub(yes if params.get("PublicUrl") else no, params)
    raise AssertionError(value)


PARAMS = {
    "Stage": "prod",
    "RestAPI": API_ID,
    "AWS::Region": REGION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::Partition": "aws",
    "AWS::AccountId": ACCOUNT,
    "TokenService": "berth-registry",
    "PublicUrl": "",
    "EventStreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/berth-prod-MetadataTable-X/stream/2026-01-01T00:00:00.000",
    "AuditEventsQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:berth-prod-AuditEventsQueue-X",
    "WebhookEventsQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:berth-prod-WebhookEventsQueue-X",
    "WebhookDeliveriesQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:berth-prod-WebhookDeliveriesQueue-X",
    "ReplicationEventsQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:berth-prod-ReplicationEventsQueue-X",
}


# -- the API ---------------------------------------------------------------------------------
def test_api_is_stage_v2_regional_binary_and_named_after_the_stage(packaged):
    api = packaged["template"]["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    props = api["Properties"]
    assert props["StageName"] == "v2"
    assert props["EndpointConfiguration"] == "REGIONAL"
    assert sub(props["Name"], PARAMS) == "berth-prod"
    assert props["DefinitionBody"]["x-amazon-apigateway-binary-media-types"] == ["*/*"]


def test_oci_routes_have_chalices_authorizer_and_the_others_none(packaged):
    body = packaged["template"]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy", (path, method)
            assert "${APIHandler.Arn}" in integration["uri"]["Fn::Sub"]
            assert "*/*" in operation["consumes"]
    for path in GUARDED:
        assert guarded_by(body, resource_for(body["paths"], path)) == {"challenge"}, path
    for path in OPEN:
        assert guarded_by(body, resource_for(body["paths"], path)) == set(), path
    definition = body["securityDefinitions"]["challenge"]
    assert (definition["in"], definition["name"]) == ("header", "Authorization")
    authorizer = definition["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token"
    assert "${Challenge.Arn}" in authorizer["authorizerUri"]["Fn::Sub"]


# -- the functions ---------------------------------------------------------------------------
def test_functions_carry_the_stage_settings_and_the_policy_file(packaged, prod):
    functions = resources_of(packaged["template"], "AWS::Serverless::Function")
    assert set(functions) == {
        "APIHandler", "Challenge", "CleanUpUploads", "RecordPulls", "ForwardEvents", "AuditEvents", "WebhookEvents",
        "DeliverWebhooks", "ReplicationTask", "ReplicationEvents", "RunSchedule",
        "ProxyFill", "GcTask",
    }
    api, clean_up = functions["APIHandler"]["Properties"], functions["CleanUpUploads"]["Properties"]
    assert api["Handler"] == "app.app" and api["Runtime"].startswith("python3")
    assert (api["MemorySize"], api["Timeout"]) == (1024, 29)
    assert (clean_up["MemorySize"], clean_up["Timeout"]) == (256, 300)
    variables = api["Environment"]["Variables"]
    assert variables["BERTH_TABLE"] == prod.data["TableName"]
    assert variables["BERTH_BUCKET"] == prod.data["BucketName"]
    assert variables["BERTH_SSM_PREFIX"] == "/berth/prod"
    assert variables["BERTH_AUTH"] == "token"
    assert variables["BERTH_EVENT_BUS"] == prod.data["EventBusName"]
    # pulls are recorded from their log lines (PullLogSubscription), off the request path
    assert variables["BERTH_PULL_RECORDING"] == "log"
    assert "BERTH_PULL_RECORDING" not in functions["RecordPulls"]["Properties"]["Environment"]["Variables"]
    challenge = functions["Challenge"]["Properties"]
    assert challenge["Handler"] == "app.challenge" and challenge["MemorySize"] == 256
    challenge_policy = json.loads((prod.project / ".chalice" / "policy-prod-challenge.json").read_text())
    for name, function in functions.items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = packaged["template"]["Resources"][role]["Properties"]["Policies"]
        expected = challenge_policy if name == "Challenge" else packaged["policy"]
        assert [p["PolicyDocument"] for p in policies] == [expected], name


def test_every_function_has_a_log_group_and_alarms_in_the_operations_stack(packaged):
    ops = (INFRA / "operations.yaml").read_text()
    names = []
    for logical, function in packaged["template"]["Resources"].items():
        if function["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function") and logical != "StageRedeployer":
            assert "FunctionName" in function["Properties"], logical
            names.append(function["Properties"]["FunctionName"]["Fn::Sub"])
    assert sorted(names) == [
        "berth-${Stage}", "berth-${Stage}-audit_events", "berth-${Stage}-challenge",
        "berth-${Stage}-clean_up_uploads", "berth-${Stage}-deliver_webhooks", "berth-${Stage}-forward_events",
        "berth-${Stage}-gc_task", "berth-${Stage}-proxy_fill", "berth-${Stage}-record_pulls", "berth-${Stage}-replication_events",
        "berth-${Stage}-replication_task", "berth-${Stage}-run_schedule", "berth-${Stage}-webhook_events",
    ]
    for name in names:
        assert f"LogGroupName: !Sub /aws/lambda/{name}\n" in ops, name
        assert f"Value: !Sub {name}\n" in ops, f"no alarm watches {name}"


# -- the challenge ---------------------------------------------------------------------------
def test_unauthorized_gateway_response_carries_the_apps_challenge(packaged):
    from chalicelib.auth.token_authorizer import TokenAuthorizer
    from chalicelib.web.http import Headers, Request

    response = packaged["template"]["Resources"]["UnauthorizedResponse"]["Properties"]
    assert response["ResponseType"] == "UNAUTHORIZED" and response["StatusCode"] == "401"
    assert sub(response["RestApiId"], PARAMS) == API_ID
    headers = response["ResponseParameters"]
    assert headers["gatewayresponse.header.Docker-Distribution-API-Version"] == "'registry/2.0'"
    assert json.loads(response["ResponseTemplates"]["application/json"])["errors"][0]["code"] == "UNAUTHORIZED"

    host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    for public_url, expected_host in (("", host), ("https://registry.example.com", "registry.example.com")):
        value = sub(headers["gatewayresponse.header.WWW-Authenticate"], {**PARAMS, "PublicUrl": public_url})
        assert value.startswith("'") and value.endswith("'"), "a static value is quoted"
        challenge = value[1:-1]
        # what the app itself would say, minus the scope (which the gateway cannot know)
        app = TokenAuthorizer(lambda: None, service="berth-registry", public_url=public_url)
        request = Request(method="GET", path="", query={}, headers=Headers({"Host": expected_host}), body=None)
        assert challenge == f'Bearer realm="{app.realm(request)}",service="berth-registry"'
        assert re.fullmatch(r'Bearer realm="https://[^"/]+/v2/service/token",service="[^"]+"', challenge)
    # the `chalice deploy` path puts the same response (deploy/finish.py)
    from deploy.finish import challenge as deployed_challenge
    from deploy.finish import gateway_response

    wanted = gateway_response(deployed_challenge(f"https://{host}", "berth-registry"))
    assert wanted["statusCode"] == response["StatusCode"]
    assert wanted["responseTemplates"] == response["ResponseTemplates"]
    assert wanted["responseParameters"] == {key: sub(value, PARAMS) for key, value in headers.items()}


def test_the_stage_is_deployed_again_after_the_gateway_response(packaged):
    resources = packaged["template"]["Resources"]
    redeploy = resources["ChallengeRedeployment"]
    assert set(redeploy["DependsOn"]) == {"UnauthorizedResponse", "RestAPIv2Stage"}
    assert redeploy["Properties"]["StageName"] == "v2"
    # the stage's logical id is SAM's (<api>< stage>Stage): checked by the transform below


def test_sam_transform_and_cfn_lint_accept_the_package(packaged, monkeypatch):
    from cfnlint.api import lint_file
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    matches = [m for m in lint_file(packaged["path"]) if m.rule.id[0] in "EW"]
    assert not matches, "\n".join(str(m) for m in matches)

    template = json.loads(json.dumps(packaged["template"]))
    for function in resources_of(template, "AWS::Serverless::Function").values():
        function["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"  # as `aws cloudformation package` does
    parameters = {k: PARAMS[k] for k in ("Stage", "PublicUrl", "TokenService", "EventStreamArn", "AuditEventsQueueArn",
                                    "WebhookEventsQueueArn", "WebhookDeliveriesQueueArn", "ReplicationEventsQueueArn")}
    out = transform(template, parameters, _NoManagedPolicies())
    resources = out["Resources"]
    assert resources["RestAPIv2Stage"]["Type"] == "AWS::ApiGateway::Stage"
    deployments = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert len(deployments) == 1 and resources["RestAPIv2Stage"]["Properties"]["DeploymentId"] == {"Ref": deployments[0]}
    assert set(resources["ChallengeRedeployment"]["DependsOn"]) <= set(resources)


class _NoManagedPolicies:
    def load(self):
        return {}


def inline_module(template: dict, logical: str) -> types.ModuleType:
    """The inline code (Code.ZipFile) of one of the template's functions, loaded as a module."""
    module = types.ModuleType(logical)
    code = template["Resources"][logical]["Properties"]["Code"]["ZipFile"]
    exec(compile(code, f"<{logical}>", "exec"), module.__dict__)  # noqa: S102 - the code under test
    return module


def test_stage_redeployer_deploys_and_reports(packaged, monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    calls: list[dict] = []

    class ApiGateway:
        def create_deployment(self, **kwargs):
            calls.append(kwargs)
            if kwargs["restApiId"] == "broken":
                raise RuntimeError("NotFoundException: Invalid API identifier")
            return {"id": "dep1"}

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name: ApiGateway()))
    module = inline_module(packaged["template"], "StageRedeployer")

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/response"
        base = {"ResponseURL": url, "StackId": "stack", "RequestId": "r1", "LogicalResourceId": "ChallengeRedeployment"}
        props = {"RestApiId": API_ID, "StageName": "v2", "Challenge": "https://x y"}
        module.handler({**base, "RequestType": "Create", "ResourceProperties": props}, None)
        module.handler({**base, "RequestType": "Delete", "PhysicalResourceId": "p1", "ResourceProperties": props}, None)
        broken = {**props, "RestApiId": "broken"}
        module.handler({**base, "RequestType": "Update", "PhysicalResourceId": "p1", "ResourceProperties": broken}, None)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert [c["restApiId"] for c in calls] == [API_ID, "broken"]  # nothing to do on Delete
    assert calls[0]["stageName"] == "v2"
    assert [r["Status"] for r in received] == ["SUCCESS", "SUCCESS", "FAILED"]
    assert "Invalid API identifier" in received[2]["Reason"]
    assert received[1]["PhysicalResourceId"] == "p1"


# -- pulls, recorded from the API's log lines ---------------------------------------------------
def test_pull_lines_reach_record_pulls_through_a_subscription(packaged):
    from chalicelib.pulls import LOG_MESSAGE

    resources = packaged["template"]["Resources"]
    subscription = resources["PullLogSubscription"]
    assert subscription["Type"] == "AWS::Logs::SubscriptionFilter"
    props = subscription["Properties"]
    assert props["LogGroupName"] == {"Fn::Sub": "/aws/lambda/berth-${Stage}"}  # the API function's
    assert props["DestinationArn"] == {"Fn::GetAtt": ["RecordPulls", "Arn"]}
    assert props["FilterPattern"] == '{ $.message = "' + LOG_MESSAGE + '" }'
    permission = resources["RecordPullsPermission"]["Properties"]
    assert permission["Principal"] == "logs.amazonaws.com"
    assert permission["FunctionName"] == {"Fn::GetAtt": ["RecordPulls", "Arn"]}
    assert subscription["DependsOn"] == "RecordPullsPermission"
    assert resources["RecordPulls"]["Properties"]["Handler"] == "app.record_pulls"


# -- domain events: the table's stream and the audit queue reach their functions ---------------
def test_event_functions_read_the_stacks_stream_and_queue(packaged):
    resources = packaged["template"]["Resources"]
    forward = resources["ForwardEvents"]["Properties"]
    assert forward["Handler"] == "app.forward_events"
    [stream] = forward["Events"].values()
    assert stream["Type"] == "DynamoDB"
    # the stack's stream, not app.py's placeholder; from the start, so nothing written before
    # the mapping existed is left behind
    assert stream["Properties"]["Stream"] == {"Ref": "EventStreamArn"}
    assert stream["Properties"]["StartingPosition"] == "TRIM_HORIZON"
    audit = resources["AuditEvents"]["Properties"]
    assert audit["Handler"] == "app.audit_events"
    [queue] = audit["Events"].values()
    assert queue["Type"] == "SQS" and queue["Properties"]["Queue"] == {"Ref": "AuditEventsQueueArn"}
    # the queue keeps a message hidden for six times the function's timeout, as SQS's event source asks
    berth = (INFRA / "berth.yaml").read_text()
    assert f"VisibilityTimeout: {6 * audit['Timeout']}\n" in berth
