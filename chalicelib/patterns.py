"""Harbor's doublestar patterns, matched one way for every feature that takes them
(tag immutability, tag retention, replication filters): `*` and `?` stay within one
path segment, `**` crosses segments, `{a,b}` is either, `[...]` a class; an empty
pattern matches everything. Matched with wcmatch, imported on first use (most
requests never match a pattern). Pure: no I/O.
"""
from __future__ import annotations

from typing import Any

from chalicelib.errors import InvalidRule

MAX_PATTERN = 256


def _glob():
    from wcmatch import glob

    return glob, glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB


def matches(pattern: str, value: str) -> bool:
    """Whether `value` (a repository below its project, or a tag) matches `pattern`."""
    if not pattern:
        return True
    glob, flags = _glob()
    return glob.globmatch(value, pattern, flags=flags)


def check(pattern: Any, where: str, *, required: bool = True) -> str:
    """A pattern that can be used; InvalidRule (a 400 naming `where`) otherwise."""
    if not isinstance(pattern, str) or not pattern.strip():
        if required or not isinstance(pattern, str):
            raise InvalidRule(f"{where}.pattern is required")
        return pattern
    if len(pattern) > MAX_PATTERN:
        raise InvalidRule(f"{where}.pattern is longer than {MAX_PATTERN} characters")
    depth = {"{": 0, "[": 0}
    for ch in pattern:
        if ch in "{[":
            depth[ch] += 1
        elif ch == "}":
            depth["{"] -= 1
        elif ch == "]":
            depth["["] -= 1
        if min(depth.values()) < 0:
            break
    if any(depth.values()):
        raise InvalidRule(f"{where}.pattern {pattern[:80]!r} has unbalanced brackets or braces")
    try:
        glob, flags = _glob()
        glob.translate(pattern, flags=flags)
    except (ValueError, RecursionError) as exc:
        raise InvalidRule(f"{where}.pattern {pattern[:80]!r} is not a doublestar pattern: {exc}") from None
    return pattern
