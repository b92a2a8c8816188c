"""What a tag retention policy may say, and what it keeps: pure, no I/O.

A policy is Harbor's RetentionPolicy: rules joined by the `or` algorithm, a trigger (a
schedule, Harbor's 6-field cron, or none) and a scope (one project). A rule is a
template that *retains* (the K most recently pushed or pulled, pushed or pulled within
N days, always) applied to the artifacts its selectors pick in the repositories its
scope selector picks. Per repository, an artifact that no applicable rule retains is
deleted, unless one of its tags is immutable; a repository no rule applies to is left
alone. Selectors are Harbor's: doublestar on the repository (`repoMatches`,
`repoExcludes`) and on tags (`matches`, `excludes`; `extras` `{"untagged": true}` picks
untagged artifacts too), and labels (`withLabels`, `withoutLabels`, names separated by
commas). Every refusal is an InvalidRule (a 400) naming the field.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib import patterns
from chalicelib.errors import InvalidRule

ALGORITHM = "or"
ACTION = "retain"
MAX_RULES = 15  # Harbor's limit
LATEST_PUSHED = "latestPushedK"
LATEST_PULLED = "latestPulledN"
DAYS_SINCE_PUSH = "nDaysSinceLastPush"
DAYS_SINCE_PULL = "nDaysSinceLastPull"
ALWAYS = "always"
# template -> (unit, largest value Harbor takes); `always` takes no parameter
TEMPLATES: dict[str, tuple[str, int] | None] = {
    LATEST_PUSHED: ("COUNT", 32766),
    LATEST_PULLED: ("COUNT", 32766),
    DAYS_SINCE_PUSH: ("DAYS", 20190904),
    DAYS_SINCE_PULL: ("DAYS", 20190904),
    ALWAYS: None,
}
DISPLAY = {
    LATEST_PUSHED: "the most recently pushed # artifacts",
    LATEST_PULLED: "the most recently pulled # artifacts",
    DAYS_SINCE_PUSH: "pushed within the last # days",
    DAYS_SINCE_PULL: "pulled within the last # days",
    ALWAYS: "always",
}
TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")
LABEL_DECORATIONS = ("withLabels", "withoutLabels")
TRIGGER_KIND = "Schedule"
SCOPE_LEVEL = "project"
DAY = 24 * 3600

# what a run marks each artifact with (Harbor's words in its task log)
RETAIN = "RETAIN"
DELETE = "DEL"
IMMUTABLE = "IMMUTABLE"


def metadata() -> dict[str, Any]:
    """Harbor's RetentionMetadata: the templates and selectors a policy may use."""
    return {
        "templates": [
            {"rule_template": t, "display_text": DISPLAY[t], "action": ACTION,
             "params": [] if spec is None else [{"type": "int", "unit": spec[0], "required": True}]}
            for t, spec in TEMPLATES.items()
        ],
        "scope_selectors": [{"display_text": "Repositories", "kind": "doublestar", "decorations": list(REPOSITORY_DECORATIONS)}],
        "tag_selectors": [
            {"display_text": "Labels", "kind": "label", "decorations": list(LABEL_DECORATIONS)},
            {"display_text": "Tags", "kind": "doublestar", "decorations": list(TAG_DECORATIONS)},
        ],
    }


# -- checking a policy ------------------------------------------------------------------------------
def check_cron(cron: Any) -> str:
    """Harbor's cron for a retention schedule: empty (no schedule) or 6 fields, seconds first."""
    if not isinstance(cron, str):
        raise InvalidRule("invalid cron type for scheduled tag retention: must be a string")
    if not cron.strip():
        return ""
    fields = cron.split()
    from croniter import croniter

    if len(fields) != 6 or not croniter.is_valid(" ".join(fields), second_at_beginning=True):
        raise InvalidRule(
            f"invalid cron string for scheduled tag retention: {cron[:64]} (6 fields: second minute hour day month weekday)"
        )
    if fields[0] != "0":
        raise InvalidRule("the 1st field (seconds) of the retention schedule must be 0")
    from chalicelib.schedules import eventbridge_expression

    try:
        eventbridge_expression(" ".join(fields))  # one EventBridge Scheduler can keep
    except ValueError as exc:
        raise InvalidRule(f"invalid cron string for scheduled tag retention: {exc}") from None
    return " ".join(fields)


