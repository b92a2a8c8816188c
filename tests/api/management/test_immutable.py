"""/projects/{p}/immutabletagrules, and what a rule refuses on every path: a push that
would move the tag and a delete through /v2 (DENIED, the OCI error body); a tag or
artifact delete and a copy onto the tag through the management API (Harbor's 412)."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, assert_error, descriptor, digest, encode, with_query
from tests.api.management.conftest import ADMIN_PASSWORD, basic, codes


class Registry:
    """/v2 as a client with a token for one repository (push, pull, delete)."""

    def __init__(self, world, name: str, user: str = "admin", password: str = ADMIN_PASSWORD):
        self.api, self.name = world.api, name
        reply = world.api.get(
            "/v2/service/token?" + urlencode({"service": "berth-registry", "scope": f"repository:{name}:pull,push,delete"}),
            headers={"Authorization": basic(user, password)},
        )
        self.auth = {"Authorization": "Bearer " + reply.json()["token"]}

    def blob(self, data: bytes) -> None:
        reply = self.api.post(
            with_query(f"/v2/{self.name}/blobs/uploads/", digest=digest(data)),
            data,
            headers={**self.auth, "Content-Type": "application/octet-stream"},
        )
        assert reply.status == 201, reply.body

    def image(self, seed: str) -> bytes:
        config, layer = encode({"seed": seed}), f"layer of {seed}".encode() * 20
        self.blob(config)
        self.blob(layer)
        return encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": [descriptor(OCI_LAYER, layer)]})

    def put(self, reference: str, body: bytes):
        return self.api.put(f"/v2/{self.name}/manifests/{reference}", body, headers={**self.auth, "Content-Type": OCI_MANIFEST})

    def delete(self, reference: str):
        return self.api.delete(f"/v2/{self.name}/manifests/{reference}", headers=self.auth)

    def tag_digest(self, tag: str) -> str | None:
        reply = self.api.head(f"/v2/{self.name}/manifests/{tag}", headers=self.auth)
        return reply.headers.get("docker-content-digest") if reply.status == 200 else None


def rule_body(tag: str = "**", repository: str = "**", **extra) -> dict:
    return {
        "disabled": False,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tag}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repository}]},
        **extra,
    }


@pytest.fixture
def proj(world):
    name = world.name("imm")
    world.project(name)
    return name


def add_rule(harbor, project: str, **kw) -> int:
    reply = harbor.post(f"/projects/{project}/immutabletagrules", rule_body(**kw), headers={"X-Is-Resource-Name": "true"})
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def rules_path(project: str) -> str:
    return f"/projects/{project}/immutabletagrules"


def test_rules_are_managed_by_project_admins(world, admin, proj):
    rule_id = add_rule(admin, proj, tag="release-*")
    listed = admin.get(rules_path(proj))
    assert listed.status == 200 and listed.headers["x-total-count"] == "1"
    (rule,) = listed.json()
    assert rule["id"] == rule_id and rule["tag_selectors"][0]["pattern"] == "release-*"
    assert rule["template"] == "immutable_template" and rule["action"] == "immutable" and rule["disabled"] is False
    maintainer, developer = world.user(), world.user()
    world.member(proj, maintainer.username, 4)
    world.member(proj, developer.username, 2)
    assert world.as_(maintainer.username).get(rules_path(proj)).status == 200
    assert world.as_(maintainer.username).post(rules_path(proj), rule_body()).status in (403, 404)
    assert world.as_(developer.username).get(rules_path(proj)).status == 403
    # disable, then delete
    assert admin.put(f"{rules_path(proj)}/{rule_id}", {**rule, "disabled": True}).status == 200
    assert admin.get(rules_path(proj)).json()[0]["disabled"] is True
    assert admin.put(f"{rules_path(proj)}/{rule_id}", {**rule, "id": rule_id + 1}).status == 400
    assert admin.delete(f"{rules_path(proj)}/{rule_id}").status == 200
    assert admin.delete(f"{rules_path(proj)}/{rule_id}").status == 404
    assert admin.get(rules_path(proj)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        rule_body(tag="{v1,v2"),
        rule_body(tag=""),
        rule_body(repository="[a-"),
        {**rule_body(), "template": "always"},
        {**rule_body(), "tag_selectors": [{"kind": "regex", "decoration": "matches", "pattern": "x"}]},
        {**rule_body(), "scope_selectors": {"namespace": []}},
        {**rule_body(), "unknown": 1},
    ],
)
def test_bad_rules_are_400(admin, proj, body):
    reply = admin.post(rules_path(proj), body)
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"], reply.body
    assert admin.get(rules_path(proj)).json() == []


def test_a_protected_tag_is_neither_moved_nor_deleted_through_v2(world, admin, proj):
    registry = Registry(world, f"{proj}/app")
    first, second = registry.image("first"), registry.image("second")
    add_rule(admin, proj, tag="release-*")
    assert registry.put("release-1", first).status == 201  # creating it is fine
    assert registry.put("release-1", first).status == 201  # and so is the same manifest again
    moved = registry.put("release-1", second)
    assert_error(moved, 403, "DENIED")
    assert "configured as immutable" in moved.json()["errors"][0]["message"]
    assert registry.tag_digest("release-1") == digest(first)
    assert_error(registry.delete("release-1"), 403, "DENIED")
    assert_error(registry.delete(digest(first)), 403, "DENIED")  # the manifest holds the tag
    assert registry.tag_digest("release-1") == digest(first)
    # what no rule protects moves and goes as before
    assert registry.put("dev", first).status == 201
    assert registry.put("dev", second).status == 201
    assert registry.delete("dev").status == 202


def test_a_protected_tag_is_neither_moved_nor_deleted_through_the_management_api(world, admin, proj):
    registry = Registry(world, f"{proj}/svc")
    first, second = registry.image("one"), registry.image("two")
    assert registry.put("v1", first).status == 201
    assert registry.put("other", second).status == 201
    add_rule(admin, proj, tag="v*")
    art = f"/projects/{proj}/repositories/svc/artifacts"
    tags = {t["name"]: t["immutable"] for a in admin.get(art).json() for t in a["tags"]}
    assert tags == {"v1": True, "other": False}
    refused = admin.delete(f"{art}/v1/tags/v1")
    assert refused.status == 412 and codes(refused) == ["PRECONDITION"]
    assert "configured as immutable" in refused.json()["errors"][0]["message"]
    assert admin.delete(f"{art}/{digest(first)}").status == 412
    # a copy onto the protected tag would move it
    copied = admin.post(f"/projects/{proj}/repositories/svc/artifacts?from={proj}/svc:other")
    assert copied.status == 201  # by digest, no tag: fine
    onto = Registry(world, f"{proj}/svc")
    assert onto.tag_digest("v1") == digest(first)
    # once the rule is off, all of it works again
    rule = admin.get(rules_path(proj)).json()[0]
    assert admin.put(f"{rules_path(proj)}/{rule['id']}", {**rule, "disabled": True}).status == 200
    assert admin.delete(f"{art}/v1/tags/v1").status == 200


def test_a_copy_onto_a_protected_tag_is_refused(world, admin, proj):
    source = Registry(world, f"{proj}/src")
    target = Registry(world, f"{proj}/dst")
    a, b = source.image("a"), target.image("b")
    assert source.put("v1", a).status == 201
    assert target.put("v1", b).status == 201
    add_rule(admin, proj, tag="v1", repository="dst")
    refused = admin.post(f"/projects/{proj}/repositories/dst/artifacts?from={proj}/src:v1")
    assert refused.status == 412 and codes(refused) == ["PRECONDITION"]
    assert target.tag_digest("v1") == digest(b)
    # into a repository the rule does not select, the copy goes through
    assert admin.post(f"/projects/{proj}/repositories/elsewhere/artifacts?from={proj}/src:v1").status == 201


def test_a_deleted_projects_rules_go_with_it(world, admin):
    name = world.name("immgone")
    world.project(name)
    add_rule(admin, name)
    assert admin.delete(f"/projects/{name}", headers={"X-Is-Resource-Name": "true"}).status == 200
    world.project(name)
    assert admin.get(rules_path(name), headers={"X-Is-Resource-Name": "true"}).json() == []


def test_a_project_made_again_under_the_name_starts_without_the_old_rules_or_quota(world, admin):
    name = world.name("again")
    assert admin.post("/projects", {"project_name": name, "storage_limit": 1000}).status == 201
    add_rule(admin, name, tag="release-*")
    assert admin.delete(f"/projects/{name}").status == 200
    # its rules and quota went in the project's own transaction (docs/lifecycle.md)
    from chalicelib.meta.immutable_rules import rules_key
    from chalicelib.meta.quotas import quota_key

    assert world.svc.table.get(*rules_key(name)) is None and world.svc.table.get(*quota_key(name)) is None
    assert admin.post("/projects", {"project_name": name}).status == 201
    assert admin.get(rules_path(name)).json() == []
    pid = world.svc.accounts.get_project(name).project_id
    assert admin.get(f"/quotas/{pid}").json()["hard"] == {"storage": -1}
