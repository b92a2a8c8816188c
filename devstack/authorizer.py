"""What the deployment adds in front of the app in API Gateway, applied by the local gateway.

The deployment puts Chalice's TOKEN authorizer (app.py `challenge`, deciding with
chalicelib/auth/challenge.py) on every route but the open ones (chalicelib/front.py,
OPEN_ROUTES) and answers its "Unauthorized" with the `UnauthorizedResponse` gateway response
of infra/apigw-extras.yaml, which carries Docker's token challenge (a gateway response's
headers are not renamed; the app's `WWW-Authenticate` is). With `--apigw-limits` the local
gateway renames headers as API Gateway does, so it applies the same fix: the same decision
function, and the response's status, headers and body read from the template itself.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.resources import REGION, load_template

EXTRAS_PATH = Path(__file__).resolve().parent.parent / "infra" / "apigw-extras.yaml"
ACCOUNT_ID = "123456789012"
API_ID = "local"


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class AuthorizerError(RuntimeError):
    """The template does not hold what the emulation needs; the message says what."""


class DeployedAuthorizer:
    """The challenge authorizer as API Gateway runs it in front of the app.

    ``check(event, resource)`` returns None when the request goes on to the app, or the
    answer API Gateway gives instead (the UNAUTHORIZED gateway response, a 403 for an
    explicit deny, a 500 when the authorizer fails).
    """

    def __init__(self, handler: Any, secured: dict[str, set[str]], unauthorized: GatewayResponse) -> None:
        self._handler = handler
        self._secured = secured
        self.unauthorized = unauthorized

    def check(self, event: dict[str, Any], stage: str) -> GatewayResponse | None:
        if not _secured(event["path"], stage):
            return None
        try:
            result = self._handler(authorizer_event(event, stage), None)
        except Exception as exc:  # noqa: BLE001 - API Gateway maps every failure
            if str(exc) == "Unauthorized":
                return self.unauthorized
            return _message(500, None, "AuthorizerConfigurationException")
        if not _allows(result):
            return _message(403, "User is not authorized to access this resource with an explicit deny",
                            "AccessDeniedException")
        return None


def deployed_authorizer(api_url: str, template_path: Path = EXTRAS_PATH) -> DeployedAuthorizer:
    """The authorizer and gateway response of ``template_path``, for a stage served at
    ``api_url`` (the template's PublicUrl: the challenge's realm names it)."""
    template = load_template(template_path)
    resources = template.get("Resources", {})
    try:
        response = resources["UnauthorizedResponse"]["Properties"]
    except (KeyError, TypeError) as exc:
        raise AuthorizerError(f"{template_path} lacks {exc} (the challenge authorizer and its response)") from None
    parameters = {
        name: spec.get("Default", "") for name, spec in (template.get("Parameters") or {}).items()
    }
    parameters.update(
        {
            "PublicUrl": api_url,
            "TokenService": os.environ.get("BERTH_TOKEN_SERVICE") or parameters.get("TokenService", ""),
            "RestAPI": API_ID,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
    )
    conditions = {
        name: _evaluate(spec, parameters, {}) for name, spec in (template.get("Conditions") or {}).items()
    }
    return DeployedAuthorizer(_token_authorizer, {}, _gateway_response(response, parameters, conditions))


# the app's routes that API Gateway serves without the authorizer (chalicelib/front.py, OPEN_ROUTES)
_OPEN_PREFIXES = ("service/", "api/", "c/login", "c/log_out", "ui")


def _secured(path: str, stage: str) -> bool:
    below = path.lstrip("/")
    if below.startswith(stage + "/") or below == stage:
        below = below[len(stage) + 1 :]
    return not (below == "ui" or any(below.startswith(p) for p in _OPEN_PREFIXES if p != "ui") or (below.startswith("ui/") and "/" not in below[3:]))


def _token_authorizer(event: dict[str, Any], _context: Any) -> dict:
    """Chalice's TOKEN authorizer (app.py, `challenge`) as API Gateway calls it: no
    Authorization header is the UNAUTHORIZED response without a call."""
    from chalicelib.auth.challenge import decide

    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = headers.get("authorization") or ""
    if not token:
        raise RuntimeError("Unauthorized")
    return decide(token, event["methodArn"])



def authorizer_event(event: dict[str, Any], stage: str) -> dict[str, Any]:
    """The REQUEST authorizer's event for a proxy event."""
    path = event["path"].lstrip("/")
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{stage}/{event['httpMethod']}/{path}",
        "resource": event["resource"],
        "path": event["requestContext"]["path"],
        "httpMethod": event["httpMethod"],
        "headers": event["headers"],
        "multiValueHeaders": event["multiValueHeaders"],
        "queryStringParameters": event["queryStringParameters"],
        "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
        "pathParameters": event["pathParameters"],
        "stageVariables": event["stageVariables"],
        "requestContext": event["requestContext"],
    }


def _allows(result: Any) -> bool:
    try:
        statements = result["policyDocument"]["Statement"]
    except (KeyError, TypeError):
        return False
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return "allow" in effects and "deny" not in effects


def _gateway_response(props: dict[str, Any], parameters: dict[str, Any], conditions: dict[str, Any]) -> GatewayResponse:
    headers = []
    for name, value in (props.get("ResponseParameters") or {}).items():
        if name.startswith("gatewayresponse.header."):
            headers.append((name.removeprefix("gatewayresponse.header."), _static(_evaluate(value, parameters, conditions))))
    templates = props.get("ResponseTemplates") or {}
    content_type, body = next(iter(templates.items()), ("application/json", '{"message":"Unauthorized"}'))
    headers.append(("Content-Type", content_type))
    return GatewayResponse(int(props.get("StatusCode", 401)), headers, str(body).encode())


def _static(value: str) -> str:
    """A gateway response header's static value is written in single quotes."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    raise AuthorizerError(f"gateway response header {value!r} is not a static 'value'")


def _evaluate(node: Any, parameters: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """The few intrinsics the template's response uses: Ref, Fn::Sub, Fn::If, Fn::Not,
    Fn::Equals."""
    if isinstance(node, dict) and len(node) == 1:
        (kind, arg), = node.items()
        if kind == "Ref":
            return parameters[arg]
        if kind == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(parameters[m.group(1)]), arg)
        if kind == "Fn::If":
            name, yes, no = arg
            return _evaluate(yes if conditions[name] else no, parameters, conditions)
        if kind == "Fn::Not":
            return not _evaluate(arg[0], parameters, conditions)
        if kind == "Fn::Equals":
            return _evaluate(arg[0], parameters, conditions) == _evaluate(arg[1], parameters, conditions)
    return node


def _message(status: int, message: str | None, error_type: str) -> GatewayResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return GatewayResponse(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)], body)
