"""The OpenAPI 3 document of the management API, generated from the route table
(routes.py) and the operations declared on the handlers (spec.py): the same
data the dispatcher runs on, so the document is true by construction. The route
table names its handler (`openapi.get_openapi`) rather than importing it, since
this module reads the table."""
from __future__ import annotations

import json
from functools import cache
from typing import Any

from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import CODES
from chalicelib.management.routes import INTEGER_PARAMS, ROUTES, Route, template_params
from chalicelib.management.spec import operation
from chalicelib.management.system import VERSION
from chalicelib.web.http import Request, Response

SERVER = "/v2/api/v2.0"
ERRORS = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": sorted(CODES)},
                    "message": {"type": "string"},
                },
                "required": ["code", "message"],
            },
        }
    },
    "required": ["errors"],
}
_DESCRIPTIONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    429: "Storage is busy (throttled, or a concurrent change won), or too many failed logins: retry after Retry-After seconds",
    503: "A dependency (storage, the LDAP directory) is unavailable: retry later",
}
_REQUEST_ID = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "An id for the request, echoed in the response",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


_SIGNED_IN: list[dict[str, list[str]]] = [{"basic": []}, {"session": []}]


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Berth management API",
            "description": (
                "Harbor's /api/v2.0, as Berth serves it at /v2/api/v2.0. Log in with Basic credentials, or "
                "with the web console's session: POST /v2/c/login (form fields principal and password) sets "
                "the cookie sid and answers X-Harbor-CSRF-Token, which every POST, PUT, PATCH and DELETE made "
                "with the cookie must send back (403 otherwise)."
            ),
            "version": VERSION,
        },
        "servers": [{"url": SERVER}],
        "security": _SIGNED_IN,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sid",
                    "description": "The web console's session (POST /v2/c/login); changes also send X-Harbor-CSRF-Token",
                },
            },
            "schemas": {"Errors": ERRORS},
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    op = route.operation
    parameters = [_path_param(name) for name in template_params(route.template)]
    parameters += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required,
            "description": p.description,
            "schema": p.schema,
        }
        for p in op.params
    ]
    parameters.append(_REQUEST_ID)
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": _responses(route),
    }
    if route.auth == "public":
        out["security"] = []
    elif route.auth == "optional":
        out["security"] = [*_SIGNED_IN, {}]
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, "content": {"application/json": {"schema": op.body}}}
    return out


def _path_param(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"} if name in INTEGER_PARAMS else {"type": "string", "minLength": 1}
    description = {
        "repository_name": "The repository's name below the project; encode its slashes (a%2Fb, or a%252Fb)",
        "project_name_or_id": "The project's name or id (see X-Is-Resource-Name)",
        "reference": "A tag or a digest",
    }.get(name, "")
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _responses(route: Route) -> dict[str, Any]:
    op = route.operation
    headers: dict[str, Any] = {"X-Request-Id": {"schema": {"type": "string"}, "description": "The request's id"}}
    if op.paged:
        headers["X-Total-Count"] = {"schema": {"type": "integer"}, "description": "How many items there are in all"}
        headers["Link"] = {"schema": {"type": "string"}, "description": 'The previous and next pages (rel="prev", rel="next")'}
    if op.location:
        headers["Location"] = {"schema": {"type": "string"}, "description": "Where the new resource is"}
    success: dict[str, Any] = {"description": "Success", "headers": headers}
    if op.response is not None:
        success["content"] = {op.content_type: {"schema": op.response}}
    responses: dict[str, Any] = {str(op.ok): success}
    statuses = set(op.errors)
    if route.auth != "public":
        statuses |= {401, 429}  # 429: Basic credentials after too many failed logins
        if route.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.add(403)  # a session's change without its CSRF token
    if op.body is not None:
        statuses |= {400, 415}
    # any operation that reaches a store or the directory may meet these faults
    # (chalicelib/web/faults.py); only the document itself does not
    if route.name != "get_openapi":
        statuses |= {429, 503}
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
    return responses


@operation("getOpenAPI", "This API's OpenAPI 3 document", "openapi", response={"type": "object"})
def get_openapi(svc: ManagementDependencies, req: Request) -> Response:
    body = json.dumps(document(), separators=(",", ":")).encode()
    return Response(200, {"Content-Type": "application/json", "Content-Length": str(len(body)), "Cache-Control": "public, max-age=300"}, body)
