"""The Chalice app in this process, on moto in this process, with every AWS call counted.

* AWS: moto's ``mock_aws`` (no HTTP), resources from ``infra/berth.yaml`` through moto's
  CloudFormation (as tests/api does), then ``chalicelib.bootstrap.bootstrap`` (secrets,
  the ``library`` project, ``admin``), with ``BERTH_AUTH=token``.
* Requests: API Gateway proxy events into ``app.app`` (stage ``v2``, base64 bodies, as
  tests/api/conftest.py's ApiClient builds them). Upload URLs point at an upload host,
  served in-process by ``chalicelib.uploadhost.create_upload_app`` (what the local stack
  runs on its second port), so PATCH and PUT bodies take the same path as in the stack.
* Counting: a botocore handler on the boto3 Session that the app's ``Services`` build their
  clients from. ``before-call.<service>.<operation>`` fires once per API call (retries
  included in the call, presigning never fires it); ``after-call`` gives the parsed reply,
  from which DynamoDB items read are taken (Query ``ScannedCount``, GetItem/BatchGetItem
  items returned, ``ConsumedCapacity`` when DynamoDB reports it).
* Containers: a new ``Services`` is a new Lambda container (cold: no secrets, no runtime
  configuration, no remembered credentials); reusing it is a warm container.
"""
from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from bench.util import ROOT
from devstack.events import proxy_event, proxy_reply

UPLOAD_BASE = "http://uploads.bench.invalid"
REGION = "us-east-1"
ADMIN_PASSWORD = "BenchAdmin1pass"
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Tally:
    """AWS calls (and DynamoDB items read) between two points in time."""

    calls: Counter = field(default_factory=Counter)  # (service, operation) -> calls
    items_read: int = 0  # DynamoDB items examined by reads (Query: ScannedCount)
    capacity: float = 0.0  # DynamoDB ConsumedCapacity, when reported
    aws_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_service(self) -> dict[str, int]:
        out: Counter = Counter()
        for (service, _), n in self.calls.items():
            out[service] += n
        return dict(out)

    def describe(self) -> str:
        """`dynamodb.GetItem ×3, s3.PutObject` in a stable order."""
        parts = []
        for (service, op), n in sorted(self.calls.items()):
            parts.append(f"{service}.{op}" + (f" ×{n}" if n > 1 else ""))
        return ", ".join(parts) or "none"

    def absorb(self, other: Tally) -> None:
        self.calls.update(other.calls)
        self.items_read += other.items_read
        self.capacity += other.capacity
        self.aws_seconds += other.aws_seconds


class CallCounter:
    """Counts every API call made by clients of one boto3 Session."""

    def __init__(self) -> None:
        self.current = Tally()
        self._started: dict[int, float] = {}

    def install(self, session: Any) -> None:
        # clients copy the session's handlers when they are created: register first
        session.events.register("before-call", self._before)
        session.events.register("after-call", self._after)
        session.events.register("provide-client-params.dynamodb", self._ask_capacity)

    def _before(self, model: Any, **_: Any) -> None:
        self.current.calls[(model.service_model.service_name, model.name)] += 1
        self._started[id(model)] = time.perf_counter()

    def _after(self, model: Any, parsed: Any = None, **_: Any) -> None:
        started = self._started.pop(id(model), None)
        if started is not None:
            self.current.aws_seconds += time.perf_counter() - started
        if model.service_model.service_name != "dynamodb" or not isinstance(parsed, dict):
            return
        if model.name == "Query" or model.name == "Scan":
            self.current.items_read += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif model.name == "GetItem":
            self.current.items_read += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            self.current.items_read += sum(len(v) for v in (parsed.get("Responses") or {}).values())
        capacity = parsed.get("ConsumedCapacity")
        for entry in capacity if isinstance(capacity, list) else [capacity] if capacity else []:
            self.current.capacity += float(entry.get("CapacityUnits") or 0)

    @staticmethod
    def _ask_capacity(params: dict, model: Any, **_: Any) -> None:
        # ask DynamoDB to report what each read costs (moto may or may not answer)
        if model.name in READS and "ReturnConsumedCapacity" not in params:
            params["ReturnConsumedCapacity"] = "TOTAL"

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        """Tally the calls made inside the block."""
        saved, self.current = self.current, Tally()
        tally = self.current
        try:
            yield tally
        finally:
            saved.absorb(tally)  # an enclosing measure() sees these calls too
            self.current = saved


