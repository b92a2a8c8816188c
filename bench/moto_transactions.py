"""``python -m bench.moto_transactions [--items N ...]``: what one TransactWriteItems costs
on the local stack's moto as its table grows, with moto's own implementation (a copy of the
whole table and its stream per transaction) and with devstack/moto_transactions.py (a copy of
the items the transaction touches). Not part of `make bench`: it measures the development
tooling, not Berth; the local stack and the test suites are what it speeds up."""
from __future__ import annotations

import argparse
import time

TRANSACTIONS = 50


def per_transaction_ms(implementation, items: int) -> float:
    import boto3
    import pytest
    from moto import mock_aws
    from moto.dynamodb.models import DynamoDBBackend

    from tests.conftest import REGION, use_fake_aws

    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        mp.setattr(DynamoDBBackend, "transact_write_items", implementation)
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            ddb.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            for start in range(0, items, 25):
                batch = [{"PutRequest": {"Item": {"PK": {"S": f"p{i}"}, "SK": {"S": "x"}, "v": {"S": "y" * 200}}}}
                         for i in range(start, min(start + 25, items))]
                ddb.batch_write_item(RequestItems={"t": batch})
            began = time.perf_counter()
            for n in range(TRANSACTIONS):
                ddb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"PK": {"S": f"n{n}"}, "SK": {"S": "x"}},
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Update": {"TableName": "t", "Key": {"PK": {"S": "p0"}, "SK": {"S": "x"}},
                                "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": str(n)}}}},
                ])
            return (time.perf_counter() - began) / TRANSACTIONS * 1000


def main(argv: list[str] | None = None) -> None:
    from devstack import moto_transactions

    parser = argparse.ArgumentParser(prog="python -m bench.moto_transactions", description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10000], help="table sizes")
    args = parser.parse_args(argv)
    print("| items in the table | moto's own | devstack's |\n| --- | --- | --- |")
    for items in args.items:
        own = per_transaction_ms(moto_transactions.MOTOS_OWN, items)
        ours = per_transaction_ms(moto_transactions.transact_write_items, items)
        print(f"| {items:,} | {own:.1f} ms | {ours:.1f} ms |")


if __name__ == "__main__":
    main()
