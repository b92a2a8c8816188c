"""Webhooks: Harbor's notification policies, delivered off the request path
(docs/webhooks.md).

    targets.py   Harbor's event and notify types; what a valid target is
    payloads.py  an event as a receiver gets it: Default, CloudEvents, Slack; the signature
    sender.py    one HTTP POST with a short timeout, its outcome
    fanout.py    the bus's events -> one delivery job per (policy, target) (app.webhook_events)
    delivery.py  a job -> an attempt, retried with backoff and jitter (app.deliver_webhooks)
"""
