"""The web console's session: POST /v2/c/login, the `sid` cookie on every
management request, the CSRF token on changes, GET /v2/c/log_out, and the
audit entries of logins (console and `docker login`) and logouts."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from tests.api.management.conftest import ADMIN_PASSWORD, BASE, PASSWORD, basic, codes

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CSRF = "X-Harbor-CSRF-Token"


class Console:
    """A browser: keeps the cookie and the latest CSRF token."""

    def __init__(self, api):
        self.api = api
        self.cookie = ""
        self.csrf = ""

    def login(self, username, password, headers=None):
        reply = self.api.post("/v2/c/login", urlencode({"principal": username, "password": password}).encode(),
                              headers={**FORM, **(headers or {})})
        self._remember(reply)
        return reply

    def logout(self):
        reply = self.api.get("/v2/c/log_out", headers={"Cookie": self.cookie})
        self._remember(reply)
        return reply

    def call(self, method, path, body=None, *, csrf=True, headers=None):
        headers = {"Cookie": self.cookie, **(headers or {})}
        if csrf and self.csrf:
            headers[CSRF] = self.csrf
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        reply = self.api.request(method, BASE + path, data, headers)
        self._remember(reply)
        return reply

    def _remember(self, reply):
        set_cookie = reply.headers.get("set-cookie")
        if set_cookie:
            value = set_cookie.split(";")[0]
            self.cookie = "" if value == "sid=" else value
        if reply.headers.get("x-harbor-csrf-token"):
            self.csrf = reply.headers["x-harbor-csrf-token"]


@pytest.fixture
def console(api):
    return Console(api)


def audit_entries(admin, username, operation):
    reply = admin.get(f"/audit-logs?q=username={username},operation={operation}&page_size=100")
    assert reply.status == 200
    return reply.json()


# -- logging in ---------------------------------------------------------------------------------
def test_login_starts_a_session_with_a_hardened_cookie_and_a_csrf_token(world, console):
    user = world.user()
    reply = console.login(user.username, PASSWORD)
    assert reply.status == 200
    assert reply.json() == {"username": user.username, "sysadmin": False}
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("sid=")
    attributes = {a.strip().split("=")[0] for a in cookie.split(";")[1:]}
    assert {"Path", "HttpOnly", "SameSite", "Secure"} <= attributes
    assert "Path=/v2" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age" not in cookie  # a browser-session cookie; the server ends it
    assert len(reply.headers["x-harbor-csrf-token"]) >= 32
    assert reply.headers["cache-control"] == "no-store"
    assert user.username not in cookie.split(";")[0].split(".", 1)[1]  # the secret is random


def test_the_cookie_is_not_secure_over_plain_http(world, console):
    user = world.user()
    reply = console.login(user.username, PASSWORD, headers={"X-Forwarded-Proto": "http"})
    assert reply.status == 200
    assert "Secure" not in reply.headers["set-cookie"]


def test_json_login_is_accepted_too(world, api):
    user = world.user()
    reply = api.post("/v2/c/login", json.dumps({"username": user.username, "password": PASSWORD}).encode(),
                     headers={"Content-Type": "application/json"})
    assert reply.status == 200
    assert reply.headers["set-cookie"].startswith("sid=")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"principal=admin", "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
        (b"password=x", "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
        (b"", "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
        (b"principal=admin&password=x", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"[1,2]", "application/json", 400, "BAD_REQUEST"),
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b'{"username": 1, "password": "x"}', "application/json", 400, "BAD_REQUEST"),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
        (b"principal=admin&password=" + b"x" * 9000, "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
    ],
)
def test_malformed_logins_are_clear_errors(api, body, content_type, status, code):
    reply = api.post("/v2/c/login", body, headers={"Content-Type": content_type})
    assert reply.status == status, reply.body
    assert codes(reply) == [code]
    assert "set-cookie" not in reply.headers


def test_a_wrong_password_is_401_and_starts_nothing(world, console, admin):
    user = world.user()
    reply = console.login(user.username, "wrong-password")
    assert reply.status == 401
    assert codes(reply) == ["UNAUTHORIZED"]
    assert "set-cookie" not in reply.headers
    assert console.login("nobody-here", "whatever").status == 401
    # failures are log lines, not audit entries (anyone could fill the table)
    assert audit_entries(admin, user.username, "login") == []


def test_robots_may_not_log_in_to_the_console(world, console):
    project = world.project()
    world.robot("ci", [{"kind": "project", "namespace": project.name, "access": [{"resource": "repository", "action": "pull"}]}], project=project.name)
    assert console.login(f"robot${project.name}+ci", PASSWORD).status == 401


def test_a_cross_origin_login_is_refused(world, console):
    user = world.user()
    reply = console.login(user.username, PASSWORD, headers={"Origin": "https://evil.example", "Host": "registry.example"})
    assert reply.status == 403
    assert "set-cookie" not in reply.headers
    reply = console.login(user.username, PASSWORD, headers={"Origin": "null", "Host": "registry.example"})
    assert reply.status == 403
    reply = console.login(user.username, PASSWORD, headers={"Origin": "https://registry.example", "Host": "registry.example"})
    assert reply.status == 200


def test_only_post_logs_in(api):
    reply = api.get("/v2/c/login")
    assert reply.status == 405
    assert "POST" in reply.headers["allow"]


# -- using the session --------------------------------------------------------------------------
def test_the_session_is_the_user_on_every_endpoint(world, console):
    user = world.user()
    console.login(user.username, PASSWORD)
    token = console.csrf
    reply = console.call("GET", "/users/current")
    assert reply.status == 200
    assert reply.json()["username"] == user.username
    assert reply.headers["x-harbor-csrf-token"] == token
    # not an admin: the same roles as with Basic credentials
    assert console.call("GET", "/configurations").status == 403


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(world, console, admin):
    user = world.user()
    world.user(sysadmin=True, name=f"{user.username}-admin")
    console.login(f"{user.username}-admin", PASSWORD)
    name = world.name("csrf")
    for headers in ({}, {CSRF: "forged-token-" + "x" * 30}, {CSRF: ""}):
        reply = console.call("POST", "/projects", {"project_name": name}, csrf=False, headers=headers)
        assert reply.status == 403, headers
        assert reply.json()["errors"][0]["message"] == "CSRF token invalid"
    assert admin.head(f"/projects?project_name={name}").status == 404
    for method, path in (("PUT", f"/projects/{name}"), ("DELETE", "/projects/library"), ("PUT", "/configurations")):
        assert console.call(method, path, {}, csrf=False).status == 403
    reply = console.call("POST", "/projects", {"project_name": name})
    assert reply.status == 201
    assert admin.head(f"/projects?project_name={name}").status == 200


def test_basic_credentials_need_no_csrf_token(world):
    user = world.user(sysadmin=True)
    reply = world.as_(user.username).post("/projects", {"project_name": world.name("basic")})
    assert reply.status == 201
    assert "x-harbor-csrf-token" not in reply.headers


def test_basic_credentials_win_over_a_cookie(world, console):
    owner, other = world.user(), world.user()
    console.login(owner.username, PASSWORD)
    reply = console.call("GET", "/users/current", headers={"Authorization": basic(other.username, PASSWORD)})
    assert reply.json()["username"] == other.username
    assert "x-harbor-csrf-token" not in reply.headers


def test_a_session_admin_is_an_admin(console):
    console.login("admin", ADMIN_PASSWORD)
    assert console.call("GET", "/configurations").status == 200
    assert console.call("PUT", "/configurations", {"session_timeout": 45}).status == 200
    assert console.call("GET", "/configurations").json()["session_timeout"] == {"value": 45, "editable": True}


# -- forged and ended sessions --------------------------------------------------------------------
def _cookie(username: str, secret: str) -> str:
    return "sid=" + base64.urlsafe_b64encode(username.encode()).decode().rstrip("=") + "." + secret


@pytest.mark.parametrize(
    "cookie",
    [
        _cookie("admin", "A" * 43),
        "sid=garbage",
        "sid=",
        "sid=.",
        "sid=%%%%." + "A" * 43,
        "sid=" + "A" * 600,
        "other=1; sid=" + "x" * 40 + "." + "A" * 43,
    ],
)
def test_a_forged_or_malformed_cookie_is_401_where_a_caller_is_required(api, cookie):
    reply = api.get(BASE + "/users/current", headers={"Cookie": cookie})
    assert reply.status == 401
    assert reply.headers["set-cookie"].startswith("sid=;")  # the browser may drop it
    # where anonymous callers are welcome, it is anonymous
    assert api.get(BASE + "/systeminfo", headers={"Cookie": cookie}).status == 200


def test_a_session_is_bound_to_its_user(world, console, api):
    victim, thief = world.user(), world.user()
    console.login(thief.username, PASSWORD)
    secret = console.cookie.split(".", 1)[1]
    reply = api.get(BASE + "/users/current", headers={"Cookie": _cookie(victim.username, secret)})
    assert reply.status == 401


def test_logout_ends_the_session_everywhere(world, console, admin):
    user = world.user()
    console.login(user.username, PASSWORD)
    cookie = console.cookie
    reply = console.logout()
    assert reply.status == 200
    assert reply.headers["set-cookie"].startswith("sid=;") and "Max-Age=0" in reply.headers["set-cookie"]
    reply = console.api.get(BASE + "/users/current", headers={"Cookie": cookie})
    assert reply.status == 401
    assert reply.json()["errors"][0]["message"] == "your session has ended; log in again"
    # logging out again (or without a session) is harmless
    assert console.api.get("/v2/c/log_out", headers={"Cookie": cookie}).status == 200
    assert console.api.get("/v2/c/log_out").status == 200
    assert [e["resource"] for e in audit_entries(admin, user.username, "logout")] == [user.username]
    assert len(audit_entries(admin, user.username, "logout")) == 1


def test_a_password_change_ends_the_users_sessions(world, console):
    user = world.user()
    console.login(user.username, PASSWORD)
    reply = world.as_(user.username).put(
        f"/users/{user.user_id}/password", {"old_password": PASSWORD, "new_password": "Changed-Passw0rd"}
    )
    assert reply.status == 200
    assert console.call("GET", "/users/current").status == 401


def test_a_deleted_user_loses_the_session_and_a_demoted_admin_the_rights(world, console, admin):
    user = world.user(sysadmin=True)
    console.login(user.username, PASSWORD)
    assert console.call("GET", "/configurations").status == 200
    assert admin.put(f"/users/{user.user_id}/sysadmin", {"sysadmin_flag": False}).status == 200
    # a demotion ends the session (a new epoch): logged in again, the rights are a user's
    assert console.call("GET", "/configurations").status == 401
    console.login(user.username, PASSWORD)
    assert console.call("GET", "/configurations").status == 403
    assert admin.delete(f"/users/{user.user_id}").status == 200
    assert console.call("GET", "/users/current").status == 401


# -- the audit log ----------------------------------------------------------------------------------
def test_console_logins_are_audited_with_where_from(world, console, admin):
    user = world.user()
    console.login(user.username, PASSWORD)
    entries = audit_entries(admin, user.username, "login")
    assert len(entries) == 1
    assert entries[0]["resource_type"] == "user" and entries[0]["resource"] == user.username


def test_docker_login_is_audited_but_a_pulls_token_is_not(world, api, admin):
    user = world.user()
    auth = {"Authorization": basic(user.username, PASSWORD)}
    # docker pull, skopeo: a token per operation, no refresh token
    assert api.get("/v2/service/token?service=berth&scope=repository:library/x:pull", headers=auth).status == 200
    assert audit_entries(admin, user.username, "login") == []
    # docker login asks for a refresh token
    reply = api.get("/v2/service/token?service=berth&offline_token=true&client_id=docker", headers=auth)
    assert reply.status == 200 and reply.json()["refresh_token"]
    assert len(audit_entries(admin, user.username, "login")) == 1
    # containerd and podman: the OAuth2 password grant asking for offline access
    form = urlencode({"grant_type": "password", "username": user.username, "password": PASSWORD,
                      "service": "berth", "access_type": "offline", "client_id": "containerd"})
    assert api.post("/v2/service/token", form.encode(), headers=FORM).status == 200
    assert len(audit_entries(admin, user.username, "login")) == 2
    # a wrong password is no login
    assert api.get("/v2/service/token?offline_token=true", headers={"Authorization": basic(user.username, "nope")}).status == 401
    assert len(audit_entries(admin, user.username, "login")) == 2


# -- Harbor's extended audit log: descriptions, results, failed logins ----------------------------
def ext_entries(admin, username, path="/auditlog-exts"):
    reply = admin.get(f"{path}?q=username={username}&page_size=100")
    assert reply.status == 200
    return reply.json()


def test_failed_logins_are_in_the_extended_log_only(world, console, admin, api):
    user = world.user()
    assert console.login(user.username, "wrong-password").status == 401
    auth = {"Authorization": basic(user.username, "wrong-password")}
    assert api.get("/v2/service/token?service=berth&offline_token=true", headers=auth).status == 401
    # a pull's token with a wrong password is no login attempt
    assert api.get("/v2/service/token?service=berth&scope=repository:library/x:pull", headers=auth).status == 401
    assert console.login(user.username, PASSWORD, headers={"X-Forwarded-For": "203.0.113.9"}).status == 200
    entries = ext_entries(admin, user.username)
    assert [(e["operation"], e["operation_result"]) for e in entries] == [("login", True), ("login", False), ("login", False)]
    assert entries[1]["operation_description"].startswith(f"failed login user {user.username}")
    assert all(set(e) == {"id", "username", "resource", "resource_type", "operation", "op_time",
                          "operation_description", "operation_result", "source_ip"} for e in entries)
    assert entries[0]["source_ip"] and entries[0]["operation_description"].endswith(f"from {entries[0]['source_ip']}")
    # the classic log keeps Harbor's meaning: what was done
    assert [e["operation"] for e in audit_entries(admin, user.username, "login")] == ["login"]


def test_project_extended_log_needs_log_read(world, admin):
    project = world.project()
    member = world.user()
    world.member(project.name, member.username, 5)  # limited guest: no log.read
    assert admin.post(f"/projects/{project.name}/members", {"role_id": 2, "member_user": {"username": world.user().username}}).status == 201
    entries = ext_entries(admin, "admin", f"/projects/{project.name}/auditlog-exts")
    assert [(e["operation"], e["resource_type"], e["operation_result"]) for e in entries] == [("create", "member", True)]
    assert world.as_(member.username).get(f"/projects/{project.name}/auditlog-exts").status == 403
    assert admin.get("/projects/no-such-project/auditlog-exts").status == 404
    assert world.as_(member.username).get("/auditlog-exts").status == 403