def _selector(value: Any, kinds: dict[str, tuple[str, ...]], where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidRule(f"{where} must be an object")
    kind = value.get("kind")
    if kind not in kinds:
        raise InvalidRule(f"{where}.kind must be {' or '.join(kinds)}")
    if value.get("decoration") not in kinds[kind]:
        raise InvalidRule(f"{where}.decoration must be one of {', '.join(kinds[kind])}")
    out = {"kind": kind, "decoration": value["decoration"]}
    if kind == "label":
        names = value.get("pattern")
        if not isinstance(names, str) or not [n for n in names.split(",") if n.strip()]:
            raise InvalidRule(f"{where}.pattern must name one or more labels, separated by commas")
        out["pattern"] = ",".join(n.strip() for n in names.split(",") if n.strip())
    else:
        out["pattern"] = patterns.check(value.get("pattern"), where)
    extras = value.get("extras")
    if extras not in (None, ""):
        if not isinstance(extras, str):
            raise InvalidRule(f"{where}.extras must be a JSON string")
        try:
            parsed = json.loads(extras)
        except ValueError:
            raise InvalidRule(f'{where}.extras must be JSON, like {{"untagged":true}}') from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("untagged", False), bool):
            raise InvalidRule(f'{where}.extras must be like {{"untagged":true}}')
        out["extras"] = json.dumps({"untagged": parsed.get("untagged", False)}, separators=(",", ":"))
    return out


def _parameter(template: str, params: Any, where: str) -> dict[str, int]:
    spec = TEMPLATES[template]
    if spec is None:
        return {}
    value = params.get(template) if isinstance(params, dict) else None
    if value is None:
        raise InvalidRule(f"missing required parameter {template} for rule {template} ({where}.params)")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRule(f"{template} type error: an integer ({where}.params)")
    if value < 0:
        raise InvalidRule(f"{template} is less than zero")
    if value > spec[1]:
        raise InvalidRule(f"{template} is too large (at most {spec[1]})")
    return {template: value}


def check_rule(body: Any, number: int) -> dict[str, Any]:
    where = f"rules[{number}]"
    if not isinstance(body, dict):
        raise InvalidRule(f"{where} must be an object")
    template = body.get("template")
    if template not in TEMPLATES:
        raise InvalidRule(f"{where}.template must be one of {', '.join(TEMPLATES)}")
    if (body.get("action") or ACTION) != ACTION:
        raise InvalidRule(f"{where}.action must be {ACTION}")
    tags = body.get("tag_selectors")
    if not isinstance(tags, list) or not tags or len(tags) > 4:
        raise InvalidRule(f"{where}.tag_selectors must hold one to four selectors")
    scopes = body.get("scope_selectors")
    if not isinstance(scopes, dict) or set(scopes) != {"repository"}:
        raise InvalidRule(f'{where}.scope_selectors must hold "repository" only')
    repositories = scopes["repository"]
    if not isinstance(repositories, list) or len(repositories) != 1:
        raise InvalidRule(f"{where}.scope_selectors.repository must hold exactly one selector")
    tag_kinds: dict[str, tuple[str, ...]] = {"doublestar": TAG_DECORATIONS, "label": LABEL_DECORATIONS}
    return {
        "id": number + 1,
        "priority": int(body.get("priority") or 0) if isinstance(body.get("priority"), int) else 0,
        "disabled": bool(body.get("disabled", False)),
        "action": ACTION,
        "template": template,
        "params": _parameter(template, body.get("params"), where),
        "tag_selectors": [_selector(s, tag_kinds, f"{where}.tag_selectors[{i}]") for i, s in enumerate(tags)],
        "scope_selectors": {
            "repository": [_selector(repositories[0], {"doublestar": REPOSITORY_DECORATIONS}, f"{where}.scope_selectors.repository[0]")]
        },
    }


def check(body: Any, project_id: int) -> dict[str, Any]:
    """Harbor's RetentionPolicy from a request body, checked; its scope must be `project_id`
    (the caller resolved and authorised it)."""
    if not isinstance(body, dict):
        raise InvalidRule("a retention policy is an object")
    if (body.get("algorithm") or ALGORITHM) != ALGORITHM:
        raise InvalidRule(f"algorithm must be {ALGORITHM}")
    rules = body.get("rules") or []
    if not isinstance(rules, list):
        raise InvalidRule("rules must be an array")
    if len(rules) > MAX_RULES:
        raise InvalidRule(f"only {MAX_RULES} rules are allowed at most")
    checked = [check_rule(rule, i) for i, rule in enumerate(rules)]
    seen: dict[str, int] = {}
    for i, rule in enumerate(checked):
        same = json.dumps({k: v for k, v in rule.items() if k != "id"}, sort_keys=True)
        if same in seen:
            raise RuleConflict(f"rule {i} is conflict with rule {seen[same]}")
        seen[same] = i
    trigger = body.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("kind") != TRIGGER_KIND:
        raise InvalidRule(f"trigger.kind must be {TRIGGER_KIND}")
    raw_settings = trigger.get("settings")
    settings: dict = raw_settings if isinstance(raw_settings, dict) else {}
    cron = check_cron(settings.get("cron", ""))
    return {
        "algorithm": ALGORITHM,
        "rules": checked,
        "trigger": {"kind": TRIGGER_KIND, "settings": {"cron": cron}, "references": {}},
        "scope": {"level": SCOPE_LEVEL, "ref": project_id},
    }


