"""``python -m bench.probe_stack [devstack args]``: the local stack with its time accounted.

Used once per benchmark run to explain the throughput numbers, never to produce them
(the timed runs use plain ``python -m devstack``). Before devstack imports the app, two
wrappers go in:

* ``botocore.client.BaseClient._make_api_call``: count and time every AWS call (the app's,
  the upload host's) by service and operation;
* ``chalicelib.registry.dispatch.dispatch``: time every registry request inside the
  handler (both the API and the upload host call it), by method and resource.

SIGUSR1 writes the totals since the last dump to ``$BENCH_PROBE_OUT`` (JSON, replaced
atomically) and starts counting afresh.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict

_lock = threading.Lock()
_aws: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
_requests: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

_KINDS = (
    (re.compile(r"^service/"), "token"),
    (re.compile(r"/manifests/"), "manifest"),
    (re.compile(r"/blobs/uploads/"), "upload"),
    (re.compile(r"/blobs/"), "blob"),
    (re.compile(r"/tags/list$"), "tags"),
    (re.compile(r"^_catalog$"), "catalog"),
)


def _kind(path: str) -> str:
    for pattern, kind in _KINDS:
        if pattern.search(path):
            return kind
    return "ping" if path in ("", "/") else "other"


def _install() -> None:
    import botocore.client

    import chalicelib.registry.dispatch as dispatch_module
    import chalicelib.tokens.dispatch as token_dispatch_module

    original_call = botocore.client.BaseClient._make_api_call

    def timed_call(self, operation_name, api_params):
        started = time.perf_counter()
        try:
            return original_call(self, operation_name, api_params)
        finally:
            key = f"{self.meta.service_model.service_name}.{operation_name}"
            with _lock:
                entry = _aws[key]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

    botocore.client.BaseClient._make_api_call = timed_call

    def timed(original):
        def timed_dispatch(svc, req, *args, **kwargs):
            started = time.perf_counter()
            try:
                return original(svc, req, *args, **kwargs)
            finally:
                key = f"{req.method} {_kind(req.path)}"
                with _lock:
                    entry = _requests[key]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - started

        return timed_dispatch

    # the front door and the upload host import `dispatch` by name: replace it before they do
    dispatch_module.dispatch = timed(dispatch_module.dispatch)
    token_dispatch_module.dispatch = timed(token_dispatch_module.dispatch)


def _dump(*_: object) -> None:
    path = os.environ.get("BENCH_PROBE_OUT")
    if not path:
        return
    with _lock:
        data = {"aws": {k: {"calls": int(v[0]), "seconds": v[1]} for k, v in _aws.items()},
                "requests": {k: {"count": int(v[0]), "seconds": v[1]} for k, v in _requests.items()}}
        _aws.clear()
        _requests.clear()
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        json.dump(data, out)
    os.replace(tmp, path)


def main() -> int:
    _install()
    signal.signal(signal.SIGUSR1, _dump)
    from devstack.__main__ import main as devstack_main

    return devstack_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
