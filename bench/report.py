"""docs/benchmarks.md: how to run, the commands, the machine, every table, the targets.

The notes under each table are written from the measured numbers, so they stay true when
the code (and with it the numbers) changes; a target's note says why it is missed and
what would reach it.
"""
from __future__ import annotations

import time

from bench import env as env_section
from bench.util import fmt_ms, fmt_s

TARGETS = {
    "throughput": ("Push plus pull: the 50 MB image at most 0.5 × the CNCF registry on the same moto S3 and 1.5 × "
                   "the CNCF registry on local disk; 30 small layers at most 2 × local disk"),
    "calls": "Pull by tag of an N-layer image: at most N + 3 AWS calls, the token included",
    "coldstart": "Cold start (import + first request): at most 1.2 × the floor (import boto3 + chalice, create the clients)",
    "scale": "A page costs the same at 100 and at 10,000 tags, and at 10 and at 1,000 repositories",
    "lists": "A management list's page (users, projects, robots, members, repositories, audit log) costs the same at 100 and at 10,000 entries",
    "concurrency": "16 parallel pulls and 4 parallel pushes against the local stack, no error",
    "replication": "A 500-artifact replication run succeeds, each artifact a child execution of its Distributed Map (the run's own history stays small)",
}


def render(results: dict) -> str:
    args = results["args"]
    parts = [HEADER.format(when=time.strftime("%Y-%m-%d %H:%M %Z"), mode="quick (smoke)" if args.quick else "full",
                           total=fmt_s(results["durations"]["total"]), sections=", ".join(args.sections),
                           runs=args.runs)]
    parts += [HOW_TO_RUN, "## Machine", "", env_section.render(results["env"]), ""]
    parts += ["## Targets", "", _targets_table(results), ""]
    parts += [RENDERERS[section](results[section], results) + "\n" for section in RENDERERS if section in results]
    findings = _findings(results)
    if findings:
        parts += ["## What looked slow or wasteful", "", findings, ""]
    return "\n".join(parts).rstrip() + "\n"


def verdicts(results: dict) -> dict[str, tuple[bool, str]]:
    """section -> (met?, measured value in words)."""
    out: dict[str, tuple[bool, str]] = {}
    if "throughput" in results:
        from bench import throughput

        checks = throughput.targets(results["throughput"])
        out["throughput"] = (all(met for *_, met in checks),
                             "; ".join(f"{what.split(':')[0]} vs {'S3 peer' if 'S3' in what else 'disk'} {r:.2f} ×"
                                       f" (≤ {limit})" for what, r, limit, _ in checks))
    if "calls" in results:
        from bench import calls

        rows = calls.pull_rows(results["calls"])
        ok = all(row.warm.total <= row.minimum for row in rows)
        words = "; ".join(f"{row.operation.split(' (')[0].replace('pull by tag of a ', '')}: {row.warm.total} warm "
                          f"(N + 3 = {row.minimum}), {row.cold.total if row.cold else '-'} in a cold container"
                          for row in rows)
        out["calls"] = (ok, words)
    if "coldstart" in results:
        from bench import coldstart

        t, m = coldstart.target_ratio(results["coldstart"])
        out["coldstart"] = (t <= 1.2, f"time {t:.2f} × (peak RSS {m:.2f} ×)")
    if "scale" in results:
        from bench import scale

        v = scale.verdicts(results["scale"])
        tags_ok = all(ok for page, ok in v.items() if page.startswith("tag list"))
        catalog_ok = all(ok for page, ok in v.items() if page.startswith("catalog"))
        out["scale"] = (tags_ok and catalog_ok, (f"tag list page: {'constant' if tags_ok else 'grows'}; "
                                                f"catalog page: {'constant' if catalog_ok else 'grows'}"))
    if "lists" in results:
        from bench import lists

        same = lists.same_cost(results["lists"]["small"], results["lists"]["large"])
        grew = [page for page, ok in same.items() if not ok]
        out["lists"] = (not grew, "constant: every page" if not grew else f"grows: {', '.join(grew)}")
    if "replication" in results:
        from bench import replication

        out["replication"] = replication.verdict(results["replication"])
    if "concurrency" in results:
        from bench import concurrency

        errors = concurrency.berth_errors(results["concurrency"])
        out["concurrency"] = (not errors, f"{len(errors)} errors")
    return out


