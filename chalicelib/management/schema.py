"""JSON bodies: the subset of JSON Schema (OpenAPI 3.0 flavour) the management API
declares, checked here, published as is in the OpenAPI document.

One schema per request body, kept next to its handler; `validate` answers the
first problem as a BadRequest naming the field, so bad input is a clear 400 and
never reaches a handler (unknown fields, wrong types, out-of-range values).
Supported keywords: type, nullable, properties, required, additionalProperties,
items, enum, minLength, maxLength, pattern, minimum, maximum, maxItems.
"""
from __future__ import annotations

import re
from typing import Any

from chalicelib import strict_json
from chalicelib.errors import PayloadTooLarge
from chalicelib.management.errors import BadRequest, UnsupportedMediaType
from chalicelib.web.http import Request

MAX_BODY = 64 * 1024

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def read_json(req: Request, schema: dict[str, Any], *, required: bool = True) -> Any:
    """The request's JSON body, checked against `schema`; None for an absent
    optional body."""
    content_type = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"send application/json, not {content_type[:100]}")
    try:
        raw = req.read_body(MAX_BODY)
    except PayloadTooLarge:
        raise BadRequest(f"the request body is larger than {MAX_BODY} bytes") from None
    if not raw.strip():
        if required:
            raise BadRequest("a JSON request body is required")
        return None
    try:
        value = strict_json.loads(raw)
    except strict_json.JsonRejected as exc:
        raise BadRequest(f"the request body: {exc}") from None
    validate(value, schema)
    return value


def validate(value: Any, schema: dict[str, Any], where: str = "body") -> None:
    if value is None:
        if schema.get("nullable"):
            return
        raise BadRequest(f"{where} must not be null")
    expected = schema.get("type")
    if expected is not None:
        kinds = _TYPES[expected]
        # JSON's true and false are not numbers, even though Python's bool is an int
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise BadRequest(f"{where} must be {_article(expected)}")
    if "enum" in schema and value not in schema["enum"]:
        raise BadRequest(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        _check_string(value, schema, where)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise BadRequest(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise BadRequest(f"{where} must be at most {schema['maximum']}")
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise BadRequest(f"{where} must have at most {schema['maxItems']} items")
        for i, item in enumerate(value):
            validate(item, schema.get("items", {}), f"{where}[{i}]")
    elif isinstance(value, dict):
        _check_object(value, schema, where)


def _check_string(value: str, schema: dict[str, Any], where: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise BadRequest(f"{where} must be at least {schema['minLength']} characters long")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise BadRequest(f"{where} must be at most {schema['maxLength']} characters long")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise BadRequest(f"{where} does not match {schema['pattern']}")


def _check_object(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            raise BadRequest(f"{_field(where, name)} is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], _field(where, name))
        elif extra is False:
            raise BadRequest(f"unknown field {_field(where, name)[:200]}")
        elif isinstance(extra, dict):
            validate(item, extra, _field(where, name))


def _field(where: str, name: str) -> str:
    return name if where == "body" else f"{where}.{name}"


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


# -- building blocks ---------------------------------------------------------------------
def obj(properties: dict[str, Any], *, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A closed object: fields other than `properties` are refused."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def integer(**extra: Any) -> dict[str, Any]:
    return {"type": "integer", **extra}


def boolean(**extra: Any) -> dict[str, Any]:
    return {"type": "boolean", **extra}


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


DATE_TIME = {"type": "string", "format": "date-time"}
