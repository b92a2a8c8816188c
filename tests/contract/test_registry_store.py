"""The remote registries' store contract (chalicelib/meta/registries.py, RegistryStore), run
against each implementation: DynamoDB with SSM for the secrets, on moto, and in memory.
What one answers, the other must."""
from __future__ import annotations

import uuid

import pytest

from chalicelib.meta.registries import DynamoRegistries, MemoryRegistries, NameTaken, Registry
from chalicelib.secrets import SsmSecretParameters
from tests.contract.helpers import T0


@pytest.fixture(params=["dynamodb", "memory"])
def store(request, clock):
    clock.now = T0
    if request.param == "memory":
        return MemoryRegistries(clock)
    aws, table = request.getfixturevalue("aws"), request.getfixturevalue("table")
    # a folder of its own per test: the module's SSM is not emptied between tests
    secrets = SsmSecretParameters(aws.ssm, f"{aws.settings.ssm_prefix}/{uuid.uuid4().hex[:8]}", "registries")
    return DynamoRegistries(table, clock, secrets)


def hub(name: str = "hub", **fields) -> Registry:
    return Registry(name=name, type="docker-registry", url="https://registry.example", **fields)


def test_create_numbers_them_and_get_and_list_answer_them(store, clock):
    first = store.create(hub("a"), "s3cret")
    clock.now = T0 + 5
    second = store.create(hub("b"))
    assert (first.registry_id, first.created, first.has_secret) == (first.registry_id, T0, True)
    assert second.registry_id > first.registry_id and (second.created, second.has_secret) == (T0 + 5, False)
    assert store.get(first.registry_id) == first
    assert store.list() == [first, second]
    assert store.get(0) is None and store.get(second.registry_id + 100) is None


def test_a_name_is_taken_once(store):
    store.create(hub("same"))
    with pytest.raises(NameTaken):
        store.create(hub("same"), "secret")
    assert [r.name for r in store.list()] == ["same"]
    other = store.create(hub("other"))
    with pytest.raises(NameTaken):
        store.update(other, hub("same"), None)
    assert store.get(other.registry_id).name == "other"


def test_update_keeps_the_id_and_creation_and_may_rename(store, clock):
    created = store.create(hub("old"))
    clock.now = T0 + 60
    updated = store.update(created, hub("new", description="renamed", insecure=True), None)
    assert (updated.registry_id, updated.created, updated.updated) == (created.registry_id, T0, T0 + 60)
    assert store.get(created.registry_id) == updated and updated.description == "renamed" and updated.insecure
    store.create(hub("old"))  # the old name is free again


def test_the_secret_is_kept_replaced_or_removed_and_never_in_the_record(store):
    created = store.create(hub(), "first")
    assert store.secret(created) == "first"
    kept = store.update(created, hub(access_key="user"), None)
    assert kept.has_secret and store.secret(kept) == "first"
    replaced = store.update(kept, hub(access_key="user"), "second")
    assert store.secret(replaced) == "second"
    removed = store.update(replaced, hub(), "")
    assert not removed.has_secret and store.secret(removed) == ""
    assert "second" not in repr(store.get(created.registry_id))


def test_status_and_delete(store):
    created = store.create(hub(), "secret")
    store.set_status(created.registry_id, "healthy")
    assert store.get(created.registry_id).status == "healthy"
    store.delete(created)
    assert store.get(created.registry_id) is None and store.list() == []
    store.set_status(created.registry_id, "unhealthy")  # gone: nothing happens
    assert store.get(created.registry_id) is None
    with pytest.raises(KeyError):
        store.update(created, hub(), None)
    assert store.secret(created) == ""  # its secret went with it
