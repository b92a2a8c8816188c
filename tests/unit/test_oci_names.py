"""Repository names and tags (distribution-spec, "Pulling manifests")."""
from __future__ import annotations

import pytest

from chalicelib.errors import InvalidName, InvalidReference
from chalicelib.oci.names import (
    MAX_NAME_LENGTH,
    project_of,
    validate_name,
    validate_tag,
)


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "0",
        "library/app",
        "library/tools/app",
        "a/b/c/d/e/f",
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a--b",
        "a---b",
        "a.b_c__d-e",
        "0a/1b/2c",
        "my-project/sub.team/image_name",
        "a" * MAX_NAME_LENGTH,
        "/".join(["abc"] * 64),  # 255 characters in 64 components
    ],
)
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("A", id="uppercase"),
        pytest.param("Library/app", id="uppercase-component"),
        pytest.param("a/", id="trailing-slash"),
        pytest.param("/a", id="leading-slash"),
        pytest.param("a//b", id="empty-component"),
        pytest.param("-a", id="leading-dash"),
        pytest.param("a-", id="trailing-dash"),
        pytest.param(".a", id="leading-dot"),
        pytest.param("a.", id="trailing-dot"),
        pytest.param("_a", id="leading-underscore"),
        pytest.param("a..b", id="double-dot"),
        pytest.param("a___b", id="triple-underscore"),
        pytest.param("a._b", id="mixed-separators"),
        pytest.param("a-.b", id="dash-dot"),
        pytest.param("a b", id="space"),
        pytest.param("a:b", id="colon"),
        pytest.param("a@b", id="at"),
        pytest.param("a/../b", id="dot-dot-component"),
        pytest.param("é", id="non-ascii"),
        pytest.param("a\n", id="trailing-newline"),
        pytest.param("a\nb", id="newline"),
        pytest.param("a" * (MAX_NAME_LENGTH + 1), id="256-chars"),
        pytest.param("/".join(["abc"] * 64) + "d", id="256-chars-in-components"),
    ],
)
def test_invalid_names(name):
    with pytest.raises(InvalidName) as caught:
        validate_name(name)
    assert caught.value.detail == {"name": name[:300]}


def test_name_limit_is_255():
    assert MAX_NAME_LENGTH == 255
    at_limit = "/".join(["abc"] * 64)
    assert len(at_limit) == 255
    validate_name(at_limit)
    with pytest.raises(InvalidName):
        validate_name(at_limit + "d")


@pytest.mark.parametrize(
    "tag",
    ["latest", "v1", "v1.0.0", "1.2-rc_3", "A", "ABC_def", "_private", "0", "a" * 128, "_" + "." * 127, "x-" * 64],
)
def test_valid_tags(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param("", id="empty"),
        pytest.param(".hidden", id="leading-dot"),
        pytest.param("-flag", id="leading-dash"),
        pytest.param("a" * 129, id="129-chars"),
        pytest.param("a/b", id="slash"),
        pytest.param("a:b", id="colon"),
        pytest.param("a@b", id="at"),
        pytest.param("a b", id="space"),
        pytest.param("a+b", id="plus"),
        pytest.param("é", id="non-ascii"),
        pytest.param("latest\n", id="trailing-newline"),
        pytest.param("\nlatest", id="leading-newline"),
    ],
)
def test_invalid_tags(tag):
    with pytest.raises(InvalidReference) as caught:
        validate_tag(tag)
    assert caught.value.detail == {"tag": tag[:200]}


@pytest.mark.parametrize(
    "name, project",
    [("library", "library"), ("library/app", "library"), ("team/a/b/c", "team")],
)
def test_project_is_the_first_component(name, project):
    assert project_of(name) == project
