"""Repository names and tags (distribution-spec "Pulling manifests")."""
from __future__ import annotations

import re

from chalicelib.errors import InvalidName, InvalidReference

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Clients cap "host/name" at 255 characters; distribution caps the name itself.
MAX_NAME_LENGTH = 255


def validate_name(name: str) -> str:
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidName(f"invalid repository name {name[:300]!r}", detail={"name": name[:300]})
    return name


def is_valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def validate_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise InvalidReference(f"invalid tag {tag[:200]!r}", detail={"tag": tag[:200]})
    return tag


def project_of(name: str) -> str:
    """The first path segment: Harbor's project."""
    return name.split("/", 1)[0]
