"""The functions' IAM policy (deploy/lambda-policy.json, rendered by deploy/configure.py into
.chalice/policy-<stage>.json) allows exactly what the app does.

A representative run of the app (token auth, push with a chunked upload above S3's 5 MiB part
size, pull, tags, catalog, referrers, a replication run to a CNCF registry and a run stopped,
mount, cancel, a digest mismatch, deletes, a change of the runtime configuration, the
hourly clean-up, and garbage collection: a run started, read and stopped through the API, and a
run whose steps delete what the run left) goes through the real handler with every AWS call recorded by a botocore hook
(`provide-client-params`, which presigned URLs emit as well). Each call is turned into the IAM
actions and resource ARNs it needs, then
- every one must be allowed by the rendered policy, and
- every action the policy allows must have been needed by some call (logs: the Lambda
  runtime writes the function's logs, not the app).
"""
from __future__ import annotations

import base64
import fnmatch
import json
import logging
import os
import time
from urllib.parse import urlencode, urlsplit

import pytest

from devstack.log_subscription import PullLineCollector, subscription_event
from tests.api.conftest import ApiClient
from tests.deploy.conftest import REGION
from tests.deploy.registry import ADMIN_PASSWORD, OCI_MANIFEST, MiB, Run, digest, with_query

# written by the Lambda runtime with the function's role, never by the app's code
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
# Lambda's event source mappings read the table's stream (forward_events) and the audit
# queue (audit_events) with the function's role (AWS's documented execution-role actions)
EVENT_SOURCE_ACTIONS = {
    "dynamodb:DescribeStream": "stream", "dynamodb:GetRecords": "stream", "dynamodb:GetShardIterator": "stream",
    "dynamodb:ListStreams": "stream",
    "sqs:ReceiveMessage": "queue", "sqs:DeleteMessage": "queue", "sqs:GetQueueAttributes": "queue",
}
SCHEDULED_EVENT = {
    "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
    "time": "2026-01-01T00:00:00Z", "region": REGION, "resources": [], "detail": {},
}


