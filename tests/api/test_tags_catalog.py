"""Listing: /v2/<name>/tags/list and /v2/_catalog, with n/last pagination."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.helpers import (
    assert_error,
    digest,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
)

NAME = "library/app"
LINK = re.compile(r'^<(?P<url>/v2/[^>]+)>; rel="next"$')


def _tag_all(api, name: str, tags: list[str]) -> None:
    body = image_manifest(api, name, seed=name)
    for tag in tags:
        push_manifest(api, name, tag, body)


def _follow(api, url: str) -> list[list[str]]:
    """Every page of a paginated list, following Link headers."""
    pages = []
    for _ in range(100):
        r = api.get(url)
        assert r.status == 200, r.body
        doc = r.json()
        pages.append(doc.get("tags", doc.get("repositories")))
        link = r.headers.get("link")
        if not link:
            return pages
        m = LINK.match(link)
        assert m, link
        url = m["url"]
    raise AssertionError("pagination does not end")


# -- tags ---------------------------------------------------------------------------------
def test_tags_are_sorted_lexically(api):
    tags = ["v10", "v9", "B", "a", "latest", "1.0", "1.0.1", "_x", "Z-9", "v1"]
    _tag_all(api, NAME, tags)
    r = api.get(f"/v2/{NAME}/tags/list")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"name": NAME, "tags": sorted(tags)}
    assert "link" not in r.headers


def test_tags_pagination(api):
    _tag_all(api, NAME, ["a", "b", "c", "d", "e"])
    r = api.get(f"/v2/{NAME}/tags/list?n=2")
    assert r.json() == {"name": NAME, "tags": ["a", "b"]}
    assert r.headers["link"] == f'</v2/{NAME}/tags/list?n=2&last=b>; rel="next"'
    r = api.get(f"/v2/{NAME}/tags/list?n=2&last=b")
    assert r.json()["tags"] == ["c", "d"]
    assert r.headers["link"] == f'</v2/{NAME}/tags/list?n=2&last=d>; rel="next"'
    r = api.get(f"/v2/{NAME}/tags/list?n=2&last=d")
    assert r.json()["tags"] == ["e"]
    assert "link" not in r.headers


def test_tags_pagination_following_links(api):
    tags = [f"t{i:02d}" for i in range(11)]
    _tag_all(api, NAME, tags)
    pages = _follow(api, f"/v2/{NAME}/tags/list?n=3")
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert [t for page in pages for t in page] == tags


def test_tags_page_that_ends_exactly(api):
    _tag_all(api, NAME, ["a", "b", "c", "d"])
    r = api.get(f"/v2/{NAME}/tags/list?n=2&last=b")
    assert r.json()["tags"] == ["c", "d"]
    assert "link" not in r.headers
    r = api.get(f"/v2/{NAME}/tags/list?n=4")
    assert r.json()["tags"] == ["a", "b", "c", "d"]
    assert "link" not in r.headers


def test_tags_last_without_n(api):
    _tag_all(api, NAME, ["a", "b", "c"])
    r = api.get(f"/v2/{NAME}/tags/list?last=a")
    assert r.json()["tags"] == ["b", "c"]


def test_tags_last_that_is_not_a_tag(api):
    _tag_all(api, NAME, ["a", "c", "e"])
    assert api.get(f"/v2/{NAME}/tags/list?last=b").json()["tags"] == ["c", "e"]
    assert api.get(f"/v2/{NAME}/tags/list?last=z").json()["tags"] == []


def test_tags_n_zero(api):
    _tag_all(api, NAME, ["a", "b"])
    r = api.get(f"/v2/{NAME}/tags/list?n=0")
    assert r.status == 200
    assert r.json() == {"name": NAME, "tags": []}
    assert "link" not in r.headers


def test_tags_large_n_is_clamped_not_refused(api):
    _tag_all(api, NAME, ["a", "b"])
    r = api.get(f"/v2/{NAME}/tags/list?n=1000000")
    assert r.status == 200 and r.json()["tags"] == ["a", "b"]


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "1e3", " 2", "0x10"])
def test_tags_bad_n(api, bad):
    _tag_all(api, NAME, ["a"])
    assert_error(api.get(f"/v2/{NAME}/tags/list?n={bad}"), 400, "PAGINATION_NUMBER_INVALID")


def test_tags_of_unknown_repository(api):
    assert_error(api.get(f"/v2/{NAME}/tags/list"), 404, "NAME_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/tags/list?n=5"), 404, "NAME_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/tags/list?n=0"), 404, "NAME_UNKNOWN")
    assert_error(api.get(f"/v2/{NAME}/tags/list?n=2&last=b"), 404, "NAME_UNKNOWN")


def test_repository_with_blobs_only_is_unknown(api):
    push_blob(api, NAME, b"only a blob")
    assert_error(api.get(f"/v2/{NAME}/tags/list"), 404, "NAME_UNKNOWN")


def test_tags_of_repository_with_untagged_manifests_only(api):
    body = image_manifest(api, NAME)
    push_manifest(api, NAME, digest(body), body)
    r = api.get(f"/v2/{NAME}/tags/list")
    assert r.status == 200 and r.json() == {"name": NAME, "tags": []}


def test_tags_after_deletes(api):
    _tag_all(api, NAME, ["a", "b"])
    assert api.delete(f"/v2/{NAME}/manifests/a").status == 202
    assert api.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["b"]
    assert api.delete(f"/v2/{NAME}/manifests/b").status == 202
    r = api.get(f"/v2/{NAME}/tags/list")
    assert r.status == 200 and r.json()["tags"] == []


def test_tags_are_per_repository(api):
    _tag_all(api, "library/a", ["one"])
    _tag_all(api, "library/a/b", ["two"])
    _tag_all(api, "library/ab", ["three"])
    assert api.get("/v2/library/a/tags/list").json() == {"name": "library/a", "tags": ["one"]}
    assert api.get("/v2/library/a/b/tags/list").json() == {"name": "library/a/b", "tags": ["two"]}
    assert api.get("/v2/library/ab/tags/list").json() == {"name": "library/ab", "tags": ["three"]}


def test_repository_named_like_an_endpoint(api):
    # "tags", "manifests", "blobs" are fine name components
    for name in ("library/tags", "library/manifests/x", "blobs/uploads/app"):
        push_image(api, name, "v1")
        assert api.get(f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}


# -- catalog -----------------------------------------------------------------------------
def test_catalog_empty(api):
    r = api.get("/v2/_catalog")
    assert r.status == 200
    assert r.json() == {"repositories": []}


def test_catalog_sorted(api):
    names = ["library/b", "library/a", "z", "a/b/c", "a", "a-b", "a.b", "a_b", "library/a/sub"]
    for name in names:
        push_image(api, name, "v1")
    r = api.get("/v2/_catalog")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"repositories": sorted(names)}
    assert "link" not in r.headers


def test_catalog_lists_repositories_with_manifests_only(api):
    push_blob(api, "library/blobs-only", b"x")
    push_image(api, "library/app", "v1")
    assert api.get("/v2/_catalog").json()["repositories"] == ["library/app"]


def test_catalog_pagination(api):
    for name in ("a", "b", "c", "d", "e"):
        push_image(api, name, "v1")
    r = api.get("/v2/_catalog?n=2")
    assert r.json() == {"repositories": ["a", "b"]}
    assert r.headers["link"] == '</v2/_catalog?n=2&last=b>; rel="next"'
    r = api.get("/v2/_catalog?n=2&last=b")
    assert r.json()["repositories"] == ["c", "d"]
    assert r.headers["link"] == '</v2/_catalog?n=2&last=d>; rel="next"'
    r = api.get("/v2/_catalog?n=2&last=d")
    assert r.json()["repositories"] == ["e"]
    assert "link" not in r.headers


def test_catalog_pagination_with_nested_names(api):
    names = ["library/a", "library/b", "library/c", "other/x"]
    for name in names:
        push_image(api, name, "v1")
    r = api.get("/v2/_catalog?n=1")
    link = LINK.match(r.headers["link"])["url"]
    assert parse_qs(urlsplit(link).query) == {"n": ["1"], "last": ["library/a"]}
    assert [n for page in _follow(api, "/v2/_catalog?n=1") for n in page] == names


def test_catalog_n_zero(api):
    push_image(api, "a", "v1")
    r = api.get("/v2/_catalog?n=0")
    assert r.status == 200 and r.json() == {"repositories": []}
    assert "link" not in r.headers


@pytest.mark.parametrize("bad", ["-1", "x", "2.0"])
def test_catalog_bad_n(api, bad):
    assert_error(api.get(f"/v2/_catalog?n={bad}"), 400, "PAGINATION_NUMBER_INVALID")


def test_catalog_keeps_repository_after_its_manifests_are_deleted(api):
    d, _ = push_image(api, "library/app", "v1")
    assert api.delete(f"/v2/library/app/manifests/{d}").status == 202
    # like distribution: the repository stays until garbage collection
    assert api.get("/v2/_catalog").json()["repositories"] == ["library/app"]
