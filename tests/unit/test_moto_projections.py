"""The local stack's projections (devstack/moto_projections.py) give what moto's own
give, item for item, over nested maps, lists, list elements, overlapping and missing
paths; they only convert less."""
from __future__ import annotations

import random

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item, serializer

from devstack import moto_projections

ITEM = {
    "PK": "REPO#a/b",
    "SK": "TAG#latest",
    "digest": "sha256:" + "0" * 64,
    "size": 123,
    "tags": ["v1", "v2", "v3"],
    "labels": {"team": "x", "nested": {"deep": [1, 2, {"k": "v"}], "flag": True}},
    "list_of_maps": [{"a": 1, "b": [1, 2]}, {"a": 2}, {"c": {"d": "e"}}],
    "empty_map": {},
    "nothing": None,
    "blob": b"\x00\x01",
    "numbers": {1, 2, 3},
    "empty": "",
    "unicode": "é ü",
}
PATHS = [
    ["PK"], ["SK"], ["digest"], ["size"], ["tags"], ["tags[1]"], ["tags[9]"], ["labels"], ["labels", "team"],
    ["labels", "nested"], ["labels", "nested", "deep"], ["labels", "nested", "deep[2]", "k"], ["labels", "missing"],
    ["list_of_maps[0]", "b"], ["list_of_maps[2]", "c", "d"], ["list_of_maps[1]"], ["list_of_maps"], ["empty_map"],
    ["nothing"], ["blob"], ["numbers"], ["absent"], ["absent[0]"], ["size", "deeper"], ["digest", "deeper"],
    ["digest[0]"], ["empty"], ["unicode"],
]


def item() -> Item:
    return Item(DynamoType({"S": ITEM["PK"]}), DynamoType({"S": ITEM["SK"]}), serializer.serialize(ITEM)["M"])


def outcome(project, paths: list[list[str]]) -> dict | str:
    """The projected item, or the error (moto fails on a path into a scalar: so must we)."""
    try:
        projected = project(item(), paths)
        return {**projected.to_json(), "order": list(projected.attrs)}
    except Exception as exc:  # noqa: BLE001 (compared, not hidden)
        return f"{type(exc).__name__}: {exc}"


def both(paths: list[list[str]]) -> tuple[dict | str, dict | str]:
    return outcome(moto_projections.MOTOS_PROJECT, paths), outcome(moto_projections.project, paths)


@pytest.mark.parametrize("path", PATHS, ids=[".".join(p) for p in PATHS])
def test_one_path(path):
    motos, ours = both([path])
    assert ours == motos


def test_overlapping_paths_in_either_order():
    for paths in (
        [["labels"], ["labels", "team"]],
        [["labels", "team"], ["labels"]],
        [["labels", "nested", "deep[2]", "k"], ["labels", "nested"], ["labels", "team"]],
        [["list_of_maps"], ["list_of_maps[0]", "b"], ["list_of_maps[2]", "c", "d"]],
        [["tags"], ["tags[1]"], ["tags[0]"]],
    ):
        motos, ours = both(paths)
        assert ours == motos, paths


def test_random_path_lists():
    rng = random.Random(11)
    for _ in range(300):
        paths = rng.sample(PATHS, rng.randint(1, 8))
        motos, ours = both(paths)
        assert ours == motos, paths


def test_every_path_at_once_is_the_whole_item():
    paths = [p for p in PATHS if p != ["size", "deeper"]]
    motos, ours = both(paths)
    assert ours == motos
    assert isinstance(ours, dict) and set(ours["Attributes"]) == set(ITEM)


def test_a_path_into_a_scalar_fails_as_in_moto():
    motos, ours = both([["size", "deeper"]])
    assert ours == motos and isinstance(ours, str)


def test_a_path_into_a_string_finds_nothing_as_in_moto():
    motos, ours = both([["digest", "deeper"], ["digest[0]"]])
    assert ours == motos == {"Attributes": {}, "order": []}


def test_a_string_named_with_other_paths_to_it():
    for paths in ([["digest"], ["digest"]], [["digest"], ["digest[0]"]], [["digest[0]"], ["digest"], ["PK"]],
                  [["SK"], ["digest"], ["labels", "team"], ["PK"]]):
        motos, ours = both(paths)
        assert ours == motos, paths


def test_installed_for_the_tests():
    assert Item.project is moto_projections.project
