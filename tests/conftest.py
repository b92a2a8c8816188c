"""Fixtures shared by the test layers: AWS on moto, in-process, with the
resources created from infra/berth.yaml exactly as a deployment creates them."""
from __future__ import annotations

import copy
import functools
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import moto_shortcuts, schedules

ROOT = Path(__file__).resolve().parents[1]
# CloudWatch EMF metrics would print a JSON document per request
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
REGION = "us-east-1"
# moto's own answers at a fraction of its CPU, as the local stack's moto gives them
# (devstack/moto_shortcuts.py lists each shortcut)
moto_shortcuts.install()



def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order `make check`'s two workers take files in (xdist, `--dist loadfile
    --no-loadscope-reorder`): each folder's files together, the folders in the order
    given, and in a folder the files with the most tests first. xdist's own order (by
    number of tests, all folders mixed) had each worker enter tests/api two dozen times,
    starting its package-scoped moto and stack (a second or more) each time, and ended on
    files of one long test (mypy, the import check) run by one worker while the other
    waited. Only in xdist's workers; a run in one process keeps the order given."""
    if not hasattr(config, "workerinput") or config.getoption("loadscopereorder", True):
        return  # only with make check's --no-loadscope-reorder: make e2e keeps xdist's order
    folders: dict[Path, int] = {}
    per_file: dict[Path, int] = {}
    for item in items:
        folders.setdefault(item.path.parent, len(folders))
        per_file[item.path] = per_file.get(item.path, 0) + 1
    items.sort(key=lambda item: (folders[item.path.parent], -per_file[item.path]))  # stable: in a file, as written

def _parse_templates_once() -> None:
    """moto parses a stack's template with PyYAML's pure-Python loader, about 60 ms for
    infra/berth.yaml, and the API tests create a stack per test: parse each template
    text once and hand every stack its own copy of the result."""
    from moto.cloudformation.models import Stack

    parse = functools.lru_cache(maxsize=16)(Stack.parse_template)
    Stack.parse_template = staticmethod(lambda template: copy.deepcopy(parse(template)))


_parse_templates_once()


def _chunked_bodies_in_linear_time() -> None:
    """An S3 body botocore sends in-process to moto (PutObject, UploadPart: aws-chunked,
    with a CRC32 trailer) is read whole by moto and decoded, and both sides join it a
    1 MiB chunk at a time onto bytes, copying everything before each chunk again: a
    40 MiB part cost a second. Same bytes, each copied once (botocore 1.44's
    AwsChunkedWrapper.read, moto 5.2's S3Response._handle_encoded_body)."""
    from botocore.httpchecksum import AwsChunkedWrapper
    from moto.s3.responses import S3Response

    read = AwsChunkedWrapper.read

    def read_all(self, size=None):
        if size is not None and size > 0:
            return read(self, size)
        chunks = [self._remaining]
        while not self._complete:
            chunks.append(self._make_chunk())
        self._remaining = b""
        return b"".join(chunks)

    def decode(self, body):
        if not body:
            return b""
        if isinstance(body, bytes):
            body = io.BytesIO(body)
        chunks = []
        # lines of '{length in hex}\r\n', each followed by that many bytes and '\r\n'
        length = int(body.readline().strip(), 16)
        while length > 0:
            chunks.append(body.read(length))
            body.readline()
            length = int(body.readline().strip(), 16)
        return b"".join(chunks)

    AwsChunkedWrapper.read = read_all
    S3Response._handle_encoded_body = decode


_chunked_bodies_in_linear_time()


def cheap_passwords():
    """The password hasher of every object graph the tests build: scrypt at a trivial
    cost, since a check costs what the stored hash says (production's cost, and its
    tests: chalicelib/auth/passwords.py, tests/unit/test_auth_passwords.py)."""
    from chalicelib.auth.passwords import PasswordHasher

    return PasswordHasher(n=16, r=8, p=1)


@functools.cache
def session_signing_key_pem() -> str:
    """The run's one token signing key (PEM), as bootstrap makes one."""
    from chalicelib.auth.tokens import SigningKey

    return SigningKey.generate("RS256").to_pem()


def share_signing_key(svc) -> None:
    """Give a graph about to be bootstrapped the run's one token signing key, as bootstrap
    would store its own (an RSA key costs 50 ms to make, and the API tests bootstrap a world
    per module). For the worlds whose tests do not test how the key is made: bootstrap's
    own key is tested by tests/api/auth/test_token_service.py's world."""
    from chalicelib.bootstrap import ensure_secret
    from chalicelib.secrets import TOKEN_SIGNING_KEY

    ensure_secret(svc.ssm, svc.settings.ssm_prefix, TOKEN_SIGNING_KEY, session_signing_key_pem)


def make_services(settings, *, session=None, **parts: Any):
    """The app's object graph for a test: production's `Services`, with the test's
    settings and AWS session, a cheap password hasher, and any other part the test
    passes (clock, sleep, authorizer). Serve it with `app.serving(svc)` or
    `app.use_services(svc)`."""
    from chalicelib.services import Services

    parts.setdefault("passwords", cheap_passwords())
    return Services(settings, session=session, **parts)


def memory_services(graph, **parts: Any):
    """Production's `Services` on an in-memory graph's stores (tests/memory_graph.py:
    `MemoryGraph.parts`): its settings, clock and sleep, and no AWS (`NoAws`: a part that
    has no twin fails on first use); `parts` as make_services takes them."""
    from tests.memory_graph import NoAws

    parts = {"clock": graph.clock, "sleep": graph.sleep, **graph.parts(), **parts}
    return make_services(graph.settings, session=NoAws(), **parts)


class SharedClients:
    """A boto3 session that makes each client once: one per service, region and
    configuration, shared by the object graphs the tests build on it (making one costs
    10-30 ms). A client holds no data, but it does hold the event hooks registered on
    it: a test that registers one on a shared client unregisters it."""

    def __init__(self, session: boto3.session.Session):
        self._session = session
        self._clients: dict[tuple, Any] = {}

    def client(self, service_name: str, region_name: str | None = None, config: Any = None, **kwargs: Any) -> Any:
        options = sorted(vars(config).items()) if config is not None else None
        key = (service_name, region_name, repr(options), repr(sorted(kwargs.items())))
        if key not in self._clients:
            self._clients[key] = self._session.client(service_name, region_name=region_name, config=config, **kwargs)
        return self._clients[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# anything that could point boto3 at a real account or another endpoint
_UNSET = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE")


def use_fake_aws(mp: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_CREDENTIALS.items():
        mp.setenv(name, value)
    for name in _UNSET:
        mp.delenv(name, raising=False)


def create_key_table(client: Any, name: str, *, sort_key: bool = True, **options: Any) -> None:
    """A bare table keyed by PK (and SK, string keys), on demand: the moto comparison tests'
    (tests/unit/test_moto_*.py). `options`: more of CreateTable's arguments (a stream)."""
    keys = [("PK", "HASH"), ("SK", "RANGE")] if sort_key else [("PK", "HASH")]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": k} for a, k in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )


def create_stack(name: str = "berth-test", *, stage: str | None = None, session=None) -> dict[str, str]:
    """Create infra/berth.yaml on the active moto backend; returns the stack's outputs
    (BucketName, TableName, SsmPrefix)."""
    cfn = (session or boto3).client("cloudformation", region_name=REGION)
    extra = {"Parameters": [{"ParameterKey": "Stage", "ParameterValue": stage}]} if stage else {}
    cfn.create_stack(StackName=name, TemplateBody=(ROOT / "infra" / "berth.yaml").read_text(), **extra)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


class _MotoState:
    """What an in-process moto holds, read from its backends (no request): whether a part of
    a stack is already empty. None where this process's moto does not hold it (a moto
    server), so the caller asks through the API."""

    def __init__(self, account: str) -> None:
        self._account = account

    def table_empty(self, table: str) -> bool | None:
        from moto.dynamodb.models import dynamodb_backends

        found = dynamodb_backends[self._account][REGION].tables.get(table)
        return None if found is None else not any(found.items.values())  # by key: its items by sort key  # a key's items, by sort key (emptied, not removed, by a deletion)

    def bucket_empty(self, bucket: str) -> bool | None:
        from moto.s3.models import s3_backends

        found = s3_backends[self._account]["aws"].buckets.get(bucket)
        return None if found is None else not (len(found.keys) or found.multiparts)

    def queue_empty(self, url: str) -> bool | None:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self._account][REGION].queues.get(url.rstrip("/").rsplit("/", 1)[1])
        if queue is None:
            return None
        return not (
            queue.approximate_number_of_messages
            or queue.approximate_number_of_messages_not_visible
            or queue.approximate_number_of_messages_delayed
        )

    def no_parameters(self, prefix: str) -> bool | None:
        from moto.ssm.models import ssm_backends

        names = list(ssm_backends[self._account][REGION]._parameters)
        return not any(n.startswith(prefix + "/") for n in names)


def stack_queues(session, name: str) -> list[str]:
    """The URLs of stack `name`'s queues, the dead letters too."""
    resources = session.client("cloudformation", region_name=REGION).describe_stack_resources(StackName=name)
    return [r["PhysicalResourceId"] for r in resources["StackResources"] if r.get("ResourceType") == "AWS::SQS::Queue"]


def empty_stack(session, name: str, outputs: dict[str, str], queues: list[str] | None = None) -> None:
    """Put stack `name` back as create_stack left it, at a fraction of a new one's cost: no
    object (nor version, nor multipart upload) in the bucket, no item in the table, no
    parameter under the SSM prefix, no message in any queue. The stack's other resources
    (the event bus and its rules, the queues' policies) are not something a test changes;
    tests/api/test_stack_reset.py checks that an emptied stack reads as a new one. A part
    that an in-process moto holds empty already costs no request (most tests leave the
    queues, and many the bucket, empty: a dozen requests, 50 ms, per test). `queues`: the
    stack's (stack_queues), where the caller keeps them (asking costs 10 ms)."""
    queues = stack_queues(session, name) if queues is None else queues
    moto = _MotoState(queues[0].rstrip("/").rsplit("/", 2)[1])  # a queue's URL names its account
    s3, bucket = session.client("s3", region_name=REGION), outputs["BucketName"]
    if not moto.bucket_empty(bucket):
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects = [
                {"Key": o["Key"], "VersionId": o["VersionId"]} for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    ddb, table = session.client("dynamodb", region_name=REGION), outputs["TableName"]
    if not moto.table_empty(table):
        keys = [k for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="PK, SK") for k in page["Items"]]
        for start in range(0, len(keys), 25):
            ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]})
    ssm = session.client("ssm", region_name=REGION)
    if not moto.no_parameters(outputs["SsmPrefix"]):
        names = [
            p["Name"]
            for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=outputs["SsmPrefix"], Recursive=True)
            for p in page["Parameters"]
        ]
        for start in range(0, len(names), 10):
            ssm.delete_parameters(Names=names[start : start + 10])
    sqs = session.client("sqs", region_name=REGION)
    for url in queues:  # the dead letters too
        if not moto.queue_empty(url):
            sqs.purge_queue(QueueUrl=url)


def stack_env(outputs: dict[str, str], *, auth: str) -> dict[str, str]:
    """The app's environment for a stack's outputs, on top of this process's, with the
    settings a test must not inherit removed."""
    env = {
        **os.environ,
        "BERTH_TABLE": outputs["TableName"],
        "BERTH_BUCKET": outputs["BucketName"],
        "BERTH_SSM_PREFIX": outputs["SsmPrefix"],
        "BERTH_EVENT_BUS": outputs["EventBusName"],
        "BERTH_WEBHOOK_QUEUE": outputs["WebhookDeliveriesQueueUrl"],
        "BERTH_UPLOAD_URL": "",
        "BERTH_AUTH": auth,
        "BERTH_ADMIN_PASSWORD": "",
        **schedules.environment(outputs["Stage"]),
        "BERTH_FUNCTION_PREFIX": f"berth-{outputs['Stage']}-",
    }
    for name in ("BERTH_PUBLIC_URL", "BERTH_TOKEN_SERVICE", "BERTH_TOKEN_ISSUER", "BERTH_OCI_PREFIX"):
        env.pop(name, None)
    return env


class MotoOutbox:
    """The table's stream for the app run in-process on moto's mock (which has no streams
    API): the outbox items not handed over yet, as INSERT records. Which keys are new is read
    from moto's table itself, and only those items through the API (BatchGetItem), in the
    order a scan returns them: a scan read every item of the table through the API at each
    pass of a drain, and a module's world holds hundreds."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self._ddb = dynamodb
        self._table = table
        arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]  # arn:aws:dynamodb:<region>:<account>:table/...
        self._backend = dynamodb_backends[arn.split(":")[4]][REGION]
        self._seen: set[str] = set()

    def _new_keys(self) -> list[tuple[str, str]]:
        from chalicelib.meta import keys

        table = self._backend.get_table(self._table)  # each time: moto may replace the table by a copy
        return sorted(
            (pk.value, sk.value)
            for pk, by_sort_key in list(table.items.items())
            if pk.value.startswith(keys.OUTBOX_PREFIX) and pk.value not in self._seen
            for sk in list(by_sort_key)
        )

    def records(self) -> tuple[list[dict], Any]:
        wanted = self._new_keys()
        items: dict[tuple[str, str], dict] = {}
        for start in range(0, len(wanted), 100):
            request = {"Keys": [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in wanted[start : start + 100]], "ConsistentRead": True}
            while request:
                out = self._ddb.batch_get_item(RequestItems={self._table: request})
                for item in out["Responses"].get(self._table, []):
                    items[(item["PK"]["S"], item["SK"]["S"])] = item
                request = out.get("UnprocessedKeys", {}).get(self._table)
        records = [
            {
                "eventID": key[0],
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": {"PK": items[key]["PK"], "SK": items[key]["SK"]}, "NewImage": items[key]},
            }
            for key in wanted
            if key in items  # gone since: as the scan would not have found it
        ]
        handed = {r["eventID"] for r in records}

        def advance() -> None:
            self._seen |= handed

        return records, advance


def _moto_queue_poller():
    from devstack.event_stream import QueuePoller

    class MotoQueue(QueuePoller):
        """A QueuePoller that asks moto's queue itself whether any message is there to
        receive before it calls ReceiveMessage: a drain's every pass polled each of the four
        consumers' queues, most of them empty."""

        def __init__(self, sqs: Any, queue_url: str) -> None:
            from moto.sqs.models import sqs_backends

            super().__init__(sqs, queue_url)
            account, name = queue_url.rstrip("/").split("/")[-2:]
            self._queue = sqs_backends[account][REGION].get_queue(name)

        def receive(self) -> list[dict]:
            if not self._queue.messages:  # the visible ones, as ReceiveMessage would take
                return []
            return super().receive()

    return MotoQueue


def in_process_delivery(session, outputs: dict[str, str]):
    """The event path for an app run in-process on moto's mock (which has no streams API):
    the outbox items read from the table stand in for the stream (MotoOutbox); from there
    on it is the real path, the app's forward_events, the bus and its rules, the consumers'
    queues, the app's consumers. `drain()` delivers what is waiting (devstack/event_stream.py)."""
    import app as app_module
    from devstack.event_stream import EventDelivery

    sqs = session.client("sqs", region_name=REGION)
    queue = _moto_queue_poller()
    return EventDelivery(
        MotoOutbox(session.client("dynamodb", region_name=REGION), outputs["TableName"]),
        app_module.forward_events,
        [
            (queue(sqs, outputs["AuditEventsQueueUrl"]), app_module.audit_events),
            (queue(sqs, outputs["WebhookEventsQueueUrl"]), app_module.webhook_events),
            (queue(sqs, outputs["WebhookDeliveriesQueueUrl"]), app_module.deliver_webhooks),
            (queue(sqs, outputs["ReplicationEventsQueueUrl"]), app_module.replication_events),
        ],
    )


def in_process_moto() -> Iterator[boto3.session.Session]:
    """One in-process moto with fake credentials, for a package's tests (its fixture of
    package scope yields from this): starting moto and loading botocore's models costs
    about 0.3 s, too much per test."""
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            yield boto3.session.Session(region_name=REGION)


@pytest.fixture
def aws_credentials(monkeypatch):
    use_fake_aws(monkeypatch)


@pytest.fixture
def berth_stack(aws_credentials) -> Iterator[dict[str, str]]:
    """A fresh moto backend holding Berth's resources, for one test."""
    with mock_aws():
        yield create_stack()


@pytest.fixture(scope="session")
def slapd():
    """A private OpenLDAP server (tests/ldap_server.py) shared by every test of the
    run that needs one (tests/ldap, an e2e-tier folder: `make check` needs no system
    package). No slapd means these tests error out, never skip: run
    scripts/install-system-deps.sh."""
    from tests.ldap_server import Slapd

    with Slapd() as server:
        yield server


@pytest.fixture(scope="session")
def distribution(tmp_path_factory):
    """Debian's docker-registry, open (no auth), shared by the session's tests."""
    from devstack.distribution import Distribution

    with Distribution(tmp_path_factory.mktemp("distribution")) as registry:
        yield registry


DISTRIBUTION_USER = ("replicator", "Replic8-secret")


@pytest.fixture(scope="session")
def distribution_auth(tmp_path_factory):
    """Debian's docker-registry behind htpasswd Basic auth (user DISTRIBUTION_USER)."""
    from devstack.distribution import Distribution

    with Distribution(tmp_path_factory.mktemp("distribution-auth"), users=dict([DISTRIBUTION_USER])) as registry:
        yield registry
