"""moto's parse of a JSON-protocol request (DynamoDB, SQS), planned once per operation.

moto 5.2 reads the parameters of each call to a service with automated parsing
(`BaseResponse.parse_parameters`) in two steps: it rebuilds the botocore request as a
werkzeug request (`normalize_request`: a WSGI environ, header list, input stream, then
its form and query values), and its generic parser (`moto/core/parse.py`) walks the
operation's input shape over the JSON body, looking up a handler by the name of each
shape's type for every value, every DynamoDB attribute value included: about 4 ms a
DynamoDB call, a fifth of what moto spends on it.

For the JSON protocol only the body counts (`JSONParser` reads nothing else), and what
each shape does to its value depends only on the shape. So `install()` keeps moto's
`parse_parameters` for every other case, and for a botocore request whose content type
makes it JSON protocol (the same `determine_request_protocol`), whose body is bytes that
werkzeug would hand on as they are (no Content-Encoding or Transfer-Encoding header; a
Content-Length, if any, equal to the body's length), to a response class whose map type
is a plain dict, it parses the body with moto's own `_parse_body_as_json` (the same
`{"message": body}` for a body that is not JSON) and converts it with functions built
once per operation from the same handler table: structures keep the members the model
names, in its order, dropping absent and null ones; lists and maps are rebuilt; blobs,
timestamps, integers and floats go through moto's converters; strings, booleans and
document types are passed on. The same operations on the same values, so the same
result, or the same error for a body of the wrong shape. A parser class or handler it
does not know (moto patched, a newer moto) means moto's own parse.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from moto.core import parse as moto_parse
from moto.core.parse import JSONParser, default_blob_parser, default_timestamp_parser
from moto.core.request import determine_request_protocol
from moto.core.responses import BaseResponse
from moto.core.utils import get_service_model

MOTOS_PARSE_PARAMETERS = BaseResponse.__dict__["parse_parameters"]  # kept for the tests

Convert = Callable[[Any], Any] | None  # None: the value as it is
_plans: dict[int, tuple[Any, Callable[[bytes], Any]]] = {}


class _Unknown(Exception):
    """A shape whose handler is not one this module reproduces."""


def parse_parameters(self: BaseResponse, request: Any) -> None:
    body = _plain_json_body(self, request)
    if body is None:
        return MOTOS_PARSE_PARAMETERS(self, request)
    service_model = get_service_model(self.boto3_service_name)
    operation_model = service_model.operation_model(self._get_action())
    if determine_request_protocol(service_model, request.headers["Content-Type"]) != "json":
        return MOTOS_PARSE_PARAMETERS(self, request)
    parse = _plan(operation_model)
    if parse is None:
        return MOTOS_PARSE_PARAMETERS(self, request)
    self.params = parse(body)
    return None


def _plain_json_body(self: BaseResponse, request: Any) -> bytes | None:
    """The body moto's parser would read, if this is a case the plan covers."""
    if type(request) is not AWSPreparedRequest or self.PROTOCOL_PARSER_MAP_TYPE is not dict:
        return None
    if moto_parse.PROTOCOL_PARSERS.get("json") is not JSONParser:
        return None
    body, headers = request.body, request.headers
    if type(body) is not bytes or "Content-Type" not in headers:
        return None
    if "Content-Encoding" in headers or "Transfer-Encoding" in headers:
        return None
    length = headers.get("Content-Length")
    if length is not None and length != str(len(body)):
        return None
    return body


def _plan(operation_model: Any) -> Callable[[bytes], Any] | None:
    found = _plans.get(id(operation_model))
    if found is not None and found[0] is operation_model:
        return found[1]
    parse: Callable[[bytes], Any] | None
    try:
        parse = _planned(JSONParser(operation_model), operation_model.input_shape)
    except _Unknown:
        parse = None
    if parse is not None:
        _plans[id(operation_model)] = (operation_model, parse)
    return parse


def _planned(parser: JSONParser, input_shape: Any) -> Callable[[bytes], Any]:
    if input_shape is None:
        return lambda body: {}
    read = parser._parse_body_as_json
    convert = _converter(input_shape, {})
    if convert is None:
        return read
    return lambda body: convert(read(body))


_BASE = moto_parse.RequestParser.__dict__
_JSON = moto_parse.BaseJSONParser.__dict__


def _handler(type_name: str) -> Any:
    """The function moto's JSONParser would pick for a shape of this type."""
    return getattr(JSONParser, f"_parse_{type_name}", JSONParser._default_handle)


def _converter(shape: Any, planned: dict[str, Convert]) -> Convert:
    """What moto's JSONParser does to a value of `shape`, as one function (None: nothing)."""
    if shape.name in planned:
        return planned[shape.name]
    handler = _handler(shape.type_name)
    if handler is _BASE["_default_handle"]:
        return None
    if handler is _JSON["_parse_structure"]:
        return None if shape.is_document_type else _structure(shape, planned)
    if handler is _BASE["_parse_list"]:
        return _list(shape, planned)
    if handler is _BASE["_parse_map"]:
        return _map(shape, planned)
    if handler is _JSON["_parse_blob"]:
        return default_blob_parser
    if handler is _JSON["_parse_timestamp"]:
        return default_timestamp_parser
    if handler in (_JSON["_parse_integer"], _JSON["_parse_float"]):
        return int if handler is _JSON["_parse_integer"] else float
    raise _Unknown(shape.type_name)


def _structure(shape: Any, planned: dict[str, Convert]) -> Convert:
    members: list[tuple[str, str, Convert]] = []

    def structure(value: Any) -> Any:
        if value is None:
            return None
        parsed = {}
        for name, json_name, convert in members:
            raw = value.get(json_name)
            if raw is not None:
                parsed[name] = raw if convert is None else convert(raw)
        return parsed

    planned[shape.name] = structure  # before the members: a shape may contain itself
    for name, member in shape.members.items():
        members.append((name, member.serialization.get("name", name), _converter(member, planned)))
    return structure


def _list(shape: Any, planned: dict[str, Convert]) -> Convert:
    cell: list[Convert] = []

    def parse_list(node: Any) -> list[Any]:
        convert = cell[0]
        return [item for item in node] if convert is None else [convert(item) for item in node]

    planned[shape.name] = parse_list
    cell.append(_converter(shape.member, planned))
    return parse_list


def _map(shape: Any, planned: dict[str, Convert]) -> Convert:
    cell: list[Convert] = []

    def parse_map(value: Any) -> dict[Any, Any]:
        key, convert = cell
        return {
            (k if key is None else key(k)): (v if convert is None else convert(v)) for k, v in value.items()
        }

    planned[shape.name] = parse_map
    cell.extend((_converter(shape.key, planned), _converter(shape.value, planned)))
    return parse_map


def install() -> None:
    """Idempotent: moto parses JSON-protocol requests with the planned converters."""
    BaseResponse.parse_parameters = parse_parameters  # type: ignore[method-assign]
