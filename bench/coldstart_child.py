"""One cold start, in a fresh interpreter: ``python bench/coldstart_child.py MODE``.

Run by bench.coldstart as a script (not ``-m bench...``, so nothing of the bench package
is imported). Prints one JSON line: seconds to the end of the imports, seconds to the end
of the first request, and the peak RSS. Modes:

* ``floor``  import boto3 and chalice, create the s3, dynamodb and ssm clients; nothing else
* ``ping``   ``import app``, then serve ``GET /v2/`` with a valid Bearer token ($BENCH_TOKEN)
* ``token``  ``import app``, then serve ``GET /v2/service/token`` with Basic credentials
             ($BENCH_BASIC), one repository scope
* ``import`` ``import app`` only
* ``phases`` ``import app``, then the ping's first-request work step by step (each step
             timed on its own), then the ping itself

The environment (BERTH_*, AWS_ENDPOINT_URL) points at a running local stack's moto.
"""
import time

STARTED = time.perf_counter()

import base64
import json
import os
import resource
import sys


def _event(path: str, query: dict, headers: dict) -> dict:
    rest = path[len("/v2/"):]
    return {
        "resource": "/{proxy+}" if rest else "/",
        "path": "/" + rest,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {"proxy": rest} if rest else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}" if rest else "/",
            "httpMethod": "GET",
            "stage": "v2",
            "path": path,
            "requestId": "bench-cold-start",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _peak_rss_kb() -> int:
    """Peak RSS of this program. /proc's VmHWM starts afresh at exec; getrusage's ru_maxrss
    would also count the pages of the (large) benchmark process this child was forked from."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(mode: str) -> dict:
    imported = served = None
    status = None
    if mode == "floor":
        import boto3
        import chalice  # noqa: F401

        session = boto3.session.Session()
        clients = [session.client(name) for name in ("s3", "dynamodb", "ssm")]
        assert clients
        imported = served = time.perf_counter()
    else:
        import app

        imported = time.perf_counter()
        host = {"Host": "registry.bench.invalid", "X-Forwarded-Proto": "https"}
        if mode == "ping":
            event = _event("/v2/", {}, {**host, "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]})
        elif mode == "token":
            basic = base64.b64encode(os.environ["BENCH_BASIC"].encode()).decode()
            event = _event("/v2/service/token", {"service": "berth-registry", "scope": "repository:library/cold:pull"},
                           {**host, "Authorization": "Basic " + basic})
        phases = {}
        if mode == "phases":
            phases = _phases(app)
            event = _event("/v2/", {}, {**host, "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]})
        if mode in ("ping", "token", "phases"):
            out = app.app(event, None)
            status = out["statusCode"]
            if status != 200:
                raise SystemExit(f"first request answered {status}: {out.get('body')!r}")
        served = time.perf_counter()
    return {
        "mode": mode,
        "imports": imported - STARTED,
        "first_request": served - imported,
        "total": served - STARTED,
        "maxrss_kb": _peak_rss_kb(),
        "status": status,
        **({"phases": phases} if mode == "phases" else {}),
    }


def _phases(app) -> dict:
    """What the first GET /v2/ does, one step at a time (the steps the profile shows)."""
    out = {}

    def step(name, fn):
        started = time.perf_counter()
        fn()
        out[name] = time.perf_counter() - started

    svc = app.services()
    step("create the SSM client (botocore loads its models)", lambda: svc.ssm)
    step("import cryptography and PyJWT (chalicelib.auth.tokens)", lambda: __import__("chalicelib.auth.tokens"))
    step("SSM GetParameters (the secrets, one call)", lambda: svc.secrets.get("token-signing-key"))
    step("load the RSA signing key from PEM and build the JWKS verifier", lambda: svc.token_keys.verifier())
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
