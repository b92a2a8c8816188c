"""Harbor's paging (page, page_size, X-Total-Count, Link) and its `q` language."""
from __future__ import annotations

import json

import pytest

from chalicelib.management.errors import BadRequest
from chalicelib.management.paging import (
    Condition,
    InMemory,
    Merged,
    by_key_order,
    cursor,
    keyed,
    page_args,
    paged,
    query_args,
    sort_args,
)
from chalicelib.web.http import Request


def req(**query: str) -> Request:
    return Request("GET", "api/v2.0/users", query={k: [v] for k, v in query.items()})


def test_defaults_and_bounds():
    page = page_args(req())
    assert (page.number, page.size) == (1, 10)
    assert page_args(req(page="3", page_size="100")).size == 100
    for bad in ({"page": "0"}, {"page": "-1"}, {"page": "x"}, {"page_size": "101"}, {"page_size": "0"}, {"page": "9" * 20}):
        with pytest.raises(BadRequest):
            page_args(req(**bad))


def test_headers_and_windows():
    items = list(range(25))
    first = paged(req(page_size="10", q="name=~a"), items, str)
    assert first.headers["X-Total-Count"] == "25"
    assert first.headers["Link"] == '</api/v2.0/users?q=name%3D~a&page=2&page_size=10>; rel="next"'
    middle = paged(req(page="2", page_size="10"), items, str)
    assert middle.headers["Link"] == (
        '</api/v2.0/users?page=1&page_size=10>; rel="prev" , </api/v2.0/users?page=3&page_size=10>; rel="next"'
    )
    last = paged(req(page="3", page_size="10"), items, str)
    assert last.body == b'["20","21","22","23","24"]'
    assert 'rel="next"' not in last.headers["Link"]
    past = paged(req(page="9"), items, str)
    assert past.body == b"[]" and past.headers["X-Total-Count"] == "25"
    assert "Link" not in paged(req(), [], str).headers


def test_query_language():
    got = query_args(req(q='name=~ab,public=true,id={1 2 3},time=[2020~2021],quoted="x y"'), ("name", "public", "id", "time", "quoted"))
    assert got == {
        "name": Condition("fuzzy", ("ab",)),
        "public": Condition("exact", ("true",)),
        "id": Condition("any", ("1", "2", "3")),
        "time": Condition("range", ("2020", "2021")),
        "quoted": Condition("exact", ("x y",)),
    }
    assert Condition("fuzzy", ("ab",)).matches("xaby") and not Condition("fuzzy", ("ab",)).matches("ba")
    assert Condition("any", ("1", "2")).matches(2)
    assert Condition("range", ("b", "d")).matches("c") and not Condition("range", ("b", "d")).matches("e")
    assert Condition("exact", ("true",)).matches(True)
    assert query_args(req(name="x"), ("name",), {"name": "name"}) == {"name": Condition("exact", ("x",))}


@pytest.mark.parametrize("q", ["nokey", "=v", "other=1", "name=[a]", "name" * 300 + "=x"])
def test_bad_queries(q):
    with pytest.raises(BadRequest):
        query_args(req(q=q), ("name",))


def test_sort():
    assert sort_args(req(sort="name,-id"), ("name", "id"), "id") == [("name", False), ("id", True)]
    assert sort_args(req(), ("name", "id"), "-id") == [("id", True)]
    with pytest.raises(BadRequest):
        sort_args(req(sort="password"), ("name",), "name")


# -- key-order pages (paging.keyed) ----------------------------------------------------------
class Counted(InMemory):
    """An in-memory list that remembers how many keys and rows each page read."""

    def __init__(self, n: int):
        super().__init__((f"k{i:05d}", i) for i in range(n))
        self.keys_read = self.rows_read = 0

    def keys(self, after, limit):
        found = super().keys(after, limit)
        self.keys_read += len(found)
        return found

    def rows(self, after, limit):
        found = super().rows(after, limit)
        self.rows_read += len(found)
        return found


def _next(reply) -> dict[str, str]:
    link = next(part for part in reply.headers["Link"].split(" , ") if 'rel="next"' in part)
    query = link.split(";")[0].strip("<>").split("?", 1)[1]
    return dict(p.split("=", 1) for p in query.split("&"))


def test_keyed_pages_follow_the_cursor_and_read_one_page():
    source = Counted(95)
    first = keyed(req(page_size="10"), source, 95, list)
    assert json.loads(first.body) == list(range(10)) and first.headers["X-Total-Count"] == "95"
    assert (source.keys_read, source.rows_read) == (0, 10)
    following = _next(first)
    assert following["page"] == "2" and "cursor" in following
    second = keyed(req(**following), source, 95, list)
    assert json.loads(second.body) == list(range(10, 20))
    assert (source.keys_read, source.rows_read) == (0, 20)  # no skip: the cursor says where page 2 starts
    assert 'rel="prev"' in second.headers["Link"]


def test_keyed_page_without_its_cursor_skips_keys_only():
    source = Counted(95)
    page = keyed(req(page="4", page_size="10"), source, 95, list)
    assert json.loads(page.body) == list(range(30, 40))
    assert (source.keys_read, source.rows_read) == (30, 10)
    # a cursor made for another page (or size) is not trusted for this one
    stale = cursor(2, 10, "k00009")
    assert json.loads(keyed(req(page="4", page_size="10", cursor=stale), source, 95, list).body) == list(range(30, 40))
    last = keyed(req(page="10", page_size="10"), source, 95, list)
    assert json.loads(last.body) == list(range(90, 95)) and 'rel="next"' not in last.headers["Link"]


def test_keyed_past_the_end_reads_nothing_and_answers_an_empty_page():
    source = Counted(5)
    past = keyed(req(page="3", page_size="10"), source, 5, list)
    assert past.body == b"[]" and past.headers["X-Total-Count"] == "5"
    assert (source.keys_read, source.rows_read) == (0, 0)
    assert "Link" not in keyed(req(), Counted(0), 0, list).headers


def test_keyed_matches_paged_for_small_lists():
    items = list(range(25))
    for number in ("1", "2", "3", "4"):
        a = paged(req(page=number, page_size="10"), items, str)
        b = keyed(req(page=number, page_size="10"), InMemory((f"{i:03d}", i) for i in items), 25, lambda rows: [str(r) for r in rows])
        assert a.body == b.body and a.headers["X-Total-Count"] == b.headers["X-Total-Count"]


@pytest.mark.parametrize("raw", ["%%%", "bm90IGpzb24", cursor(1, 10, "x")[:-3] + "!!!", "W10", "WzEsMiwzXQ"])
def test_malformed_cursors_are_400(raw):
    with pytest.raises(BadRequest):
        page_args(req(cursor=raw))


def test_merged_lists_interleave_in_key_order():
    merged = Merged(InMemory([("b", 2), ("d", 4)]), InMemory([("a", 1), ("c", 3), ("e", 5)]))
    assert merged.rows(None, 3) == [("a", 1), ("b", 2), ("c", 3)]
    assert merged.rows("c", 10) == [("d", 4), ("e", 5)]
    assert merged.keys(None, 4) == ["a", "b", "c", "d"]


def test_key_order_serves_the_default_order_only():
    assert by_key_order(req(), "name")
    assert by_key_order(req(sort="name"), "name")
    assert not by_key_order(req(sort="-name"), "name")
    assert not by_key_order(req(q="name=~a"), "name")
    assert by_key_order(req(q="public=true"), "name", ("public",))
    assert not by_key_order(req(q="public=~t"), "name", ("public",))
