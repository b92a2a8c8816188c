"""The management API as data: one table, in Harbor's path templates, that the
dispatcher, the OpenAPI document and the tests all read.

Paths are what follows `/v2/api/v2.0`. A template's `{name}` matches one path
segment, except `{repository_name}`, which may also span several (Harbor's
clients percent-encode the slashes of a nested name, `a%2Fb` or `a%252Fb`, but a
gateway or a hand-written call may not); routes below a repository come first,
so a repository called `artifacts` is never taken for the list of artifacts.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from chalicelib.management import (
    artifact_labels,
    artifacts,
    audit,
    configurations,
    gc,
    immutable,
    labels,
    login,
    members,
    projects,
    quotas,
    registries,
    replication_executions,
    replication_policies,
    repositories,
    retentions,
    robots,
    search,
    system,
    users,
    webhooks,
)
from chalicelib.management.errors import BadRequest
from chalicelib.management.spec import Operation, operation_of

PREFIX = "api/v2.0"
# path parameters that are Harbor integers; the others are strings
INTEGER_PARAMS = frozenset(
    {"id", "immutable_rule_id", "label_id", "user_id", "mid", "robot_id", "webhook_policy_id", "execution_id", "task_id", "registry_id", "policy_id", "eid", "tid", "gc_id"}
)
class Handler:
    """A handler named "<module of chalicelib/management>.<function>", imported on first
    use: for a handler whose module reads this table (openapi.py), so that the two do
    not import each other."""

    def __init__(self, reference: str):
        module, self.__name__ = reference.rsplit(".", 1)
        self._module = f"chalicelib.management.{module}"
        self._function: Callable | None = None

    def _resolved(self) -> Callable:
        if self._function is None:
            self._function = getattr(importlib.import_module(self._module), self.__name__)
        return self._function

    def __call__(self, *args, **kwargs):
        return self._resolved()(*args, **kwargs)

    def __getattr__(self, name: str):  # the operation declared on it (spec.py)
        return getattr(self._resolved(), name)


_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # Harbor's: "/projects/{project_name_or_id}/members/{mid}"
    handler: Callable
    auth: str = "required"  # "required" | "optional" (anonymous allowed) | "public" (never checked)
    # a successful change is entered by the dispatcher; False: by its domain event (chalicelib/events/
    # audit.py, docs/decisions/audit-entries.md), or by the handler
    audited: bool = True

    @property
    def operation(self) -> Operation:
        return operation_of(self.handler)

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def pattern(self) -> re.Pattern:
        return _compiled(self.template)

    def params(self, found: re.Match) -> dict[str, object]:
        """Decoded path parameters; integers for Harbor's integer ids."""
        out: dict[str, object] = {}
        for key, raw in found.groupdict().items():
            value = unquote(raw)
            if key == "repository_name":
                value = unquote(value)  # encoded twice: a%252Fb
            if key in INTEGER_PARAMS:
                if not re.fullmatch(r"-?[0-9]{1,18}", value):
                    raise BadRequest(f"{key} must be an integer")
                out[key] = int(value)
            else:
                out[key] = value
        return out


_patterns: dict[str, re.Pattern] = {}


def _compiled(template: str) -> re.Pattern:
    if template not in _patterns:
        regex = re.escape(template.lstrip("/"))
        regex = re.sub(
            r"\\\{([a-z_]+)\\\}",
            lambda m: f"(?P<{m[1]}>.+?)" if m[1] == "repository_name" else f"(?P<{m[1]}>[^/]+)",
            regex,
        )
        _patterns[template] = re.compile(f"^{regex}$")
    return _patterns[template]


def template_params(template: str) -> list[str]:
    return _PARAM.findall(template)


_P = "/projects/{project_name_or_id}"
_REPO = "/projects/{project_name}/repositories/{repository_name}"
_ART = _REPO + "/artifacts/{reference}"
_HOOKS = _P + "/webhook/policies"
_HOOK = _HOOKS + "/{webhook_policy_id}"
_EXEC = "/replication/executions/{execution_id}"

