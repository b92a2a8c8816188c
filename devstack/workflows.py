"""Step Functions, locally and for real: moto's Step Functions executes the state machine
of infra/ (moto's `stepfunctions` setting `execute_state_machine`), and each Lambda task it
calls is handed in process to the app's function of that name (design.md, "Work off the
request path"): moto's Lambda would start a container there (`LambdaFunction._invoke_lambda`).
No interpreter of Amazon States Language of our own.

`install(app_module)` patches the one method; `create_replication_workflow` and
`create_gc_workflow` make the function record (moto needs one, with a role), as `chalice
deploy` makes the function, and the state machine with the definition in infra/replication.yaml
or infra/gc.yaml, as `make infra` does in AWS.
"""
from __future__ import annotations

import io
import json
import logging
import re
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("berth.workflows")
TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "replication.yaml"
FUNCTION = "replication_task"  # the app's function (app.py), deployed as berth-<stage>-replication_task
GC_TEMPLATE = TEMPLATE.parent / "gc.yaml"
GC_FUNCTION = "gc_task"  # the app's function (app.py), deployed as berth-<stage>-gc_task
_ROLE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]})


def enable_execution() -> None:
    """moto's Step Functions runs what it is given (its config, read per call)."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


def install(app_module: Any, *, one_at_a_time: bool = False) -> None:
    """Hand every moto Lambda invocation of `*-<name>` to the app's function `<name>`.
    `one_at_a_time`: for moto in process (the tests' mock), whose DynamoDB is not
    thread-safe (devstack/motoserver.py serializes it in server mode instead)."""
    import contextlib
    import threading

    from moto.awslambda.models import LambdaFunction

    gate = threading.Lock() if one_at_a_time else contextlib.nullcontext()

    def invoke(self, event=None):
        name = self.function_name.rsplit("-", 1)[-1]
        handler = getattr(app_module, name, None)
        if handler is None:
            return json.dumps({"errorType": "ResourceNotFound", "errorMessage": f"no app function {name}"}), True, ""
        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        context = SimpleNamespace(function_name=self.function_name, aws_request_id=str(uuid.uuid4()),
                                  get_remaining_time_in_millis=lambda: 900_000)
        try:
            with gate:
                result = handler(payload, context)
        except Exception as exc:  # noqa: BLE001 - as Lambda does: the error goes back to the caller
            log.info("%s failed: %s: %s", self.function_name, type(exc).__name__, exc)
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_exception(exc)[-3:]}), True, ""
        return json.dumps(result), False, ""

    def invoke_as_asked(self, body, request_headers, response_headers):
        # Lambda queues an asynchronous invocation (InvocationType Event) and answers 202
        # at once; moto would run it before answering
        if (request_headers or {}).get("x-amz-invocation-type", "") == "Event" or \
                (request_headers or {}).get("X-Amz-Invocation-Type", "") == "Event":
            event = json.loads(body) if body else {}
            threading.Thread(target=self._invoke_lambda, kwargs={"event": event}, daemon=True,
                             name=f"async-{self.function_name}").start()
            return ""
        return original(self, body, request_headers, response_headers)

    original = getattr(LambdaFunction.invoke, "_berth_original", LambdaFunction.invoke)
    invoke_as_asked._berth_original = original
    LambdaFunction._invoke_lambda = invoke
    LambdaFunction.invoke = invoke_as_asked
    _copy_machines_without_their_executions()
    _stop_once_started()


def _copy_machines_without_their_executions() -> None:
    """moto 5.2 deep-copies a state machine for each new execution, its past executions
    included, which hold thread locks: the second execution of a machine fails (cannot
    pickle '_thread.RLock'). The copy is the new execution's view of the definition; it
    never needs the past ones."""
    import copy

    from moto.stepfunctions.models import StateMachine

    if getattr(StateMachine, "_berth_copy", False):
        return

    def deepcopy(self, memo):
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, [] if key == "executions" else copy.deepcopy(value, memo))
        return clone

    StateMachine.__deepcopy__ = deepcopy
    StateMachine._berth_copy = True


def _stop_once_started() -> None:
    """moto 5.2 parses the definition and makes the execution's environment in the
    execution's own thread; a stop that comes before (a run stopped right after it started)
    fails on the environment not made yet. The stop waits for it (parsing takes
    milliseconds)."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if getattr(ExecutionWorker, "_berth_stop", False):
        return
    stop = ExecutionWorker.stop

    def stop_once_started(self, *args, **kwargs):
        for _ in range(500):
            if getattr(self, "env", None) is not None:
                break
            time.sleep(0.01)
        return stop(self, *args, **kwargs)

    ExecutionWorker.stop = stop_once_started
    ExecutionWorker._berth_stop = True


def definition(function_arn: str | None = None, template: Path = TEMPLATE) -> str:
    """The state machine's Amazon States Language as its template in infra/ holds it
    (infra/replication.yaml by default, GC_TEMPLATE for garbage collection); with
    `function_arn` (berth-<stage>-<task function>'s), its task ARN substituted as
    CloudFormation's `!Sub` does (the stage, the region and the account from that ARN)."""
    from devstack.resources import load_template

    text = load_template(template)["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    if function_arn is None:
        return text
    _, partition, _, region, account, _, name = function_arn.split(":")[:7]
    # berth-<stage>-<function>: the stage may hold dashes, the app's function names do not
    values = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account,
              "Stage": name.removeprefix("berth-").rsplit("-", 1)[0]}
    return re.sub(r"\$\{([^}!]+)\}", lambda m: values[m.group(1)], text)


def create_function(client_for: Callable[[str], Any], stage: str, name: str, role: str | None = None) -> str:
    """moto's record of the app's function `name`, deployed as berth-<stage>-<name> (its
    invocations run in process: `install`); its ARN."""
    lam = client_for("lambda")
    if role is None:
        iam = client_for("iam")
        try:
            role = iam.create_role(RoleName=f"berth-{stage}-functions", AssumeRolePolicyDocument=_ROLE_POLICY)["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName=f"berth-{stage}-functions")["Role"]["Arn"]
    function = f"berth-{stage}-{name}"
    try:
        return lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    except lam.exceptions.ResourceNotFoundException:
        return lam.create_function(FunctionName=function, Runtime="python3.12", Role=role, Handler=f"app.{name}",
                                   Code={"ZipFile": _zip()}, Timeout=900)["FunctionArn"]


def create_replication_workflow(client_for: Callable[[str], Any], stage: str) -> str:
    """The replication state machine (and the function record its tasks name); its ARN.
    `client_for(service)`: a boto3 client of moto's."""
    return _create_workflow(client_for, stage, TEMPLATE, FUNCTION, "replication")


def create_gc_workflow(client_for: Callable[[str], Any], stage: str) -> str:
    """Garbage collection's state machine, berth-<stage>-gc, from infra/gc.yaml's definition
    (its tasks: the app's gc_task), and the function record its tasks name; its ARN."""
    return _create_workflow(client_for, stage, GC_TEMPLATE, GC_FUNCTION, "gc")


def _create_workflow(client_for: Callable[[str], Any], stage: str, template: Path, function: str, suffix: str) -> str:
    """Made through the Step Functions API from the template's definition, its function's
    ARN substituted as CloudFormation does, not by deploying the template: moto 5.2 keeps the
    state machines its CloudFormation makes in the backend that does not execute them
    (`execute_state_machine` answers from another). The deploy tests deploy the templates
    themselves into moto (tests/deploy/test_replication_stack.py, test_gc_stack.py)."""
    iam, sfn = client_for("iam"), client_for("stepfunctions")
    role_name = f"berth-{stage}-{suffix}"
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_ROLE_POLICY)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    arn = create_function(client_for, stage, function, role)
    text = definition(arn, template)
    name = f"berth-{stage}-{suffix}"  # as the template names it
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=text)
            return machine["stateMachineArn"]
    return sfn.create_state_machine(name=name, definition=text, roleArn=role)["stateMachineArn"]


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("app.py", "# the app's code runs in process (devstack/workflows.py)\n")
    return out.getvalue()

