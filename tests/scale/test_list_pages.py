"""A management list's page costs the same at 100 and at 10,000 entries: the same AWS
calls and no more DynamoDB items read, for page 1 and for page 2 reached through the
Link header (bench/lists.py grows the lists and measures; `make bench` reports the same
numbers in its "Management lists" section)."""
from __future__ import annotations

import boto3
import pytest

from bench import lists
from bench.inproc import CallCounter
from tests.api.management.conftest import ADMIN_PASSWORD, make_world

SMALL, LARGE = 100, 10_000


@pytest.fixture(scope="module", params=lists.LISTS)
def measured(request, _moto):
    """One kind of list in a deployment of its own, measured at SMALL and at LARGE entries."""
    session = boto3.session.Session(region_name="us-east-1")
    counter = CallCounter()
    counter.install(session)  # before the clients exist: they copy the session's handlers
    world = make_world(session)
    small, large = lists.grow_and_measure(world.api, counter, world.svc, request.param, SMALL, LARGE, ADMIN_PASSWORD)
    return request.param, {m.page: m for m in small}, {m.page: m for m in large}


def test_page_one_costs_the_same_at_10000_entries(measured):
    kind, small, large = measured
    for label, _, _ in lists.pages(kind, ADMIN_PASSWORD):
        a, b = small[f"{label}: page 1"], large[f"{label}: page 1"]
        assert a.returned == b.returned == 10
        assert b.calls <= a.calls, f"{label}: {a.described} at {SMALL}, {b.described} at {LARGE}"
        assert b.items_read <= a.items_read, f"{label}: {a.items_read} items read at {SMALL}, {b.items_read} at {LARGE}"


def test_the_next_page_through_the_link_costs_what_page_one_does(measured):
    kind, _, large = measured
    for label, _, _ in lists.pages(kind, ADMIN_PASSWORD):
        first, second = large[f"{label}: page 1"], large[f"{label}: page 2 (Link)"]
        assert second.returned == 10
        assert second.calls <= first.calls and second.items_read <= first.items_read, (first.described, second.described)


def test_totals_come_from_the_counters(measured):
    kind, small, large = measured
    for label, _, _ in lists.pages(kind, ADMIN_PASSWORD):
        grew = int(large[f"{label}: page 1"].total) - int(small[f"{label}: page 1"].total)
        # a user sees the public half of the new projects (and their own private one)
        assert grew == (LARGE - SMALL) // 2 if label == "projects, a user (public + own)" else LARGE - SMALL
