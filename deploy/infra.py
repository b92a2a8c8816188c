"""`make infra STAGE=<stage>`: the resources Chalice does not create, then the stage's config.

    python -m deploy.infra --stage prod [AlarmEmail=ops@example.com ...]
    python -m deploy.infra --stage prod --delete

deploys every stack of the stage from infra/ (deploy/stacks.py: bucket and table, log groups,
alarms, dashboard, deployment bucket, and whatever infra/ holds), each only if its template or
parameters changed, then writes what Chalice needs into ``.chalice/config.json`` and
``.chalice/policy-<stage>.json`` (deploy/configure.py). NAME=VALUE arguments are template
parameters; a stack keeps the value given once. ``--delete`` deletes the stacks, last first,
after ``chalice delete``; the bucket and the table stay (they are the data: README).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy import configure, stacks


def main(argv: list[str] | None = None, *, session=None, project: Path = configure.ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.infra", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True, help="the stage (dev, prod, ...)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration)")
    parser.add_argument("--delete", action="store_true", help="delete the stage's stacks (after `chalice delete`)")
    parser.add_argument("parameters", nargs="*", metavar="NAME=VALUE", help="template parameters, e.g. AlarmEmail=ops@example.com")
    args = parser.parse_args(argv)
    if not stacks.STAGE_PATTERN.match(args.stage):
        parser.error(f"--stage {args.stage!r}: lower-case letters, digits and dashes, at most 20 characters")
    given = {}
    for pair in args.parameters:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"{pair!r}: parameters are NAME=VALUE")
        given[name] = value
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=args.region)
    cfn = session.client("cloudformation")
    try:
        if args.delete:
            for kept in stacks.delete(cfn, session.client("s3"), args.stage):
                print(f"kept (the registry's data): {kept}")
            return 0
        stacks.deploy(cfn, args.stage, given)
    except stacks.StackError as exc:
        print(f"infra: {exc}", file=sys.stderr)
        return 1
    region = ["--region", args.region] if args.region else []
    return configure.main(["--stage", args.stage, *region], cfn=cfn, project=project)


if __name__ == "__main__":
    sys.exit(main())