# -- AWS calls -> IAM (action, resource) -----------------------------------------------------
def iam_needs(service: str, operation: str, params: dict, account: str) -> list[tuple[str, str]]:
    """The IAM actions and resources a call needs (AWS's service authorization reference)."""
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        obj = f"{bucket}/{params.get('Key', '')}"
        if operation in ("GetObject", "HeadObject"):
            # with s3:ListBucket a missing key is 404, without it 403: the app relies on 404
            return [("s3:GetObject", obj), ("s3:ListBucket", bucket)]
        if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
            return [("s3:PutObject", obj)]
        if operation in ("CopyObject", "UploadPartCopy"):
            source = params["CopySource"]
            source = source if isinstance(source, dict) else dict(zip(("Bucket", "Key"), source.split("/", 1)))
            return [("s3:PutObject", obj), ("s3:GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}")]
        if operation == "AbortMultipartUpload":
            return [("s3:AbortMultipartUpload", obj)]
        if operation == "ListParts":
            return [("s3:ListMultipartUploadParts", obj)]
        if operation == "DeleteObject":
            return [("s3:DeleteObject", obj)]
        if operation == "DeleteObjects":
            return [("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
        if operation == "ListMultipartUploads":
            return [("s3:ListBucketMultipartUploads", bucket)]
        if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
            return [("s3:ListBucket", bucket)]
    if service == "dynamodb":

        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{REGION}:{account}:table/{name}"

        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
            return [(f"dynamodb:{operation}", table(params["TableName"]))]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
        if operation == "TransactWriteItems":
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
            return [
                (f"dynamodb:{kinds[kind]}", table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", table(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if service == "events" and operation == "PutEvents":
        return [
            ("events:PutEvents", f"arn:aws:events:{REGION}:{account}:event-bus/{entry['EventBusName']}")
            for entry in params["Entries"]
        ]
    if service == "stepfunctions" and operation == "StartExecution":  # a replication run
        return [("states:StartExecution", params["stateMachineArn"])]
    if service == "stepfunctions" and operation == "StopExecution":
        return [("states:StopExecution", params["executionArn"])]
    if service == "stepfunctions" and operation == "DescribeExecution":  # a garbage collection run read
        return [("states:DescribeExecution", params["executionArn"])]
    if service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):  # webhook delivery jobs
        return [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{account}:{params['QueueUrl'].rstrip('/').rsplit('/', 1)[1]}")]
    if service == "lambda" and operation == "Invoke":  # background jobs: proxy_fill, run_schedule
        return [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{account}:function:{params['FunctionName']}")]
    if service == "scheduler":
        schedule = f"arn:aws:scheduler:{REGION}:{account}:schedule/{params.get('GroupName', 'default')}/{params['Name']}"
        if operation in ("CreateSchedule", "UpdateSchedule"):
            # the schedule invokes its target with the stage's role: the app passes it
            return [(f"scheduler:{operation}", schedule), ("iam:PassRole", params["Target"]["RoleArn"])]
        if operation == "DeleteSchedule":
            return [("scheduler:DeleteSchedule", schedule)]
    if service == "ssm":

        def parameter(name: str) -> str:
            return f"arn:aws:ssm:{REGION}:{account}:parameter/{name.lstrip('/')}"

        if operation == "GetParameters":
            return [("ssm:GetParameters", parameter(name)) for name in params["Names"]]
        if operation in ("GetParameter", "PutParameter", "DeleteParameter"):
            return [(f"ssm:{operation}", parameter(params["Name"]))]
        if operation == "GetParametersByPath":
            return [("ssm:GetParametersByPath", parameter(params["Path"]))]
    pytest.fail(f"the app calls {service}:{operation}; map it to IAM actions here and allow it in deploy/lambda-policy.json")


def allowed(policy: dict, action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        matches = any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        )
        if matches and statement["Effect"] == "Deny":
            return False
        if matches and statement["Effect"] == "Allow" and "Condition" not in statement:
            return True
    return False


@pytest.fixture(scope="module")
def recorded(deployed, moto_session, distribution_auth):
    """(service, operation, params) of every AWS call the app made during the run."""
    import boto3

    import app as app_module
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from tests.conftest import in_process_delivery

    # as infra/apigw-extras.yaml deploys the API: pulls are log lines for record_pulls
    env = {**os.environ, **deployed.stage_env, "BERTH_AUTH": "token", "BERTH_UPLOAD_URL": "", "BERTH_PULL_RECORDING": "log"}
    for name in ("BERTH_PUBLIC_URL", "BERTH_TOKEN_SERVICE", "BERTH_TOKEN_ISSUER", "BERTH_OCI_PREFIX", "BERTH_ADMIN_PASSWORD"):
        env.pop(name, None)
    settings = Settings.from_env(env)
    # the bootstrap runs with the operator's credentials, not the function's: not recorded
    bootstrap(Services(settings, session=moto_session), admin_password=ADMIN_PASSWORD)

    calls: list[tuple[str, str, dict]] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "provide-client-params",
        lambda params, model, **_: calls.append((model.service_model.service_name, model.name, dict(params))),
    )
    svc = Services(settings, session=session)
    app_module.use_services(svc)
    pull_lines = PullLineCollector()
    logging.getLogger("berth.pulls").addHandler(pull_lines)
    receiver = WebhookReceiver()
    try:
        _run(Run(ApiClient(app_module.app)), receiver.url, distribution_auth.url)
        # the subscription delivers the run's pull lines to record_pulls
        assert app_module.record_pulls(subscription_event(pull_lines.take()), None)["recorded"] >= 1
        # the run's events: the stream to forward_events, the audit queue to audit_events (the
        # reads of the stream and the queue are the event source mappings', not recorded)
        assert in_process_delivery(moto_session, deployed.data).drain() > 0
        entered = svc.audit.matching(operation="push")
        assert any(e.resource == "library/app:1" for e in entered)
        # and the webhook policy's receiver got the push (webhook_events, then deliver_webhooks)
        assert any(json.loads(body)["type"] == "PUSH_ARTIFACT" for body in receiver.bodies)
        # the hourly clean-up, two days on: it aborts the session the run abandoned
        app_module.use_services(Services(settings, session=session, clock=lambda: time.time() + 2 * 86400))
        assert app_module.clean_up_uploads(SCHEDULED_EVENT, None)["orphans"] == 1
        _schedules(app_module)
        _background_copy(app_module)
        _garbage_collection(app_module)
        _retention_run(app_module)
    finally:
        receiver.close()
        logging.getLogger("berth.pulls").removeHandler(pull_lines)
        app_module.use_services(None)
    return calls


def _background_copy(app_module) -> None:
    """A proxy cache's pull of a blob too big for the request starts proxy_fill (an
    asynchronous invocation; no function is deployed here, so it fails, and says so)."""
    from chalicelib.errors import UpstreamUnavailable
    from chalicelib.proxy_cache import Upstream

    svc = app_module.services()
    digest = "sha256:" + "b" * 64
    with pytest.raises(UpstreamUnavailable, match="could not start"):
        svc.proxy_cache.start_fill(Upstream("hub", 1, "https://hub.example", "docker-registry", None), "hub/app", digest)
    assert svc.meta.claim_fill(digest, 0, 1)  # the failed start ended its claim


def _garbage_collection(app_module) -> None:
    """Two days on (past the grace period): a run started through the API, read while it
    runs (its execution described), stopped; then a run whose steps (gc_task, as the state
    machine calls it; moto here does not execute state machines) delete the blobs of the
    image the run deleted, and the abandoned upload's leftovers."""
    from types import SimpleNamespace

    from chalicelib.meta.gc import SUCCESS

    svc = app_module.services()
    client = ApiClient(app_module.app)
    admin = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode(),
             "Content-Type": "application/json"}

    def start() -> int:
        reply = client.request("POST", "/v2/api/v2.0/system/gc/schedule", json.dumps({"schedule": {"type": "Manual"}}).encode(),
                               admin)
        assert reply.status == 201, reply.body
        return int(reply.headers["location"].rsplit("/", 1)[1])

    stopped = start()
    assert client.request("GET", f"/v2/api/v2.0/system/gc/{stopped}", b"", admin).json()["job_status"] == "Running"
    assert client.request("PUT", f"/v2/api/v2.0/system/gc/{stopped}", b"", admin).status == 200
    run_id = start()
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 900_000)
    state = app_module.gc_task({"step": "begin", "run_id": run_id}, context)
    while not state.get("done"):
        state = app_module.gc_task({**state, "step": "untagged"}, context)
    state = {**state, "done": False, "shard": 0, "after": ""}
    while not state.get("done"):
        state = app_module.gc_task({**state, "step": "sweep"}, context)
    state = app_module.gc_task({**state, "step": "uploads"}, context)
    app_module.gc_task({**state, "step": "finish"}, context)
    run = svc.gc.get(run_id)
    assert run.status == SUCCESS and run.counts.get("blobs", 0) >= 1, run


def _retention_run(app_module) -> None:
    """A manual tag retention run: the request hands it to run_schedule (an asynchronous
    invocation; no function is deployed here, so that run ends as an Error saying so), and
    a run's step as run_schedule takes it (called here as Lambda would)."""
    from chalicelib.retention import policy as rules
    from chalicelib.retention import runs

    svc = app_module.services()
    project = svc.accounts.get_project("library")
    keep_all = {"action": "retain", "template": "always", "params": {},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
    stored = svc.retention.create("library", rules.check(
        {"algorithm": "or", "rules": [keep_all], "scope": {"level": "project", "ref": project.project_id},
         "trigger": {"kind": "Schedule", "settings": {"cron": ""}}}, project.project_id))
    assert runs.start(svc, stored, runs.MANUAL, dry_run=False).status == "Error"
    step = svc.retention.start(stored.policy_id, runs.MANUAL, False)
    assert app_module.run_schedule(runs.job_of(step), None)["status"] == "Success"


def _schedules(app_module) -> None:
    """A scheduled replication policy's schedule: created, changed (its cron), fired after
    the policy is gone (the job removes it)."""
    from chalicelib.meta.replication import ReplicationPolicy
    from chalicelib.replication import scheduled

    svc = app_module.services()
    nightly = ReplicationPolicy(name="nightly", dest_registry_id=1, trigger="scheduled", cron="0 0 3 * * *", policy_id=99)
    scheduled.follow(svc.schedules, nightly)
    scheduled.follow(svc.schedules, ReplicationPolicy(**{**nightly.__dict__, "cron": "0 0 4 * * *"}))
    assert "skipped" in app_module.run_schedule({"kind": "replication", "policy_id": 99}, None)


class WebhookReceiver:
    """An HTTP receiver on 127.0.0.1 for the run's webhook policy."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _run(run: Run, hook_url: str, remote_url: str) -> None:
    repo, base = "library/app", "library/base"
    admin = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode(),
             "Content-Type": "application/json"}
    policy = {"name": "ci", "event_types": ["PUSH_ARTIFACT"], "targets": [{"type": "http", "address": hook_url}]}
    run.call("POST", "/v2/api/v2.0/projects/library/webhook/policies", 201, json.dumps(policy).encode(), admin, auth=False)
    run.call("GET", "/v2/", 401)
    run.call("GET", "/v2/service/jwks.json", 200)
    # anonymous token for a public project, then the OAuth2 form (containerd, podman)
    run.call("GET", f"/v2/service/token?service=berth-registry&scope=repository:{repo}:pull", 200)
    form = urlencode({"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD, "service": "berth-registry",
                      "scope": f"repository:{repo}:pull"}).encode()
    run.call("POST", "/v2/service/token", 200, form, {"Content-Type": "application/x-www-form-urlencoded"})
    run.login(f"repository:{repo}:pull,push,delete", f"repository:{base}:pull,push,delete", "registry:catalog:*")
    run.call("GET", "/v2/", 200)

    # push: a monolithic config, a layer in chunks above the 5 MiB part size, a small chunked sha512 one
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    config_digest = run.push_blob(repo, config)
    layer = os.urandom(6 * MiB + 4321)
    layer_digest, _ = run.chunked(repo, [layer[: 3 * MiB], layer[3 * MiB : 6 * MiB]], final=layer[6 * MiB :])
    # chunks that become multipart parts (the first chunk's object copied in as one)
    big = os.urandom(40 * MiB)
    run.chunked(repo, [big[: 6 * MiB], big[6 * MiB :]])
    small = os.urandom(150_000)
    small_digest, _ = run.chunked(repo, [small[:100_000], small[100_000:]], algorithm="sha512")
    image_digest, _ = run.manifest(
        repo, "1", (config_digest, len(config)), [(layer_digest, len(layer)), (small_digest, len(small))]
    )
    # pull
    run.call("GET", f"/v2/{repo}/manifests/1", 200, headers={"Accept": OCI_MANIFEST})
    run.call("HEAD", f"/v2/{repo}/manifests/{image_digest}", 200)
    assert "X-Amz-Signature" in run.call("GET", f"/v2/{repo}/blobs/{layer_digest}", 307).headers["location"]
    run.call("HEAD", f"/v2/{repo}/blobs/{layer_digest}", 307)
    run.call("GET", f"/v2/{repo}/blobs/{digest(b'missing')}", 404)
    # listing
    assert run.call("GET", f"/v2/{repo}/tags/list", 200).json()["tags"] == ["1"]
    assert repo in run.call("GET", "/v2/_catalog", 200).json()["repositories"]
    # a referrer of the image
    subject = {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": 1}
    run.manifest(repo, "sig", (config_digest, len(config)), [], subject=subject)
    assert run.call("GET", f"/v2/{repo}/referrers/{image_digest}", 200).json()["manifests"]
    _replicate(run, admin, repo, remote_url)
    # mount into another repository, and a mount that falls back to a session
    run.call("POST", with_query(f"/v2/{base}/blobs/uploads/", mount=layer_digest, **{"from": repo}), 201)
    run.call("POST", with_query(f"/v2/{base}/blobs/uploads/", mount=digest(b"nowhere"), **{"from": repo}), 202)
    # cancel a session holding a part, and a digest mismatch (both discard their bytes)
    run.call("DELETE", run.open_session(repo, [os.urandom(33 * MiB)]), 204)
    run.chunked(repo, [os.urandom(5 * MiB + 10)], status=400)
    # delete a tag's manifest and a blob link
    run.call("DELETE", f"/v2/{repo}/manifests/{image_digest}", 202)
    run.call("DELETE", f"/v2/{base}/blobs/{layer_digest}", 202)
    # a session abandoned with a part in S3: the clean-up's job
    parts = urlsplit(run.open_session(repo, [os.urandom(5 * MiB + 10)]))
    assert parts.path
    # the runtime configuration: set LDAP settings (a SecureString among them), then clear two
    settings = {"token_expiration": 45, "ldap_url": "ldaps://ldap.example.com", "ldap_base_dn": "dc=example,dc=com",
                "ldap_search_dn": "cn=reader,dc=example,dc=com", "ldap_search_password": "Reader-Passw0rd"}
    run.call("PUT", "/v2/api/v2.0/configurations", 200, json.dumps(settings).encode(), admin, auth=False)
    cleared = {"ldap_search_dn": "", "ldap_search_password": ""}
    run.call("PUT", "/v2/api/v2.0/configurations", 200, json.dumps(cleared).encode(), admin, auth=False)
    answered = run.call("GET", "/v2/api/v2.0/configurations", 200, headers=admin, auth=False).json()
    assert answered["token_expiration"]["value"] == 45 and "ldap_search_password" not in answered


def _replicate(run: Run, admin: dict, repo: str, remote_url: str) -> None:
    """A push-based replication run of the image to a CNCF registry with Basic auth: the API
    starts its Step Functions execution; each step of the state machine runs the task
    function as Step Functions would call it (moto here does not execute state machines);
    then a second run, stopped."""
    import app as app_module
    from tests.conftest import DISTRIBUTION_USER

    def created(path: str, body: dict) -> int:
        reply = run.call("POST", f"/v2/api/v2.0{path}", 201, json.dumps(body).encode(), admin, auth=False)
        return int(reply.headers["location"].rsplit("/", 1)[1])

    user, secret = DISTRIBUTION_USER
    registry = created("/registries", {"name": "cncf", "type": "docker-registry", "url": remote_url,
                                       "credential": {"type": "basic", "access_key": user, "access_secret": secret}})
    policy = created("/replication/policies", {"name": "mirror", "enabled": True, "dest_registry": {"id": registry},
                                               "dest_namespace": "mirror", "filters": [{"type": "name", "value": repo}]})
    execution = created("/replication/executions", {"policy_id": policy})
    planned = app_module.replication_task({"step": "plan", "execution_id": execution}, None)
    # the Map's items, as its ItemReader reads them with the state machine's role (a client of
    # its own, not recorded: test_the_state_machine_may_read_the_items_plan_wrote checks that role)
    import boto3

    reader = boto3.client("s3", region_name=REGION)
    task_ids = json.loads(reader.get_object(Bucket=planned["items"]["bucket"], Key=planned["items"]["key"])["Body"].read())
    assert task_ids and planned["count"] == len(task_ids), planned
    for task_id in task_ids:
        app_module.replication_task({"step": "copy", "execution_id": execution, "task_id": task_id}, None)
    assert app_module.replication_task({"step": "finish", "execution_id": execution}, None)["status"] == "Succeed"
    stopped = created("/replication/executions", {"policy_id": policy})
    run.call("PUT", f"/v2/api/v2.0/replication/executions/{stopped}", 200, b"", admin, auth=False)


def test_the_state_machine_may_read_the_items_plan_wrote(recorded, deployed):
    """The replication run's plan wrote its items to the bucket (a call of the functions,
    allowed by their policy); the Distributed Map reads them with the state machine's role
    (infra/replication.yaml), which may read that prefix of the bucket and nothing else."""
    from chalicelib.storage import paths
    from devstack.resources import load_template
    from tests.deploy.conftest import INFRA

    written = [params for service, operation, params in recorded
               if (service, operation) == ("s3", "PutObject") and params["Key"].startswith(paths.REPLICATION_PREFIX)]
    assert len(written) == 1, written  # the run's plan
    role = load_template(INFRA / "replication.yaml")["Resources"]["StateMachineRole"]["Properties"]
    bucket_arn = deployed.data["BucketArn"]
    statements = [
        {**s, "Resource": [r["Fn::Sub"].replace("${BucketArn}", bucket_arn) if isinstance(r, dict) else r
                           for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]}
        for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]
    ]
    reads = [s for s in statements if "s3:" in json.dumps(s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in reads] == [("s3:GetObject", [f"{bucket_arn}/{paths.REPLICATION_PREFIX}*"])]
    policy = {"Statement": statements}
    for params in written:
        assert allowed(policy, "s3:GetObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")
    # a blob, a manifest, another bucket's items: no
    assert not allowed(policy, "s3:GetObject", f"{bucket_arn}/{paths.blob_key(digest(b'x'))}")
    assert not allowed(policy, "s3:GetObject", f"{bucket_arn}/{paths.manifest_key(digest(b'x'))}")
    assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::other/{paths.replication_items_key(1)}")
    assert not allowed(policy, "s3:PutObject", f"{bucket_arn}/{paths.replication_items_key(1)}")


def test_the_run_used_each_service(recorded):
    services = {service for service, _, _ in recorded}
    assert services == {"s3", "dynamodb", "ssm", "events", "sqs", "stepfunctions", "scheduler", "lambda"}, services


def test_every_call_is_allowed_by_the_policy(recorded, deployed):
    account = deployed.data["TableArn"].split(":")[4]
    denied = sorted(
        {
            (f"{service}:{operation}", action, resource)
            for service, operation, params in recorded
            for action, resource in iam_needs(service, operation, params, account)
            if not allowed(deployed.policy, action, resource)
        }
    )
    assert not denied, f"calls the policy does not allow: {denied}"


def test_the_policy_allows_nothing_the_app_does_not_need(recorded, deployed):
    account = deployed.data["TableArn"].split(":")[4]
    needed = {
        action for service, operation, params in recorded for action, _ in iam_needs(service, operation, params, account)
    }
    granted = set()
    for statement in deployed.policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "*" not in json.dumps(statement["Action"]), f"no wildcard actions: {statement}"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all(r not in ("*", "arn:aws:s3:::*") for r in resources), statement
        granted.update(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    assert granted - RUNTIME_ACTIONS - set(EVENT_SOURCE_ACTIONS) == needed, {
        "granted, never needed": sorted(granted - RUNTIME_ACTIONS - set(EVENT_SOURCE_ACTIONS) - needed),
        "needed, not granted": sorted(needed - granted),
    }


def test_event_sources_are_readable_and_nothing_more(deployed):
    account = deployed.data["TableArn"].split(":")[4]
    stream, queue = deployed.data["TableStreamArn"], deployed.data["AuditEventsQueueArn"]
    for action, source in EVENT_SOURCE_ACTIONS.items():
        assert allowed(deployed.policy, action, stream if source == "stream" else queue), action
        # another table's stream, another queue: no
        other = stream.replace(deployed.data["TableName"], "other") if source == "stream" else queue + "-other"
        assert not allowed(deployed.policy, action, other), action
    assert allowed(deployed.policy, "events:PutEvents", deployed.data["EventBusArn"])
    assert not allowed(deployed.policy, "events:PutEvents", f"arn:aws:events:{REGION}:{account}:event-bus/default")


def test_the_policy_is_scoped_to_this_stages_resources(deployed):
    text = json.dumps(deployed.policy)
    for key in ("BucketArn", "TableArn", "SsmParameterArn"):
        assert deployed.data[key] in text
    assert f":schedule/default/berth-{deployed.stage}-*" in text and f"role/berth-{deployed.stage}-schedules" in text
    assert deployed.ops["ApiFunctionLogGroupArn"] + ":*" in text
    assert f"parameter/berth/{deployed.stage}/*" in text
    assert "${" not in text
