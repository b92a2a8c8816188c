"""Berth's benchmark suite (issue 5): `python -m bench` runs it, `make bench` writes
docs/benchmarks.md. Not part of `make test`.

Sections (each also a subcommand):

* throughput   skopeo push/pull against Debian's docker-registry (CNCF distribution) and Berth's local stack
* calls        AWS calls per registry operation, counted in-process with botocore events
* coldstart    time and peak RSS to import the Lambda handler and serve the first request, vs a floor
* scale        tag list and catalog pages at 100 vs 10,000 tags and 10 vs 1,000 repositories
* concurrency  16 parallel pulls and 4 parallel pushes against the local stack

This package imports nothing heavy at import time: the cold-start child runs outside it.
"""
