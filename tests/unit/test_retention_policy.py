"""Tag retention's rules (chalicelib/retention/policy.py): Harbor's templates and
selectors over candidates, and what a policy may say."""
from __future__ import annotations

import pytest

from chalicelib.errors import InvalidRule
from chalicelib.retention import policy as rules
from chalicelib.retention.policy import DELETE, IMMUTABLE, RETAIN, Candidate

NOW = 1_800_000_000
DAY = 24 * 3600


def rule(template, n=None, *, tags=None, repository="**", decoration="repoMatches", disabled=False):
    body = {"template": template, "params": {} if n is None else {template: n}, "disabled": disabled,
            "tag_selectors": tags or [{"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged":true}'}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": decoration, "pattern": repository}]}}
    return rules.check_rule(body, 0)


def marks(rule_list, candidates, protected=lambda c: False):
    return {c.digest: mark for c, mark in rules.evaluate(rule_list, candidates, NOW, protected)}


def test_latest_pulled_keeps_the_most_recently_pulled():
    cs = [Candidate("sha256:a", ("a",), pulled=NOW - 5), Candidate("sha256:b", ("b",), pulled=NOW - 1),
          Candidate("sha256:c", ("c",), pulled=0)]
    assert marks([rule("latestPulledN", 1)], cs) == {"sha256:a": DELETE, "sha256:b": RETAIN, "sha256:c": DELETE}


def test_days_since_push_and_the_union_of_rules():
    cs = [Candidate("sha256:a", ("old",), pushed=NOW - 10 * DAY), Candidate("sha256:b", ("new",), pushed=NOW - DAY),
          Candidate("sha256:c", ("release-1",), pushed=NOW - 99 * DAY)]
    releases = rule("always", tags=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}])
    assert marks([rule("nDaysSinceLastPush", 7), releases], cs) == {
        "sha256:a": DELETE, "sha256:b": RETAIN, "sha256:c": RETAIN}


def test_excludes_labels_and_untagged():
    cs = [Candidate("sha256:a", ("dev-1",)), Candidate("sha256:b", ("v1",), labels=("prod",)), Candidate("sha256:c")]
    not_dev = rule("always", tags=[{"kind": "doublestar", "decoration": "excludes", "pattern": "dev-*"}])
    # excludes keeps no untagged artifact unless its extras say so (Harbor's default)
    assert marks([not_dev], cs) == {"sha256:a": DELETE, "sha256:b": RETAIN, "sha256:c": DELETE}
    unlabelled = rule("always", tags=[{"kind": "doublestar", "decoration": "matches", "pattern": "**"},
                                      {"kind": "label", "decoration": "withoutLabels", "pattern": "prod"}])
    assert marks([unlabelled], cs) == {"sha256:a": RETAIN, "sha256:b": DELETE, "sha256:c": RETAIN}


def test_immutable_candidates_are_marked_not_deleted():
    cs = [Candidate("sha256:a", ("v1",)), Candidate("sha256:b", ("v2",))]
    assert marks([rule("latestPushedK", 0)], cs, lambda c: "v1" in c.tags) == {"sha256:a": IMMUTABLE, "sha256:b": DELETE}


def test_which_rules_apply_to_a_repository():
    policy = {"rules": [rule("always", repository="web/**"), rule("latestPushedK", 1, repository="web/**", decoration="repoExcludes"),
                        rule("always", disabled=True)]}
    assert [r["template"] for r in rules.applicable(policy, "web/app")] == ["always"]
    assert [r["template"] for r in rules.applicable(policy, "db")] == ["latestPushedK"]


@pytest.mark.parametrize("cron", ["0 0 3 * * *", "0 */15 * * * *", "", "  "])
def test_schedules_taken(cron):
    assert rules.check_cron(cron) == " ".join(cron.split())


@pytest.mark.parametrize("cron", ["0 3 * * *", "5 0 3 * * *", "0 0 25 * * *", "nightly", 7])
def test_schedules_refused(cron):
    with pytest.raises(InvalidRule):
        rules.check_cron(cron)
