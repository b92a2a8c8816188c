"""Berth's AWS resources, created in moto from the same template as in AWS.

``provision`` deploys ``infra/berth.yaml`` as a CloudFormation stack into moto, reads the
stack outputs, and runs the bootstrap step that CloudFormation cannot do (SecureString
parameters). It returns the environment the app needs.

moto's CloudFormation accepts every property of the template but does not act on some of
them (see ``_MOTO_IGNORES``); ``apply_ignored_properties`` applies those through the
service APIs, reading them from the template, so the local resources are configured as
the template says rather than by a second copy of the settings.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "berth.yaml"
REGION = "us-east-1"
UPLOAD_TOKEN_KEY = "upload-token-key"

# moto 5.2.1 builds these resources from the template but ignores these properties.
_MOTO_IGNORES = {
    "AWS::S3::Bucket": ("PublicAccessBlockConfiguration", "LifecycleConfiguration"),
    "AWS::DynamoDB::Table": (
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
    ),
}


class ProvisionError(RuntimeError):
    """The stack could not be created; the message carries CloudFormation's reasons."""


def provision(endpoint_url: str, stage: str = "dev") -> dict[str, str]:
    """Create (or find) the stage's resources in moto and bootstrap its secrets.

    Returns the app's environment: BERTH_TABLE, BERTH_BUCKET, BERTH_SSM_PREFIX, BERTH_EVENT_BUS,
    BERTH_WEBHOOK_QUEUE.
    Safe to call again against the same moto: an existing stack is reused and an
    existing key is kept.
    """
    outputs = deploy_stack(endpoint_url, stage)
    apply_ignored_properties(endpoint_url, stack_name(stage))
    ensure_upload_token_key(endpoint_url, outputs["SsmPrefix"])
    return {
        "BERTH_TABLE": outputs["TableName"],
        "BERTH_BUCKET": outputs["BucketName"],
        "BERTH_SSM_PREFIX": outputs["SsmPrefix"],
        "BERTH_EVENT_BUS": outputs["EventBusName"],
        "BERTH_WEBHOOK_QUEUE": outputs["WebhookDeliveriesQueueUrl"],
    }


def event_sources(endpoint_url: str, stage: str = "dev") -> dict[str, str]:
    """What the local event delivery polls (devstack/event_stream.py): the table's stream
    and the consumers' queues, from the stack's outputs (TableStreamArn, AuditEventsQueueUrl,
    WebhookEventsQueueUrl, WebhookDeliveriesQueueUrl, ReplicationEventsQueueUrl)."""
    stack = client("cloudformation", endpoint_url).describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {
        "stream_arn": outputs["TableStreamArn"],
        "audit_queue_url": outputs["AuditEventsQueueUrl"],
        "webhook_events_queue_url": outputs["WebhookEventsQueueUrl"],
        "webhook_deliveries_queue_url": outputs["WebhookDeliveriesQueueUrl"],
        "replication_events_queue_url": outputs["ReplicationEventsQueueUrl"],
    }


