"""Account identity in the store (DynamoDB on moto): names unique up to case and
confusable characters, also under concurrent creates, and the per-account epoch
that sessions and refresh tokens are bound to."""
from __future__ import annotations

import pytest

from chalicelib.meta.account_names import BadName
from chalicelib.meta.accounts import DynamoAccounts, NameTaken, Project, Robot, User, robot_full_name


@pytest.fixture
def accounts(table, clock) -> DynamoAccounts:
    return DynamoAccounts(table, clock)


def user(name: str, **fields) -> User:
    return User(username=name, password_hash=f"hash-{name}", **fields)


def robot(name: str, project: str | None = None) -> Robot:
    return Robot(
        full_name=robot_full_name(name, project),
        secret_hash="secret",
        level="project" if project else "system",
        project=project,
    )


@pytest.mark.parametrize("other", ["Alice", "ALICE", "\u0430lice", "\u0391LICE", "a1ice"])
def test_a_name_taken_up_to_case_or_confusables_is_refused(accounts, other):
    accounts.create_user(user("alice"))
    with pytest.raises(NameTaken):
        accounts.create_user(user(other))
    assert accounts.get_user(other) is None


def test_robots_and_users_share_no_look_alike_names(accounts):
    accounts.create_robot(robot("app1"))
    with pytest.raises(NameTaken):
        accounts.create_robot(robot("appl"))
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("build", "team"))
    with pytest.raises(NameTaken):
        accounts.create_robot(robot("bui1d", "team"))


def test_a_deleted_accounts_name_is_free_again(accounts):
    accounts.create_user(user("bob"))
    accounts.delete_user("bob")
    assert accounts.create_user(user("Bob")).username == "Bob"
    accounts.create_robot(robot("ci"))
    accounts.delete_robot("robot$ci")
    accounts.create_robot(robot("c1"))


def test_a_project_deleted_with_its_robots_frees_their_names(accounts):
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("ci", "team"))
    accounts.delete_project("team")
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("ci", "team"))


def test_names_must_be_stored_normalised(accounts):
    with pytest.raises(BadName):
        accounts.create_user(user("ｂｏｂ"))
    with pytest.raises(BadName):
        accounts.create_user(user("bo\u200bb"))


def test_uniqueness_rests_on_conditions_inside_the_accounts_transaction(table, clock):
    """Concurrent creates of look-alike names cannot both succeed on DynamoDB: no
    read decides it; the account's own transaction puts one NAME item per key on
    condition that none exists (moto does not make transactions atomic across
    threads, so this asserts the mechanism rather than racing threads)."""
    sent: list[tuple[str, dict]] = []

    def record(model, params, **_):
        sent.append((model.name, params))

    events = table.client.meta.events
    events.register("before-parameter-build.dynamodb.*", record)
    try:
        DynamoAccounts(table, clock).create_user(user("Carol"))
    finally:
        events.unregister("before-parameter-build.dynamodb.*", record)
    assert [name for name, _ in sent] == ["UpdateItem", "TransactWriteItems"]  # the id counter, then one transaction
    items = sent[1][1]["TransactItems"]
    names = [i["Put"] for i in items if "Put" in i and i["Put"]["Item"]["PK"]["S"].startswith("NAME#")]
    assert {n["Item"]["PK"]["S"] for n in names} == {"NAME#carol"}
    assert all(n["ConditionExpression"] == "attribute_not_exists(PK)" for n in names)
    with pytest.raises(NameTaken):
        DynamoAccounts(table, clock).create_user(user("car\u043el"))  # Cyrillic о


def test_the_epoch_is_random_and_changes_with_password_and_demotion(accounts):
    first = accounts.create_user(user("dave", sysadmin=True))
    other = accounts.create_user(user("erin"))
    assert first.epoch and other.epoch and first.epoch != other.epoch
    assert accounts.get_user("dave").epoch == first.epoch
    changed = accounts.set_password("dave", "hash-2")
    assert changed.epoch != first.epoch
    profile = accounts.update_user("dave", realname="Dave")
    assert profile.epoch == changed.epoch  # a profile edit is not a reason
    demoted = accounts.update_user("dave", sysadmin=False)
    assert demoted.epoch != changed.epoch


def test_a_recreated_user_is_another_account(accounts):
    before = accounts.create_user(user("frank"))
    accounts.delete_user("frank")
    after = accounts.create_user(user("frank"))
    assert after.user_id != before.user_id and after.epoch != before.epoch


def test_a_robots_epoch_changes_with_secret_permissions_and_disable(accounts):
    made = accounts.create_robot(robot("deploy"))
    epochs = [made.epoch]
    epochs.append(accounts.update_robot("robot$deploy", description="x").epoch)
    epochs.append(accounts.update_robot("robot$deploy", secret_hash="other").epoch)
    epochs.append(accounts.update_robot("robot$deploy", permissions=[]).epoch)
    epochs.append(accounts.update_robot("robot$deploy", disabled=True).epoch)
    assert epochs[0] == epochs[1]
    assert len(set(epochs[1:])) == 4


def test_owner_of_name_finds_the_account_up_to_case(accounts):
    accounts.create_user(user("grace"))
    assert accounts.owner_of_name("GRACE") == ("user", "grace")
    assert accounts.owner_of_name("nobody") is None
