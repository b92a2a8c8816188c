"""Domain events: what changed, once, whatever entry point changed it.

    envelope.py   the CloudEvents 1.0 envelope and the event types (docs/events.md)
    actor.py      who is acting in this request (set by each API's dispatcher)
    outbox.py     the events of changes, by the current actor (the stores write them:
                  chalicelib/meta/outbox_items.py)
    forwarder.py  the table's stream -> the EventBridge bus (app.forward_events)
    audit.py      the audit log's consumer (app.audit_events)
"""
