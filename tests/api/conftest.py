"""API-level tests: API Gateway proxy events through the real Chalice handler,
with AWS on moto (in-process), resources created from infra/berth.yaml."""
from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]


class ApiClient:
    """Sends requests as API Gateway (REST, stage v2) would deliver them."""

    def __init__(self, app):
        self.app = app

    def request(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> Reply:
        parts = urlsplit(url)
        assert parts.path.startswith("/v2/"), url
        rest = parts.path[len("/v2/") :]
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = dict(headers or {})
        if body:
            headers.setdefault("Content-Length", str(len(body)))
        event = {
            "resource": "/{proxy+}" if rest else "/",
            "path": "/" + rest,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {"proxy": rest} if rest else None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/{proxy+}" if rest else "/",
                "httpMethod": method,
                "stage": "v2",
                "path": parts.path,
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": base64.b64encode(body).decode() if body else None,
            "isBase64Encoded": bool(body),
        }
        out = self.app(event, None)
        merged = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
        for k, v in (out.get("multiValueHeaders") or {}).items():
            merged[k.lower()] = v[-1]
        raw = out.get("body") or b""
        if out.get("isBase64Encoded"):
            raw = base64.b64decode(raw)
        elif isinstance(raw, str):
            raw = raw.encode()
        return Reply(out["statusCode"], merged, raw)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def head(self, url, **kw):
        return self.request("HEAD", url, **kw)

    def put(self, url, body=b"", **kw):
        return self.request("PUT", url, body, **kw)

    def post(self, url, body=b"", **kw):
        return self.request("POST", url, body, **kw)

    def patch(self, url, body=b"", **kw):
        return self.request("PATCH", url, body, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        cfn.create_stack(StackName="berth-test", TemplateBody=(ROOT / "infra" / "berth.yaml").read_text())
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="berth-test")["Stacks"][0]["Outputs"]
        }
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=f"{outputs['SsmPrefix']}/upload-token-key", Value=os.urandom(32).hex(), Type="SecureString"
        )
        monkeypatch.setenv("BERTH_TABLE", outputs["TableName"])
        monkeypatch.setenv("BERTH_BUCKET", outputs["BucketName"])
        monkeypatch.setenv("BERTH_SSM_PREFIX", outputs["SsmPrefix"])
        monkeypatch.setenv("BERTH_UPLOAD_URL", "")
        yield outputs


@pytest.fixture
def services(aws_env):
    import app as app_module
    from chalicelib.config import Settings
    from chalicelib.services import Services

    svc = Services(Settings.from_env())
    app_module._services = svc
    yield svc
    app_module._services = None


@pytest.fixture
def api(services):
    import app as app_module

    return ApiClient(app_module.app)