_LOADER: Any = None


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for moto. Fixed dummy credentials: never real ones, whatever the env.
    Every client's session shares one loader of botocore's service models: a session
    of its own would read and parse them again, about 0.1-0.2 s per client."""
    global _LOADER
    from botocore.loaders import create_loader
    from botocore.session import get_session

    if _LOADER is None:
        _LOADER = create_loader()
    core = get_session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
        botocore_session=core,
    )
    return session.client(service, endpoint_url=endpoint_url)


def stack_name(stage: str) -> str:
    return f"berth-{stage}"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, short-form intrinsics (``!Ref``) included."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)


def deploy_stack(
    endpoint_url: str,
    stage: str,
    template_path: Path = TEMPLATE_PATH,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Create the stack unless it exists, wait for it, and return its outputs."""
    cfn = client("cloudformation", endpoint_url)
    name = stack_name(stage)
    stack = _describe_stack(cfn, name)
    if stack is None or stack["StackStatus"] in (
        "DELETE_COMPLETE",
        "ROLLBACK_COMPLETE",
    ):
        if stack is not None:  # a failed first attempt: a new one needs the name back
            cfn.delete_stack(StackName=name)
        cfn.create_stack(
            StackName=name,
            TemplateBody=template_path.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
            Tags=[{"Key": "berth:stage", "Value": stage}],
        )
        stack = _wait_for_stack(cfn, name, timeout)
    if (
        not stack["StackStatus"].endswith("_COMPLETE")
        or "ROLLBACK" in stack["StackStatus"]
    ):
        raise ProvisionError(
            f"stack {name} is {stack['StackStatus']}: {_failure_reasons(cfn, name)}"
        )
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def apply_ignored_properties(
    endpoint_url: str, name: str, template_path: Path = TEMPLATE_PATH
) -> None:
    """Apply the template properties that moto's CloudFormation accepts but ignores."""
    resources = load_template(template_path).get("Resources", {})
    cfn = client("cloudformation", endpoint_url)
    # moto skips the types it does not know (AWS::SQS::QueuePolicy: its SQS does not
    # enforce queue policies, so there is nothing to apply); they have no physical id
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
        if "PhysicalResourceId" in r
    }
    for logical_id, resource in resources.items():
        kind = resource.get("Type", "")
        props = {
            key: value
            for key, value in resource.get("Properties", {}).items()
            if key in _MOTO_IGNORES.get(kind, ())
        }
        if not props:
            continue
        if kind == "AWS::S3::Bucket":
            _configure_bucket(client("s3", endpoint_url), physical[logical_id], props)
        elif kind == "AWS::DynamoDB::Table":
            _configure_table(
                client("dynamodb", endpoint_url), physical[logical_id], props
            )


def ensure_upload_token_key(endpoint_url: str, ssm_prefix: str) -> bool:
    """Create ``<prefix>/upload-token-key`` (32 random bytes, hex) unless it exists.

    Returns True when it was created. Overwrite=False makes the check and the write one
    step, so two stacks starting at once cannot both write a key.
    """
    ssm = client("ssm", endpoint_url)
    try:
        ssm.put_parameter(
            Name=f"{ssm_prefix.rstrip('/')}/{UPLOAD_TOKEN_KEY}",
            Description="HMAC key signing Berth upload-session tokens",
            Value=secrets.token_hex(32),
            Type="SecureString",
            Overwrite=False,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterAlreadyExists":
            return False
        raise
    return True


def _describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if (
            exc.response["Error"]["Code"] == "ValidationError"
        ):  # "Stack ... does not exist"
            return None
        raise


def _wait_for_stack(cfn: Any, name: str, timeout: float) -> dict[str, Any]:
    # moto finishes create_stack before answering; real CloudFormation does not, and the
    # boto3 waiter polls every 30 s, which is far too slow here.
    deadline = time.monotonic() + timeout
    while True:
        stack = _describe_stack(cfn, name)
        if stack is not None and not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise ProvisionError(f"stack {name} not created within {timeout:.0f} s")
        time.sleep(0.2)


def _failure_reasons(cfn: Any, name: str) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}"
        for e in events
        if e.get("ResourceStatus", "").endswith("_FAILED")
        and e.get("ResourceStatusReason")
    ]
    return "; ".join(reasons) or "no reason given"


def _configure_bucket(s3: Any, bucket: str, props: dict[str, Any]) -> None:
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
        )
    if "LifecycleConfiguration" in props:
        rules = [
            _lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]
        ]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape to the S3 API's, for the keys Berth uses."""
    out: dict[str, Any] = {
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    for key, value in rule.items():
        if key == "Id":
            out["ID"] = value
        elif key == "ExpirationInDays":
            out["Expiration"] = {"Days": value}
        elif key == "AbortIncompleteMultipartUpload":
            out["AbortIncompleteMultipartUpload"] = value
        elif key not in ("Status", "Prefix"):
            log.warning(
                "lifecycle rule %s: %s is not applied in moto", rule.get("Id"), key
            )
    return out


def _configure_table(ddb: Any, table: str, props: dict[str, Any]) -> None:
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={
                    "Enabled": True,
                    "AttributeName": ttl["AttributeName"],
                },
            )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads ``!Ref x`` as ``{"Ref": x}`` and ``!Sub s`` as ``{"Fn::Sub": s}``."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)