ROUTES: tuple[Route, ...] = (
    # system
    Route("GET", "/health", system.get_health, auth="public"),
    Route("GET", "/ping", system.ping, auth="public"),
    Route("GET", "/systeminfo", system.get_system_info, auth="optional"),
    Route("GET", "/openapi.json", Handler("openapi.get_openapi"), auth="public"),
    # the runtime configuration
    Route("GET", "/configurations", configurations.get_configurations),
    Route("PUT", "/configurations", configurations.update_configurations),
    # users
    Route("GET", "/users/current", users.get_current_user),
    Route("GET", "/users/current/permissions", search.get_current_user_permissions),
    Route("GET", "/users/search", users.search_users),
    Route("GET", "/users", users.list_users),
    Route("POST", "/users", users.create_user, auth="optional"),
    Route("GET", "/users/{user_id}", users.get_user),
    Route("PUT", "/users/{user_id}", users.update_user_profile),
    Route("DELETE", "/users/{user_id}", users.delete_user),
    Route("PUT", "/users/{user_id}/password", users.update_user_password),
    Route("PUT", "/users/{user_id}/sysadmin", users.set_user_sysadmin),
    # projects
    Route("GET", "/projects", projects.list_projects),
    Route("HEAD", "/projects", projects.head_project),
    Route("POST", "/projects", projects.create_project, audited=False),  # its project.created event enters it
    Route("GET", _P + "/summary", projects.get_project_summary),
    Route("GET", _P + "/_deletable", projects.get_project_deletable),
    # members
    Route("GET", _P + "/members/{mid}", members.get_project_member),
    Route("PUT", _P + "/members/{mid}", members.update_project_member),
    Route("DELETE", _P + "/members/{mid}", members.delete_project_member),
    Route("GET", _P + "/members", members.list_project_members),
    Route("POST", _P + "/members", members.create_project_member),
    # webhooks (the test call before the policy ids, which are integers)
    Route("POST", _HOOKS + "/test", webhooks.test_webhook_policy, audited=False),
    Route("GET", _HOOK + "/executions/{execution_id}/tasks/{task_id}/log", webhooks.get_task_log),
    Route("GET", _HOOK + "/executions/{execution_id}/tasks", webhooks.list_tasks),
    Route("GET", _HOOK + "/executions", webhooks.list_executions),
    Route("GET", _HOOK, webhooks.get_webhook_policy),
    Route("PUT", _HOOK, webhooks.update_webhook_policy),
    Route("DELETE", _HOOK, webhooks.delete_webhook_policy),
    Route("GET", _HOOKS, webhooks.list_webhook_policies),
    Route("POST", _HOOKS, webhooks.create_webhook_policy),
    Route("GET", _P + "/webhook/events", webhooks.get_supported_event_types),
    # tag immutability rules
    Route("GET", _P + "/immutabletagrules", immutable.list_immutable_rules),
    Route("POST", _P + "/immutabletagrules", immutable.create_immutable_rule),
    Route("PUT", _P + "/immutabletagrules/{immutable_rule_id}", immutable.update_immutable_rule),
    Route("DELETE", _P + "/immutabletagrules/{immutable_rule_id}", immutable.delete_immutable_rule),
    # artifacts and tags (before repositories: see the module's docstring)
    Route("DELETE", _ART + "/tags/{tag_name}", artifacts.delete_tag, audited=False),  # its tag.deleted event enters it
    Route("POST", _ART + "/labels", artifact_labels.add_label),
    Route("DELETE", _ART + "/labels/{label_id}", artifact_labels.remove_label),
    Route("GET", _ART + "/tags", artifacts.list_tags),
    Route("POST", _ART + "/tags", artifacts.create_tag, audited=False),  # its tag.created event enters it
    Route("GET", _ART, artifacts.get_artifact),
    Route("DELETE", _ART, artifacts.delete_artifact, audited=False),  # its artifact.deleted event enters it
    Route("GET", _REPO + "/artifacts", artifacts.list_artifacts),
    Route("POST", _REPO + "/artifacts", artifacts.copy_artifact, audited=False),  # its artifact.pushed (copy_of) enters it
    # repositories
    Route("GET", "/projects/{project_name}/repositories", repositories.list_repositories),
    Route("GET", _REPO, repositories.get_repository),
    Route("DELETE", _REPO, repositories.delete_repository),
    # projects by name or id (after everything below a project)
    Route("GET", _P, projects.get_project),
    Route("PUT", _P, projects.update_project),
    Route("DELETE", _P, projects.delete_project, audited=False),  # its project.deleted event enters it
    # the audit log
    Route("GET", "/audit-logs", audit.list_audit_logs),
    Route("GET", "/projects/{project_name}/logs", audit.get_logs),
    Route("GET", "/auditlog-exts", audit.list_audit_log_exts),
    Route("GET", "/projects/{project_name}/auditlog-exts", audit.get_log_exts),
    # search and statistics
    Route("GET", "/search", search.search),
    Route("GET", "/statistics", search.get_statistic),
    # garbage collection (system administrators; chalicelib/gc.py)
    Route("GET", "/system/gc", gc.get_gc_history),
    Route("GET", "/system/gc/schedule", gc.get_gc_schedule),
    Route("POST", "/system/gc/schedule", gc.create_gc_schedule),
    Route("PUT", "/system/gc/schedule", gc.update_gc_schedule),
    Route("GET", "/system/gc/{gc_id}/log", gc.get_gc_log),
    Route("GET", "/system/gc/{gc_id}", gc.get_gc),
    Route("PUT", "/system/gc/{gc_id}", gc.stop_gc),
    # quotas
    Route("GET", "/quotas", quotas.list_quotas),
    Route("GET", "/quotas/{id}", quotas.get_quota),
    Route("PUT", "/quotas/{id}", quotas.update_quota),
    # tag retention (the metadata before the ids, which are integers)
    Route("GET", "/retentions/metadatas", retentions.get_retention_metadata),
    Route("POST", "/retentions", retentions.create_retention),
    Route("GET", "/retentions/{id}/executions/{eid}/tasks/{tid}", retentions.get_retention_task_log),
    Route("GET", "/retentions/{id}/executions/{eid}/tasks", retentions.list_retention_tasks),
    Route("PATCH", "/retentions/{id}/executions/{eid}", retentions.operate_retention_execution),
    Route("POST", "/retentions/{id}/executions", retentions.trigger_retention_execution),
    Route("GET", "/retentions/{id}/executions", retentions.list_retention_executions),
    Route("GET", "/retentions/{id}", retentions.get_retention),
    Route("PUT", "/retentions/{id}", retentions.update_retention),
    Route("DELETE", "/retentions/{id}", retentions.delete_retention),
    # labels
    Route("GET", "/labels", labels.list_labels),
    Route("POST", "/labels", labels.create_label),
    Route("GET", "/labels/{label_id}", labels.get_label),
    Route("PUT", "/labels/{label_id}", labels.update_label),
    Route("DELETE", "/labels/{label_id}", labels.delete_label),
    # remote registries (replication's endpoints; the ping before the ids, which are integers)
    Route("POST", "/registries/ping", registries.ping_registry, audited=False),
    Route("GET", "/registries/{registry_id}/info", registries.get_registry_info),
    Route("GET", "/registries/{registry_id}", registries.get_registry),
    Route("PUT", "/registries/{registry_id}", registries.update_registry),
    Route("DELETE", "/registries/{registry_id}", registries.delete_registry),
    Route("GET", "/registries", registries.list_registries),
    Route("POST", "/registries", registries.create_registry),
    Route("GET", "/replication/adapters", registries.list_registry_provider_types),
    Route("GET", "/replication/adapterinfos", registries.list_registry_provider_infos),
    # replication
    Route("GET", "/replication/policies", replication_policies.list_replication_policies),
    Route("POST", "/replication/policies", replication_policies.create_replication_policy),
    Route("GET", "/replication/policies/{policy_id}", replication_policies.get_replication_policy),
    Route("PUT", "/replication/policies/{policy_id}", replication_policies.update_replication_policy),
    Route("DELETE", "/replication/policies/{policy_id}", replication_policies.delete_replication_policy),
    Route("GET", "/replication/executions", replication_executions.list_replication_executions),
    Route("POST", "/replication/executions", replication_executions.start_replication),
    Route("POST", _EXEC + "/retry", replication_executions.retry_replication),
    Route("GET", _EXEC + "/tasks/{task_id}/log", replication_executions.get_replication_log),
    Route("GET", _EXEC + "/tasks", replication_executions.list_replication_tasks),
    Route("GET", _EXEC, replication_executions.get_replication_execution),
    Route("PUT", _EXEC, replication_executions.stop_replication),
    # robots
    Route("GET", "/robots", robots.list_robot),
    Route("POST", "/robots", robots.create_robot),
    Route("GET", "/robots/{robot_id}", robots.get_robot_by_id),
    Route("PUT", "/robots/{robot_id}", robots.update_robot),
    Route("PATCH", "/robots/{robot_id}", robots.refresh_sec),
    Route("DELETE", "/robots/{robot_id}", robots.delete_robot),
)

# the web console's session, outside /api/v2.0 as in Harbor: /v2/c/login, /v2/c/log_out
SESSION_PREFIX = "c"
SESSION_ROUTES: tuple[Route, ...] = (
    Route("POST", "/login", login.login, auth="public", audited=False),
    Route("GET", "/log_out", login.log_out, auth="public", audited=False),
    Route("POST", "/log_out", login.log_out, auth="public", audited=False),
)


def match(routes: tuple[Route, ...], method: str, path: str) -> tuple[Route | None, re.Match | None, bool]:
    """(route, its match, path_known). path_known without a route means 405."""
    path_known = False
    for route in routes:
        found = route.pattern.fullmatch(path)
        if not found:
            continue
        path_known = True
        if route.method == method:
            return route, found, True
    return None, None, path_known
