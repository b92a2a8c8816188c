"""Parsing scope strings of the Docker token protocol.

    repository:library/app:pull,push
    repository(plugin):library/app:pull
    registry:catalog:*
"""
from __future__ import annotations

import re

from chalicelib.auth.access import Access
from chalicelib.errors import BerthError, InvalidName
from chalicelib.oci.names import validate_name

_TYPE = re.compile(r"^[a-z0-9]+(\([a-z0-9]+\))?$")
_ACTION = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,31})$")
MAX_SCOPES = 20
MAX_SCOPE_LENGTH = 512


class InvalidScope(BerthError):
    """invalid scope"""


def parse_scope(text: str) -> Access:
    if len(text) > MAX_SCOPE_LENGTH:
        raise InvalidScope("scope too long")
    type_, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not _TYPE.match(type_) or not name:
        raise InvalidScope(f"malformed scope {text[:100]!r}")
    type_ = type_.split("(", 1)[0]
    action_list = tuple(dict.fromkeys(a for a in actions.split(",") if a))
    if not action_list or not all(_ACTION.match(a) for a in action_list):
        raise InvalidScope(f"malformed actions in scope {text[:100]!r}")
    if type_ == "repository":
        try:
            validate_name(name)
        except InvalidName:
            raise InvalidScope(f"invalid repository name in scope {text[:100]!r}") from None
    return Access(type_, name, action_list)


def parse_scopes(values: list[str]) -> list[Access]:
    """Each `scope` parameter may itself hold several space-separated scopes."""
    scopes = [parse_scope(part) for value in values for part in value.split(" ") if part]
    if len(scopes) > MAX_SCOPES:
        raise InvalidScope(f"at most {MAX_SCOPES} scopes per token")
    merged: dict[tuple[str, str], tuple[str, ...]] = {}
    for scope in scopes:
        key = (scope.type, scope.name)
        merged[key] = tuple(dict.fromkeys(merged.get(key, ()) + scope.actions))
    return [Access(t, n, a) for (t, n), a in merged.items()]
