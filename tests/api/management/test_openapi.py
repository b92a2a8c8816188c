"""The route table, asserted whole, and the OpenAPI document generated from it:
every route is documented and every documented operation is routed."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from chalicelib.management.openapi import document
from chalicelib.management.routes import INTEGER_PARAMS, ROUTES, match, template_params

EXPECTED = [
    ("GET", "/health", "get_health", "public"),
    ("GET", "/ping", "ping", "public"),
    ("GET", "/systeminfo", "get_system_info", "optional"),
    ("GET", "/openapi.json", "get_openapi", "public"),
    ("GET", "/configurations", "get_configurations", "required"),
    ("PUT", "/configurations", "update_configurations", "required"),
    ("GET", "/users/current", "get_current_user", "required"),
    ("GET", "/users/current/permissions", "get_current_user_permissions", "required"),
    ("GET", "/users/search", "search_users", "required"),
    ("GET", "/users", "list_users", "required"),
    ("POST", "/users", "create_user", "optional"),
    ("GET", "/users/{user_id}", "get_user", "required"),
    ("PUT", "/users/{user_id}", "update_user_profile", "required"),
    ("DELETE", "/users/{user_id}", "delete_user", "required"),
    ("PUT", "/users/{user_id}/password", "update_user_password", "required"),
    ("PUT", "/users/{user_id}/sysadmin", "set_user_sysadmin", "required"),
    ("GET", "/projects", "list_projects", "required"),
    ("HEAD", "/projects", "head_project", "required"),
    ("POST", "/projects", "create_project", "required"),
    ("GET", "/projects/{project_name_or_id}/summary", "get_project_summary", "required"),
    ("GET", "/projects/{project_name_or_id}/_deletable", "get_project_deletable", "required"),
    ("GET", "/projects/{project_name_or_id}/members/{mid}", "get_project_member", "required"),
    ("PUT", "/projects/{project_name_or_id}/members/{mid}", "update_project_member", "required"),
    ("DELETE", "/projects/{project_name_or_id}/members/{mid}", "delete_project_member", "required"),
    ("GET", "/projects/{project_name_or_id}/members", "list_project_members", "required"),
    ("POST", "/projects/{project_name_or_id}/members", "create_project_member", "required"),
    ("POST", "/projects/{project_name_or_id}/webhook/policies/test", "test_webhook_policy", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log", "get_task_log", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks", "list_tasks", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions", "list_executions", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}", "get_webhook_policy", "required"),
    ("PUT", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}", "update_webhook_policy", "required"),
    ("DELETE", "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}", "delete_webhook_policy", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/policies", "list_webhook_policies", "required"),
    ("POST", "/projects/{project_name_or_id}/webhook/policies", "create_webhook_policy", "required"),
    ("GET", "/projects/{project_name_or_id}/webhook/events", "get_supported_event_types", "required"),
    ("GET", "/projects/{project_name_or_id}/immutabletagrules", "list_immutable_rules", "required"),
    ("POST", "/projects/{project_name_or_id}/immutabletagrules", "create_immutable_rule", "required"),
    ("PUT", "/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", "update_immutable_rule", "required"),
    ("DELETE", "/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", "delete_immutable_rule", "required"),
    ("DELETE", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}", "delete_tag", "required"),
    ("POST", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels", "add_label", "required"),
    ("DELETE", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}", "remove_label", "required"),
    ("GET", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags", "list_tags", "required"),
    ("POST", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags", "create_tag", "required"),
    ("GET", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}", "get_artifact", "required"),
    ("DELETE", "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}", "delete_artifact", "required"),
    ("GET", "/projects/{project_name}/repositories/{repository_name}/artifacts", "list_artifacts", "required"),
    ("POST", "/projects/{project_name}/repositories/{repository_name}/artifacts", "copy_artifact", "required"),
    ("GET", "/projects/{project_name}/repositories", "list_repositories", "required"),
    ("GET", "/projects/{project_name}/repositories/{repository_name}", "get_repository", "required"),
    ("DELETE", "/projects/{project_name}/repositories/{repository_name}", "delete_repository", "required"),
    ("GET", "/projects/{project_name_or_id}", "get_project", "required"),
    ("PUT", "/projects/{project_name_or_id}", "update_project", "required"),
    ("DELETE", "/projects/{project_name_or_id}", "delete_project", "required"),
    ("GET", "/audit-logs", "list_audit_logs", "required"),
    ("GET", "/projects/{project_name}/logs", "get_logs", "required"),
    ("GET", "/auditlog-exts", "list_audit_log_exts", "required"),
    ("GET", "/projects/{project_name}/auditlog-exts", "get_log_exts", "required"),
    ("GET", "/search", "search", "required"),
    ("GET", "/statistics", "get_statistic", "required"),
    ("GET", "/system/gc", "get_gc_history", "required"),
    ("GET", "/system/gc/schedule", "get_gc_schedule", "required"),
    ("POST", "/system/gc/schedule", "create_gc_schedule", "required"),
    ("PUT", "/system/gc/schedule", "update_gc_schedule", "required"),
    ("GET", "/system/gc/{gc_id}/log", "get_gc_log", "required"),
    ("GET", "/system/gc/{gc_id}", "get_gc", "required"),
    ("PUT", "/system/gc/{gc_id}", "stop_gc", "required"),
    ("GET", "/quotas", "list_quotas", "required"),
    ("GET", "/quotas/{id}", "get_quota", "required"),
    ("PUT", "/quotas/{id}", "update_quota", "required"),
    ("GET", "/retentions/metadatas", "get_retention_metadata", "required"),
    ("POST", "/retentions", "create_retention", "required"),
    ("GET", "/retentions/{id}/executions/{eid}/tasks/{tid}", "get_retention_task_log", "required"),
    ("GET", "/retentions/{id}/executions/{eid}/tasks", "list_retention_tasks", "required"),
    ("PATCH", "/retentions/{id}/executions/{eid}", "operate_retention_execution", "required"),
    ("POST", "/retentions/{id}/executions", "trigger_retention_execution", "required"),
    ("GET", "/retentions/{id}/executions", "list_retention_executions", "required"),
    ("GET", "/retentions/{id}", "get_retention", "required"),
    ("PUT", "/retentions/{id}", "update_retention", "required"),
    ("DELETE", "/retentions/{id}", "delete_retention", "required"),
    ("GET", "/labels", "list_labels", "required"),
    ("POST", "/labels", "create_label", "required"),
    ("GET", "/labels/{label_id}", "get_label", "required"),
    ("PUT", "/labels/{label_id}", "update_label", "required"),
    ("DELETE", "/labels/{label_id}", "delete_label", "required"),
    ("POST", "/registries/ping", "ping_registry", "required"),
    ("GET", "/registries/{registry_id}/info", "get_registry_info", "required"),
    ("GET", "/registries/{registry_id}", "get_registry", "required"),
    ("PUT", "/registries/{registry_id}", "update_registry", "required"),
    ("DELETE", "/registries/{registry_id}", "delete_registry", "required"),
    ("GET", "/registries", "list_registries", "required"),
    ("POST", "/registries", "create_registry", "required"),
    ("GET", "/replication/adapters", "list_registry_provider_types", "required"),
    ("GET", "/replication/adapterinfos", "list_registry_provider_infos", "required"),
    ("GET", "/replication/policies", "list_replication_policies", "required"),
    ("POST", "/replication/policies", "create_replication_policy", "required"),
    ("GET", "/replication/policies/{policy_id}", "get_replication_policy", "required"),
    ("PUT", "/replication/policies/{policy_id}", "update_replication_policy", "required"),
    ("DELETE", "/replication/policies/{policy_id}", "delete_replication_policy", "required"),
    ("GET", "/replication/executions", "list_replication_executions", "required"),
    ("POST", "/replication/executions", "start_replication", "required"),
    ("POST", "/replication/executions/{execution_id}/retry", "retry_replication", "required"),
    ("GET", "/replication/executions/{execution_id}/tasks/{task_id}/log", "get_replication_log", "required"),
    ("GET", "/replication/executions/{execution_id}/tasks", "list_replication_tasks", "required"),
    ("GET", "/replication/executions/{execution_id}", "get_replication_execution", "required"),
    ("PUT", "/replication/executions/{execution_id}", "stop_replication", "required"),
    ("GET", "/robots", "list_robot", "required"),
    ("POST", "/robots", "create_robot", "required"),
    ("GET", "/robots/{robot_id}", "get_robot_by_id", "required"),
    ("PUT", "/robots/{robot_id}", "update_robot", "required"),
    ("PATCH", "/robots/{robot_id}", "refresh_sec", "required"),
    ("DELETE", "/robots/{robot_id}", "delete_robot", "required"),
]

SAMPLES = {"repository_name": "team%2Fapp", "reference": "sha256:" + "a" * 64, "tag_name": "v1"}


def concrete(template: str) -> str:
    """A path that fills the template's parameters with plausible values."""
    def value(m: re.Match) -> str:
        name = m[1]
        return "7" if name in INTEGER_PARAMS else SAMPLES.get(name, "library")

    return re.sub(r"\{([a-z_]+)\}", value, template).lstrip("/")


