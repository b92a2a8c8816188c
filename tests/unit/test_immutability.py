"""Tag immutability rules: Harbor's rule shape checked, doublestar patterns matched."""
from __future__ import annotations

import pytest

from chalicelib import immutability
from chalicelib.errors import InvalidRule


def rule(tag: str, repository: str = "**", *, tag_decoration="matches", repo_decoration="repoMatches", **extra) -> dict:
    body = {
        "template": "immutable_template",
        "action": "immutable",
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repository}]},
        **extra,
    }
    return immutability.normalize(body, 1)


@pytest.mark.parametrize(
    ("tag_pattern", "repo_pattern", "repository", "tag", "protected"),
    [
        ("**", "**", "p/app", "latest", True),
        ("release-*", "**", "p/app", "release-1.2", True),
        ("release-*", "**", "p/app", "dev", False),
        ("{v1,v2}", "**", "p/app", "v2", True),
        ("{v1,v2}", "**", "p/app", "v3", False),
        ("v[0-9]*", "**", "p/app", "v7-rc", True),
        ("**", "app", "p/app", "x", True),
        ("**", "app", "p/team/app", "x", False),  # the pattern is matched below the project
        ("**", "team/*", "p/team/app", "x", True),
        ("**", "*", "p/team/app", "x", False),  # `*` stays within one path segment
        ("**", "team/**", "p/team/a/b", "x", True),
    ],
)
def test_patterns(tag_pattern, repo_pattern, repository, tag, protected):
    assert immutability.protects([rule(tag_pattern, repo_pattern)], repository, tag) is protected


def test_excludes_invert_the_match():
    assert immutability.protects([rule("dev*", tag_decoration="excludes")], "p/app", "v1")
    assert not immutability.protects([rule("dev*", tag_decoration="excludes")], "p/app", "dev-1")
    assert not immutability.protects([rule("**", "tmp/**", repo_decoration="repoExcludes")], "p/tmp/x", "v1")
    assert immutability.protects([rule("**", "tmp/**", repo_decoration="repoExcludes")], "p/app", "v1")


def test_a_disabled_rule_protects_nothing():
    assert not immutability.protects([rule("**", disabled=True)], "p/app", "v1")
    assert not immutability.protects([], "p/app", "v1")


def test_normalize_keeps_harbors_shape():
    out = rule("v*", priority=3)
    assert out == {
        "id": 1,
        "priority": 3,
        "disabled": False,
        "action": "immutable",
        "template": "immutable_template",
        "params": {},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    }


@pytest.mark.parametrize(
    "change",
    [
        {"template": "latestPushedK"},
        {"action": "retain"},
        {"tag_selectors": []},
        {"tag_selectors": [{"kind": "regex", "decoration": "matches", "pattern": "x"}]},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "x"}]},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": ""}]},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "{v1,v2"}]},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v[0-9"}]},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "x" * 300}]},
        {"scope_selectors": {}},
        {"scope_selectors": {"namespace": [{"kind": "doublestar", "decoration": "nsMatches", "pattern": "**"}]}},
        {"scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]}},
    ],
)
def test_bad_rules_are_refused(change):
    body = {
        "template": "immutable_template",
        "action": "immutable",
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        **change,
    }
    with pytest.raises(InvalidRule):
        immutability.normalize(body, 1)
