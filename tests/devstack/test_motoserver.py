"""The local stack's moto server under parallel DynamoDB transactions, as parallel pushes
send them (devstack/motoserver.py serializes what moto cannot do in parallel)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from devstack.motoserver import MotoServer

THREADS = 6
TRANSACTIONS = 25  # per thread


@pytest.fixture(scope="module")
def dynamodb(monkeypatch_module):
    with MotoServer(port=0) as server:
        client = boto3.client(
            "dynamodb",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # no retries: a fault must show, not be hidden by boto's retry of a 500
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=THREADS),
        )
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        yield mp


def _push(client, worker: int) -> list[str]:
    """What one push's blob uploads write: a link and a blob record per transaction."""
    errors = []
    for n in range(TRANSACTIONS):
        items = [
            {"Put": {"TableName": "t", "Item": {"PK": {"S": f"R#repo{worker}"}, "SK": {"S": f"B#{n}"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"PK": {"S": f"BLOB#{worker}-{n}"}, "SK": {"S": "BLOB"}},
                    "UpdateExpression": "SET nbytes = :n",
                    "ExpressionAttributeValues": {":n": {"N": str(n)}},
                }
            },
        ]
        try:
            client.transact_write_items(TransactItems=items)
        except Exception as exc:  # noqa: BLE001 - every failure is the finding
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


def test_parallel_transactions_never_fail(dynamodb):
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda w: _push(dynamodb, w), range(THREADS)))
    errors = [e for r in results for e in r]
    assert errors == [], f"{len(errors)} of {THREADS * TRANSACTIONS} transactions failed, e.g. {errors[:2]}"
    # every write landed
    count = dynamodb.scan(TableName="t", Select="COUNT")["Count"]
    assert count == 2 * THREADS * TRANSACTIONS
