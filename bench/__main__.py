"""``python -m bench [SECTION ...] [--quick] [--runs N] [--out PATH]``

Sections: throughput, calls, coldstart, scale, concurrency, webhooks, replication, lists, gc, retention, package (default: all of them).
``make bench`` runs ``bench/install-deps.sh`` then ``python -m bench --out docs/benchmarks.md``.
``--quick`` is a smoke run (one throughput run, smaller scale and concurrency) that
prints its report instead of writing docs/benchmarks.md, unless --out says otherwise.
``--merge`` re-measures only the sections named and writes them into the page at --out,
keeping its other sections as they were (the page's header says which were re-measured when).
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench.util import ROOT, log, temp_dir

SECTIONS = ("throughput", "concurrency", "coldstart", "calls", "scale", "webhooks", "replication", "lists", "gc", "retention", "package")
NEEDS_STACK = {"throughput", "concurrency", "coldstart", "webhooks", "replication"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"one or more of {', '.join(SECTIONS)}, or all (the default)")
    parser.add_argument("--quick", action="store_true", help="smoke run: well under 3 minutes")
    parser.add_argument("--runs", type=int, default=None, help="throughput runs (default 5, quick 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the report here (default docs/benchmarks.md; with --quick, only print it)")
    parser.add_argument("--merge", action="store_true",
                        help="write only the sections measured into the page at --out, keeping its others")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in (*SECTIONS, "all")]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}: choose from {', '.join(SECTIONS)}, all")
    if not args.sections or "all" in args.sections:
        args.sections = list(SECTIONS)
    args.sections = [s for s in SECTIONS if s in args.sections]
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    if args.out is None and not args.quick:
        args.out = ROOT / "docs" / "benchmarks.md"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench import env, report

    started = time.perf_counter()
    results: dict = {"args": args, "env": env.collect(), "durations": {}}
    with ExitStack() as stack, temp_dir() as workdir:
        berth = None
        if NEEDS_STACK & set(args.sections):
            from bench.servers import BerthStack

            berth = stack.enter_context(BerthStack(workdir / "berth"))
        for section in args.sections:
            t0 = time.perf_counter()
            results[section] = _run_section(section, args, workdir, berth)
            results["durations"][section] = time.perf_counter() - t0
            log(f"{section}: done in {results['durations'][section]:.0f} s")
    results["durations"]["total"] = time.perf_counter() - started
    text = report.render(results)
    if args.merge and args.out and args.out.exists():
        text = report.merge(args.out.read_text(), text, results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        log(f"wrote {args.out}")
    else:
        print(text)
    print(report.summary(results), file=sys.stderr)
    return 0


def _run_section(section: str, args: argparse.Namespace, workdir: Path, berth) -> dict:
    if section == "throughput":
        from bench import throughput

        return throughput.run(workdir / "throughput", berth, args.runs, args.quick)
    if section == "concurrency":
        from bench import concurrency

        return concurrency.run(workdir / "concurrency", berth, args.quick)
    if section == "coldstart":
        from bench import coldstart

        return coldstart.run(berth, repeats=3 if args.quick else 7)
    if section == "calls":
        from bench import calls

        return calls.run(args.quick)
    if section == "scale":
        from bench import scale

        return scale.run(args.quick, repeats=1 if args.quick else 3)
    if section == "webhooks":
        from bench import webhooks

        return webhooks.run(berth, args.quick)
    if section == "replication":
        from bench import replication

        return replication.run(berth, workdir / "replication", args.quick)
    if section == "lists":
        from bench import lists

        return lists.run(args.quick)
    if section == "gc":
        from bench import gc

        return gc.run(args.quick)
    if section == "retention":
        from bench import retention

        return retention.run(args.quick)
    if section == "package":
        from bench import package

        return package.run(workdir / "package", args.quick)
    raise ValueError(section)


if __name__ == "__main__":
    sys.exit(main())
