"""Section 4: does a page cost the same at 100 and at 10,000 tags, at 10 and 1,000 repositories?

Two deployments on in-process moto, a small and a large one. Repositories are
``p<k>/app<i>``, ten per project (so 1 project at 10 repositories, 100 at 1,000); the
first, ``p000/app00``, holds all the tags. Items are written directly with BatchWriteItem
in the shape ``DynamoRegistryMeta.put_manifest`` writes (manifest item, tag item with the
manifest copy, catalog entry): setting up 10,000 tags through the API would take minutes.
Each page is then requested through the Chalice handler, warm, and measured: AWS calls,
DynamoDB items read, and time (moto in-process: indicative only, see the note).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from bench.inproc import InProcessRegistry, Tally, bearer
from bench.util import log, median

TAG_REPO = "p000/app00"
DEV_USER, DEV_PASSWORD = "dev", "BenchDev1pass"


@dataclass
class Measure:
    setup: str
    page: str
    tally: Tally
    seconds: float
    returned: int


def sizes(quick: bool) -> list[tuple[int, int]]:
    """(tags in the tag repository, repositories) of the small and the large deployment."""
    return [(100, 10), (1_000 if quick else 10_000, 100 if quick else 1_000)]


def run(quick: bool = False, repeats: int = 5) -> dict:
    out: list[Measure] = []
    for stage, (tags, repos) in zip(("scalesmall", "scalelarge"), sizes(quick)):
        log(f"scale: {tags} tags, {repos} repositories")
        with InProcessRegistry(stage=stage) as reg:
            started = time.perf_counter()
            _populate(reg, tags, repos)
            log(f"scale: wrote the items in {time.perf_counter() - started:.1f} s")
            label = f"{tags:,} tags / {repos:,} repos"
            out += _measure(reg, label, tags, repeats)
    return {"measures": out, "sizes": sizes(quick)}


def _populate(reg: InProcessRegistry, tags: int, repos: int) -> None:
    from chalicelib.auth.passwords import hash_password
    from chalicelib.meta import keys
    from chalicelib.meta.accounts import Member, Project, User
    from chalicelib.meta.registry import ManifestRecord
    from chalicelib.meta.table import marshal
    from chalicelib.roles import Role

    svc = reg.setup_services()
    projects = sorted({_repo(i).split("/")[0] for i in range(repos)})
    for project in projects:
        svc.accounts.create_project(Project(name=project, public=False, owner="admin"))
    svc.accounts.create_user(User(username=DEV_USER, password_hash=hash_password(DEV_PASSWORD)))
    svc.accounts.add_member(projects[0], Member("u", DEV_USER, int(Role.DEVELOPER)))

    now = int(time.time())
    items = []

    def manifest(name: str, tag: str) -> None:
        body = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + hashlib.sha256(f"{name}:{tag}".encode()).hexdigest(), "size": 2},
            "layers": [],
        }, indent=2).encode()
        record = ManifestRecord(digest="sha256:" + hashlib.sha256(body).hexdigest(),
                                media_type="application/vnd.oci.image.manifest.v1+json", size=len(body), body=body,
                                blobs=[], created=now)
        items.append(record.to_item(name))
        items.append({"PK": keys.repo_pk(name), "SK": keys.tag_sk(tag), "tag": tag, "digest": record.digest,
                      "media_type": record.media_type, "nbytes": record.size, "body": record.body, "updated": now})

    for i in range(repos):
        name = _repo(i)
        items.append({"PK": keys.CATALOG_PK, "SK": name, "created": now})
        if name != TAG_REPO:
            manifest(name, "1")
    for t in range(tags):
        manifest(TAG_REPO, _tag(t))

    client = svc.dynamodb
    table = svc.settings.table_name
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": marshal(item)}} for item in items[start:start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def _repo(i: int) -> str:
    return f"p{i // 10:03d}/app{i % 10:02d}"


def _tag(t: int) -> str:
    return f"t{t:05d}"


def _measure(reg: InProcessRegistry, label: str, tags: int, repeats: int) -> list[Measure]:
    pull = bearer(reg.token(f"repository:{TAG_REPO}:pull"))
    admin_catalog = bearer(reg.token("registry:catalog:*"))
    dev_catalog = bearer(reg.token("registry:catalog:*", username=DEV_USER, password=DEV_PASSWORD))
    middle = _tag(tags // 2)
    pages = [
        ("tag list, first page (n=100)", f"/v2/{TAG_REPO}/tags/list?n=100", pull, "tags"),
        ("tag list, a middle page (n=100&last=…)", f"/v2/{TAG_REPO}/tags/list?n=100&last={middle}", pull, "tags"),
        ("catalog, first page (n=100), admin", "/v2/_catalog?n=100", admin_catalog, "repositories"),
        ("catalog, first page (n=100), developer of one project", "/v2/_catalog?n=100", dev_catalog, "repositories"),
        ("manifest GET by tag", f"/v2/{TAG_REPO}/manifests/{middle}", pull, None),
    ]
    out = []
    for page, url, headers, field in pages:
        # warm already: the token requests above ran in this container (secrets, configuration)
        times, tally, returned = [], None, 0
        for _ in range(repeats):
            if times and times[-1] > 2.0:  # moto's slow pages: one sample is enough
                break
            with reg.counter.measure() as t:
                started = time.perf_counter()
                reply = reg.request("GET", url, headers=headers)
                times.append(time.perf_counter() - started)
            if reply.status != 200:
                raise RuntimeError(f"{url}: {reply.status} {reply.body[:200]!r}")
            tally = t
            returned = len(reply.json()[field]) if field else 1
        out.append(Measure(label, page, tally, median(times), returned))
    return out


def render(result: dict) -> str:
    small, large = (f"{t:,} tags / {r:,} repos" for t, r in result["sizes"])
    by = {(m.setup, m.page): m for m in result["measures"]}
    pages = list(dict.fromkeys(m.page for m in result["measures"]))
    lines = [
        (f"| page | returned | calls: {small} | calls: {large} | items read: small | items read: large "
        "| time (moto): small | time (moto): large | AWS calls (large) |"),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for page in pages:
        a, b = by[(small, page)], by[(large, page)]
        lines.append(
            f"| {page} | {a.returned} / {b.returned} | {a.tally.total} | {b.tally.total} | {a.tally.items_read} "
            f"| {b.tally.items_read} | {a.seconds * 1000:.1f} ms | {b.seconds * 1000:.1f} ms | {b.tally.describe()} |"
        )
    return "\n".join(lines)


def verdicts(result: dict) -> dict[str, bool]:
    """page -> whether the large deployment's page costs what the small one's does: the same
    calls, and items read within the page's bound: n + 1 = 101 (or the small page's count),
    plus the reads beside the page that the small page made too (the caller's user item,
    say)."""
    small, large = (f"{t:,} tags / {r:,} repos" for t, r in result["sizes"])
    by = {(m.setup, m.page): m for m in result["measures"]}
    out = {}
    for page in dict.fromkeys(m.page for m in result["measures"]):
        a, b = by[(small, page)], by[(large, page)]
        beside_the_page = max(0, a.tally.items_read - a.returned)
        bound = max(a.tally.items_read, 101 + beside_the_page)
        out[page] = a.tally.total == b.tally.total and b.tally.items_read <= bound
    return out
