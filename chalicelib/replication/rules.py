"""What a replication policy may say, and what it selects: pure, no I/O.

Patterns are Harbor's (doublestar): `*` and `?` stay within one path component, `**`
crosses them, `{a,b}` is either, `[...]` a class; an empty pattern matches everything.
Tag filters may be `matches` (default) or `excludes`; name and resource filters may not
be decorated (as in Harbor). A label filter names labels: `matches` selects the artifacts
that carry all of them, `excludes` those that lack one (Harbor's artifactLabelFilter).
Every refusal is a ValueError whose text the API answers.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from chalicelib import patterns
from chalicelib.meta.replication import LOCAL, Filter, ReplicationPolicy

FILTER_TYPES = ("name", "tag", "resource", "label")
MAX_LABELS = 20  # per label filter
RESOURCE_TYPES = ("image", "artifact")
DECORATIONS = ("matches", "excludes")
TRIGGERS = ("manual", "scheduled", "event_based")
MAX_PATTERN = 255
# Harbor's lib.RepositoryNameRe: lower-case path components joined by /
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


def pattern_matches(value: str, pattern: str) -> bool:
    return patterns.matches(pattern, value)


# -- checking a policy ----------------------------------------------------------------------
def check(policy: ReplicationPolicy) -> None:
    if not policy.name.strip():
        raise ValueError("empty name")
    if (policy.src_registry_id == LOCAL) == (policy.dest_registry_id == LOCAL):
        raise ValueError("either src_registry or dest_registry should be empty and the other one shouldn't be empty")
    for number, item in enumerate(policy.filters, 1):
        check_filter(item, number)
    if len([f for f in policy.filters if f.type == "name"]) > 1 or len([f for f in policy.filters if f.type == "resource"]) > 1:
        raise ValueError("a policy has at most one name filter and one resource filter")
    if policy.dest_namespace and not _NAMESPACE.match(policy.dest_namespace):
        raise ValueError(f"invalid destination namespace: {policy.dest_namespace[:100]}")
    if policy.dest_namespace_replace_count < -1:
        raise ValueError("dest_namespace_replace_count must be -1 (legacy) or at least 0")
    if policy.speed < -1:
        raise ValueError("speed must be -1 or 0 (no limit) or a positive number of KiB/s")
    if policy.trigger not in TRIGGERS:
        raise ValueError("invalid trigger type")
    if policy.trigger == "scheduled":
        check_cron(policy.cron)
    if policy.trigger == "event_based" and not policy.push_based:
        raise ValueError("an event_based trigger needs this registry as the source: a pull-based policy runs manually or on a schedule")


def check_filter(item: Filter, number: int = 1) -> None:
    where = f"filter {number}"
    if item.type not in FILTER_TYPES:
        raise ValueError(f"{where}: invalid filter type {item.type[:32]!r}")
    if item.type == "label":
        _check_label_filter(item, where)
        return
    if not isinstance(item.value, str):
        raise ValueError(f"{where}: the type of the {item.type} filter value isn't string")  # noqa: TRY004 - a refusal (400)
    if item.type == "resource" and item.value not in RESOURCE_TYPES:
        raise ValueError(f"{where}: invalid resource filter: {item.value[:32]}")
    if item.type in ("name", "resource") and item.decoration:
        raise ValueError(f"{where}: only tag and label filter support decoration")
    if item.decoration and item.decoration not in DECORATIONS:
        raise ValueError(f"{where}: invalid filter decoration, :{item.decoration[:32]}")
    if len(item.value) > MAX_PATTERN:
        raise ValueError(f"{where}: a pattern of at most {MAX_PATTERN} characters")
    if item.type in ("name", "tag"):
        try:
            pattern_matches("x", item.value)
        except Exception as exc:  # noqa: BLE001 - wcmatch says why a pattern cannot be compiled
            raise ValueError(f"{where}: invalid pattern {item.value[:64]!r}: {exc}") from None


def _check_label_filter(item: Filter, where: str) -> None:
    if not isinstance(item.value, tuple) or not all(isinstance(name, str) for name in item.value):
        raise ValueError(f"{where}: the type of the label filter value must be string slice")
    if len(item.value) > MAX_LABELS:
        raise ValueError(f"{where}: at most {MAX_LABELS} labels")
    if any(not name.strip() or len(name) > 128 for name in item.value):
        raise ValueError(f"{where}: a label name of 1 to 128 characters")
    if item.decoration and item.decoration not in DECORATIONS:
        raise ValueError(f"{where}: invalid filter decoration, :{item.decoration[:32]}")


def check_cron(cron: str) -> None:
    """Harbor's 6 fields (seconds first), the seconds 0 and the minutes not `*`; croniter
    checks the rest (ranges, steps, names)."""
    if not cron.strip():
        raise ValueError("the cron string cannot be empty when the trigger type is scheduled")
    fields = cron.split(" ")
    if len(fields) != 6:
        raise ValueError(f"invalid cron string for scheduled trigger: {cron[:64]} (6 fields: second minute hour day month weekday)")
    from croniter import croniter

    if not croniter.is_valid(cron, second_at_beginning=True):
        raise ValueError(f"invalid cron string for scheduled trigger: {cron[:64]}")
    if fields[0] != "0":
        raise ValueError("the 1st field (indicating Seconds of time) of the cron setting must be 0")
    if fields[1] == "*":
        raise ValueError("* is not allowed for the Minutes field of the cron setting of replication policy")
    from chalicelib.schedules import eventbridge_expression

    eventbridge_expression(cron)  # one EventBridge Scheduler can keep (chalicelib/schedules.py)


# -- what a policy selects -------------------------------------------------------------------------
def name_selected(policy: ReplicationPolicy, repository: str) -> bool:
    return all(pattern_matches(repository, _pattern(f)) for f in policy.filters if f.type == "name")


def tags_selected(policy: ReplicationPolicy, tags: Iterable[str]) -> list[str]:
    """The tags the tag filters let through (all of them without one)."""
    out = []
    for tag in tags:
        keep = True
        for item in (f for f in policy.filters if f.type == "tag"):
            hit = pattern_matches(tag, _pattern(item))
            keep = keep and (not hit if item.decoration == "excludes" else hit)
        if keep:
            out.append(tag)
    return out


def has_label_filter(policy: ReplicationPolicy) -> bool:
    return any(f.type == "label" and f.value for f in policy.filters)


def labels_selected(policy: ReplicationPolicy, labels: Iterable[str]) -> bool:
    """Whether an artifact carrying `labels` (names) passes every label filter: `matches`
    wants all of the filter's labels on it, `excludes` wants one of them missing."""
    carried = set(labels)
    for item in (f for f in policy.filters if f.type == "label" and f.value):
        has_all = all(name in carried for name in item.value)
        if has_all == (item.decoration == "excludes"):
            return False
    return True


