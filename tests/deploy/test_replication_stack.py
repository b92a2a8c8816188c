"""infra/replication.yaml deployed into moto's CloudFormation (the `deployed` stage): the
state machine a replication run executes, named so its executions read well in the Step
Functions console, its tasks calling the stage's replication_task function, a role that may
invoke that function and nothing else, and a log group with retention; the stage's
environment and the functions' policy point at it."""
from __future__ import annotations

import json

from chalicelib.storage import paths
from deploy import configure
from devstack.resources import load_template
from devstack.workflows import definition
from tests.deploy.conftest import INFRA, REGION


def task_resources(states: dict) -> set[str]:
    found = set()
    for state in states.values():
        if state["Type"] == "Task":
            found.add(state["Resource"])
        if state["Type"] == "Map":
            found |= task_resources(state["ItemProcessor"]["States"])
    return found


def test_the_state_machine_runs_the_template_definition_with_the_stages_task_function(deployed, moto_session):
    sfn = moto_session.client("stepfunctions")
    arn = deployed.replication["ReplicationStateMachineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    assert machine["name"] == deployed.replication["ReplicationStateMachineName"] == f"berth-{deployed.stage}-replication"
    account = deployed.data["TableArn"].split(":")[4]
    function = f"arn:aws:lambda:{REGION}:{account}:function:berth-{deployed.stage}-replication_task"
    deployed_definition = json.loads(machine["definition"])
    assert deployed_definition == json.loads(definition(function))
    assert task_resources(deployed_definition["States"]) == {function}
    assert arn.startswith(deployed.replication["ReplicationExecutionsArn"].replace(":execution:", ":stateMachine:"))


def test_its_role_may_invoke_the_task_function_only(deployed, moto_session):
    sfn, iam = moto_session.client("stepfunctions"), moto_session.client("iam")
    role = sfn.describe_state_machine(stateMachineArn=deployed.replication["ReplicationStateMachineArn"])["roleArn"]
    assert iam.get_role(RoleName=role.rsplit("/", 1)[1])["Role"]["Arn"] == role
    # what the role allows, as the template says (moto answers its documents as Python text)
    properties = load_template(INFRA / "replication.yaml")["Resources"]["StateMachineRole"]["Properties"]
    assert [s["Principal"] for s in properties["AssumeRolePolicyDocument"]["Statement"]] == [{"Service": "states.amazonaws.com"}]
    statements = [s for policy in properties["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert len(invoke) == 1 and invoke[0]["Action"] == "lambda:InvokeFunction"
    assert [r["Fn::Sub"].rsplit(":function:", 1)[1] for r in invoke[0]["Resource"]] == [
        "berth-${Stage}-replication_task", "berth-${Stage}-replication_task:*"]
    # the Distributed Map's child executions: of this state machine only, by its name
    children = [s for s in statements if "states:" in json.dumps(s["Action"])]
    assert [(s["Action"], s["Resource"]["Fn::Sub"].rsplit(":", 1)[1]) for s in children] == [
        ("states:StartExecution", "berth-${Stage}-replication"),
        (["states:DescribeExecution", "states:StopExecution"], "berth-${Stage}-replication/*")]
    assert [s["Resource"]["Fn::Sub"].split("}:")[-1].split(":")[0] for s in children] == ["stateMachine", "execution"]
    # the run's item list, which the Distributed Map reads (ItemReader): that prefix of the bucket only
    reads = [s for s in statements if "s3:" in json.dumps(s["Action"])]
    assert [(s["Action"], s["Resource"]["Fn::Sub"]) for s in reads] == [
        ("s3:GetObject", "${BucketArn}/" + paths.REPLICATION_PREFIX + "*")]
    # the rest is what logging to CloudWatch Logs takes, nothing else
    others = {a for s in statements if s is not invoke[0] and s not in children and s not in reads for a in s["Action"]}
    assert others and all(a.startswith("logs:") for a in others)


def test_its_log_group_keeps_logs_for_a_while(deployed, moto_session):
    groups = moto_session.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/vendedlogs/states/berth-{deployed.stage}-replication")["logGroups"]
    assert [g.get("retentionInDays") for g in groups] == [30]


def test_the_stage_and_the_policy_point_at_it(deployed):
    assert deployed.stage_env["BERTH_REPLICATION_STATE_MACHINE"] == deployed.replication["ReplicationStateMachineArn"]
    statements = {s["Sid"]: s for s in deployed.policy["Statement"]}
    assert statements["ReplicationRuns"]["Resource"] == deployed.replication["ReplicationStateMachineArn"]
    assert statements["ReplicationRunsStopped"]["Resource"] == deployed.replication["ReplicationExecutionsArn"] + ":*"
    assert set(configure.REPLICATION_OUTPUTS) <= set(deployed.replication)