def _targets_table(results: dict) -> str:
    lines = ["| target | measured | met |", "| --- | --- | --- |"]
    for section, (ok, words) in verdicts(results).items():
        lines.append(f"| {TARGETS[section]} | {words} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines)


def summary(results: dict) -> str:
    lines = ["", "Targets:"]
    for section, (ok, words) in verdicts(results).items():
        lines.append(f"  {'met   ' if ok else 'MISSED'} {section}: {words}")
    return "\n".join(lines)


# -- sections -------------------------------------------------------------------------
def _aws(data: dict, *names: str) -> tuple[int, float]:
    calls = sum(data["aws"].get(n, {}).get("calls", 0) for n in names)
    return calls, sum(data["aws"].get(n, {}).get("seconds", 0.0) for n in names)


def _throughput(result: dict, results: dict) -> str:
    from bench import throughput as tp

    out = ["## 1. Throughput: Berth, the CNCF registry on the same moto S3, the CNCF registry on disk", "",
           THROUGHPUT_METHOD, "", tp.render(result), ""]
    b = result["breakdown"]
    big_push, small_push = b.get((tp.BIG, "push")), b.get((tp.SMALL, "push"))
    out += ["### Where Berth's time goes", "", BREAKDOWN_METHOD, "", tp.render_breakdown(result), ""]
    if not (big_push and small_push):
        return "\n".join(out)
    handler = sum(v["seconds"] for v in big_push["requests"].values())
    aws = sum(v["seconds"] for v in big_push["aws"].values())
    n_put, put = _aws(big_push, "s3.PutObject")
    n_copy, _ = _aws(big_push, "s3.CopyObject", "s3.UploadPartCopy", "s3.GetObject")
    small_calls = sum(v["calls"] for v in small_push["aws"].values())
    small_aws = sum(v["seconds"] for v in small_push["aws"].values())
    per_call = small_aws / small_calls if small_calls else 0
    big_bytes = result["image_bytes"].get(tp.BIG, 0)
    out += [
        "Notes, from the numbers above:",
        "",
        (f"- Each layer's bytes are written to S3 once: the 50 MB push made {n_put} PutObject calls "
         f"({fmt_s(put)}) and {n_copy} copies or read-backs. Of the push's {fmt_s(big_push['wall'])}, "
         f"{fmt_s(handler)} is inside Berth's handlers and {fmt_s(aws)} of that in AWS (moto) calls; moto "
         f"takes the {big_bytes / 1e6:.0f} MB into a Python process, as it does for the S3 peer."),
        (f"- The 30-layer push made {small_calls} AWS calls, {fmt_ms(per_call)} each on average "
         f"({fmt_s(small_aws)} in all): every call is an HTTP request into moto, which shares this machine's "
         "cores with the registry, skopeo and the peers."),
        ("- The pull answers each blob GET with a 307 to a presigned URL: the bytes come from moto's S3, a "
         "Python HTTP server, where the disk registry serves them from Go."),
    ]
    missed = [(what, r, limit) for what, r, limit, met in tp.targets(result) if not met]
    if missed:
        out += ["", "What stands in the way of the missed targets (measured):", ""]
        for what, r, limit in missed:
            out.append(f"- {what}: {r:.2f} × against ≤ {limit}.")
        out += [
            "",
            ("The calls per push are at the minimum (section 2) and no byte is written twice, so what remains is "
             "the local stack itself: moto's S3 and DynamoDB, the API gateway and the upload host run in one "
             "Python process (one interpreter lock), and layer bytes cross two Python HTTP servers (upload host, "
             "then moto) where the disk registry writes a file from Go. Running moto in a process of its own "
             "would take the emulated AWS off the registry's interpreter; in AWS, S3 and DynamoDB run elsewhere "
             "and the ratio to the S3 peer is the one that carries over."),
        ]
    return "\n".join(out)

def _calls(result: dict, results: dict) -> str:
    from bench import calls

    rows = result["rows"]
    pulls = calls.pull_rows(result)
    pushes = [r for r in rows if r.operation.startswith("push of a new")]
    catalog = next((r for r in rows if r.operation.startswith("catalog")), None)
    steps = result["steps"]
    small = [t for label, _, t in steps if label.startswith("32 KiB")]
    big = [t for label, _, t in steps if not label.startswith("32 KiB")]
    out = ["## 2. AWS calls per operation", "", CALLS_METHOD, "", calls.render(result), ""]
    out += [
        f"**Target: pull by tag of an N-layer image ≤ N + 3 AWS calls, token included — "
        f"{'met' if all(r.warm.total <= r.minimum for r in pulls) else 'missed'}** "
        + "; ".join(f"({r.image}: {r.warm.total} calls, {r.warm.describe()})" for r in pulls)
        + ". A cold container adds "
        + (calls.cold_adds(pulls[0]) if pulls else "nothing")
        + ": the secrets (one GetParameters for both keys) and the token service's runtime "
        "configuration (GetParametersByPath, cached 60 s per container). Presigning is local: no call.",
        "",
    ]
    if pushes:
        over = [r for r in pushes if r.warm.total > r.minimum]
        out.append(("Pushes are at their minimum: " if not over else "Pushes above their minimum: ")
                   + "; ".join(f"{r.image}: {r.warm.total} calls against {r.minimum}" for r in pushes)
                   + f". Per blob, a small one costs {sum(t.total for t in small[:4])} calls over HEAD, POST, PATCH "
                   f"and PUT, a larger one {sum(t.total for t in big[:4])} (table below): the session's state "
                   "travels in its signed upload URL, the PATCH writes the bytes once, the PUT links them in one "
                   "transaction. skopeo also sends every HEAD twice (one more GetItem per blob, not counted above).")
        out.append("")
    if catalog is not None and catalog.warm.total > catalog.minimum:
        out += ["", (f"The catalog page costs {catalog.warm.total} calls ({catalog.warm.describe()}) where one Query "
                "would do: the handler reads the caller's user item to learn that a system administrator sees "
                "everything (a claim in the token would save it).")]
    out += ["", "### One blob upload, request by request", "", calls.render_steps(result)]
    return "\n".join(out)


def _coldstart(result: dict, results: dict) -> str:
    from bench import coldstart

    s = coldstart.summary(result)
    t, m = coldstart.target_ratio(result)
    phases = dict(coldstart.phases(result))
    key = next((v for k, v in phases.items() if k.startswith("load the RSA")), 0.0)
    crypto = next((v for k, v in phases.items() if k.startswith("import cryptography")), 0.0)
    client = next((v for k, v in phases.items() if k.startswith("create the SSM")), 0.0)
    floor, ping = s["floor"]["total"], s["ping"]["total"]
    projected = (ping - key) / floor if floor else float("nan")
    out = ["## 3. Cold start", "", COLDSTART_METHOD, "", coldstart.render(result), "",
           coldstart.render_phases(result), "",
           (f"**Target: cold start ≤ 1.2 × the floor — measured {t:.2f} × ({'met' if t <= 1.2 else 'missed'}); "
           f"peak RSS {m:.2f} ×.**"), ""]
    out += [
        (f"- `import app` alone ({fmt_ms(s['import']['total'])}) is far below the floor: chalice and the route "
        "tables, but no handler module (each is imported on its route's first call, "
        "`chalicelib/registry/routes.py`) and so not boto3. The first request then creates the SSM "
        f"client ({fmt_ms(client)}: botocore reads its endpoint and service models), imports cryptography and "
        f"PyJWT ({fmt_ms(crypto)}), reads the secrets (one GetParameters) and loads the RSA signing key "
        f"({fmt_ms(key)})."),
        ("- Loading the key is almost all RSA key validation: cryptography checks a private key's consistency "
        "on load (tens of milliseconds for RSA-2048) unless told `unsafe_skip_rsa_key_validation=True`; a "
        "public key loads in well under a millisecond. The registry side only verifies tokens, so it needs "
        "the public key alone."),
    ]
    if t > 1.2:
        out += ["", ("What would reach the target: load the signing key without validation (the key is Berth's "
                "own, generated by the bootstrap and read from a SecureString, so there is nothing untrusted to "
                "validate), or give the verifier the public key (JWKS) as its own parameter and load the private "
                f"key only in the token service. Without the key load, this run's cold start would be "
                f"{fmt_ms(ping - key)}, {projected:.2f} × the floor. Further: import Powertools' logger when "
                "first used, not at `import app`.")]
    out += ["", "### Import costs", "", coldstart.render_imports(result)]
    return "\n".join(out)


def _scale(result: dict, results: dict) -> str:
    from bench import scale

    v = scale.verdicts(result)
    large = f"{result['sizes'][1][0]:,} tags / {result['sizes'][1][1]:,} repos"
    by = {(m.setup, m.page): m for m in result["measures"]}
    out = ["## 4. Scale", "", SCALE_METHOD, "", scale.render(result), ""]
    tags_ok = all(ok for p, ok in v.items() if p.startswith("tag list"))
    cat_ok = all(ok for p, ok in v.items() if p.startswith("catalog"))
    out.append(f"**Target: a page costs the same at 100 and at 10,000 tags — "
               f"{'met' if tags_ok else 'missed'}.** A tag list page is one Query that reads at most n + 1 items "
               "whatever the repository holds (the small repository's first page reads 100 because it has only "
               "100 tags).")
    out.append("")
    if cat_ok:
        dev = by.get((large, "catalog, first page (n=100), developer of one project"))
        out.append("**The catalog page costs the same at 10 and at 1,000 repositories.**")
        if dev:
            out.append(f"As a developer of one project: {dev.tally.total} calls, {dev.tally.items_read} items read "
                       "at the large size: the user item, one Query of the public projects' listing, one of the "
                       "caller's memberships (`USER#<name>` / `MEMBEROF#`), then the catalog in the visible "
                       "projects' key ranges — what the caller may see, not how many projects exist. (A user "
                       "with LDAP groups still has their roles read per private project: there is no index by "
                       "group.)")
    else:
        admin = by.get((large, "catalog, first page (n=100), admin"))
        dev = by.get((large, "catalog, first page (n=100), developer of one project"))
        out.append("**The catalog page does not: it grows with the registry.**")
        if admin:
            out.append(f"- As admin: {admin.tally.total} calls, {admin.tally.items_read} items read for 100 names: "
                       "the user item (an admin sees everything) and one catalog Query.")
        if dev:
            out.append(f"- As a developer of one project: {dev.tally.total} calls, {dev.tally.items_read} items read "
                       f"({dev.tally.describe()}) to return that project's repositories: the user item, the public "
                       "projects' listing, the caller's memberships, then the catalog in the visible projects' "
                       "key ranges; see the table for which of them grew.")
    out += ["", SCALE_MOTO_NOTE]
    return "\n".join(out)


def _lists(result: dict, results: dict) -> str:
    from bench import lists

    small, large = result["sizes"]
    grew = [page for page, ok in lists.same_cost(result["small"], result["large"]).items() if not ok]
    out = ["## 8. Management lists", "", LISTS_METHOD.format(small=small, large=large), "", lists.render(result), ""]
    if grew:
        out.append(f"**Target missed: these pages cost more at {large:,} entries: {', '.join(grew)}.**")
    else:
        out.append(f"**Target: a page costs the same at {small:,} and at {large:,} entries — met.** Each page is one "
                   "Query of its entries in key order plus one read of the list's counter (X-Total-Count), and the "
                   "reads that render the page's entries (the caller's roles, owners' ids, repository counts: "
                   "BatchGetItem for the page). Page 2 starts where page 1's `Link` cursor says: no skip. "
                   "A repository's `artifact_count` is still counted from its manifests (one Query per repository "
                   "on the page): it follows what those repositories hold, not how many repositories exist.")
    out += ["", ("Filters and orders that key order cannot serve (`q=name=~x`, `sort=-creation_time`) still read "
                 "the whole list: docs/decisions/lists-read-one-page.md.")]
    return "\n".join(out)


def _concurrency(result: dict, results: dict) -> str:
    from bench import concurrency

    errors = concurrency.berth_errors(result)
    p = result["plan"]
    out = ["## 5. Concurrency", "", CONCURRENCY_METHOD.format(pulls=p["pulls"], pushes=p["pushes"]), "",
           concurrency.render(result), "",
           (f"**Target: {p['pulls']} parallel pulls and {p['pushes']} parallel pushes with no error — "
           f"{'met' if not errors else 'missed'}** ({len(errors)} errors; every pulled layout and every "
           "parallel push was read back and verified blob by blob).")]
    return "\n".join(out)


def _findings(results: dict) -> str:
    """The slow or wasteful things the numbers show, one line each, with the evidence."""
    lines = []
    if "calls" in results:
        steps = results["calls"]["steps"]
        small = [(step, t) for label, step, t in steps if label.startswith("32 KiB")][:4]
        big = [(step, t) for label, step, t in steps if not label.startswith("32 KiB")][:4]
        per_blob = [sum(t.total for _, t in group) for group in (small, big) if group]
        if any(n > 3 for n in per_blob):
            lines.append("- **Blob uploads above 3 AWS calls.** " + "; ".join(
                f"{s}: {t.describe()}" for s, t in small + big) + ".")
        copies = [(s, t) for s, t in small + big if any(op in ("CopyObject", "UploadPartCopy", "GetObject")
                                                        for _, op in t.calls)]
        if copies:
            lines.append("- **Blob bytes copied or read back after upload.** " + "; ".join(
                f"{s}: {t.describe()}" for s, t in copies) + ".")
    if "throughput" in results:
        from bench import throughput as tp

        push = results["throughput"]["breakdown"].get((tp.SMALL, "push"))
        heads = push["requests"].get("HEAD blob", {}).get("count", 0) if push else 0
        uploads = push["requests"].get("POST upload", {}).get("count", 0) if push else 0
        lines.append(f"- **skopeo sends each blob HEAD twice on push** ({heads} HEADs for {uploads} uploaded blobs in "
                     "the instrumented 30-layer push), so a push pays one more GetItem per blob (client behaviour).")
    if "scale" in results and not all(scale_ok for scale_ok in _scale_catalog(results)):
        lines.append("- **The catalog page grows with the registry for some caller** (section 4).")
    if "coldstart" in results:
        from bench import coldstart

        key = next((v for k, v in coldstart.phases(results["coldstart"]) if k.startswith("load the RSA")), 0.0)
        if key > 0.005:
            lines.append(f"- **Cold start spends {fmt_ms(key)} loading the RSA signing key** that the registry "
                         "only needs the public half of (section 3).")
    if "calls" in results:
        token = next((r for r in results["calls"]["rows"] if r.operation.startswith("token")), None)
        if token and token.cold:
            lines.append(f"- Tokens: a warm token costs {token.warm.total} call ({token.warm.describe()}); a cold "
                         f"container adds {token.cold.total - token.warm.total} (the secrets and the runtime "
                         "configuration), and the runtime configuration is read again every 60 s per container. "
                         "Every `skopeo copy` asks for a fresh token, and the scrypt password check runs once per "
                         "60 s per container and user (cached as a keyed HMAC in between).")
    return "\n".join(lines)


def _scale_catalog(results: dict) -> list[bool]:
    from bench import scale

    return [ok for page, ok in scale.verdicts(results["scale"]).items() if page.startswith("catalog")]


def _webhooks(result: dict, results: dict) -> str:
    from bench import webhooks

    return "## 6. Webhook delivery latency\n\n" + webhooks.render(result)


def _replication(result: dict, results: dict) -> str:
    from bench import replication

    return "## 7. Replication run\n\n" + replication.render(result)


def _gc(result: dict, results: dict) -> str:
    from bench import gc

    first, unchanged, changed = result["runs"]
    out = ["## 9. Garbage collection", "", GC_METHOD.format(total=result["total"], garbage=result["garbage"],
                                                                      repositories=result.get("repositories", {}).get("total", 0),
                                                                      changed=result.get("repositories", {}).get("changed", 0)), "",
           gc.render(result), "",
           (f"A run's cost follows what changed: when nothing changed it made {unchanged.total_calls} AWS calls "
            f"(the 16 empty candidate partitions, the 16 empty partitions of change marks, the lease, the run's "
            f"record and log, {_s3_listings(unchanged)} S3 listings for the uploads whose URLs expired since the "
            f"last clean-up), against {first.total_calls:,} for the first run over "
            f"{result['total']:,} new blobs and {changed.total_calls:,} when {result['garbage']:,} blobs became "
            "garbage. Wall times are moto's on a shared machine; the cost is what AWS would bill for the calls.")]
    many = result.get("repositories")
    if many:
        few, every = many["runs"]
        out += ["", (f"With {many['total']:,} repositories and a tag moved in {many['changed']}, the untagged step "
                     f"visited {few.counts.get('visited', 0):,} repositories and the run made {few.total_calls:,} AWS calls; "
                     f"visiting every repository, as the step did before the change marks, took "
                     f"{every.total_calls:,} calls for the same deletions.")]
    return "\n".join(out)


def _s3_listings(m) -> int:
    return sum(n for (service, op), n in m.calls.items() if service == "s3" and op.startswith("List"))


def _retention(result: dict, results: dict) -> str:
    from bench import retention

    return "\n".join(["## 10. Tag retention run", "", RETENTION_METHOD, "", retention.render(result)])


def _package(result: dict, results: dict) -> str:
    from bench import package

    return package.render(result, results)


RENDERERS = {"throughput": _throughput, "calls": _calls, "coldstart": _coldstart, "scale": _scale,
             "concurrency": _concurrency, "webhooks": _webhooks, "replication": _replication, "lists": _lists,
             "gc": _gc, "retention": _retention, "package": _package}


def merge(previous: str, fresh: str, results: dict) -> str:
    """`previous` (a page this tool wrote) with the sections measured now taken from
    `fresh`: a section of the same title is replaced, a new one goes before the findings
    (or at the end); the header gains a line saying what was re-measured when."""
    measured = [s for s in RENDERERS if s in results]
    new_blocks = _blocks(fresh)
    titles = {_title(RENDERERS[s](results[s], results).splitlines()[0]) for s in measured}
    old = _blocks(previous)
    keys = [k for k, _ in old]
    numbers = {key: _number(block) for key, block in old}
    for key, block in new_blocks:
        if key not in titles:
            continue
        block = block.rstrip("\n") + "\n\n"  # one blank line before whatever follows it
        if key in keys:
            old[keys.index(key)] = (key, block)
        else:
            # a section new to the page goes in its number's place, else before the findings
            number = _number(block)
            later = [i for i, k in enumerate(keys) if number is not None and (numbers.get(k) or 0) > number]
            at = later[0] if later else keys.index("What looked slow or wasteful") if "What looked slow or wasteful" in keys else len(old)
            old.insert(at, (key, block))
            keys.insert(at, key)
            numbers[key] = number
    if "How to run" in keys:  # the commands as this version of the tool takes them
        old[keys.index("How to run")] = ("How to run", HOW_TO_RUN.rstrip("\n") + "\n\n")
    head, *rest = [block for _, block in old]
    note = (f"Re-measured since by `python -m bench {' '.join(measured)} --merge` ({time.strftime('%Y-%m-%d %H:%M %Z')}; "
            f"took {fmt_s(results['durations']['total'])}): {', '.join(measured)}.")
    lines = head.rstrip("\n").split("\n")
    lines.insert(min(len(lines), 3), note)
    # each block ends with its own blank lines: joined as they are, a merge adds none
    return "".join(["\n".join(lines) + "\n\n", *rest]).rstrip() + "\n"


def _blocks(text: str) -> list[tuple[str, str]]:
    """The page cut at its `## ` headings: (title without its number, block), the head first."""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        if line.startswith("## "):
            blocks.append((_title(line), []))
        blocks[-1][1].append(line)
    return [(key, "\n".join(lines) + "\n") for key, lines in blocks]


def _number(block: str) -> int | None:
    """The section's number in its heading ("## 7. Replication run"), None if it has none."""
    import re

    found = re.match(r"##\s+(\d+)\.", block)
    return int(found.group(1)) if found else None


def _title(heading: str) -> str:
    import re

    return re.sub(r"^##\s+(\d+\.\s+)?", "", heading).strip()

HEADER = """\
# Berth benchmarks

Written by `python -m bench` ({mode} run: {sections}; {runs} throughput runs; {when}; took {total}).
`make bench` rewrites this page; do not edit it by hand.
"""

HOW_TO_RUN = """\
## How to run

```
make bench                       # bench/install-deps.sh, then python -m bench --out docs/benchmarks.md (< 15 min)
.venv/bin/python -m bench --quick                  # smoke run, < 3 min, prints the report
.venv/bin/python -m bench calls scale              # some sections only: throughput concurrency coldstart calls scale webhooks replication lists gc retention package
.venv/bin/python -m bench replication --merge      # re-measure one section into docs/benchmarks.md, keeping the others
.venv/bin/python -m bench --runs 9 --out /tmp/b.md # more throughput runs, report elsewhere
```

`bench/install-deps.sh` installs what is missing with apt-get: `skopeo` and Debian's `docker-registry`
(the CNCF distribution registry, `/usr/bin/docker-registry`). The benchmark starts everything it
measures itself and stops it at the end, by process id:

- Berth: `python -m devstack --api-port 0 --upload-port 0 --moto-port 0` (moto, the resources from
  `infra/berth.yaml`, the API and the upload host in one process; token auth on, admin password from
  its `READY` line);
- distribution: `/usr/bin/docker-registry serve config.yml` with filesystem storage in a temporary
  directory, `http.addr` 127.0.0.1 on a free port, no auth;
- the in-process sections (calls, scale) run the Chalice app on moto's `mock_aws` in the benchmark
  process, with `BERTH_AUTH=token` after `chalicelib.bootstrap.bootstrap`.

Sections: `bench/throughput.py`, `bench/calls.py`, `bench/coldstart.py` (with `bench/coldstart_child.py`),
`bench/scale.py`, `bench/concurrency.py`; `bench/probe_stack.py` is the instrumented local stack.
"""

THROUGHPUT_METHOD = """\
Every run builds two new images with `tests/e2e/images.py` (random bytes, gzip layers, so neither a
registry nor skopeo's blob-info cache can skip an upload): 3 layers of 16 MiB, and 30 layers of 32 KiB.
Each is pushed to each registry under a new repository name and pulled back into an empty layout,
which is verified blob by blob; the registries' order rotates between runs. The registries, in one run:
Berth's local stack; the CNCF registry (Debian's `docker-registry`) with its S3 driver on a bucket of
Berth's own moto server (`AWS_CA_BUNDLE` unset for it: its S3 driver will not start with it); the same
registry on local disk. Before the first run, each registry serves one untimed push and pull of a tiny
image (Berth's container is then warm). Commands (Berth gets `--dest-creds`/`--src-creds
admin:<password>`; the CNCF registries have no auth):

```
skopeo copy --quiet --dest-tls-verify=false oci:<layout>:latest docker://<host>/library/tp<i>-run<k>:1
skopeo copy --quiet --src-tls-verify=false docker://<host>/library/tp<i>-run<k>:1 oci:<empty dir>:1
```"""

BREAKDOWN_METHOD = """\
One more push and pull of each image against `python -m bench.probe_stack` (the same local stack,
with every AWS call and every registry request timed inside the process; these timings are not used
above), after the same warm-up. Handler and AWS times are sums over requests, which overlap when skopeo pulls in parallel."""

CALLS_METHOD = """\
Counted exactly: a botocore handler on `before-call` of the boto3 Session the app's `Services` build
their clients from (presigning fires no such event). The requests are API Gateway proxy events into
`app.app` and WSGI requests into `chalicelib.uploadhost` (as the local stack's upload port), in the
order skopeo sends them, with one HEAD per blob. "Cold" is a new `Services` (a new Lambda container:
secrets, runtime configuration and remembered credentials not loaded yet); "warm" has served a
request. The N-layer pulls and pushes use the images of section 1."""

COLDSTART_METHOD = """\
Each sample is a new interpreter (`python bench/coldstart_child.py MODE`) against a running local
stack's moto: time from the script's first line to the end of the imports and of the first request,
and peak RSS (VmHWM). The first request is what a cold container serves first for a pull: `GET /v2/`
with a valid Bearer token (the signing key comes from SSM). The floor, as the issue defines it:
import boto3 and chalice and create the s3, dynamodb and ssm clients, nothing more. Modes alternate;
one untimed run of each first."""

SCALE_METHOD = """\
Two deployments on in-process moto. Repositories `p<k>/app<i>`, ten per project (1 project for 10
repositories, 100 for 1,000), all private; `p000/app00` holds the tags. The items are written with
BatchWriteItem in the shape `DynamoRegistryMeta.put_manifest` writes them (manifest item, tag item
with the manifest copy, catalog entry). Each page goes through the Chalice handler with a token;
"items read" is what DynamoDB examined (Query ScannedCount, items returned by GetItem and
BatchGetItem)."""

SCALE_MOTO_NOTE = """\
The time column is moto's, in-process: moto evaluates a Query over the whole partition in Python,
so its time grows with the partition even when DynamoDB reads only the n + 1 items of the page (the
"items read" column). The calls and items read are the cost DynamoDB bills; moto's time is not."""

CONCURRENCY_METHOD = """\
{pulls} `skopeo copy` pulls of one image at the same time, each into its own empty layout, each
verified; then {pushes} pushes of {pushes} new images (random content) at the same time to {pushes}
repositories, each read back and verified. The same against the distribution registry for reference."""

GC_METHOD = """`bench/gc.py` on in-process moto: {total:,} blobs written through the store layer as a push writes them (the
upload service's `put_monolithic`, what a monolithic `/v2` upload calls, not HTTP) and named by manifests of 10 blobs
pushed through `artifacts.push_manifest` (the manifest PUT's transaction); the manifests of {garbage:,} of them deleted.
Three runs, each every step of the state machine in infra/gc.yaml in process (`gc.run_all`, with 4 workers and
`delete_untagged`), counted on a session of their own: the first
(every blob is a candidate: all were uploaded since; the untagged step visits every repository once, then those the
pushes marked), one when nothing changed, and one after {garbage:,} more blobs
became garbage. Then the registry grows to {repositories:,} repositories (one small image each), a tag moves in {changed} of them, and
a run is measured; and the same again with the record of the first visit removed, so the untagged step visits every
repository as it did before the change marks. Cost as billed: DynamoDB on-demand ($0.625 per million write units, $0.125 per million read units; a
transaction's item 2 units, a strongly consistent read 1, an eventually consistent 0.5), S3 requests ($0.005 per 1,000
LIST and POST, DeleteObjects included), Step Functions standard ($0.025 per 1,000 state transitions, from the
workflow's states), Lambda ($0.20 per million invocations, 512 MB at $0.0000166667 per GB-second of the wall time)."""

LISTS_METHOD = """`bench/lists.py`: each kind of list in a deployment of its own on in-process moto, grown
from {small:,} to {large:,} entries (written with BatchWriteItem in the stores' item shapes, with the
list's counter raised by the number written), then page 1 (`page_size=10`) of each list asked
through the Chalice handler as a warm container would (Basic auth), and page 2 through the URL in
page 1's `Link: rel="next"`. Calls and items read are counted as in the scale section; times are
left out (moto's Query reads its whole table, so its time says nothing about DynamoDB's).
`tests/scale/test_list_pages.py` fails when a page costs more at 10,000."""

RETENTION_METHOD = """`bench/retention.py` on in-process moto: N images (a config and a layer each, tagged) pushed to one
repository a second apart, and a project policy keeping the 10% most recently pushed (`latestPushedK`). The dry
run, then the real run, which deletes the other 90% through `artifacts.py` as an API delete does (immutability,
the index rule, the quota, a domain event each). Each run is measured whole, as `chalicelib/retention/runs.py`
executes it, its AWS calls counted on the run's own session."""
