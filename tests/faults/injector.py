"""A fault injector on botocore clients: fail the Nth AWS call with a chosen fault.

It hangs on botocore's `before-call` event, which fires once per API call after
botocore's own retries are set up but before anything is sent: a handler that
returns (http response, parsed body) short-circuits the call, and botocore then
raises exactly the error class it would raise for that reply from AWS. So the
code under test sees the same exception objects as in production, with no
retries spent on them (the injected fault stands for the one that outlasted
botocore's retries).

Kinds:
- throttle: DynamoDB `ThrottlingException`, S3 `SlowDown` (503)
- server_error: DynamoDB `InternalServerError` (500), S3 `InternalError` (500)
- timeout: `ReadTimeoutError` raised by botocore (no reply at all)
- condition: a conditional write that failed as if a concurrent writer had
  changed the item: `ConditionalCheckFailedException` on a single-item write,
  `TransactionCanceledException` with the first conditional item's reason
  `ConditionalCheckFailed` on a transaction. Only DynamoDB writes that carry a
  condition can fail so; `applies` says whether a call can.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

KINDS = ("throttle", "server_error", "timeout", "condition")


@dataclass(frozen=True)
class Call:
    service: str  # "dynamodb" | "s3"
    operation: str  # "PutItem", "UploadPart", ...
    conditional: bool  # a DynamoDB write that carries a condition

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}{'?' if self.conditional else ''}"


@dataclass
class FaultInjector:
    """Counts the calls made through the clients it is attached to while `armed`,
    and fails call number `position` (1-based) with `kind`, once."""

    position: int | None = None
    kind: str | None = None
    armed: bool = False
    calls: list[Call] = field(default_factory=list)
    fired: Call | None = None

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._before_call)

    def arm(self, position: int | None = None, kind: str | None = None) -> None:
        self.position, self.kind, self.armed = position, kind, True
        self.calls, self.fired = [], None

    def disarm(self) -> list[Call]:
        self.armed = False
        return self.calls

    def _before_call(self, model, params, **_: Any):
        if not self.armed:
            return None
        service = model.service_model.service_name
        call = Call(service, model.name, _conditional(service, model.name, params))
        self.calls.append(call)
        if self.fired is not None or len(self.calls) != self.position:
            return None
        if not applies(self.kind, call):
            return None
        self.fired = call
        return _fault(self.kind, call, params)


def applies(kind: str, call: Call) -> bool:
    return kind != "condition" or call.conditional


_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


def _conditional(service: str, operation: str, params: dict) -> bool:
    if service != "dynamodb" or operation not in _WRITES:
        return False
    body = _body(params)
    if operation == "TransactWriteItems":
        return any(_item_conditional(item) for item in body.get("TransactItems", []))
    return "ConditionExpression" in body


def _item_conditional(item: dict) -> bool:
    return "ConditionCheck" in item or any("ConditionExpression" in op for op in item.values())


def _body(params: dict) -> dict:
    raw = params.get("body") or b"{}"
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def _fault(kind: str, call: Call, params: dict):
    if kind == "timeout":
        raise ReadTimeoutError(endpoint_url=params.get("url", "https://aws.invalid/"))
    if kind == "throttle":
        code, status = ("SlowDown", 503) if call.service == "s3" else ("ThrottlingException", 400)
        return _reply(status, code, "injected: rate exceeded")
    if kind == "server_error":
        code = "InternalError" if call.service == "s3" else "InternalServerError"
        return _reply(500, code, "injected: internal error")
    if kind == "condition":
        if call.operation == "TransactWriteItems":
            items = _body(params).get("TransactItems", [])
            first = next(i for i, item in enumerate(items) if _item_conditional(item))
            reasons = [
                {"Code": "ConditionalCheckFailed", "Message": "injected"} if i == first else {"Code": "None"}
                for i in range(len(items))
            ]
            return _reply(400, "TransactionCanceledException", "injected: transaction cancelled", CancellationReasons=reasons)
        return _reply(400, "ConditionalCheckFailedException", "injected: the conditional request failed")
    raise ValueError(f"unknown fault kind {kind!r}")


def _reply(status: int, code: str, message: str, **extra: Any):
    http = AWSResponse("https://aws.invalid/", status, {}, None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"},
        **extra,
    }
    return http, parsed
