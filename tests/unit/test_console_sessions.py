"""ConsoleSessions' rules with the in-memory session store and a hand-moved clock:
timeout, sliding renewal, cookie parsing, CSRF comparison."""
from __future__ import annotations

import dataclasses

import pytest

from chalicelib.auth.authenticator import user_principal
from chalicelib.auth.login_gate import Login
from chalicelib.auth.principal import Principal
from chalicelib.auth.sessions import ConsoleSessions, has_session_cookie, parse_cookie
from chalicelib.meta.accounts import User
from chalicelib.meta.sessions import MemorySessions


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


class CountingStore(MemorySessions):
    """The in-memory store, counting the writes that move a session's end."""

    def __init__(self, clock, users):
        super().__init__(clock, users.get)
        self.extended = 0

    def extend(self, secret_hash, expires):
        moved = super().extend(secret_hash, expires)
        self.extended += moved
        return moved


class Passwords:
    def __init__(self, users):
        self.users = users

    def login(self, username, password, source_ip=""):
        if username.startswith("robot$") and password == "right":
            return Login(Principal(kind="robot", name=username), None)
        user = self.users.get(username)
        if user is None or password != "right":
            return None
        return Login(user_principal(user), None)


@pytest.fixture
def setup():
    clock = Clock()
    users = {"alice": User(username="alice", sysadmin=True, user_id=7, epoch="e1")}
    store = CountingStore(clock, users)
    timeout = {"minutes": 60}
    sessions = ConsoleSessions(store, Passwords(users), clock, timeout_minutes=lambda: timeout["minutes"])
    return sessions, store, clock, users, timeout


def cookie_of(started) -> str:
    return started.cookie.split(";")[0]


def test_a_session_lives_for_the_timeout_and_slides_while_used(setup):
    sessions, store, clock, _, _ = setup
    started = sessions.login("alice", "right")
    cookie = cookie_of(started)
    assert sessions.resume(cookie).principal.name == "alice"
    clock.now += 29 * 60  # less than half gone: no write
    assert sessions.resume(cookie) is not None
    assert store.extended == 0
    clock.now += 2 * 60  # past half: renewed once
    assert sessions.resume(cookie) is not None
    assert sessions.resume(cookie) is not None
    assert store.extended == 1
    clock.now += 59 * 60  # within the renewed period
    assert sessions.resume(cookie) is not None
    clock.now += 61 * 60  # idle longer than the timeout
    assert sessions.resume(cookie) is None


def test_an_unused_session_ends_after_the_timeout(setup):
    sessions, _, clock, _, timeout = setup
    timeout["minutes"] = 5
    cookie = cookie_of(sessions.login("alice", "right"))
    clock.now += 5 * 60
    assert sessions.resume(cookie) is None


@pytest.mark.parametrize("minutes", ["", "not a number", None, -3, 10**9])
def test_a_bad_timeout_setting_falls_back_or_is_clamped(setup, minutes):
    sessions, _, clock, _, timeout = setup
    timeout["minutes"] = minutes
    cookie = cookie_of(sessions.login("alice", "right"))
    clock.now += 30
    assert sessions.resume(cookie) is not None
    clock.now += 8 * 24 * 3600  # longer than the longest allowed timeout (7 days)
    assert sessions.resume(cookie) is None


def test_the_principal_is_read_fresh_and_a_new_epoch_ends_it(setup):
    sessions, _, _, users, _ = setup
    cookie = cookie_of(sessions.login("alice", "right"))
    users["alice"] = dataclasses.replace(users["alice"], realname="Alice")
    assert sessions.resume(cookie).principal.name == "alice"
    users["alice"] = dataclasses.replace(users["alice"], epoch="e2")  # password change, demotion
    assert sessions.resume(cookie) is None
    del users["alice"]
    assert sessions.resume(cookie) is None


def test_a_new_account_of_the_same_name_does_not_inherit_the_session(setup):
    sessions, _, _, users, _ = setup
    cookie = cookie_of(sessions.login("alice", "right"))
    users["alice"] = dataclasses.replace(users["alice"], user_id=8)  # deleted, made again: a new id
    assert sessions.resume(cookie) is None


def test_logout_ends_it_and_a_renewal_after_logout_fails(setup):
    sessions, store, clock, _, _ = setup
    cookie = cookie_of(sessions.login("alice", "right"))
    assert sessions.logout(cookie).username == "alice"
    assert sessions.resume(cookie) is None
    assert sessions.logout(cookie) is None
    assert sessions.logout(None) is None
    # a renewal racing a logout: the store says it is gone
    cookie = cookie_of(sessions.login("alice", "right"))
    clock.now += 45 * 60
    original = store.extend
    store.extend = lambda *a: (store.sessions.clear(), original(*a))[1]
    assert sessions.resume(cookie) is None


def test_wrong_passwords_and_robots_start_nothing(setup):
    sessions, store, _, _, _ = setup
    assert sessions.login("alice", "wrong") is None
    assert sessions.login("nobody", "right") is None
    assert sessions.login("robot$ci", "right") is None
    assert store.sessions == {}


def test_every_login_is_a_new_secret_and_token(setup):
    sessions, store, _, _, _ = setup
    one, two = sessions.login("alice", "right"), sessions.login("alice", "right")
    assert cookie_of(one) != cookie_of(two)
    assert one.session.csrf != two.session.csrf
    assert len(store.sessions) == 2
    # the store keeps a hash, never the secret in the cookie
    secret = cookie_of(one).split(".", 1)[1]
    assert all(secret not in repr(s) for s in store.sessions.values())


def test_csrf_comparison():
    session = type("S", (), {"csrf": "token-123"})()
    assert ConsoleSessions.csrf_valid(session, "token-123")
    assert ConsoleSessions.csrf_valid(session, " token-123 ")
    for presented in (None, "", "token-12", "token-1234", "TOKEN-123"):
        assert not ConsoleSessions.csrf_valid(session, presented)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sid=YWxpY2U." + "s" * 43, ("alice", "s" * 43)),
        ("a=1; sid=YWxpY2U." + "s" * 43 + "; b=2", ("alice", "s" * 43)),
        ('sid="YWxpY2U.' + "s" * 43 + '"', ("alice", "s" * 43)),
        ("sid=bad; sid=YWxpY2U." + "s" * 43, ("alice", "s" * 43)),  # the first well-formed one
        ("sid=YWxpY2U.short", None),
        ("sid=." + "s" * 43, None),
        ("sid=" + "A" * 700, None),
        ("sid=AA." + "s" * 43, None),  # decodes to a control character
        ("xsid=YWxpY2U." + "s" * 43, None),
        ("", None),
        (None, None),
    ],
)
def test_cookie_parsing(header, expected):
    assert parse_cookie(header) == expected


def test_has_session_cookie():
    assert has_session_cookie("a=1; sid=")
    assert not has_session_cookie("a=1; sidx=2")
    assert not has_session_cookie(None)


def test_clear_cookie_expires_it_on_the_same_path():
    cleared = ConsoleSessions.clear_cookie(secure=False)
    assert cleared.startswith("sid=;") and "Max-Age=0" in cleared and "Path=/v2" in cleared
    assert "Secure" not in cleared
    assert "Secure" in ConsoleSessions.clear_cookie()