def test_the_whole_route_table():
    assert [(r.method, r.template, r.name, r.auth) for r in ROUTES] == EXPECTED


def test_method_and_template_pairs_are_unique():
    pairs = [(r.method, r.template) for r in ROUTES]
    assert len(pairs) == len(set(pairs))


def test_every_route_is_documented():
    paths = document()["paths"]
    for route in ROUTES:
        op = paths[route.template][route.method.lower()]
        assert op["operationId"] == route.operation.operation_id
        documented = [p["name"] for p in op["parameters"] if p["in"] == "path"]
        assert documented == template_params(route.template)


def test_every_documented_operation_is_routed_to_its_handler():
    for template, item in document()["paths"].items():
        for method, op in item.items():
            route, found, _ = match(ROUTES, method.upper(), concrete(template))
            assert route is not None, (method, template)
            assert (route.template, route.operation.operation_id) == (template, op["operationId"])
            params = route.params(found)
            if "repository_name" in params:
                assert params["repository_name"] == "team/app"


def test_operation_ids_are_unique():
    ids = [op["operationId"] for item in document()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_document_is_valid_openapi_3():
    validate(document())


def test_the_document_is_served_without_credentials(world):
    reply = world.anonymous.get("/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == document()
    assert reply.json()["servers"] == [{"url": "/v2/api/v2.0"}]


def test_unsafe_operations_declare_their_failures():
    """Everything that needs credentials may answer 401; every body may be refused (400, 415)."""
    for route in ROUTES:
        responses = document()["paths"][route.template][route.method.lower()]["responses"]
        if route.auth != "public":
            assert "401" in responses, route.name
        if route.operation.body is not None:
            assert {"400", "415"} <= set(responses), route.name
