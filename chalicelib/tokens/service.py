"""The token service at /v2/service/token (Docker token authentication).

GET with Basic credentials (or none: anonymous) and `scope` parameters, as
docker and skopeo use it; POST with the OAuth2 form (`grant_type=password` or
`refresh_token`), as containerd and podman do. The token grants the requested
actions that the caller's role allows, never more.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from urllib.parse import parse_qs

from chalicelib import policy, projects
from chalicelib.auth.access import Access
from chalicelib.auth.authenticator import robot_principal, same_account, user_principal
from chalicelib.auth.principal import Principal
from chalicelib.auth.scopes import InvalidScope, parse_scopes
from chalicelib.errors import BerthError, LoginThrottled, Unauthorized
from chalicelib.errors import IdentityProviderUnavailable as LdapUnavailable
from chalicelib.oci.errcodes import error_response
from chalicelib.oci.names import project_of
from chalicelib.tokens.dependencies import TokenDependencies
from chalicelib.web.http import Request, Response

logger = logging.getLogger("berth.token")
REFRESH_TTL = 30 * 24 * 3600
MAX_FORM = 16 * 1024


def get_token(svc: TokenDependencies, req: Request) -> Response:
    try:
        scopes = parse_scopes(req.args("scope"))
        credentials = _basic_credentials(req)
        offline = (req.arg("offline_token") or "").lower() == "true"
        principal, context = _login(svc, *credentials, scopes, req=req, audited=offline) if credentials else (None, None)
        response = _issue(svc, req, principal, scopes, context, refresh=offline and principal is not None, oauth=False)
        if offline and principal is not None:
            _record_login(svc, req, principal.name)
        return response
    except InvalidScope as exc:
        return error_response("UNSUPPORTED", exc.message, status=400)
    except Unauthorized as exc:
        return _unauthorized(exc.message)
    except LoginThrottled as exc:
        # docker prints the message: "toomanyrequests: too many failed logins; retry in N seconds"
        return error_response("TOOMANYREQUESTS", exc.message, status=429, headers={"Retry-After": str(exc.retry_after)})
    except LdapUnavailable:
        logger.exception("LDAP directory unavailable")
        return error_response("UNKNOWN", "the identity provider is unavailable; retry later", status=503)


def post_token(svc: TokenDependencies, req: Request) -> Response:
    try:
        form = _form(req)
        scopes = parse_scopes(" ".join(form.get("scope", [])).split(" ") if form.get("scope") else [])
        grant_type = _one(form, "grant_type")
        context = None
        if grant_type == "password":
            refresh = _one(form, "access_type") == "offline"
            principal, context = _login(svc, _one(form, "username"), _one(form, "password"), scopes, req=req, audited=refresh)
            if refresh:
                _record_login(svc, req, principal.name)
        elif grant_type == "refresh_token":
            principal = _refresh_principal(svc, _one(form, "refresh_token"))
            refresh = True
        else:
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be password or refresh_token")
        return _issue(svc, req, principal, scopes, context, refresh=refresh, oauth=True)
    except InvalidScope as exc:
        return _oauth_error(400, "invalid_scope", exc.message)
    except Unauthorized as exc:
        return _oauth_error(401, "invalid_grant", exc.message)
    except LoginThrottled as exc:
        response = _oauth_error(429, "temporarily_unavailable", exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except LdapUnavailable:
        logger.exception("LDAP directory unavailable")
        return _oauth_error(503, "temporarily_unavailable", "the identity provider is unavailable; retry later")
    except _BadForm as exc:
        return _oauth_error(400, "invalid_request", str(exc))


def jwks(svc: TokenDependencies, req: Request) -> Response:
    response = Response.json(200, svc.token_keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# -- internals ---------------------------------------------------------------
class _BadForm(Exception):
    pass


def _form(req: Request) -> dict[str, list[str]]:
    content_type = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise _BadForm("send application/x-www-form-urlencoded")
    try:
        return parse_qs(req.read_body(MAX_FORM).decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, BerthError):
        raise _BadForm("malformed form body") from None


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _basic_credentials(req: Request) -> tuple[str, str] | None:
    header = req.header("Authorization") or ""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("use Basic credentials")
    try:
        username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthorized("malformed credentials") from None
    if not sep:
        raise Unauthorized("malformed credentials")
    return username, password


def _login(svc: TokenDependencies, username: str, password: str, scopes: list[Access], *, req: Request, audited: bool):
    """(principal, access context): the account, its roles in the requested projects
    and the login's throttling counters come from one BatchGetItem, read before the
    password check (chalicelib/auth/login_gate.py). `audited`: a login (a refresh
    token was asked for), so a failure goes to the audit log; a pull's token is not."""
    login = svc.login_gate.login(username, password, req.source_ip, projects=_projects(scopes), audited=audited)
    if login is None:
        raise Unauthorized("invalid username or password")
    return login.principal, login.context


