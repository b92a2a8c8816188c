"""Strict JSON for request bodies: one reader for the registry and the management API.

Python's `json.loads` accepts what other parsers treat differently, and a request
body is read by more than one parser (Berth stores a manifest's exact bytes;
docker, containerd and Harbor parse them again). So a body is refused when:

- an object repeats a key (RFC 8259 leaves the winner open: Go keeps the last,
  some parsers the first, so two readers could see two different manifests);
- it holds NaN or Infinity (not JSON at all);
- it nests deeper than `max_depth` (no real manifest or API body is deeper than
  about six levels; a deep one only costs stack, and past Python's recursion
  limit it would be a RecursionError, a 500).

Pure: bytes in, a value or `JsonRejected` (a ValueError) out.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# An OCI index is five levels deep (index, manifests, descriptor, platform, features);
# Harbor's API bodies are shallower. Far above both, far below the recursion limit.
MAX_DEPTH = 32


class JsonRejected(ValueError):
    """The body is not JSON Berth accepts; the message says why."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise JsonRejected(f"JSON nests deeper than {max_depth} levels") from None
    except JsonRejected:
        raise
    except (ValueError, UnicodeDecodeError):
        raise JsonRejected("not valid JSON") from None
    if _depth_exceeds(value, max_depth):
        raise JsonRejected(f"JSON nests deeper than {max_depth} levels")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonRejected(f"duplicate key {key[:100]!r} in a JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON value")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` deep (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
