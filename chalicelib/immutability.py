"""Tag immutability: which tags a project's rules protect, and the rule's shape.

A rule is Harbor's ImmutableRule: a repository selector (`scope_selectors.repository`,
`repoMatches` or `repoExcludes` a pattern, matched against the name below the project)
and a tag selector (`matches` or `excludes`), both doublestar patterns (`*` stays within
a path segment, `**` crosses them, `{a,b}` alternatives), matched with wcmatch. A
protected tag is neither moved to another manifest nor deleted, whoever asks: the OCI
API, the management API, replication; pushing the same manifest to it again is fine,
and so is creating it (Harbor's behaviour). chalicelib/artifacts.py applies it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib import patterns
from chalicelib.errors import InvalidRule, TagImmutable

TEMPLATE = "immutable_template"
ACTION = "immutable"
KIND = "doublestar"
TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")
MAX_RULES = 15  # Harbor's console offers at most 15 per project
MAX_PATTERN = patterns.MAX_PATTERN


def _match(pattern: str, value: str) -> bool:
    return patterns.matches(pattern, value)


def check_pattern(pattern: Any, where: str) -> str:
    """A doublestar pattern that can be used (InvalidRule, a 400, otherwise)."""
    return patterns.check(pattern, where)


def _selector(value: Any, decorations: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidRule(f"{where} must be an object")
    if value.get("kind") != KIND:
        raise InvalidRule(f"{where}.kind must be {KIND}")
    if value.get("decoration") not in decorations:
        raise InvalidRule(f"{where}.decoration must be one of {', '.join(decorations)}")
    out = {"kind": KIND, "decoration": value["decoration"], "pattern": check_pattern(value.get("pattern"), where)}
    if isinstance(value.get("extras"), str):
        out["extras"] = value["extras"]
    return out


def normalize(body: dict[str, Any], rule_id: int) -> dict[str, Any]:
    """Harbor's ImmutableRule from a request body, checked (InvalidRule names the field)."""
    template = body.get("template") or TEMPLATE
    if template != TEMPLATE:
        raise InvalidRule(f"template must be {TEMPLATE}")
    action = body.get("action") or ACTION
    if action != ACTION:
        raise InvalidRule(f"action must be {ACTION}")
    tags = body.get("tag_selectors")
    if not isinstance(tags, list) or len(tags) != 1:
        raise InvalidRule("tag_selectors must hold exactly one selector")
    scopes = body.get("scope_selectors")
    if not isinstance(scopes, dict) or set(scopes) != {"repository"}:
        raise InvalidRule('scope_selectors must hold "repository" only')
    repositories = scopes["repository"]
    if not isinstance(repositories, list) or len(repositories) != 1:
        raise InvalidRule("scope_selectors.repository must hold exactly one selector")
    return {
        "id": rule_id,
        "priority": int(body.get("priority") or 0),
        "disabled": bool(body.get("disabled", False)),
        "action": ACTION,
        "template": TEMPLATE,
        "params": body.get("params") if isinstance(body.get("params"), dict) else {},
        "tag_selectors": [_selector(tags[0], TAG_DECORATIONS, "tag_selectors[0]")],
        "scope_selectors": {"repository": [_selector(repositories[0], REPOSITORY_DECORATIONS, "scope_selectors.repository[0]")]},
    }


def _selects(selector: dict[str, str], value: str) -> bool:
    matched = _match(selector["pattern"], value)
    return not matched if selector["decoration"] in ("excludes", "repoExcludes") else matched


def protects(rules: Iterable[dict[str, Any]], repository: str, tag: str) -> bool:
    """Whether an enabled rule protects `tag` of `repository` ("<project>/<name>")."""
    below = repository.split("/", 1)[1] if "/" in repository else repository
    for rule in rules:
        if rule.get("disabled"):
            continue
        scope = (rule.get("scope_selectors") or {}).get("repository") or []
        tags = rule.get("tag_selectors") or []
        if scope and tags and _selects(scope[0], below) and _selects(tags[0], tag):
            return True
    return False


def refuse_move(repository: str, tag: str) -> TagImmutable:
    # Harbor's own words (it names the repository below its project)
    below = repository.split("/", 1)[1] if "/" in repository else repository
    return TagImmutable(f"Failed to process request due to '{below}:{tag}' configured as immutable.")


def refuse_delete(tag: str) -> TagImmutable:
    return TagImmutable(f"the tag {tag} configured as immutable, cannot be deleted")