def _record_login(svc: TokenDependencies, req: Request, username: str) -> None:
    """A password exchanged for a refresh token is a login (`docker login`, and the
    OAuth2 password grant with access_type=offline): the audit log records it. The
    tokens issued for every pull and push are not logins, and cost no audit write."""
    from chalicelib import audit

    if username:
        audit.record_session(svc, username, req.source_ip)


def _projects(scopes: list[Access]) -> set[str]:
    return {project_of(s.name) for s in scopes if s.type == "repository"}


def _refresh_principal(svc: TokenDependencies, token: str) -> Principal:
    from chalicelib.auth.tokens import InvalidToken

    try:
        claims = svc.token_keys.refresh_verifier().verify(token)
    except InvalidToken:
        raise Unauthorized("invalid refresh token") from None
    subject = claims.get("sub", "")
    account_id, epoch = claims.get("aid"), claims.get("ep")
    if not isinstance(account_id, int) or not isinstance(epoch, str):
        raise Unauthorized("invalid refresh token")  # issued before tokens named their account
    principal = None
    if claims.get("kind") == "robot":
        robot = svc.accounts.get_robot(subject)
        principal = robot_principal(robot, svc.clock()) if robot is not None else None
    elif claims.get("kind") == "user":
        user = svc.accounts.get_user(subject)
        principal = user_principal(user) if user is not None else None
    # the account the token was issued to, as it was then: not a later one of the same name
    if principal is None or not same_account(principal, account_id, epoch):
        raise Unauthorized("invalid refresh token")
    return principal


def _grants(svc: TokenDependencies, req: Request, principal: Principal | None, scopes: list[Access], context=None) -> list[dict]:
    projects = _projects(scopes)
    if projects and context is None:
        username = principal.name if principal is not None and principal.kind == "user" else None
        groups = principal.groups if principal is not None else ()
        # anonymous pulls of public projects come in bursts and read no account: their
        # context may be a few seconds old; a user's is always read fresh, so a password
        # or role change applies at once
        source = svc.access_contexts if username is None else svc.accounts
        context = source.access_context(username, groups, projects)
    access = []
    for scope in scopes:
        if scope.type == "repository" and "/" not in scope.name:
            # as in Harbor, a repository lives in a project: "<project>/<name>"
            access.append({"type": scope.type, "name": scope.name, "actions": []})
            continue
        project = context.projects.get(project_of(scope.name)) if context and scope.type == "repository" else None
        if project is None and principal is not None and _creates_project(principal, scope):
            project = _create_project(svc, req, project_of(scope.name), principal)
        roles = context.roles.get(project_of(scope.name), []) if context else []
        actions = policy.token_grant(principal, scope, project, roles)
        access.append({"type": scope.type, "name": scope.name, "actions": list(actions)})
    return access


def _creates_project(principal: Principal | None, scope: Access) -> bool:
    """A system administrator's push into a project that does not exist creates it
    (private), as ECR's create-on-push does: scripts and conformance suites push to
    names of their own choosing. Everyone else is refused, as in Harbor."""
    return (
        principal is not None
        and principal.admin
        and scope.type == "repository"
        and "push" in scope.actions
        and projects.is_valid_name(project_of(scope.name))
    )


def _create_project(svc: TokenDependencies, req: Request, name: str, principal: Principal):
    from chalicelib.errors import Conflict
    from chalicelib.events.actor import Actor, acting_as

    try:  # private, its creator as admin, as with POST /projects; its event names the administrator
        with acting_as(Actor(principal.name, req.source_ip, "token")):
            return projects.create(svc, name, principal.name)
    except Conflict:
        return svc.accounts.get_project(name)


def _issue(svc: TokenDependencies, req: Request, principal: Principal | None, scopes: list[Access], context, *, refresh: bool, oauth: bool) -> Response:
    access = _grants(svc, req, principal, scopes, context)
    ttl = svc.runtime_config.token_ttl_seconds
    subject = principal.name if principal else ""
    kind = principal.kind if principal else "anonymous"
    token, issued_at = svc.token_keys.issuer().issue(
        subject=subject, audience=svc.settings.token_service, access=access, ttl=ttl, extra={"kind": kind}
    )
    body: dict = {
        "access_token": token,
        "expires_in": ttl,
        "issued_at": dt.datetime.fromtimestamp(issued_at, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if not oauth:
        body["token"] = token
    else:
        body["scope"] = " ".join(f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access if a["actions"])
    if refresh and principal is not None:
        body["refresh_token"], _ = svc.token_keys.issuer().issue(
            subject=subject,
            audience=svc.token_keys.refresh_audience,
            access=[],
            ttl=REFRESH_TTL,
            extra={"kind": kind, "aid": principal.account_id, "ep": principal.epoch},
        )
    response = Response.json(200, body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unauthorized(message: str) -> Response:
    return error_response("UNAUTHORIZED", message, headers={"WWW-Authenticate": 'Basic realm="berth"'})


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = Response.json(status, {"error": error, "error_description": description})
    response.headers["Cache-Control"] = "no-store"
    return response
