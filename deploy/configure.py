"""Point a Chalice stage at the resources of its CloudFormation stacks.

    python -m deploy.configure --stage prod [--public-url https://registry.example.com]
                                            [--upload-url https://uploads.example.com]

reads the outputs of the stage's stacks (every template in infra/, deploy/stacks.py; at least
``berth-<stage>``, infra/berth.yaml, ``berth-<stage>-ops``, infra/operations.yaml,
``berth-<stage>-replication``, infra/replication.yaml, ``berth-<stage>-gc``, infra/gc.yaml, and
``berth-<stage>-schedules``, infra/schedules.yaml) and writes

- ``.chalice/config.json``, stage ``<stage>``: the app's environment (each template names the
  variables it provides under ``Metadata: Berth::Environment``: BERTH_TABLE, BERTH_BUCKET,
  BERTH_SSM_PREFIX, ...; and BERTH_PUBLIC_URL / BERTH_UPLOAD_URL when given),
  API Gateway stage ``v2``, ``autogen_policy: false`` and ``iam_policy_file``;
- ``.chalice/policy-<stage>.json``: the functions' IAM policy, rendered from
  ``deploy/lambda-policy.json`` with the stacks' outputs (exactly the calls the app makes;
  tests/deploy/test_iam_policy.py keeps it so), and ``.chalice/policy-<stage>-challenge.json``
  for the authorizer, which only writes its log (``deploy/challenge-policy.json``).

`make infra STAGE=<stage>` (deploy/infra.py) deploys the stacks and runs this. A value that
app.py itself needs while `chalice deploy` or `chalice package` builds the app (an event
source's ARN for ``@app.on_dynamodb_record`` or ``@app.on_sqs_message``) travels the same way:
Chalice sets the stage's environment variables before it imports app.py, so app.py reads
``os.environ`` there, from a variable a template names under ``Berth::Environment``. Other settings
of the stage (memory, tags, variables of your own) are kept. With ``--print``, nothing is
written and one of these is printed instead:

- ``env``: ``export`` lines with the app's environment, for ``python -m chalicelib.bootstrap``;
- ``ops-parameters``: ``--parameter-overrides`` for infra/operations.yaml;
- ``app-parameters``: ``--parameter-overrides`` for the packaged app (``infra/apigw-extras.yaml``):
  the event functions' sources (``EventStreamArn``, ``AuditEventsQueueArn``), ``PublicUrl`` from ``--public-url`` or from the stage's BERTH_PUBLIC_URL;
- ``uploadhost-parameters``: the data stack's part of infra/uploadhost.yaml's ``--parameter-overrides``.

Reads only CloudFormation (DescribeStacks); the region comes from ``--region`` or the
usual AWS configuration.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import string
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (python deploy/configure.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from deploy import stacks

ROOT = Path(__file__).resolve().parent.parent
POLICY_TEMPLATE = Path(__file__).resolve().parent / "lambda-policy.json"
# The authorizer reads nothing: its own policy lets it write its log and no more.
CHALLENGE_POLICY_TEMPLATE = Path(__file__).resolve().parent / "challenge-policy.json"
STAGE_PATTERN = stacks.STAGE_PATTERN
DATA_OUTPUTS = (
    "BucketName", "BucketArn", "TableName", "TableArn", "SsmPrefix", "SsmParameterArn",
    "TableStreamArn", "EventBusName", "EventBusArn", "AuditEventsQueueArn",
    "WebhookEventsQueueArn", "WebhookDeliveriesQueueArn", "WebhookDeliveriesQueueUrl", "ReplicationEventsQueueArn",
)
OPS_OUTPUTS = (
    "ApiFunctionLogGroupArn", "CleanUpFunctionLogGroupArn", "RecordPullsFunctionLogGroupArn",
    "ForwardEventsFunctionLogGroupArn", "AuditEventsFunctionLogGroupArn",
    "WebhookEventsFunctionLogGroupArn", "DeliverWebhooksFunctionLogGroupArn", "ChallengeFunctionLogGroupArn",
    "ReplicationTaskFunctionLogGroupArn", "ReplicationEventsFunctionLogGroupArn", "RunScheduleFunctionLogGroupArn",
    "ProxyFillFunctionLogGroupArn", "ProxyFillFunctionArn", "FunctionPrefix", "GcTaskFunctionLogGroupArn",
)

REPLICATION_OUTPUTS = ("ReplicationStateMachineArn", "ReplicationExecutionsArn")
# garbage collection (infra/gc.yaml): the state machine a run executes and its executions
GC_OUTPUTS = ("GcStateMachineArn", "GcExecutionsArn")
# jobs on a cron (infra/schedules.yaml): the policy names this stage's schedules and their role
SCHEDULES_OUTPUTS = ("SchedulePrefix", "ScheduleTargetArn", "ScheduleRoleArn", "SchedulesArn")

API_FUNCTION_ENVIRONMENT = {"BERTH_PULL_RECORDING": "log"}


class ConfigureError(Exception):
    """A stack or one of its outputs is missing; the message says which."""


def data_stack_name(stage: str) -> str:
    return f"berth-{stage}"


def ops_stack_name(stage: str) -> str:
    return f"berth-{stage}-ops"


def replication_stack_name(stage: str) -> str:
    return f"berth-{stage}-replication"


def gc_stack_name(stage: str) -> str:
    return f"berth-{stage}-gc"


def schedules_stack_name(stage: str) -> str:
    return f"berth-{stage}-schedules"


def stack_outputs(cfn: Any, name: str, required: tuple[str, ...]) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        raise ConfigureError(f"stack {name}: {exc.response.get('Error', {}).get('Message', exc)}") from None
    status = stack["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status or status.startswith("DELETE"):
        raise ConfigureError(f"stack {name} is {status}; deploy it first (README, 'Deploying to AWS')")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in required if not outputs.get(key)]
    if missing:
        raise ConfigureError(f"stack {name} lacks the outputs {', '.join(missing)}; update it from infra/")
    return outputs


def app_environment(
    outputs: Mapping[str, str],
    provided: Mapping[str, str],
    *,
    public_url: str | None = None,
    upload_url: str | None = None,
) -> dict[str, str]:
    """The stage's environment variables that come from the infrastructure: `provided` maps
    each variable to the stack output holding its value (the templates' Berth::Environment)."""
    env = {name: outputs[output] for name, output in provided.items() if output in outputs}
    if public_url is not None:
        env["BERTH_PUBLIC_URL"] = _url(public_url, "--public-url")
    if upload_url is not None:
        env["BERTH_UPLOAD_URL"] = _url(upload_url, "--upload-url")
    return env


def environment_outputs(plan: list[stacks.Stack]) -> dict[str, str]:
    """Variable -> output name, over every template of the stage."""
    provided: dict[str, str] = {}
    for stack in plan:
        provided.update(stack.environment)
    return provided


def stage_outputs(cfn: Any, stage: str) -> tuple[dict[str, str], dict[str, str]]:
    """All outputs of the stage's stacks, and the variable -> output mapping of their templates.
    The data, operations, replication, garbage collection and schedules stacks must exist;
    the others count if they do."""
    plan = stacks.plan(stage)
    outputs: dict[str, str] = {}
    for stack in plan:
        if stack.name == data_stack_name(stage):
            outputs.update(stack_outputs(cfn, stack.name, DATA_OUTPUTS))
        elif stack.name == ops_stack_name(stage):
            outputs.update(stack_outputs(cfn, stack.name, OPS_OUTPUTS))
        elif stack.name == replication_stack_name(stage):
            outputs.update(stack_outputs(cfn, stack.name, REPLICATION_OUTPUTS))
        elif stack.name == gc_stack_name(stage):
            outputs.update(stack_outputs(cfn, stack.name, GC_OUTPUTS))
        elif stack.name == schedules_stack_name(stage):
            outputs.update(stack_outputs(cfn, stack.name, SCHEDULES_OUTPUTS))
        elif stacks.describe(cfn, stack.name) is not None:
            outputs.update(stack_outputs(cfn, stack.name, ()))
    return outputs, environment_outputs(plan)


def render_policy(outputs: Mapping[str, str], template: Path = POLICY_TEMPLATE) -> dict[str, Any]:
    """deploy/lambda-policy.json with ${Output} replaced by the stacks' outputs."""
    try:
        text = string.Template(template.read_text(encoding="utf-8")).substitute(outputs)
    except KeyError as exc:
        raise ConfigureError(f"{template.name} needs the stack output {exc.args[0]}") from None
    return json.loads(text)


def update_config(config: dict[str, Any], stage: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The Chalice config with stage `stage` pointed at `env`; everything else kept."""
    stages = config.setdefault("stages", {})
    entry = stages.setdefault(stage, {})
    entry["api_gateway_stage"] = "v2"
    entry["autogen_policy"] = False
    entry["iam_policy_file"] = f"policy-{stage}.json"
    entry.setdefault("environment_variables", {}).update(env)
    # Deployed, the API function writes a line per pull and `record_pulls` records it from
    # the log subscription (deploy/finish.py, infra/apigw-extras.yaml), off the request path.
    # Chalice merges a function's own variables only at the stage level.
    functions = entry.setdefault("lambda_functions", {})
    api = functions.setdefault("api_handler", {})
    api.setdefault("environment_variables", {}).update(API_FUNCTION_ENVIRONMENT)
    functions.setdefault("challenge", {})["iam_policy_file"] = f"policy-{stage}-challenge.json"
    return config


def write(
    project: Path, stage: str, env: Mapping[str, str], policy: Mapping[str, Any], challenge_policy: Mapping[str, Any]
) -> list[Path]:
    chalice_dir = project / ".chalice"
    config_path = chalice_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    update_config(config, stage, env)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    written = [config_path]
    for name, document in ((f"policy-{stage}.json", policy), (f"policy-{stage}-challenge.json", challenge_policy)):
        path = chalice_dir / name
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _url(value: str, option: str) -> str:
    value = value.strip().rstrip("/")
    if value and not re.match(r"^https?://[^/\s\"]+$", value):
        raise ConfigureError(f"{option} {value!r} must be a scheme and a host, like https://registry.example.com")
    return value


def _configured(project: Path, stage: str, name: str) -> str:
    """A variable of the stage as .chalice/config.json has it now ("" if none)."""
    try:
        config = json.loads((project / ".chalice" / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    return config.get("stages", {}).get(stage, {}).get("environment_variables", {}).get(name, "")


def _overrides(values: Mapping[str, str]) -> str:
    return " ".join(shlex.quote(f"{key}={value}") for key, value in values.items())


def main(argv: list[str] | None = None, *, cfn: Any = None, project: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.configure", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True, help="the stage (dev, prod, ...), as given to infra/*.yaml")
    parser.add_argument("--region", help="AWS region of the stacks (default: your AWS configuration)")
    parser.add_argument("--public-url", help="https://HOST the registry is reached at (custom domain); sets BERTH_PUBLIC_URL")
    parser.add_argument("--upload-url", help="https://HOST of the upload host (infra/uploadhost.yaml); sets BERTH_UPLOAD_URL")
    parser.add_argument("--print", dest="show", choices=("env", "ops-parameters", "app-parameters", "uploadhost-parameters"))
    args = parser.parse_args(argv)
    if not STAGE_PATTERN.match(args.stage):
        parser.error(f"--stage {args.stage!r}: lower-case letters, digits and dashes, at most 20 characters")
    if cfn is None:
        import boto3

        cfn = boto3.session.Session(region_name=args.region).client("cloudformation")
    try:
        if args.show in ("ops-parameters", "uploadhost-parameters"):
            data = stack_outputs(cfn, data_stack_name(args.stage), DATA_OUTPUTS)
            provided = {}
        else:
            data, provided = stage_outputs(cfn, args.stage)
        if args.show == "ops-parameters":
            print(_overrides({"Stage": args.stage, "TableName": data["TableName"], "BucketName": data["BucketName"]}))
            return 0
        if args.show == "uploadhost-parameters":
            keys = ("TableName", "TableArn", "BucketName", "BucketArn", "SsmParameterArn")
            print(_overrides({"Stage": args.stage, **{key: data[key] for key in keys}}))
            return 0
        env = app_environment(data, provided, public_url=args.public_url, upload_url=args.upload_url)
        if args.show == "env":
            for key, value in env.items():
                print(f"export {key}={shlex.quote(value)}")
            return 0
        if args.show == "app-parameters":
            public_url = env.get("BERTH_PUBLIC_URL", _configured(project, args.stage, "BERTH_PUBLIC_URL"))
            # the event functions' sources: the table's stream, the audit log's queue
            values = {"Stage": args.stage, "EventStreamArn": data["TableStreamArn"],
                      "AuditEventsQueueArn": data["AuditEventsQueueArn"],
                      "WebhookEventsQueueArn": data["WebhookEventsQueueArn"],
                      "WebhookDeliveriesQueueArn": data["WebhookDeliveriesQueueArn"],
                      "ReplicationEventsQueueArn": data["ReplicationEventsQueueArn"]}
            if public_url:
                values["PublicUrl"] = public_url
            print(_overrides(values))
            return 0
        policy = render_policy(data)
        challenge_policy = render_policy(data, CHALLENGE_POLICY_TEMPLATE)
    except ConfigureError as exc:
        print(f"configure: {exc}", file=sys.stderr)
        return 1
    for path in write(project, args.stage, env, policy, challenge_policy):
        print(f"wrote {path.relative_to(project) if path.is_relative_to(project) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
