"""Recording the audit log: one domain service for the entries written in a request
(the token service's and the console's logins, the management API's changes that no
domain event carries), so an entry reads the same whoever wrote it. The changes an event
carries (the registry's pushes, pulls and deletes; the management API's copies,
artifact deletions, tags and projects; a project created on push) are entered from their events
(chalicelib/events/audit.py; docs/decisions/audit-entries.md).
Reading the log is the management API's (chalicelib/management/audit.py); storing it,
chalicelib/meta/audit.py's.
"""
from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.dependencies import DomainDependencies
from chalicelib.meta.audit import AuditEntry

logger = logging.getLogger("berth.audit")

def record(svc: DomainDependencies, entry: AuditEntry) -> None:
    """Store the entry and log it as a structured line. An audit write that fails is
    logged and does not fail the operation it describes, which has already happened."""
    logger.info("audit", extra={"audit": dict(entry.__dict__)})
    try:
        svc.audit.record(entry)
    except (ClientError, BotoCoreError):
        logger.exception("audit log write failed", extra={"operation": entry.operation, "resource": entry.resource[:200]})


def record_session(svc: DomainDependencies, username: str, source_ip: str, operation: str = "login", *, succeeded: bool = True) -> None:
    """A login (console, `docker login`, OAuth2 password grant), failed or not, or a
    console logout."""
    username = username[:255]
    record(
        svc,
        AuditEntry(
            username=username,
            operation=operation,
            resource_type="user",
            resource=username,
            source_ip=source_ip,
            succeeded=succeeded,
        ),
    )
