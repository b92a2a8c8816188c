"""The console-session store's contract (chalicelib/meta/sessions.py, SessionStore),
run against each implementation: DynamoDB on moto, and the in-memory one the fast tests
use. What one answers, the other must."""
from __future__ import annotations

import pytest

from chalicelib.errors import Conflict
from chalicelib.meta.accounts import DynamoAccounts, MemoryAccounts, User
from chalicelib.meta.sessions import DynamoSessions, MemorySessions, Session

NOW = 1_800_000_000.0


@pytest.fixture(params=["dynamodb", "memory"])
def world(request, clock):
    """(store, create_user): the store and how to make an account it can read."""
    clock.now = NOW
    if request.param == "dynamodb":
        table = request.getfixturevalue("table")
        accounts = DynamoAccounts(table, clock)
        return DynamoSessions(table, clock), accounts.create_user
    accounts = MemoryAccounts(clock)
    return MemorySessions(clock, accounts.get_user), accounts.create_user


def session(secret: str = "h1", username: str = "alice", expires: float = NOW + 3600) -> Session:
    return Session(secret_hash=secret, username=username, csrf="c", created=NOW, expires=expires, user_id=7, epoch="e1")


def test_a_live_session_comes_with_its_user(world):
    store, create_user = world
    create_user(User(username="alice", user_id=7))
    store.create(session())
    found, user = store.get_with_user("h1", "alice")
    assert found == session()
    assert user.username == "alice"


def test_an_unknown_ended_or_foreign_session_is_none_but_the_user_still_comes(world, clock):
    store, create_user = world
    create_user(User(username="alice", user_id=7))
    create_user(User(username="bob", user_id=8))
    store.create(session())
    assert store.get_with_user("nope", "alice")[0] is None
    assert store.get_with_user("h1", "bob")[0] is None  # the secret is alice's
    assert store.get_with_user("h1", "bob")[1].username == "bob"
    clock.now = NOW + 3600
    found, user = store.get_with_user("h1", "alice")
    assert found is None and user.username == "alice"


def test_no_user_for_a_missing_account(world):
    store, _ = world
    store.create(session())
    assert store.get_with_user("h1", "alice") == (session(), None)


def test_a_secret_is_never_stored_twice(world):
    store, _ = world
    store.create(session())
    with pytest.raises(Conflict):
        store.create(session(username="mallory"))
    assert store.get_with_user("h1", "alice")[0] == session()


def test_extend_moves_the_end_of_a_live_session_only(world, clock):
    store, create_user = world
    create_user(User(username="alice", user_id=7))
    store.create(session())
    assert store.extend("h1", NOW + 7200) is True
    clock.now = NOW + 5000
    assert store.get_with_user("h1", "alice")[0].expires == NOW + 7200
    assert store.extend("gone", NOW + 7200) is False


def test_delete_ends_it_and_deleting_again_is_harmless(world):
    store, _ = world
    store.create(session())
    store.delete("h1")
    store.delete("h1")
    assert store.get_with_user("h1", "alice")[0] is None
    assert store.extend("h1", NOW + 7200) is False