class InProcessRegistry:
    """One Berth deployment on in-process moto, with a counted boto3 Session."""

    def __init__(self, stage: str = "bench") -> None:
        self.stage = stage
        self.counter = CallCounter()
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.session: Any = None
        self.env: dict[str, str] = {}
        self.svc: Any = None
        self.app: Any = None

    # -- life cycle ----------------------------------------------------------------
    def __enter__(self) -> Self:
        import boto3
        from moto import mock_aws

        self._set_env({
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": None, "AWS_PROFILE": None,
        })
        self._mock = mock_aws()
        self._mock.start()
        # set-up traffic goes through a session of its own: only the app's calls are counted
        setup = boto3.session.Session(region_name=REGION)
        outputs = self._deploy(setup)
        self.setup_session = setup
        self.env = {
            "BERTH_TABLE": outputs["TableName"], "BERTH_BUCKET": outputs["BucketName"],
            "BERTH_SSM_PREFIX": outputs["SsmPrefix"], "BERTH_UPLOAD_URL": UPLOAD_BASE,
            "BERTH_AUTH": "token", "BERTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # as deployed (infra/apigw-extras.yaml): a pull writes a log line, not an audit entry
            "BERTH_PULL_RECORDING": "log",
        }
        self._set_env(dict(self.env))
        from chalicelib.bootstrap import bootstrap
        from chalicelib.config import Settings
        from chalicelib.services import Services

        bootstrap(Services(Settings.from_env(), session=setup), admin_password=ADMIN_PASSWORD)
        self.session = boto3.session.Session(region_name=REGION)
        self.counter.install(self.session)
        import app as app_module

        self.app_module = app_module
        self.app = app_module.app
        self.new_container()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.app is not None:
            self.app_module.use_services(None)
        if self._mock is not None:
            self._mock.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _set_env(self, values: dict[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _deploy(self, session: Any) -> dict[str, str]:
        cfn = session.client("cloudformation")
        name = f"berth-{self.stage}"
        cfn.create_stack(
            StackName=name,
            TemplateBody=(ROOT / "infra" / "berth.yaml").read_text(),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": self.stage}],
        )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
        ssm = session.client("ssm")
        try:
            ssm.put_parameter(Name=f"{outputs['SsmPrefix']}/upload-token-key", Value=os.urandom(32).hex(),
                              Type="SecureString")
        except ssm.exceptions.ParameterAlreadyExists:
            pass
        return outputs

    def new_container(self) -> Any:
        """A fresh Services: what a new Lambda container (and upload host process) starts with."""
        from chalicelib.config import Settings
        from chalicelib.services import Services
        from chalicelib.uploadhost import create_upload_app

        self.svc = Services(Settings.from_env(), session=self.session)
        self.app_module.use_services(self.svc)
        self.upload_app = create_upload_app(services=self.svc)
        return self.svc

    def setup_services(self) -> Any:
        """Services on the uncounted session, for writing fixtures."""
        from chalicelib.config import Settings
        from chalicelib.services import Services

        return Services(Settings.from_env(), session=self.setup_session)

    # -- requests --------------------------------------------------------------------
    def request(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> Reply:
        if url.startswith(UPLOAD_BASE):
            return self._upload_host(method, url[len(UPLOAD_BASE):], body, headers or {})
        return self._api(method, url, body, headers or {})

    def _api(self, method: str, url: str, body: bytes, headers: dict) -> Reply:
        headers = {"Host": "registry.bench.invalid", "X-Forwarded-Proto": "https", **headers}
        return Reply(*proxy_reply(self.app(proxy_event(method, url, body, headers), None)))

    def _upload_host(self, method: str, path_and_query: str, body: bytes, headers: dict) -> Reply:
        from werkzeug.test import Client

        response = Client(self.upload_app).open(path_and_query, method=method, data=body, headers=headers)
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data())

    # -- what clients do ---------------------------------------------------------------
    def token(self, *scopes: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        query = "&".join([f"service={self.svc.settings.token_service}", *(f"scope={s}" for s in scopes)])
        reply = self.request("GET", f"/v2/service/token?{query}", headers={"Authorization": f"Basic {basic}"})
        if reply.status != 200:
            raise RuntimeError(f"token: {reply.status} {reply.body[:300]!r}")
        return reply.json()["token"]

    def push_blob(self, name: str, data: bytes, digest: str, bearer: dict, *, head: bool = True) -> None:
        """What skopeo does for one blob: HEAD, POST, one PATCH with the whole blob, PUT ?digest=."""
        if head:
            check = self.request("HEAD", f"/v2/{name}/blobs/{digest}", headers=bearer)
            if check.status == 307:
                return
        start = self.request("POST", f"/v2/{name}/blobs/uploads/", headers=bearer)
        _expect(start, 202, "POST upload")
        location = start.headers["location"]
        patch = self.request("PATCH", location, data, {**bearer, "Content-Type": "application/octet-stream"})
        _expect(patch, 202, "PATCH upload")
        location = patch.headers["location"]
        sep = "&" if "?" in location else "?"
        done = self.request("PUT", f"{location}{sep}digest={digest}", b"", bearer)
        _expect(done, 201, "PUT upload")

    def push_image(self, name: str, tag: str, image: Any, bearer: dict) -> None:
        for digest, data in blobs_of(image):
            self.push_blob(name, data, digest, bearer)
        self.put_manifest(name, tag, image, bearer)

    def put_manifest(self, name: str, tag: str, image: Any, bearer: dict) -> None:
        reply = self.request("PUT", f"/v2/{name}/manifests/{tag}", image.manifest,
                             {**bearer, "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        _expect(reply, 201, "PUT manifest")

    def pull_image(self, name: str, tag: str, bearer: dict) -> dict:
        reply = self.request("GET", f"/v2/{name}/manifests/{tag}",
                             headers={**bearer, "Accept": "application/vnd.oci.image.manifest.v1+json"})
        _expect(reply, 200, "GET manifest")
        manifest = reply.json()
        for desc in [manifest["config"], *manifest["layers"]]:
            blob = self.request("GET", f"/v2/{name}/blobs/{desc['digest']}", headers=bearer)
            _expect(blob, 307, "GET blob")
        return manifest


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def blobs_of(image: Any) -> list[tuple[str, bytes]]:
    """(digest, bytes) of an OCIImage's config and layers, config first as clients push it."""
    return [(image.config_digest, image.config), *((layer.digest, layer.blob) for layer in image.layers)]


def _expect(reply: Reply, status: int, what: str) -> None:
    if reply.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {reply.status}: {reply.body[:300]!r}")
