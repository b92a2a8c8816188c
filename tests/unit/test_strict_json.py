"""The strict JSON reader every request body goes through (chalicelib/strict_json.py)."""
from __future__ import annotations

import pytest

from chalicelib.strict_json import MAX_DEPTH, JsonRejected, loads


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_ordinary_documents_parse():
    assert loads(b'{"a": [1, {"b": "c"}], "d": null}') == {"a": [1, {"b": "c"}], "d": None}


def test_depth_up_to_the_limit_parses_and_one_more_does_not():
    assert loads(nested(MAX_DEPTH)) is not None
    with pytest.raises(JsonRejected, match="deeper"):
        loads(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_nesting_past_the_recursion_limit_is_refused_not_raised(depth):
    # json.loads alone raises RecursionError here: a 500 where it reached a handler
    with pytest.raises(JsonRejected):
        loads(b'{"a":' * depth + b"1" + b"}" * depth)
    with pytest.raises(JsonRejected):
        loads(nested(depth))


def test_duplicate_keys_are_refused_at_any_depth():
    with pytest.raises(JsonRejected, match="duplicate key 'schemaVersion'"):
        loads(b'{"schemaVersion": 2, "schemaVersion": 1}')
    with pytest.raises(JsonRejected, match="duplicate"):
        loads(b'{"layers": [{"digest": "a", "digest": "b"}]}')


@pytest.mark.parametrize("text", [b"NaN", b'{"size": Infinity}', b"[-Infinity]"])
def test_non_json_constants_are_refused(text):
    with pytest.raises(JsonRejected):
        loads(text)


@pytest.mark.parametrize("text", [b"", b"{", b"\xff\xfe", b'{"a": 1} x'])
def test_invalid_json_is_refused(text):
    with pytest.raises(JsonRejected, match="not valid JSON"):
        loads(text)
