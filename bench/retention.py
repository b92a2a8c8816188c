"""Section 10: a tag retention run over a repository of N artifacts (100 and 1,000;
``--quick``: 100), on in-process moto: the dry run and the real run, which deletes 90% of
them (keeping the 10% most recently pushed), their wall time and the AWS calls each made,
counted exactly (bench/inproc.py). The run is measured whole (runs.run, what its steps in
the app's run_schedule function do, without the hand-over between steps).

    .venv/bin/python -m bench retention --merge         # 100 and 1,000 artifacts, into docs/benchmarks.md
    .venv/bin/python -m bench.retention --artifacts 100  # print one size's rows
"""
from __future__ import annotations

import argparse
import time

from bench.util import log


def measure(artifacts: int) -> list[dict]:
    from bench.inproc import InProcessRegistry
    from devstack import moto_transactions

    moto_transactions.install()  # as the local stack runs: a transaction costs its items, not the table
    from chalicelib.meta.accounts import Project
    from chalicelib.retention import policy as rules
    from chalicelib.retention import runs
    from tests.api.management.images import push_image

    with InProcessRegistry(stage=f"ret{artifacts}") as reg:
        setup = reg.setup_services()
        project = setup.accounts.create_project(Project(name="retained", owner="admin"))
        base = time.time() - 10 * 24 * 3600
        started = time.perf_counter()
        for i in range(artifacts):
            setup.clock = lambda i=i: base + i  # each pushed a second after the last
            push_image(setup, "retained/app", f"v{i}", seed=f"s{i}")
        log(f"retention: {artifacts} artifacts pushed in {time.perf_counter() - started:.0f} s")
        keep = max(1, artifacts // 10)
        body = {"algorithm": "or", "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
                "scope": {"level": "project", "ref": project.project_id},
                "rules": [{"template": "latestPushedK", "params": {"latestPushedK": keep},
                           "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                           "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches",
                                                                "pattern": "**"}]}}]}
        stored = setup.retention.create(project.name, rules.check(body, project.project_id))
        svc = reg.new_container()
        out = []
        for label, dry in (("dry run", True), ("run", False)):
            with reg.counter.measure() as tally:
                began = time.perf_counter()
                execution = runs.run(svc, stored, svc.retention.start(stored.policy_id, runs.MANUAL, dry))
                seconds = time.perf_counter() - began
            assert execution.status == "Success", execution
            [task] = svc.retention.tasks(execution.execution_id)
            assert len(task.deleted) == artifacts - keep, (len(task.deleted), artifacts, keep)
            log(f"retention: {artifacts} artifacts, {label}: {seconds:.1f} s, {tally.total} calls")
            out.append({"artifacts": artifacts, "run": label, "deleted": len(task.deleted), "seconds": seconds,
                        "calls": tally.total, "by_operation": tally.describe()})
        return out


def run(quick: bool = False, sizes: list[int] | None = None) -> dict:
    sizes = sizes or ([100] if quick else [100, 1000])
    return {"rows": [row for n in sizes for row in measure(n)]}


def render(result: dict) -> str:
    lines = ["| artifacts | run | deleted | wall time (in-process moto) | AWS calls | calls per deleted artifact | of which |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        per = f"{r['calls'] / r['deleted']:.2f}" if r["deleted"] and r["run"] != "dry run" else ""
        lines.append(f"| {r['artifacts']:,} | {r['run']} | {r['deleted']:,} | {r['seconds']:.2f} s | {r['calls']:,} | {per} "
                     f"| {r['by_operation']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args(argv)
    print(render(run(sizes=args.artifacts)))


if __name__ == "__main__":
    main()
