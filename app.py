"""Berth: wiring only. Routes live in chalicelib; see docs/architecture.md."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from chalice import Chalice
from chalice.app import CaseInsensitiveMapping

from chalicelib.config import Settings
from chalicelib.front import build_blueprint
from chalicelib.observability import configure_logging, http_middleware
from chalicelib.services import Services

# logging is ours (chalicelib/observability.py): Chalice would add a plain-text handler
app = Chalice(app_name="berth", configure_logs=False)
# Every request body must arrive byte-exact (a manifest's digest is over its
# bytes) and every response body leave as sent: the API treats all types as binary.
app.api.binary_types = ["*/*"]

configure_logging()
_services: Services | None = None


def services() -> Services:
    """The container's object graph, built on the first request."""
    global _services
    if _services is None:
        _services = Services(Settings.from_env())
    return _services


def use_services(svc: Services | None) -> Services | None:
    """Serve every entry point of this app (the routes and the Lambda functions below)
    with `svc`, an object graph its caller built with the dependencies it chose (the
    test suites, the benchmarks: `Services(settings, session=..., clock=...)`); None:
    build one from the environment on next use, as a Lambda container does. Returns the
    graph it replaces."""
    global _services
    previous, _services = _services, svc
    return previous


@contextmanager
def serving(svc: Services) -> Iterator[Services]:
    """`use_services(svc)` for a `with` block; the previous graph is back afterwards."""
    previous = use_services(svc)
    try:
        yield svc
    finally:
        use_services(previous)


@app.middleware("http")
def accept_anything_by_default(event, get_response):
    # With binary_types ["*/*"], Chalice refuses a response to a request that
    # has no Accept header; an absent Accept means "anything" (RFC 9110).
    if "accept" not in event.headers:
        event.headers = CaseInsensitiveMapping({**dict(event.headers), "accept": "*/*"})
    return get_response(event)


# API Gateway's authorizer on the OCI routes (chalicelib/auth/challenge.py): a request
# without a fresh Bearer token gets the UNAUTHORIZED gateway response, which carries the
# WWW-Authenticate challenge (deploy/finish.py). Its decision is cached 60 s per token.
@app.authorizer(name="challenge", ttl_seconds=60)
def challenge(auth_request):
    from chalicelib.auth.challenge import decide

    return decide(auth_request.token, auth_request.method_arn)


app.register_middleware(http_middleware, "http")
app.register_blueprint(build_blueprint(services, authorizer=challenge))


@app.schedule("rate(1 hour)")
def clean_up_uploads(event):
    from chalicelib.registry.maintenance import clean_up_uploads as clean_up

    svc = services()
    # only the sessions whose URLs expired since the last clean-up (its or garbage collection's)
    ttl = svc.settings.upload_ttl_seconds
    counts = clean_up(svc.blobs, svc.meta, svc.clock(), ttl, since=svc.gc.uploads_judged_until(ttl))
    svc.gc.set_uploads_judged_until(counts["judged_until"])
    return counts


@app.lambda_function(name="replication_task")
def replication_task(event, context):
    """A step of a replication run, called by its Step Functions state machine
    (infra/replication.yaml; chalicelib/replicator/tasks.py)."""
    from chalicelib.replicator.tasks import handle

    return handle(services(), event)


@app.lambda_function(name="proxy_fill")
def proxy_fill(event, context):
    """A proxy cache's copy of a blob too big to copy within a pull's request, started by
    the pull (chalicelib/proxy_cache.py; docs/decisions/proxy-cache-big-layers.md)."""
    return services().proxy_cache.fill(event["repository"], event["digest"])


@app.lambda_function(name="run_schedule")
def run_schedule(event, context):
    """A schedule fired (EventBridge Scheduler; infra/schedules.yaml): its job, e.g. a
    scheduled replication run, goes to the job's owner (chalicelib/scheduled_jobs.py). The
    same jobs also arrive by asynchronous invocation: a tag retention run's steps
    (chalicelib/retention/runs.py)."""
    from chalicelib import scheduled_jobs

    return scheduled_jobs.run(services(), event)


@app.lambda_function(name="gc_task")
def gc_task(event, context):
    """A step of a garbage collection run, called by its Step Functions state machine
    (infra/gc.yaml; chalicelib/gc.py)."""
    from chalicelib import gc

    return gc.step(services(), event, context.get_remaining_time_in_millis)


