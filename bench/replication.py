"""A replication run, measured: N small images pushed to a local Berth stack, one push-based
policy to Debian's docker-registry, one run (a Step Functions execution that moto executes,
docs/replication.md). Prints its wall time, the Lambda invocations and state transitions
(Step Functions' price unit) from the execution's history, and the blob bytes that passed
through the task function.

    .venv/bin/python -m bench.replication --artifacts 100

Not part of `make bench` yet; numbers from a shared, loaded machine are indications only.
"""
from __future__ import annotations

import argparse
import os
import time

import boto3
import requests

from bench.servers import BerthStack, Distribution
from bench.util import log, temp_dir
from chalicelib.remote.client import Credential, RegistryClient
from tests.replication.test_remote_client import push_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=100)
    args = parser.parse_args(argv)
    with temp_dir() as work, BerthStack(work / "berth") as berth, Distribution(work / "cncf") as cncf:
        user, password = berth.creds.split(":", 1)
        client = RegistryClient(berth.api, Credential(user, password))
        for number in range(args.artifacts):
            push_image(client, f"library/rep{number:04d}", "v1", os.urandom(4096))
        api = requests.Session()
        api.auth = (user, password)
        base = f"{berth.api}/v2/api/v2.0"

        def created(path: str, body: dict) -> int:
            reply = api.post(base + path, json=body, timeout=60)
            reply.raise_for_status()
            return int(reply.headers["Location"].rsplit("/", 1)[1])

        registry = created("/registries", {"name": "cncf", "type": "docker-registry", "url": f"http://{cncf.host}"})
        policy = created("/replication/policies", {"name": "bench", "enabled": True, "dest_registry": {"id": registry},
                                                    "filters": [{"type": "name", "value": "library/rep*"}]})
        started = time.monotonic()
        execution = created("/replication/executions", {"policy_id": policy})
        while api.get(f"{base}/replication/executions/{execution}", timeout=60).json()["status"] == "InProgress":
            time.sleep(0.5)
        wall = time.monotonic() - started
        run = api.get(f"{base}/replication/executions/{execution}", timeout=60).json()
        tasks = api.get(f"{base}/replication/executions/{execution}/tasks", params={"page_size": 100}, timeout=60)
        total_bytes, page = 0, 1
        arn = tasks.json()[0]["job_id"] if tasks.json() else ""
        while True:
            rows = api.get(f"{base}/replication/executions/{execution}/tasks",
                           params={"page_size": 100, "page": page}, timeout=60).json()
            total_bytes += sum(r["bytes"] for r in rows)
            if len(rows) < 100:
                break
            page += 1
        sfn = boto3.client("stepfunctions", endpoint_url=berth.moto, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        events, token = [], None
        while arn:
            out = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events += out["events"]
            token = out.get("nextToken")
            if not token:
                break
        invocations = sum(1 for e in events if e["type"] == "LambdaFunctionScheduled" or e["type"] == "TaskScheduled")
        transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
        log(f"{args.artifacts} artifacts: {run['status']} ({run['succeed']} copied, {run['failed']} failed) "
            f"in {wall:.1f} s; {invocations} Lambda invocations; {transitions} state transitions "
            f"({len(events)} history events); {total_bytes} blob bytes through the task function")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
