"""Identity at the token service, through the handler: refresh tokens belong to an
account (its id and epoch), not to a name; password logins are throttled on GET and
POST; failed-login audit entries are bounded; a warm token is still one read."""
from __future__ import annotations

import pytest

from devstack.events import proxy_event, proxy_reply
from tests.api.auth.conftest import PASSWORD, SERVICE, TOKEN_URL, World, basic, make_world
from tests.api.conftest import Reply
from tests.api.helpers import FrozenClock

PULL = "repository:library/app:pull"


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="module")
def world(_moto, clock) -> World:
    def before(svc):
        svc.clock = clock  # before anything is built from it

    return make_world(_moto, before_bootstrap=before)


def token_from(world: World, user: str, password: str, source: str = "127.0.0.1", **params) -> Reply:
    query = "&".join([f"service={SERVICE}", f"scope={PULL}"] + [f"{k}={v}" for k, v in params.items()])
    event = proxy_event("GET", f"{TOKEN_URL}?{query}", b"", {"Authorization": basic(user, password)})
    event["requestContext"]["identity"]["sourceIp"] = source
    return _send(world, event)


def post_from(world: World, form: dict[str, str], source: str = "127.0.0.1") -> Reply:
    from urllib.parse import urlencode

    event = proxy_event(
        "POST", TOKEN_URL, urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    event["requestContext"]["identity"]["sourceIp"] = source
    return _send(world, event)


def _send(world: World, event: dict) -> Reply:
    import app as app_module

    with app_module.serving(world.svc):
        return Reply(*proxy_reply(app_module.app(event, None)))


def password_grant(world: World, user: str, password: str = PASSWORD, source: str = "127.0.0.1") -> Reply:
    form = {"grant_type": "password", "username": user, "password": password, "service": SERVICE,
            "access_type": "offline", "scope": PULL}
    return post_from(world, form, source)


def refresh(world: World, token: str) -> Reply:
    return post_from(world, {"grant_type": "refresh_token", "refresh_token": token, "service": SERVICE, "scope": PULL})


# -- refresh tokens belong to one account ----------------------------------------------------
def test_a_refresh_token_does_not_survive_its_user_being_made_again(world):
    world.user("olga")
    reply = password_grant(world, "olga")
    assert reply.status == 200, reply.body
    old = reply.json()["refresh_token"]
    assert refresh(world, old).status == 200
    world.svc.accounts.delete_user("olga")
    world.user("olga")  # same name, same password: another account
    again = refresh(world, old)
    assert again.status == 401 and again.json()["error"] == "invalid_grant"
    assert refresh(world, password_grant(world, "olga").json()["refresh_token"]).status == 200


def test_a_refresh_token_does_not_survive_its_robot_being_made_again(world):
    permissions = [{"kind": "project", "namespace": "library",
                    "access": [{"resource": "repository", "action": "pull"}]}]
    world.robot("puller", permissions, project="library")
    reply = password_grant(world, "robot$library+puller")
    assert reply.status == 200, reply.body
    old = reply.json()["refresh_token"]
    world.svc.accounts.delete_robot("robot$library+puller")
    world.robot("puller", permissions, project="library")
    assert refresh(world, old).status == 401


def test_a_password_change_and_a_demotion_end_refresh_tokens(world):
    world.user("petra", sysadmin=True)
    first = password_grant(world, "petra").json()["refresh_token"]
    world.svc.accounts.update_user("petra", sysadmin=False)
    assert refresh(world, first).status == 401
    second = password_grant(world, "petra").json()["refresh_token"]
    from tests.api.auth.conftest import password_hash

    world.svc.accounts.set_password("petra", password_hash())
    assert refresh(world, second).status == 401


def test_a_refresh_token_without_an_account_id_is_refused(world):
    world.user("quinn")
    claims_token, _ = world.svc.token_keys.issuer().issue(
        subject="quinn", audience=world.svc.token_keys.refresh_audience, access=[], ttl=600,
        extra={"kind": "user", "pwv": 0},  # the shape issued before tokens named their account
    )
    assert refresh(world, claims_token).status == 401


# -- the token path's cost -------------------------------------------------------------------
def test_a_warm_token_is_one_batch_read(world):
    world.user("rita")
    assert token_from(world, "rita", PASSWORD, "192.0.2.50").status == 200  # first: remembers the source
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)

    events = world.svc.dynamodb.meta.events
    events.register("before-call.dynamodb.*", record)
    try:
        assert token_from(world, "rita", PASSWORD, "192.0.2.50").status == 200
    finally:
        events.unregister("before-call.dynamodb.*", record)
    assert calls == ["BatchGetItem"]


