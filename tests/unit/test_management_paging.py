"""Harbor's paging (page, page_size, X-Total-Count, Link) and its `q` language."""
from __future__ import annotations

import pytest

from chalicelib.management.errors import BadRequest
from chalicelib.management.paging import Condition, page_args, paged, query_args, sort_args
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
