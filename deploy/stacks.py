"""The CloudFormation stacks of one stage, from the templates in infra/: which, in what order,
with what parameters; deploying them (only what changed) and deleting them.

- **Which**: every full template in ``infra/`` (one that declares ``AWSTemplateFormatVersion``).
  A fragment such as ``infra/apigw-extras.yaml`` is merged into Chalice's own template by
  ``chalice package`` and is no stack of its own.
- **Names**: ``infra/berth.yaml`` is ``berth-<stage>``, ``infra/operations.yaml``
  ``berth-<stage>-ops``, any other ``infra/<name>.yaml`` ``berth-<stage>-<name>``.
- **Parameters**, in this order of preference: ``Stage``; what the operator gives
  (``KEY=VALUE``); an output of the same name of a stack deployed before; the value the stack
  has now (given once, an ``AlarmEmail`` stays); the template's default.
- **Order**: a template that takes another's output comes after it; otherwise the data stack
  first, then by name. A template with a required parameter that none of these fills (the
  upload host needs an image, a VPC and a certificate) is skipped and named, until given.

A stack whose template and parameters are what is deployed is left alone, so running this
again changes nothing. Deleting goes in reverse order, emptying the buckets that go with a
stack first (artifacts); resources marked ``DeletionPolicy: Retain`` (the blob bucket and the
metadata table) stay, as they are the registry's data.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import WaiterError

INFRA = Path(__file__).resolve().parent.parent / "infra"
STAGE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
# stack-name suffixes kept from the first deployments (README); others are -<template stem>
SUFFIXES = {"berth": "", "operations": "-ops"}
FIRST = "berth"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
WAIT = {"Delay": 5, "MaxAttempts": 360}  # up to 30 minutes per stack


class StackError(Exception):
    """A stack could not be deployed or deleted; the message says which and why."""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: _plain(loader, node))


def _plain(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader) or {}


@dataclass(eq=False)
class Stack:
    """One template of infra/ as a stack of the stage."""

    name: str  # berth-<stage>[-suffix]
    stage: str
    template: Path
    body: dict[str, Any] = field(repr=False)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters") or {}

    @property
    def outputs(self) -> set[str]:
        return set(self.body.get("Outputs") or {})

    @property
    def environment(self) -> dict[str, str]:
        """The app's environment variables this stack provides: variable -> output name
        (the template's ``Metadata: Berth::Environment``)."""
        return dict((self.body.get("Metadata") or {}).get("Berth::Environment") or {})


def stack_name(stage: str, template: Path) -> str:
    return f"berth-{stage}" + SUFFIXES.get(template.stem, f"-{template.stem}")


def templates(infra: Path | None = None) -> list[Path]:
    """The full templates in infra/ (fragments for `chalice package` declare no format version)."""
    return sorted(p for p in (infra or INFRA).glob("*.yaml") if "AWSTemplateFormatVersion" in load(p))


def plan(stage: str, infra: Path | None = None) -> list[Stack]:
    """Every stack of the stage, each after the stacks whose outputs it takes."""
    if not STAGE_PATTERN.match(stage):
        raise StackError(f"stage {stage!r}: lower-case letters, digits and dashes, at most 20 characters")
    pending = [Stack(stack_name(stage, p), stage, p, load(p)) for p in templates(infra)]
    pending.sort(key=lambda s: (s.template.stem != FIRST, s.template.stem))
    providers = {output: s for s in pending for output in s.outputs}
    ordered: list[Stack] = []
    while pending:
        for stack in pending:
            needs = {providers[p] for p in stack.parameters if p in providers and p != "Stage" and providers[p] is not stack}
            if all(n in ordered for n in needs):
                ordered.append(stack)
                pending.remove(stack)
                break
        else:
            raise StackError("the templates in infra/ take each other's outputs in a circle: " + ", ".join(s.template.name for s in pending))
    return ordered


def parameter_values(
    stack: Stack, stage: str, given: Mapping[str, str], outputs: Mapping[str, str], current: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The stack's parameters (see the module's doc) and the required ones nothing fills."""
    values: dict[str, str] = {}
    missing = []
    for name, spec in stack.parameters.items():
        if name == "Stage":
            values[name] = stage
        elif name in given:
            values[name] = given[name]
        elif name in outputs:
            values[name] = outputs[name]
        elif name in current:
            values[name] = current[name]
        elif "Default" not in spec:
            missing.append(name)
    return values, missing


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack as CloudFormation has it, or None if there is none (deleted ones included)."""
    from botocore.exceptions import ClientError

    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack


def outputs_of(stack: Mapping[str, Any] | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def deploy(cfn: Any, stage: str, given: Mapping[str, str] | None = None, infra: Path | None = None, say=print) -> dict[str, str]:
    """Deploy every stack of the stage that can be; returns all their outputs."""
    given = dict(given or {})
    outputs: dict[str, str] = {}
    for stack in plan(stage, infra):
        existing = describe(cfn, stack.name)
        current = {p["ParameterKey"]: p["ParameterValue"] for p in (existing or {}).get("Parameters", [])}
        values, missing = parameter_values(stack, stage, given, outputs, current)
        if missing:
            say(f"{stack.name}: skipped, infra/{stack.template.name} needs {', '.join(missing)} (give NAME=VALUE)")
            continue
        outputs.update(_deploy_one(cfn, stack, values, existing, say))
    return outputs


def _deploy_one(cfn: Any, stack: Stack, values: dict[str, str], existing: dict | None, say) -> dict[str, str]:
    body = stack.template.read_text(encoding="utf-8")
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        # a first creation that failed leaves a stack that can only be deleted
        _delete_one(cfn, stack, say)
        existing = None
    if existing is not None and _unchanged(cfn, stack.name, existing, body, values):
        say(f"{stack.name}: unchanged")
        return outputs_of(existing)
    kind = "UPDATE" if existing is not None else "CREATE"
    request = {
        "StackName": stack.name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": "berth:stage", "Value": stack.stage}],
    }
    from botocore.exceptions import ClientError

    try:
        if kind == "CREATE":
            cfn.create_stack(**request)
        else:
            cfn.update_stack(**request)
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            say(f"{stack.name}: unchanged")
            return outputs_of(existing)
        raise StackError(f"{stack.name}: {exc}") from None
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stack.name, WaiterConfig=WAIT)
    except WaiterError as exc:  # its message lacks CloudFormation's reasons: add them
        raise StackError(f"{stack.name}: {exc}; {_failure_reasons(cfn, stack.name)}") from None
    say(f"{stack.name}: {'created' if kind == 'CREATE' else 'updated'} from infra/{stack.template.name}")
    return outputs_of(describe(cfn, stack.name))


def _unchanged(cfn: Any, name: str, existing: dict, body: str, values: Mapping[str, str]) -> bool:
    if existing["StackStatus"] not in STABLE:
        return False
    deployed = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    current = {p["ParameterKey"]: p["ParameterValue"] for p in existing.get("Parameters", [])}
    return deployed == body and all(current.get(k) == v for k, v in values.items())


def _failure_reasons(cfn: Any, name: str) -> str:
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    reasons = [f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}" for e in events if "FAILED" in e["ResourceStatus"] and e.get("ResourceStatusReason")]
    return "; ".join(reasons[:5]) or "no reason given"


def delete(cfn: Any, s3: Any, stage: str, infra: Path | None = None, say=print) -> list[str]:
    """Delete the stage's stacks, last first; returns the resources that stay (`Retain`: the data)."""
    kept: list[str] = []
    for stack in reversed(plan(stage, infra)):
        existing = describe(cfn, stack.name)
        if existing is None:
            continue
        physical = {
            r.get("LogicalResourceId"): r.get("PhysicalResourceId")
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack.name)
            for r in page["StackResourceSummaries"]
        }
        for logical, resource in (stack.body.get("Resources") or {}).items():
            if not physical.get(logical):
                continue
            if resource.get("DeletionPolicy") == "Retain":
                kept.append(f"{resource['Type']} {physical[logical]}")
            elif resource.get("Type") == "AWS::S3::Bucket":
                _empty_bucket(s3, physical[logical])
        _delete_one(cfn, stack, say)
    return kept


def _delete_one(cfn: Any, stack: Stack, say) -> None:
    cfn.delete_stack(StackName=stack.name)
    try:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack.name, WaiterConfig=WAIT)
    except WaiterError as exc:
        raise StackError(f"{stack.name}: {exc}; {_failure_reasons(cfn, stack.name)}") from None
    say(f"{stack.name}: deleted")


def _empty_bucket(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
