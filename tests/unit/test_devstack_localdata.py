"""The local stack's data folder (devstack/localdata.py) against moto in server mode:
what one moto holds is saved, and a new moto gets it back through the same APIs."""

from __future__ import annotations

import functools
import json

import pytest
import requests

from devstack import resources
from devstack.localdata import DataDirInUse, LocalData, Resources
from devstack.motoserver import MotoServer

PREFIX = "/berth/unit"


@functools.cache
def client(service: str, url: str):
    """One client per service and server for the module (making one costs 20-50 ms)."""
    return resources.client(service, url)


def make_resources(url: str) -> Resources:
    s3, ddb = client("s3", url), client("dynamodb", url)
    s3.create_bucket(Bucket="blobs")
    ddb.create_table(
        TableName="meta",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Resources(bucket="blobs", table="meta", ssm_prefix=PREFIX)


@pytest.fixture(scope="module")
def _server():
    # one server for the module (stopping one waits out its half-second poll)
    with MotoServer("127.0.0.1", 0) as server:
        yield server.url


@pytest.fixture
def moto(_server):
    """The module's moto server, holding nothing (its backends are the process's: reset all)."""
    requests.post(f"{_server}/moto-api/reset", timeout=30).raise_for_status()
    return _server


def test_a_second_moto_gets_back_what_the_first_held(tmp_path, moto):
    folder = tmp_path / "dev"
    first = LocalData(folder, lambda service: client(service, moto)).open()
    resources = make_resources(moto)
    assert first.restore(resources).empty
    s3, ddb, ssm = client("s3", moto), client("dynamodb", moto), client("ssm", moto)
    s3.put_object(Bucket="blobs", Key="blobs/sha256/ab/abc", Body=b"layer bytes", ContentType="application/octet-stream",
                  Metadata={"digest": "sha256:abc"})
    items = [
        {"PK": {"S": "REPO#library/app"}, "SK": {"S": f"TAG#{i}"}, "n": {"N": str(i)},
         "raw": {"B": bytes([i, 0, 255])}, "tags": {"SS": ["a", "b"]}, "deep": {"M": {"l": {"L": [{"BOOL": True}]}}}}
        for i in range(30)  # more than one BatchWriteItem
    ]
    for item in items:
        ddb.put_item(TableName="meta", Item=item)
    ssm.put_parameter(Name=f"{PREFIX}/token-signing-key", Value="secret", Type="SecureString")
    ssm.put_parameter(Name="/elsewhere/x", Value="not ours", Type="String")
    first.keep_admin_password("BerthPass1")
    first.save()
    first.stop()

    # a moto that holds nothing (its backends are per process: reset them all)
    requests.post(f"{moto}/moto-api/reset", timeout=30).raise_for_status()
    second = LocalData(folder, lambda service: client(service, moto)).open()
    restored = second.restore(make_resources(moto))
    assert (restored.objects, restored.items, restored.parameters) == (1, 30, 1)
    s3b, ddbb, ssmb = client("s3", moto), client("dynamodb", moto), client("ssm", moto)
    got = s3b.get_object(Bucket="blobs", Key="blobs/sha256/ab/abc")
    assert got["Body"].read() == b"layer bytes"
    assert got["ContentType"] == "application/octet-stream" and got["Metadata"] == {"digest": "sha256:abc"}
    back = ddbb.scan(TableName="meta")["Items"]
    assert sorted(back, key=lambda i: int(i["n"]["N"])) == items
    assert ssmb.get_parameter(Name=f"{PREFIX}/token-signing-key", WithDecryption=True)["Parameter"]["Value"] == "secret"
    assert second.admin_password() == "BerthPass1"

    # what changes after a restore is saved; what was deleted is gone from the folder
    s3b.delete_object(Bucket="blobs", Key="blobs/sha256/ab/abc")
    ddbb.delete_item(TableName="meta", Key={"PK": items[0]["PK"], "SK": items[0]["SK"]})
    second.stop()
    assert json.loads((folder / "s3" / "index.json").read_text()) == {}
    assert list((folder / "s3" / "objects").iterdir()) == []
    assert len(json.loads((folder / "dynamodb.json").read_text())) == 29


def test_one_stack_per_folder_and_fresh_sets_the_old_data_aside(tmp_path, moto):
    folder = tmp_path / "dev"
    first = LocalData(folder, lambda service: client(service, moto)).open()
    first.keep_admin_password("BerthPass1")
    with pytest.raises(DataDirInUse):
        LocalData(folder, lambda service: client(service, moto)).open()
    first.close()
    fresh = LocalData(folder, lambda service: client(service, moto)).open(fresh=True)
    assert fresh.admin_password() is None
    assert (tmp_path / "dev.previous" / "admin-password").read_text().strip() == "BerthPass1"
    fresh.close()


def test_the_restores_writes_are_no_new_events(tmp_path, moto):
    """A restored table's stream starts empty in AWS: the local event delivery skips the
    records the restore wrote (devstack/__main__.py passes them as handed over)."""
    from devstack.event_stream import StreamPoller

    ddb = client("dynamodb", moto)
    folder = tmp_path / "dev"
    (folder).mkdir()
    (folder / "dynamodb.json").write_text(json.dumps([{"PK": {"S": "P#library"}, "SK": {"S": "P"}}]))
    arn = ddb.create_table(
        TableName="streamed",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    client("s3", moto).create_bucket(Bucket="streamed-blobs")
    data = LocalData(folder, lambda service: client(service, moto)).open()
    assert data.restore(Resources(bucket="streamed-blobs", table="streamed", ssm_prefix=PREFIX)).items == 1
    streams = client("dynamodbstreams", moto)
    restored = StreamPoller(streams, arn).present()
    assert len(restored) == 1
    poller = StreamPoller(streams, arn, handed=restored)
    assert poller.records()[0] == []
    ddb.put_item(TableName="streamed", Item={"PK": {"S": "P#new"}, "SK": {"S": "P"}})
    records, _ = poller.records()
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["P#new"]
    data.close()


def test_the_stages_schedules_come_back_after_a_restart(tmp_path, moto):
    """A scheduled policy's schedule lives in the Scheduler, not the table: it is kept too."""
    from chalicelib.schedules import EventBridgeSchedules
    from devstack.schedules import environment

    requests.post(f"{moto}/moto-api/reset", timeout=30).raise_for_status()  # moto's backends are the process's
    env = environment("unit")
    schedules = EventBridgeSchedules(client("scheduler", moto), prefix=env["BERTH_SCHEDULE_PREFIX"],
                                     target_arn=env["BERTH_SCHEDULE_TARGET_ARN"], role_arn=env["BERTH_SCHEDULE_ROLE_ARN"])
    folder = tmp_path / "dev"
    first = LocalData(folder, lambda service: client(service, moto)).open()
    first.restore(Resources(**{**make_resources(moto).__dict__, "schedule_prefix": "berth-unit-"}))
    schedules.put("replication-3", "0 0 3 * * *", {"kind": "replication", "policy_id": 3})
    client("scheduler", moto).create_schedule(
        Name="berth-other-gc", ScheduleExpression="cron(0 3 * * ? *)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": env["BERTH_SCHEDULE_TARGET_ARN"], "RoleArn": env["BERTH_SCHEDULE_ROLE_ARN"]})
    first.stop()

    requests.post(f"{moto}/moto-api/reset", timeout=30).raise_for_status()
    second = LocalData(folder, lambda service: client(service, moto)).open()
    restored = second.restore(Resources(**{**make_resources(moto).__dict__, "schedule_prefix": "berth-unit-"}))
    assert restored.schedules == 1  # the stage's own, not another stage's
    back = client("scheduler", moto).get_schedule(Name="berth-unit-replication-3")
    assert back["ScheduleExpression"] == "cron(0 3 * * ? *)" and back["ScheduleExpressionTimezone"] == "UTC"
    assert json.loads(back["Target"]["Input"]) == {"kind": "replication", "policy_id": 3}
    assert back["Target"]["RoleArn"] == env["BERTH_SCHEDULE_ROLE_ARN"]
    second.stop()
