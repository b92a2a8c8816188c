"""/projects/{p}/repositories and .../artifacts: list, get, delete, tags, copy;
nested names percent-encoded once or twice."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import codes
from tests.api.management.images import image_size

ARTIFACT_KEYS = {
    "id", "repository_id", "type", "media_type", "manifest_media_type", "project_id", "repository_name", "digest", "size", "push_time",
    "pull_time", "extra_attrs", "annotations", "references", "tags",
}


@pytest.fixture
def proj(world):
    name = world.name("rp")
    world.project(name)
    return name


def repo_path(project: str, repository: str) -> str:
    return f"/projects/{project}/repositories/{repository}"


# -- repositories --------------------------------------------------------------------------------
def test_list_repositories_of_a_project_only(world, admin, proj):
    world.push(f"{proj}/app")
    world.push(f"{proj}/tools/cli")
    world.push(f"{proj}/app", "v2", seed="second")
    world.push(f"{proj}x/elsewhere")
    reply = admin.get(f"/projects/{proj}/repositories")
    assert reply.status == 200
    body = reply.json()
    assert [r["name"] for r in body] == [f"{proj}/app", f"{proj}/tools/cli"]
    app = body[0]
    assert app["artifact_count"] == 2 and app["pull_count"] == 0
    assert app["project_id"] == world.svc.accounts.get_project(proj).project_id
    assert app["creation_time"].endswith("Z") and app["update_time"] >= app["creation_time"]
    assert reply.headers["x-total-count"] == "2"
    assert [r["name"] for r in admin.get(f"/projects/{proj}/repositories?q=name%3D~tools").json()] == [f"{proj}/tools/cli"]
    assert admin.get(f"/projects/{proj}/repositories?page=3").json() == []


def test_get_repository_with_a_nested_name_encoded_once_or_twice(world, admin, proj):
    world.push(f"{proj}/a/b")
    for encoded in ("a%2Fb", "a%252Fb", "a/b"):
        reply = admin.get(repo_path(proj, encoded))
        assert reply.status == 200, encoded
        assert reply.json()["name"] == f"{proj}/a/b"
    assert admin.get(repo_path(proj, "nothing")).status == 404
    assert admin.get(repo_path(proj, "UPPER")).status == 400
    assert admin.get(repo_path("nosuchproject", "a")).status == 404


def test_private_repositories_need_a_role(world, proj):
    world.push(f"{proj}/secret")
    outsider, guest = world.user(), world.user()
    world.member(proj, guest.username, 3)
    # who may learn what: as if the project did not exist
    assert world.as_(outsider.username).get(f"/projects/{proj}/repositories").status == 404
    assert world.as_(outsider.username).get(repo_path(proj, "secret")).status == 404
    assert world.as_(guest.username).get(repo_path(proj, "secret")).status == 200
    assert world.as_(guest.username).delete(repo_path(proj, "secret")).status == 403


def test_public_projects_are_readable_by_any_user(world):
    name = world.name("pubrepo")
    world.project(name, public=True)
    world.push(f"{name}/open")
    user = world.user()
    assert world.as_(user.username).get(f"/projects/{name}/repositories").status == 200
    assert world.as_(user.username).get(f"{repo_path(name, 'open')}/artifacts").status == 200
    assert world.as_(user.username).delete(repo_path(name, "open")).status == 403


def test_delete_repository(world, admin, proj):
    world.push(f"{proj}/x/doomed")
    maintainer = world.user()
    world.member(proj, maintainer.username, 4)
    assert world.as_(maintainer.username).delete(repo_path(proj, "x%252Fdoomed")).status == 200
    assert admin.get(repo_path(proj, "x%2Fdoomed")).status == 404
    assert world.svc.meta.list_manifests(f"{proj}/x/doomed") == []
    assert world.svc.meta.tag_digests(f"{proj}/x/doomed") == []
    assert admin.delete(repo_path(proj, "x%2Fdoomed")).status == 404
    # the registry no longer lists or serves it
    assert f"{proj}/x/doomed" not in world.svc.meta.list_repositories(last=None, limit=1000)[0]


# -- artifacts -------------------------------------------------------------------------------------
def test_list_artifacts_with_tags_size_and_times(world, admin, proj):
    first = world.push(f"{proj}/img", "v1", seed="one", layers=2)
    world.svc.meta.create_tag(f"{proj}/img", "stable", world.svc.meta.get_manifest(f"{proj}/img", first), int(world.svc.clock()))
    world.push(f"{proj}/img", None, seed="untagged")
    reply = admin.get(f"{repo_path(proj, 'img')}/artifacts")
    assert reply.status == 200
    body = reply.json()
    assert reply.headers["x-total-count"] == "2"
    tagged = next(a for a in body if a["digest"] == first)
    assert set(tagged) == ARTIFACT_KEYS
    assert tagged["type"] == "IMAGE"
    assert tagged["media_type"] == "application/vnd.oci.image.config.v1+json"
    assert tagged["manifest_media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert tagged["size"] == image_size(world.svc, f"{proj}/img", first)
    assert [t["name"] for t in tagged["tags"]] == ["stable", "v1"]
    assert tagged["pull_time"] == "0001-01-01T00:00:00.000Z"
    assert tagged["references"] == []
    untagged = next(a for a in body if a["digest"] != first)
    assert untagged["tags"] == []
    # Harbor's integer ids: stable, distinct, exact in JSON, tied together
    assert all(isinstance(t["id"], int) and 0 < t["id"] < 2**53 for t in tagged["tags"])
    assert len({tagged["id"], untagged["id"], *(t["id"] for t in tagged["tags"])}) == 4
    assert {t["artifact_id"] for t in tagged["tags"]} == {tagged["id"]}
    assert {t["repository_id"] for t in tagged["tags"]} == {tagged["repository_id"], untagged["repository_id"]}
    assert admin.get(f"{repo_path(proj, 'img')}/artifacts").json()[0]["repository_id"] == tagged["repository_id"]
    only_tagged = admin.get(f"{repo_path(proj, 'img')}/artifacts?q=tags%3D*").json()
    assert [a["digest"] for a in only_tagged] == [first]
    assert [a["digest"] for a in admin.get(f"{repo_path(proj, 'img')}/artifacts?q=tags%3Dnil").json()] == [untagged["digest"]]
    assert [a["digest"] for a in admin.get(f"{repo_path(proj, 'img')}/artifacts?q=tags%3D~stab").json()] == [first]
    assert [a["digest"] for a in admin.get(f"{repo_path(proj, 'img')}/artifacts?q=tags%3Dv1").json()] == [first]
    no_tags = admin.get(f"{repo_path(proj, 'img')}/artifacts?with_tag=false").json()
    assert all("tags" not in a for a in no_tags)


def test_an_index_lists_its_children_as_references(world, admin, proj):
    name = f"{proj}/multi"
    amd, arm = world.push(name, None, seed="amd64"), world.push(name, None, seed="arm64")
    index = world.push_index(name, "latest", [amd, arm])
    body = admin.get(f"{repo_path(proj, 'multi')}/artifacts").json()
    assert [a["digest"] for a in body] == [index]  # untagged children appear under the index
    artifact = body[0]
    assert artifact["media_type"] == artifact["manifest_media_type"] == "application/vnd.oci.image.index.v1+json"
    assert [r["child_digest"] for r in artifact["references"]] == [amd, arm]
    assert artifact["references"][1]["platform"] == {"architecture": "arm64", "os": "linux"}
    index_size = world.svc.meta.get_manifest(name, index).size
    assert artifact["size"] == index_size + image_size(world.svc, name, amd) + image_size(world.svc, name, arm)
    assert admin.get(repo_path(proj, "multi")).json()["artifact_count"] == 1
    # a child cannot go while the index needs it
    reply = admin.delete(f"{repo_path(proj, 'multi')}/artifacts/{amd}")
    assert reply.status == 412 and codes(reply) == ["PRECONDITION"]
    assert admin.delete(f"{repo_path(proj, 'multi')}/artifacts/latest").status == 200
    assert admin.delete(f"{repo_path(proj, 'multi')}/artifacts/{amd}").status == 200


def test_get_artifact_by_tag_or_digest(world, admin, proj):
    digest = world.push(f"{proj}/one", "v1")
    by_tag = admin.get(f"{repo_path(proj, 'one')}/artifacts/v1")
    by_digest = admin.get(f"{repo_path(proj, 'one')}/artifacts/{digest}")
    encoded = admin.get(f"{repo_path(proj, 'one')}/artifacts/{digest.replace(':', '%3A')}")
    assert by_tag.status == by_digest.status == encoded.status == 200
    assert by_tag.json() == by_digest.json() == encoded.json()
    assert by_tag.json()["digest"] == digest
    assert admin.get(f"{repo_path(proj, 'one')}/artifacts/nope").status == 404
    assert admin.get(f"{repo_path(proj, 'one')}/artifacts/sha256:{'0' * 64}").status == 404
    assert admin.get(f"{repo_path(proj, 'one')}/artifacts/sha256:short").status == 400
    assert admin.get(f"{repo_path(proj, 'one')}/artifacts/bad%20tag").status == 400


def test_delete_artifact_removes_its_tags(world, admin, proj):
    digest = world.push(f"{proj}/del", "v1")
    developer = world.user()
    world.member(proj, developer.username, 2)
    assert world.as_(developer.username).delete(f"{repo_path(proj, 'del')}/artifacts/v1").status == 403
    assert admin.delete(f"{repo_path(proj, 'del')}/artifacts/v1").status == 200
    assert world.svc.meta.get_manifest(f"{proj}/del", digest) is None
    assert world.svc.meta.get_tag(f"{proj}/del", "v1") is None
    assert admin.delete(f"{repo_path(proj, 'del')}/artifacts/{digest}").status == 404


# -- tags -------------------------------------------------------------------------------------------
def test_create_list_and_delete_tags(world, admin, proj):
    digest = world.push(f"{proj}/tg", "v1")
    base = f"{repo_path(proj, 'tg')}/artifacts/{digest}/tags"
    developer = world.user()
    world.member(proj, developer.username, 2)
    created = world.as_(developer.username).post(base, {"name": "release"})
    assert created.status == 201
    assert created.headers["location"].endswith(f"/artifacts/{digest}/tags/release")
    assert world.svc.meta.get_tag(f"{proj}/tg", "release").digest == digest
    listed = admin.get(base)
    assert [t["name"] for t in listed.json()] == ["release", "v1"]
    assert listed.headers["x-total-count"] == "2"
    duplicate = admin.post(base, {"name": "v1"})
    assert duplicate.status == 409 and codes(duplicate) == ["CONFLICT"]
    for bad in ({"name": "bad tag"}, {"name": ""}, {"name": "x" * 129}, {}, {"name": 1}, {"name": "ok", "extra": 1}):
        assert admin.post(base, bad).status == 400, bad
    assert world.as_(developer.username).delete(f"{base}/release").status == 403
    assert admin.delete(f"{base}/release").status == 200
    assert world.svc.meta.get_tag(f"{proj}/tg", "release") is None
    assert admin.delete(f"{base}/release").status == 404
    # a tag of another artifact is not this one's to delete
    other = world.push(f"{proj}/tg", "v2", seed="other")
    assert admin.delete(f"{repo_path(proj, 'tg')}/artifacts/{other}/tags/v1").status == 404


def test_a_new_tag_can_be_pulled(world, admin, proj):
    digest = world.push(f"{proj}/pullme", "v1")
    admin.post(f"{repo_path(proj, 'pullme')}/artifacts/v1/tags", {"name": "v1.0"})
    tag = world.svc.meta.get_tag(f"{proj}/pullme", "v1.0")
    assert tag.digest == digest and tag.body == world.svc.meta.get_manifest(f"{proj}/pullme", digest).body


# -- copy --------------------------------------------------------------------------------------------
def test_copy_by_tag_links_blobs_and_keeps_the_tag(world, admin, proj):
    target = world.name("dst")
    world.project(target)
    digest = world.push(f"{proj}/src/app", "v1", layers=2)
    reply = admin.post(f"/projects/{target}/repositories/copied%2Fapp/artifacts?from={proj}/src/app:v1")
    assert reply.status == 201, reply.body
    assert reply.headers["location"] == f"/api/v2.0/projects/{target}/repositories/copied%252Fapp/artifacts/{digest}"
    copied = world.svc.meta.get_manifest(f"{target}/copied/app", digest)
    assert copied is not None
    assert world.svc.meta.get_tag(f"{target}/copied/app", "v1").digest == digest
    assert world.svc.meta.missing_references(f"{target}/copied/app", copied.blobs, []) == []
    assert admin.get(repo_path(target, "copied%2Fapp")).json()["artifact_count"] == 1


def test_copy_by_digest_and_an_index_with_its_children(world, admin, proj):
    name = f"{proj}/idx"
    amd, arm = world.push(name, None, seed="c-amd"), world.push(name, None, seed="c-arm")
    index = world.push_index(name, "multi", [amd, arm])
    reply = admin.post(f"/projects/{proj}/repositories/copy/artifacts?from={name}@{index}")
    assert reply.status == 201
    for d in (index, amd, arm):
        assert world.svc.meta.get_manifest(f"{proj}/copy", d) is not None
    assert world.svc.meta.tag_digests(f"{proj}/copy") == []


def test_copy_checks_both_sides(world, proj):
    source = world.name("cs")
    world.project(source)
    world.push(f"{source}/app", "v1")
    developer = world.user()
    world.member(proj, developer.username, 2)
    harbor = world.as_(developer.username)
    # may push into proj, may not pull from source
    assert harbor.post(f"/projects/{proj}/repositories/x/artifacts?from={source}/app:v1").status == 403
    world.member(source, developer.username, 3)
    assert harbor.post(f"/projects/{proj}/repositories/x/artifacts?from={source}/app:v1").status == 201
    guest = world.user()
    world.member(proj, guest.username, 3)
    assert world.as_(guest.username).post(f"/projects/{proj}/repositories/y/artifacts?from={source}/app:v1").status == 403


@pytest.mark.parametrize(
    "query, status",
    [
        ("", 400),
        ("?from=", 400),
        ("?from=noproject:v1", 400),
        ("?from=a/b", 400),
        ("?from=a/b:bad%20tag", 400),
        ("?from=a/b@sha256:short", 400),
        ("?from=nosuchproject/app:v1", 404),
        ("?from=PROJ/missing:v1", 404),
        ("?from=PROJ/app:nosuchtag", 404),
    ],
)
def test_bad_copies(world, admin, proj, query, status):
    world.push(f"{proj}/app", "v1")
    reply = admin.post(f"/projects/{proj}/repositories/dest/artifacts{query.replace('PROJ', proj)}")
    assert reply.status == status, (query, reply.body)


def test_copy_into_a_missing_project_or_bad_name(world, admin, proj):
    world.push(f"{proj}/app", "v1")
    assert admin.post(f"/projects/nosuchproject/repositories/x/artifacts?from={proj}/app:v1").status == 404
    assert admin.post(f"/projects/{proj}/repositories/Bad/artifacts?from={proj}/app:v1").status == 400


def test_robots_act_within_their_permissions(world, proj):
    world.push(f"{proj}/bot", "v1")
    pull = [{"kind": "project", "namespace": proj, "access": [{"resource": "repository", "action": "pull"}]}]
    world.robot("reader", pull, project=proj)
    reader = world.as_(f"robot${proj}+reader")
    assert reader.get(f"{repo_path(proj, 'bot')}/artifacts").status == 200
    assert reader.delete(f"{repo_path(proj, 'bot')}/artifacts/v1").status == 403
    other = world.name("o")
    world.project(other)
    assert reader.get(f"/projects/{other}/repositories").status == 404  # who may learn what: as if it did not exist