# -- throttling ------------------------------------------------------------------------------
def test_failed_logins_slow_down_the_account_from_that_source(world, clock):
    world.user("sam")
    source = "198.51.100.7"
    for _ in range(5):
        assert token_from(world, "sam", "wrong", source).status == 401
    held = token_from(world, "sam", PASSWORD, source)  # the right password, too soon: not even checked
    assert held.status == 429
    assert held.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert "too many failed logins" in held.json()["errors"][0]["message"]
    wait = int(held.headers["retry-after"])
    assert wait >= 1
    post = password_grant(world, "SAM", source=source)  # the same account, spelt otherwise, on POST
    assert post.status == 429 and post.json()["error"] == "temporarily_unavailable"
    assert int(post.headers["retry-after"]) >= 1
    # another source is not held back
    assert token_from(world, "sam", PASSWORD, "198.51.100.8").status == 200
    clock.now += wait
    assert token_from(world, "sam", PASSWORD, source).status == 200  # and it forgives the failures
    assert token_from(world, "sam", "wrong", source).status == 401


def test_each_failure_past_the_free_ones_doubles_the_wait(world, clock):
    world.user("tess")
    source = "198.51.100.20"
    waits = []
    for _ in range(8):
        reply = token_from(world, "tess", "wrong", source)
        if reply.status == 429:
            waits.append(int(reply.headers["retry-after"]))
            clock.now += waits[-1]
            reply = token_from(world, "tess", "wrong", source)
        assert reply.status == 401
    assert waits == [1, 2, 4]


def test_a_sprayed_source_is_held_back_but_a_known_good_login_there_is_not(world, clock):
    world.user("uma")
    source = "203.0.113.9"
    assert token_from(world, "uma", PASSWORD, source).status == 200  # uma's known-good source
    for n in range(20):
        token_from(world, f"nobody{n}", "guess", source)
    assert token_from(world, "nobody-else", "guess", source).status == 429
    world.user("vera")
    assert token_from(world, "vera", PASSWORD, source).status == 429  # never logged in from there
    assert token_from(world, "uma", PASSWORD, source).status == 200


def test_a_distributed_guess_cannot_lock_the_user_out_for_long(world, clock):
    config = world.svc.settings.ssm_prefix + "/config/login_account_failures_before_delay"
    world.svc.ssm.put_parameter(Name=config, Value="10", Type="String", Overwrite=True)
    world.svc.runtime_config.forget()
    try:
        world.user("wendy")
        home = "192.0.2.200"
        assert token_from(world, "wendy", PASSWORD, home).status == 200
        for n in range(30):
            token_from(world, "wendy", "guess", f"10.9.{n}.1")
        held = token_from(world, "wendy", PASSWORD, "192.0.2.201")  # a new source
        assert held.status == 429 and int(held.headers["retry-after"]) <= 60
        assert token_from(world, "wendy", PASSWORD, home).status == 200  # the known-good source
        clock.now += 60
        assert token_from(world, "wendy", PASSWORD, "192.0.2.201").status == 200
    finally:
        world.svc.ssm.delete_parameter(Name=config)
        world.svc.runtime_config.forget()


def test_failed_login_audit_entries_are_bounded(world, clock):
    from chalicelib.auth.throttle import AUDITED_PER_SOURCE
    source = "203.0.113.77"
    clock.now += 3600
    for n in range(AUDITED_PER_SOURCE + 15):
        password_grant(world, f"stranger{n}", "guess", source)
    entries = [e for e in world.svc.audit.matching(operation="login", since=clock.now - 60)
               if e.source_ip == source]
    assert len(entries) == AUDITED_PER_SOURCE
    assert all(not e.succeeded for e in entries)
