"""infra/gc.yaml deployed into moto's CloudFormation (the `deployed` stage): the state machine a
garbage collection run executes, its tasks calling the stage's gc_task function, every failure
recorded by the `fail` step and then failing the execution (what GcExecutionsFailedAlarm
counts), a role that may invoke that function and nothing else, and a log group with
retention; the stage's environment and the functions' policy point at it, the policy allowing
the run's execution to be started on this machine only and stopped and described on its
executions only."""
from __future__ import annotations

import json

from deploy import configure
from devstack.resources import load_template
from devstack.workflows import GC_TEMPLATE, definition
from tests.deploy.conftest import INFRA, REGION
from tests.deploy.test_iam_policy import allowed
from tests.deploy.test_replication_stack import task_resources


def test_the_state_machine_runs_the_template_definition_with_the_stages_task_function(deployed, moto_session):
    sfn = moto_session.client("stepfunctions")
    arn = deployed.gc["GcStateMachineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    assert machine["name"] == deployed.gc["GcStateMachineName"] == f"berth-{deployed.stage}-gc"
    account = deployed.data["TableArn"].split(":")[4]
    function = f"arn:aws:lambda:{REGION}:{account}:function:berth-{deployed.stage}-gc_task"
    deployed_definition = json.loads(machine["definition"])
    assert deployed_definition == json.loads(definition(function, GC_TEMPLATE))  # what devstack and tests/gc run
    assert task_resources(deployed_definition["States"]) == {function}
    assert arn.startswith(deployed.gc["GcExecutionsArn"].replace(":execution:", ":stateMachine:"))


def test_a_failed_step_is_recorded_then_fails_the_execution(deployed, moto_session):
    states = json.loads(definition(None, GC_TEMPLATE))["States"]
    caught = {c["Next"] for s in states.values() for c in s.get("Catch", [])}
    assert caught == {"Failed"}
    assert states["Failed"]["Parameters"]["step"] == "fail" and "Catch" not in states["Failed"]
    assert states[states["Failed"]["Next"]]["Type"] == "Fail"
    assert [name for name, s in states.items() if s["Type"] == "Succeed"] == ["Done"]


def test_its_role_may_invoke_the_task_function_only(deployed, moto_session):
    sfn, iam = moto_session.client("stepfunctions"), moto_session.client("iam")
    role = sfn.describe_state_machine(stateMachineArn=deployed.gc["GcStateMachineArn"])["roleArn"]
    assert iam.get_role(RoleName=role.rsplit("/", 1)[1])["Role"]["Arn"] == role
    properties = load_template(INFRA / "gc.yaml")["Resources"]["StateMachineRole"]["Properties"]
    assert [s["Principal"] for s in properties["AssumeRolePolicyDocument"]["Statement"]] == [{"Service": "states.amazonaws.com"}]
    statements = [s for policy in properties["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert len(invoke) == 1 and invoke[0]["Action"] == "lambda:InvokeFunction"
    assert [r["Fn::Sub"].rsplit(":function:", 1)[1] for r in invoke[0]["Resource"]] == [
        "berth-${Stage}-gc_task", "berth-${Stage}-gc_task:*"]
    others = {a for s in statements if s is not invoke[0] for a in s["Action"]}
    assert others and all(a.startswith("logs:") for a in others)


def test_its_log_group_keeps_logs_for_a_while(deployed, moto_session):
    groups = moto_session.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/vendedlogs/states/berth-{deployed.stage}-gc")["logGroups"]
    assert [g.get("retentionInDays") for g in groups] == [30]


def test_the_stage_and_the_policy_point_at_it(deployed):
    assert deployed.stage_env["BERTH_GC_STATE_MACHINE"] == deployed.gc["GcStateMachineArn"]
    assert set(configure.GC_OUTPUTS) <= set(deployed.gc)
    machine, executions = deployed.gc["GcStateMachineArn"], deployed.gc["GcExecutionsArn"]
    run = f"{executions}:gc-7-manual"
    other = machine.replace(f"berth-{deployed.stage}-gc", f"berth-{deployed.stage}-replication")
    assert allowed(deployed.policy, "states:StartExecution", machine)
    assert allowed(deployed.policy, "states:StopExecution", run)
    assert allowed(deployed.policy, "states:DescribeExecution", run)
    # another state machine's executions: only replication's own statements, never describe
    assert not allowed(deployed.policy, "states:DescribeExecution", other.replace(":stateMachine:", ":execution:") + ":x")
    assert not allowed(deployed.policy, "states:DescribeExecution", f"{executions}-other:gc-7-manual")
    assert not allowed(deployed.policy, "states:StartExecution", machine + "-other")


def test_the_operations_stack_alarms_on_its_failed_executions():
    resources = load_template(INFRA / "operations.yaml")["Resources"]
    alarm = resources["GcExecutionsFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"][0]["Value"]["Fn::Sub"].endswith(":stateMachine:berth-${Stage}-gc")
