"""The login throttling rules (chalicelib/auth/throttle.py): pure arithmetic on counters."""
from __future__ import annotations

import pytest

from chalicelib.auth.throttle import ACCOUNT_BUCKET_MAX_DELAY, Policy, delay, retry_after, source_of
from chalicelib.meta.login_attempts import Bucket, Buckets

NOW = 1_000_000.0
POLICY = Policy(account_source_free=5, source_free=20, account_free=50, max_delay=300, window=900)
EMPTY = Bucket()


def buckets(account_source=EMPTY, source=EMPTY, account=EMPTY) -> Buckets:
    return Buckets(account_source, source, account)


def failed(n: int, ago: float = 0.0, good_until: float = 0.0) -> Bucket:
    return Bucket(failures=n, last_failure=NOW - ago, good_until=good_until)


def test_delays_double_past_the_free_failures_and_are_bounded():
    assert [delay(n, 5, 300) for n in range(4, 16)] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert delay(10**6, 5, 300) == 300


def test_a_few_failures_cost_nothing():
    assert retry_after(POLICY, buckets(failed(4), failed(19), failed(49)), NOW) == 0


def test_the_account_and_source_bucket_holds_back_its_own_source():
    assert retry_after(POLICY, buckets(failed(8)), NOW) == 8
    assert retry_after(POLICY, buckets(failed(8, ago=3)), NOW) == 5
    assert retry_after(POLICY, buckets(failed(8, ago=8)), NOW) == 0


def test_failures_are_forgotten_after_the_window():
    assert failed(30, ago=899).current(NOW, 900) == 30
    assert failed(30, ago=900).current(NOW, 900) == 0
    assert retry_after(POLICY, buckets(failed(30, ago=200)), NOW) == 100


def test_spraying_from_one_source_is_held_back():
    assert retry_after(POLICY, buckets(source=failed(25)), NOW) == 32


def test_the_account_bucket_is_short_and_spares_known_good_sources():
    assert retry_after(POLICY, buckets(account=failed(5000)), NOW) == ACCOUNT_BUCKET_MAX_DELAY
    good = Bucket(good_until=NOW + 3600)
    assert retry_after(POLICY, buckets(good, failed(500), failed(5000)), NOW) == 0
    # ...but the user's own failures from there still count
    assert retry_after(POLICY, buckets(failed(6, good_until=NOW + 3600), failed(500), failed(5000)), NOW) == 2


def test_disabled_means_never_held_back():
    off = Policy(enabled=False)
    assert retry_after(off, buckets(failed(99), failed(99), failed(99)), NOW) == 0


def test_settings_are_read_from_the_runtime_configuration_and_clamped():
    policy = Policy.from_config({"login_failures_before_delay": "3", "login_max_delay_seconds": "99999",
                                 "login_failure_window_minutes": "x", "login_throttle_enabled": "false"})
    assert policy.account_source_free == 3
    assert policy.max_delay == 3600
    assert policy.window == 15 * 60
    assert policy.enabled is False


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("", "unknown"),
        ("not an address", "not an address"),
    ],
)
def test_a_source_is_an_address_or_an_ipv6_slash_64(address, source):
    assert source_of(address) == source