def resource_type(policy: ReplicationPolicy) -> str:
    """"image" (container images only) or "artifact" (everything, the default)."""
    return next((_pattern(f) for f in policy.filters if f.type == "resource"), "artifact")


def destination(repository: str, namespace: str, replace_count: int) -> str:
    """Harbor's namespace rewriting: with a namespace, `replace_count` leading path
    components (all but the last with -1, the legacy mode) give way to it; the last
    component always stays. ValueError when the repository has too few components."""
    if not namespace:
        return repository
    parts = repository.split("/")
    if replace_count < 0:
        prefix = namespace
    elif replace_count > len(parts) - 1:
        raise ValueError(
            f"the source repository {repository!r} contains only {len(parts) - 1} path components "
            f"{parts[:-1]} excepting the last one, but the destination namespace flattening level is {replace_count}")
    else:
        prefix = "/".join([namespace, *parts[replace_count:-1]])
    return f"{prefix}/{parts[-1]}"


# -- loops between policies --------------------------------------------------------------------------
def loop_between(a: ReplicationPolicy, b: ReplicationPolicy) -> bool:
    """Whether `a` and `b` would copy each other's copies back and forth: one pushes to a
    registry the other pulls from, and a repository `a` selects lands where `b` selects it
    and comes back where `a` selects it again. Checked on a sample name each pattern
    stands for (its wildcards filled in), which catches the loops people write
    (`library/**` out to `mirror`, `mirror/**` back into `library`)."""
    if a.remote_registry_id != b.remote_registry_id or a.push_based == b.push_based:
        return False
    for name in _samples(a):
        try:
            there = destination(name, a.dest_namespace, a.dest_namespace_replace_count)
            if not name_selected(b, there):
                continue
            back = destination(there, b.dest_namespace, b.dest_namespace_replace_count)
        except ValueError:
            continue
        if name_selected(a, back):
            return True
    return False


def _pattern(f: Filter) -> str:
    """A name, tag or resource filter's value: one string (a label filter's is a tuple of names)."""
    return f.value if isinstance(f.value, str) else ",".join(f.value)


def _samples(policy: ReplicationPolicy) -> list[str]:
    patterns = [_pattern(f) for f in policy.filters if f.type == "name" and f.value] or ["**"]
    return [_sample(p) for p in patterns]


def _sample(pattern: str) -> str:
    """A name the pattern matches: `**` and `*` become `x`, `?` an `x`, `{a,b}` its first
    choice, `[...]` its first character."""
    out = re.sub(r"\{([^,}]*)[^}]*\}", r"\1", pattern)
    out = re.sub(r"\[!?\^?([^\]])[^\]]*\]", r"\1", out)
    out = out.replace("**", "x").replace("*", "x").replace("?", "x")
    out = re.sub(r"/+", "/", out).strip("/")
    return out or "x"
