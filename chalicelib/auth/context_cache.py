"""A short-lived, per-container cache of the token service's one read, for
anonymous callers: a burst of anonymous pulls from public projects asks for a token
per image, and the projects' public flags may be a few seconds old without harm.
A user's context is always read fresh, so password and role changes apply at once.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.meta.accounts import AccountStore

DEFAULT_TTL = 10.0


class AccessContextCache:
    def __init__(
        self, accounts: AccountStore, *, ttl: float = DEFAULT_TTL, max_entries: int = 512, clock: Callable[[], float] = time.monotonic
    ):
        self._accounts = accounts
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()

    def access_context(self, username: str | None, groups: Iterable[str], projects: Iterable[str]) -> Any:
        key = (username, tuple(sorted(groups)), tuple(sorted(set(projects))))
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            return hit[1]
        context = self._accounts.access_context(username, key[1], key[2])
        self._entries[key] = (now + self._ttl, context)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return context
