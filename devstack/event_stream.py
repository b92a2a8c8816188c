"""The local stand-in for the event sources of the AWS deployment (docs/events.md):

- the table's stream -> the app's `forward_events` (Lambda's DynamoDB event source);
- each consumer's queue -> its function (`audit_events`; Lambda's SQS event source).

Between the two, moto does the rest as AWS does: `forward_events` puts the events on
the EventBridge bus, whose rules (infra/berth.yaml) deliver them into the queues.

As Lambda does, a batch whose function raises is delivered again (the stream's
position is not advanced; the messages become visible again at once), so what the
functions write must be idempotent, and is. (Tests that run the app in-process on
moto's mock, which has no streams API, read the outbox items instead: tests/conftest.py,
`MotoOutbox`.)
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("devstack")

Handler = Callable[[dict, Any], Any]


class StreamPoller:
    """Records of a DynamoDB stream, in Lambda's event shape, each handed over once.

    Every poll reads the shards from their start (TRIM_HORIZON) and skips the records
    already handed over, by eventID, rather than following a shard iterator: moto
    replaces a table by a copy when it cancels a transaction, so an iterator taken
    before then would go on reading the old copy (the cancelled writes included) and
    never see a later write. moto keeps every record, so this reads more with time;
    the local stack's tables are small.
    """

    def __init__(self, streams: Any, stream_arn: str, *, handed: Iterable[str] = ()) -> None:
        self._streams = streams
        self._arn = stream_arn
        # records never to hand over: the local data's restore (devstack/localdata.py)
        # writes the saved items again, and a restored table's stream starts empty in AWS
        self._handed: set[str] = set(handed)

    def present(self) -> set[str]:
        """The eventIDs of every record in the stream now."""
        records, _ = self.records()
        return {r["eventID"] for r in records}

    def records(self) -> tuple[list[dict], Callable[[], None]]:
        """The records not handed over yet, and the step that marks them handed over."""
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"].get("Shards", [])
        records = []
        for shard in shards:
            iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                out = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                if not out.get("Records"):
                    break
                records += [_lambda_shape(r, self._arn) for r in out["Records"] if r["eventID"] not in self._handed]
                iterator = out.get("NextShardIterator")
        new = {r["eventID"] for r in records}

        def advance() -> None:
            self._handed |= new

        return records, advance


class QueuePoller:
    """Messages of an SQS queue in Lambda's SQS event shape."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.url = queue_url

    def receive(self) -> list[dict]:
        out = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "",
                "awsRegion": "us-east-1",
            }
            for m in out.get("Messages", [])
        ]

    def done(self, messages: list[dict]) -> None:
        for m in messages:
            self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["receiptHandle"])

    def again(self, messages: list[dict]) -> None:
        """Visible again at once: Lambda would retry the batch."""
        for m in messages:
            self._sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=m["receiptHandle"], VisibilityTimeout=0)


class EventDelivery:
    """Carries the stream to `forward` and each queue to its consumer."""

    def __init__(self, stream: Any, forward: Handler, consumers: list[tuple[QueuePoller, Handler]], *,
                 interval: float = 0.5) -> None:
        self._stream = stream
        self._forward = forward
        self._consumers = consumers
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-delivery", daemon=True)

    def drain(self, rounds: int = 20) -> int:
        """Deliver until nothing is left (at most `rounds` passes); how many items were handed over.
        A function that raises gets its batch again on the next pass."""
        total = 0
        with self._lock:
            for _ in range(rounds):
                moved = self._pass()
                total += moved
                if not moved:
                    break
        return total

    def start(self) -> EventDelivery:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.drain()  # what the last requests wrote

    def _pass(self) -> int:
        moved = 0
        records, advance = self._stream.records()
        if records:
            try:
                self._forward({"Records": records}, None)
            except Exception:
                log.exception("forward_events failed on %d records; they will be delivered again", len(records))
                return 0
            moved += len(records)
        advance()
        for queue, consume in self._consumers:
            messages = queue.receive()
            if not messages:
                continue
            try:
                consume({"Records": messages}, None)
            except Exception:
                log.exception("a consumer failed on %d messages; they will be delivered again", len(messages))
                queue.again(messages)
                continue
            queue.done(messages)
            moved += len(messages)
        return moved

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.drain()
            except Exception:  # moto went away, or a bug: the stack keeps serving
                log.exception("event delivery failed")


def _lambda_shape(record: dict, stream_arn: str) -> dict:
    """GetRecords' record as Lambda hands it to a function (epoch seconds, the source ARN)."""
    change = dict(record.get("dynamodb") or {})
    when = change.get("ApproximateCreationDateTime")
    if isinstance(when, dt.datetime):
        change["ApproximateCreationDateTime"] = when.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}