def scope_of(body: Any) -> int:
    """The project id a policy body's scope names (InvalidRule when it names none)."""
    scope = body.get("scope") if isinstance(body, dict) else None
    if not isinstance(scope, dict) or scope.get("level") != SCOPE_LEVEL:
        level = scope.get("level") if isinstance(scope, dict) else None
        raise InvalidRule(f"scope {str(level)[:32]} is not support" if level else "scope.level must be project")
    ref = scope.get("ref")
    if not isinstance(ref, int) or isinstance(ref, bool) or ref <= 0:
        raise InvalidRule(f"invalid Project id {str(ref)[:32]}")
    return ref


class RuleConflict(InvalidRule):
    """two rules of a policy say the same (Harbor answers 409)"""


# -- what a policy keeps --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """An artifact of a repository as retention sees it (Harbor's selector.Candidate)."""

    digest: str
    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # label names
    pushed: int = 0  # the last push of the artifact or of a tag onto it (epoch seconds)
    pulled: int = 0  # the last pull, 0: never
    created: int = 0
    kind: str = "image"


def applicable(policy: dict[str, Any], repository: str) -> list[dict[str, Any]]:
    """The enabled rules whose repository selector picks `repository` (below its project)."""
    out = []
    for rule in policy.get("rules") or []:
        if rule.get("disabled"):
            continue
        scope = rule["scope_selectors"]["repository"][0]
        hit = patterns.matches(scope["pattern"], repository)
        if hit != (scope["decoration"] == "repoExcludes"):
            out.append(rule)
    return out


def _untagged(selector: dict[str, str]) -> bool:
    if selector.get("extras"):
        return bool(json.loads(selector["extras"]).get("untagged", False))
    return selector["decoration"] == "matches"  # Harbor's default: matches keeps the untagged


def _selects(selector: dict[str, str], c: Candidate) -> bool:
    if selector["kind"] == "label":
        wanted = selector["pattern"].split(",")
        if selector["decoration"] == "withLabels":
            return all(name in c.labels for name in wanted)
        return not any(name in c.labels for name in wanted)
    if not c.tags:
        return _untagged(selector)
    if selector["decoration"] == "matches":
        return any(patterns.matches(selector["pattern"], t) for t in c.tags)
    return any(not patterns.matches(selector["pattern"], t) for t in c.tags)


def _retained(rule: dict[str, Any], selected: list[Candidate], now: int) -> list[Candidate]:
    template = rule["template"]
    n = rule["params"].get(template, 0)
    if template == ALWAYS:
        return selected
    if template == LATEST_PUSHED:
        return sorted(selected, key=lambda c: -c.pushed)[:n]
    if template == LATEST_PULLED:
        return sorted(selected, key=lambda c: -c.pulled)[:n]
    if template == DAYS_SINCE_PUSH:
        return [c for c in selected if c.pushed >= now - n * DAY]
    if template == DAYS_SINCE_PULL:
        return [c for c in selected if c.pulled >= now - n * DAY]
    raise InvalidRule(f"rule evaluator {template} is not registered")


def evaluate(
    rules: Iterable[dict[str, Any]], candidates: Iterable[Candidate], now: int, protected: Callable[[Candidate], bool]
) -> list[tuple[Candidate, str]]:
    """Each candidate with its mark (RETAIN, DELETE or IMMUTABLE) under the rules that
    apply to its repository, in digest order (the same input gives the same answer: a
    dry run's deletions are the real run's)."""
    ordered = sorted(candidates, key=lambda c: c.digest)
    kept: set[str] = set()
    for rule in rules:
        selected = [c for c in ordered if all(_selects(s, c) for s in rule["tag_selectors"])]
        kept.update(c.digest for c in _retained(rule, selected, now))
    marks = []
    for c in ordered:
        if c.digest in kept:
            marks.append((c, RETAIN))
        elif protected(c):
            marks.append((c, IMMUTABLE))
        else:
            marks.append((c, DELETE))
    return marks
