"""``python -m bench.retention [--artifacts N ...]``: one tag retention run over a repository
of N artifacts on in-process moto: the dry run and the real run (which deletes 90% of them,
keeping the 10% most recently pushed), their wall time and the AWS calls each made, counted
exactly (bench/inproc.py). Not part of `make bench` yet: a run's cost is its deletions."""
from __future__ import annotations

import argparse
import time


def measure(artifacts: int) -> list[tuple[str, float, object]]:
    from bench.inproc import InProcessRegistry
    from devstack import moto_transactions

    moto_transactions.install()  # as the local stack runs: a transaction costs its items, not the table
    from chalicelib.retention import policy as rules
    from chalicelib.retention import runs
    from tests.api.management.images import push_image

    with InProcessRegistry(stage=f"ret{artifacts}") as reg:
        setup = reg.setup_services()
        from chalicelib.meta.accounts import Project

        project = setup.accounts.create_project(Project(name="retained", owner="admin"))
        base = time.time() - 10 * 24 * 3600
        for i in range(artifacts):
            setup.clock = lambda i=i: base + i  # each pushed a second after the last
            push_image(setup, "retained/app", f"v{i}", seed=f"s{i}")
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
                execution = runs.start(svc, stored, runs.MANUAL, dry_run=dry)
                seconds = time.perf_counter() - began
            assert execution.status == "Success", execution
            [task] = svc.retention.tasks(execution.execution_id)
            assert len(task.deleted) == artifacts - keep, (len(task.deleted), artifacts, keep)
            out.append((label, seconds, tally))
        return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__)
    parser.add_argument("--artifacts", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args(argv)
    print("| artifacts | run | deleted | wall time (in-process moto) | AWS calls | of which |\n| --- | --- | --- | --- | --- | --- |")
    for n in args.artifacts:
        for label, seconds, tally in measure(n):
            deleted = n - max(1, n // 10)
            print(f"| {n:,} | {label} | {deleted:,} | {seconds:.2f} s | {tally.total:,} | {tally.describe()} |")


if __name__ == "__main__":
    main()