@app.lambda_function(name="record_pulls")
def record_pulls(event, context):
    """Batches of pull log lines from the API function's CloudWatch Logs subscription
    (infra/apigw-extras.yaml): their audit entries and pull counts (chalicelib/pulls.py)."""
    from chalicelib import pulls

    return {"recorded": pulls.record(services(), pulls.from_subscription(event))}


# Domain events (docs/events.md). The stream and queue ARNs are the deployment's: Chalice
# sets the stage's environment (.chalice/config.json, written by `make infra` from
# infra/berth.yaml's outputs) before it imports this file for `chalice deploy` or
# `chalice package` (where infra/apigw-extras.yaml sets them again from the stack). The
# placeholders only name the sources' shape where no stage is configured (tests, local).
_PLACEHOLDER_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/berth/stream/set-by-the-deployment"
_PLACEHOLDER_QUEUE = "arn:aws:sqs:us-east-1:123456789012:set-by-the-deployment"
_EVENT_STREAM = os.environ.get("BERTH_EVENT_STREAM_ARN") or _PLACEHOLDER_STREAM
_AUDIT_QUEUE = os.environ.get("BERTH_AUDIT_QUEUE_ARN") or _PLACEHOLDER_QUEUE
_WEBHOOK_EVENTS_QUEUE = os.environ.get("BERTH_WEBHOOK_EVENTS_QUEUE_ARN") or _PLACEHOLDER_QUEUE
_WEBHOOK_DELIVERIES_QUEUE = os.environ.get("BERTH_WEBHOOK_DELIVERIES_QUEUE_ARN") or _PLACEHOLDER_QUEUE
_REPLICATION_EVENTS_QUEUE = os.environ.get("BERTH_REPLICATION_EVENTS_QUEUE_ARN") or _PLACEHOLDER_QUEUE


@app.on_dynamodb_record(stream_arn=_EVENT_STREAM, batch_size=100, starting_position="TRIM_HORIZON", name="forward_events")
def forward_events(event):
    """The table's stream: outbox items (and catalog changes) become events on the bus;
    a failure raises, and the batch is delivered again (chalicelib/events/forwarder.py)."""
    from chalicelib.events import forwarder

    svc = services()
    return {"forwarded": forwarder.forward(event.to_dict()["Records"], svc.event_bus, svc.outbox.source)}


@app.on_sqs_message(queue_arn=_AUDIT_QUEUE, batch_size=10, name="audit_events")
def audit_events(event):
    """The audit log's consumer: registry pushes, pulls and deletes (chalicelib/events/audit.py)."""
    from chalicelib.events import audit

    return {"entered": audit.consume(services().audit, audit.events_from_queue(event.to_dict()))}


@app.on_sqs_message(queue_arn=_WEBHOOK_EVENTS_QUEUE, batch_size=10, name="webhook_events")
def webhook_events(event):
    """Webhooks, first half: events of projects with policies become delivery jobs, one per
    target, on the deliveries queue; no receiver is called here (chalicelib/webhooks/fanout.py)."""
    from chalicelib.events.audit import events_from_queue
    from chalicelib.webhooks import fanout

    svc = services()
    return {"queued": fanout.consume(events_from_queue(event.to_dict()), svc.webhooks, svc.accounts, svc.webhook_jobs, svc.clock)}


@app.on_sqs_message(queue_arn=_REPLICATION_EVENTS_QUEUE, batch_size=10, name="replication_events")
def replication_events(event):
    """Event-based replication: a push or a new tag starts a run of each event-based policy
    that selects it (chalicelib/replication/triggers.py)."""
    from chalicelib.events.audit import events_from_queue
    from chalicelib.replication import triggers

    return {"started": triggers.consume(services(), events_from_queue(event.to_dict()))}


@app.on_sqs_message(queue_arn=_WEBHOOK_DELIVERIES_QUEUE, batch_size=10, name="deliver_webhooks")
def deliver_webhooks(event):
    """Webhooks, second half: one attempt per job, side by side; a failed one is queued again
    with a delay, within a bounded time (chalicelib/webhooks/delivery.py)."""
    from chalicelib.webhooks.delivery import jobs_from_queue

    statuses = services().webhook_deliverer.deliver_all(jobs_from_queue(event.to_dict()))
    return {status: statuses.count(status) for status in set(statuses)}
