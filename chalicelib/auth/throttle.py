"""Login throttling: how long a login must wait after failed ones (pure rules).

Three buckets count failed logins within a window (docs/decisions/login-throttling.md):

    account+source   one account from one source address      the tightest: guessing one password
    source           every account from one source address    spraying many accounts from one place
    account          one account from every source            a guess spread over many addresses

Past a bucket's free failures, each further failure doubles the wait (1 s, 2 s, 4 s, ...)
up to a bound; a login that comes earlier is answered 429 with Retry-After, without
checking its password. A source the account logged in from successfully before (a
known-good source) is held back by its own account+source bucket only: neither an
attacker spraying from the same address (a shared NAT) nor one guessing from many
addresses slows the real user down there. Elsewhere, the account bucket's bound is
short, so an attacker who owns many addresses cannot keep the user out for long; the
source buckets hold back only the attacker's own address.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.meta.login_attempts import Bucket, Buckets
from chalicelib.runtime_config import SETTING

ACCOUNT_BUCKET_MAX_DELAY = 60  # seconds: the bucket an attacker can fill from anywhere stays short
AUDITED_PER_SOURCE = 10  # failed-login audit entries per source and window


@dataclass(frozen=True)
class Policy:
    enabled: bool = True
    account_source_free: int = 5
    source_free: int = 20
    account_free: int = 50
    max_delay: int = 300
    window: int = 900  # seconds
    audit_per_minute: int = 60

    @classmethod
    def from_config(cls, values: Mapping[str, str]) -> Policy:
        """From the runtime configuration's strings (chalicelib/runtime_config.py's table
        gives each its type, bounds and default)."""

        def number(key: str) -> int:
            return SETTING[key].parse(values.get(key))

        enabled = SETTING["login_throttle_enabled"].parse(values.get("login_throttle_enabled"))
        return cls(
            enabled=enabled,
            account_source_free=number("login_failures_before_delay"),
            source_free=number("login_source_failures_before_delay"),
            account_free=number("login_account_failures_before_delay"),
            max_delay=number("login_max_delay_seconds"),
            window=number("login_failure_window_minutes") * 60,
            audit_per_minute=number("failed_login_audit_per_minute"),
        )


def delay(failures: int, free: int, bound: int) -> int:
    """Seconds a login must wait after `failures` failures when `free` are allowed."""
    if failures < free:
        return 0
    return min(bound, 2 ** min(failures - free, 20))


def retry_after(policy: Policy, buckets: Buckets, now: float) -> int:
    """Seconds until a login may be tried; 0: now."""
    if not policy.enabled:
        return 0
    waits = [_wait(buckets.account_source, policy.account_source_free, policy.max_delay, policy, now)]
    if buckets.account_source.good_until <= now:  # not a known-good source: the wider buckets count too
        account_bound = min(policy.max_delay, ACCOUNT_BUCKET_MAX_DELAY)
        waits.append(_wait(buckets.source, policy.source_free, policy.max_delay, policy, now))
        waits.append(_wait(buckets.account, policy.account_free, account_bound, policy, now))
    return max(waits)


def _wait(bucket: Bucket, free: int, bound: int, policy: Policy, now: float) -> int:
    failures = bucket.current(now, policy.window)
    if not failures:
        return 0
    until = bucket.last_failure + delay(failures, free, bound)
    return max(0, int(-(-(until - now) // 1)))  # whole seconds, rounded up


def source_of(address: str) -> str:
    """The source a bucket counts: the address, or its /64 for IPv6 (one host
    usually holds a whole /64)."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
