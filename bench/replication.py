"""Section 7: a replication run, measured. N small images pushed to the local Berth stack,
one push-based policy to Debian's docker-registry, one run: a Step Functions execution
that moto executes (docs/replication.md). Reports its wall time, the child executions of its
Distributed Map, the Lambda invocations and state transitions of the whole run (its own
execution's, from its history, and its children's, from the task records: moto keeps no
history of a Distributed Map's children), its history events (an execution holds at most
25,000), the size of the Map's input (Step Functions passes at most 256 KB between states)
and the blob bytes that passed through the task function.

    .venv/bin/python -m bench replication                # 500 artifacts (quick: 50)
    .venv/bin/python -m bench.replication --artifacts 100

Locally moto runs the state machine and each task in the stack's process, one task at a
time against its serialized DynamoDB: the wall time is this machine's, not AWS's; the
counts are the definition's and hold in AWS.
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import requests

from bench.util import fmt_s, log, temp_dir

REPOSITORIES = 24  # the images spread over them, one tag each

def run(berth, workdir: Path, quick: bool, artifacts: int | None = None) -> dict:
    from bench.servers import Distribution
    from chalicelib.errors import RemoteRegistryError
    from chalicelib.remote.client import Credential, RegistryClient
    from tests.replication.test_remote_client import push_image

    artifacts = artifacts or (50 if quick else 500)
    with Distribution(workdir / "cncf") as cncf:
        user, password = berth.creds.split(":", 1)
        prefix = f"rep{os.getpid()}"
        log(f"replication: pushing {artifacts} images (4 pushes at once, {REPOSITORIES} repositories)")
        pushed_at = time.monotonic()

        def push(worker: int) -> None:  # each worker its own repositories: pushes to one repository queue
            client = RegistryClient(berth.api, Credential(user, password))
            for number in range(worker, artifacts, 4):
                repository = f"library/{prefix}-{worker}-{(number // 4) % (REPOSITORIES // 4)}"
                for attempt in range(6):  # TOOMANYREQUESTS says retry, as clients do
                    try:
                        push_image(client, repository, f"v{number}", os.urandom(4096))
                        break
                    except RemoteRegistryError as exc:
                        if exc.status != 429 or attempt == 5:
                            raise
                        retried.append(repository)
                        time.sleep(0.2 * 2 ** attempt)

        retried: list[str] = []
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(push, range(4)))
        push_s = time.monotonic() - pushed_at
        api = requests.Session()
        api.auth = (user, password)
        base = f"{berth.api}/v2/api/v2.0"

        def created(path: str, body: dict) -> int:
            reply = api.post(base + path, json=body, timeout=60)
            reply.raise_for_status()
            return int(reply.headers["Location"].rsplit("/", 1)[1])

        registry = created("/registries", {"name": f"cncf-{prefix}", "type": "docker-registry",
                                           "url": f"http://{cncf.host}"})
        policy = created("/replication/policies", {"name": f"bench-{prefix}", "enabled": True,
                                                    "dest_registry": {"id": registry},
                                                    "filters": [{"type": "name", "value": f"library/{prefix}-**"}]})
        log(f"replication: one run of {artifacts} artifacts")
        started = time.monotonic()
        execution = created("/replication/executions", {"policy_id": policy})
        while api.get(f"{base}/replication/executions/{execution}", timeout=60).json()["status"] == "InProgress":
            time.sleep(0.5)
        wall = time.monotonic() - started
        run_record = api.get(f"{base}/replication/executions/{execution}", timeout=60).json()
        rows, page = [], 1
        while True:
            batch = api.get(f"{base}/replication/executions/{execution}/tasks",
                            params={"page_size": 100, "page": page}, timeout=60).json()
            rows += batch
            if len(batch) < 100:
                break
            page += 1
        sfn = boto3.client("stepfunctions", endpoint_url=berth.moto, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        arn = next(e["executionArn"] for e in sfn.list_executions(
            stateMachineArn=_machine(sfn), maxResults=1000)["executions"] if e["name"].endswith(f"-{execution}"))
        events, token = [], None
        while True:
            out = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events += out["events"]
            token = out.get("nextToken")
            if not token:
                break
        attempts, failed_tasks = _attempts(berth, execution)
    [map_run] = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    items = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"]
    own_invocations = sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
    own_transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    map_input = next(e["stateEnteredEventDetails"]["input"] for e in events if e["type"] == "MapStateEntered")
    return {
        "artifacts": artifacts,
        "child_executions": items["total"],
        "children_succeeded": items["succeeded"],
        "status": run_record["status"],
        "succeed": run_record["succeed"],
        "failed": run_record["failed"],
        "tasks": len(rows),
        "push_s": push_s,
        "push_retries": len(retried),
        "wall_s": wall,
        "own_invocations": own_invocations,
        "own_transitions": own_transitions,
        # each child: its Copy invoked once per attempt (a retry is another transition), and
        # RecordFailure once if it failed (infra/replication.yaml's ItemProcessor)
        "child_invocations": attempts + failed_tasks,
        "child_transitions": attempts + failed_tasks,
        "invocations": own_invocations + attempts + failed_tasks,
        "transitions": own_transitions + attempts + failed_tasks,
        "copy_attempts": attempts,
        "map_input_bytes": len(map_input.encode()),
        "history_events": len(events),
        "bytes": sum(r["bytes"] for r in rows),
    }


def _attempts(berth, execution: int) -> tuple[int, int]:
    """(copy attempts, failed tasks) of the run, from its task records (each attempt of a
    copy counts itself: chalicelib/replicator/tasks.py, `run_count`)."""
    from chalicelib.meta import keys

    dynamodb = boto3.client("dynamodb", endpoint_url=berth.moto, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    attempts = failed = 0
    for page in dynamodb.get_paginator("query").paginate(
            TableName=berth.env["BERTH_TABLE"], KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.replication_tasks_pk(execution)}}):
        for item in page["Items"]:
            attempts += int(item.get("run_count", {"N": "0"})["N"])
            failed += item.get("status", {}).get("S") == "Failed"
    return attempts, failed


def verdict(result: dict) -> tuple[bool, str]:
    ok = result["failed"] == 0 and result["history_events"] < 25000 and result["child_executions"] == result["artifacts"]
    return ok, (f"{result['artifacts']} artifacts: {result['failed']} failed, {result['history_events']} history events "
                f"in the run's execution, {result['child_executions']} child executions, {fmt_s(result['wall_s'])}")


def _machine(sfn) -> str:
    machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-replication")]
    return machines[0]


def render(result: dict) -> str:
    n = result["artifacts"]
    return "\n".join([
        f"One push-based run of {n} small images (one 4 KiB layer each, {REPOSITORIES} repositories) from the local stack to Debian's",
        "docker-registry: a Step Functions execution of `infra/replication.yaml` that moto executes, each",
        "task the app's `replication_task` in the stack's process (`bench/replication.py`). Each artifact is",
        "copied in a child execution of the run's Distributed Map, whose items (the task ids) `Plan` wrote to",
        "S3 and the Map's `ItemReader` read. The run's own invocations and transitions are counted from its",
        "execution's history; moto keeps no history of the children, so theirs are counted from the task",
        "records: a child enters `Copy` once per attempt (a retry is another transition and invocation) and",
        "`RecordFailure` once if it failed.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| artifacts | {n} ({result['succeed']} copied, {result['failed']} failed; run {result['status']}) |",
        f"| wall time of the run | {fmt_s(result['wall_s'])} ({fmt_s(result['wall_s'] / n)} per artifact) |",
        (f"| child executions (the Map Run's items) | {result['child_executions']} "
         f"({result['children_succeeded']} succeeded) |"),
        (f"| Lambda invocations | {result['invocations']} ({result['invocations'] / n:.2f} per artifact: "
         f"{result['own_invocations']} in the run's own execution, {result['child_invocations']} in its children; "
         f"{result['copy_attempts']} copy attempts) |"),
        (f"| state transitions (Step Functions' price unit) | {result['transitions']} "
         f"({result['transitions'] / n:.2f} per artifact: {result['own_transitions']} in the run's own execution, "
         f"{result['child_transitions']} in its children) |"),
        (f"| the Map's input (at most 256 KB) | {result['map_input_bytes']} bytes (the items' place in S3, "
         "the same for any number of artifacts) |"),
        (f"| history events of the run's execution | {result['history_events']} (at most 25,000; "
         "the same for any number of artifacts) |"),
        f"| blob bytes through the task function | {result['bytes']:,} |",
        (f"| pushing the images first (not part of the run; 4 at once) | {fmt_s(result['push_s'])} "
        f"({result.get('push_retries', 0)} pushes answered 429 and retried) |"),
        "",
        "Locally moto runs the Map's copies in threads of the stack's process, their DynamoDB calls",
        "serialized, so the wall time is this machine's, not AWS's (4 copies at once, each its own",
        "Lambda). The counts are the definition's own and hold in AWS.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=100)
    args = parser.parse_args(argv)
    from bench.servers import BerthStack

    with temp_dir() as work, BerthStack(work / "berth") as berth:
        print(render(run(berth, work, False, args.artifacts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
