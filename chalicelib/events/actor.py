"""Who is acting: the principal and the address behind the change a store is
writing, and which API they came through.

A store learns the actor from here rather than through every method's
arguments: each API's dispatcher (registry, management, token service) sets it
once, after authentication, for the request it serves. A context variable keeps
concurrent requests apart (the local server runs requests in threads); work off
the request path acts as SYSTEM.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str  # a username, robot$..., "anonymous" or "system"
    source_ip: str = ""
    via: str = "system"  # "registry" (/v2), "management" (/api/v2.0), "token" (create on push), "system"


SYSTEM = Actor("system")
_current: ContextVar[Actor] = ContextVar("berth_actor", default=SYSTEM)


def current() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
