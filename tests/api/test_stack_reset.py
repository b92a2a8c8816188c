"""The stack the tests of tests/api share (one per worker, `aws_env`): emptied before
each test, it reads as a stack just made from infra/berth.yaml, whatever the test
before wrote, so tests share no state."""
from __future__ import annotations

import pytest

from tests.api.conftest import STACK
from tests.conftest import REGION, create_stack, empty_stack


def snapshot(session, name: str, outputs: dict[str, str]) -> dict:
    """What a test could have left in a stack, read back through the APIs."""
    s3, bucket = session.client("s3", region_name=REGION), outputs["BucketName"]
    versions = s3.list_object_versions(Bucket=bucket)
    sqs = session.client("sqs", region_name=REGION)
    resources = session.client("cloudformation", region_name=REGION).describe_stack_resources(StackName=name)
    queues = {}
    for resource in resources["StackResources"]:
        if resource.get("ResourceType") == "AWS::SQS::Queue":
            attributes = sqs.get_queue_attributes(QueueUrl=resource["PhysicalResourceId"], AttributeNames=["All"])["Attributes"]
            queues[resource["LogicalResourceId"]] = (
                attributes["ApproximateNumberOfMessages"],
                attributes["ApproximateNumberOfMessagesNotVisible"],
                attributes["ApproximateNumberOfMessagesDelayed"],
            )
    ssm = session.client("ssm", region_name=REGION)
    return {
        "items": session.client("dynamodb", region_name=REGION).scan(TableName=outputs["TableName"])["Items"],
        "objects": [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])],
        "uploads": [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])],
        "parameters": ssm.get_parameters_by_path(Path=outputs["SsmPrefix"], Recursive=True)["Parameters"],
        "queues": queues,
    }


@pytest.fixture
def fresh(_shared_clients):
    outputs = create_stack("berth-fresh", stage="fresh", session=_shared_clients)
    yield snapshot(_shared_clients, "berth-fresh", outputs)
    _shared_clients.client("cloudformation", region_name=REGION).delete_stack(StackName="berth-fresh")


def test_an_emptied_stack_reads_as_a_new_one(aws_env, aws_services, fresh, _shared_clients):
    session, outputs = _shared_clients, aws_env
    # everything a test may write: items, objects, a multipart upload, parameters, messages
    table = session.client("dynamodb", region_name=REGION)
    for n in range(30):
        table.put_item(TableName=outputs["TableName"], Item={"PK": {"S": f"p{n}"}, "SK": {"S": "s"}, "v": {"N": str(n)}})
    s3 = session.client("s3", region_name=REGION)
    for n in range(3):
        s3.put_object(Bucket=outputs["BucketName"], Key=f"blobs/{n}", Body=b"x")
    s3.create_multipart_upload(Bucket=outputs["BucketName"], Key="uploads/u")
    session.client("ssm", region_name=REGION).put_parameter(
        Name=f"{outputs['SsmPrefix']}/config/token_expiration", Value="7", Type="String"
    )
    sqs = session.client("sqs", region_name=REGION)
    for resource in session.client("cloudformation", region_name=REGION).describe_stack_resources(StackName=STACK)["StackResources"]:
        if resource.get("ResourceType") == "AWS::SQS::Queue":
            sqs.send_message(QueueUrl=resource["PhysicalResourceId"], MessageBody="{}")
    written = snapshot(session, STACK, outputs)
    assert all(written[part] for part in ("items", "objects", "uploads", "parameters"))
    assert all(counts[0] == "1" for counts in written["queues"].values()) and len(written["queues"]) == 8

    empty_stack(session, STACK, outputs)

    assert snapshot(session, STACK, outputs) == fresh
