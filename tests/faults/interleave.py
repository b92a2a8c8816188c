"""Run requests concurrently, one AWS call at a time, switching between them at random.

Each request runs in a thread of its own; a botocore `before-call` hook parks the
thread before every AWS call until the scheduler picks it. So every interleaving
at AWS-call granularity is reachable (the ones that matter for races between
read-then-write code), a seeded random choice makes a run reproducible, and moto
only ever sees one call at a time. The schedule records which request made each
call, in order.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any


class Interleaver:
    def __init__(self, clients: list[Any]):
        self._cv = threading.Condition()
        self._managed: dict[threading.Thread, int] = {}
        self._waiting: set[threading.Thread] = set()
        self._done: set[threading.Thread] = set()
        self._running: threading.Thread | None = None
        self.schedule: list[tuple[int, str, bytes]] = []  # (request index, operation, request body)
        for client in clients:
            client.meta.events.register("before-call.*.*", self._before_call)

    def run(self, requests: list[Callable[[], Any]], rng: random.Random) -> list[Any]:
        results: list[Any] = [None] * len(requests)
        self.schedule = []
        self._waiting, self._done, self._running = set(), set(), None

        def body(index: int, request: Callable[[], Any]) -> None:
            try:
                self._park()  # the start is a switch point too
                results[index] = request()
            except BaseException as exc:  # noqa: BLE001 - the test reports it; a thread cannot raise to it
                results[index] = exc
            finally:
                with self._cv:
                    self._done.add(threading.current_thread())
                    self._running = None
                    self._cv.notify_all()

        threads = [threading.Thread(target=body, args=(i, r), daemon=True) for i, r in enumerate(requests)]
        self._managed = {t: i for i, t in enumerate(threads)}
        for thread in threads:
            thread.start()
        with self._cv:
            while len(self._done) < len(threads):
                settled = self._cv.wait_for(
                    lambda: self._running is None and all(t in self._waiting or t in self._done for t in threads),
                    timeout=60,
                )
                assert settled, "a request neither made an AWS call nor finished"
                ready = sorted((t for t in threads if t in self._waiting), key=self._managed.get)
                if not ready:
                    break
                self._running = rng.choice(ready)
                self._cv.notify_all()
        for thread in threads:
            thread.join(timeout=60)
        self._managed = {}
        return results

    def _before_call(self, model, params, **_: Any) -> None:
        me = threading.current_thread()
        if me not in self._managed:
            return
        self._park()
        body = params.get("body") or b""
        self.schedule.append((self._managed[me], model.name, body if isinstance(body, bytes) else body.encode()))

    def _park(self) -> None:
        me = threading.current_thread()
        with self._cv:
            self._waiting.add(me)
            if self._running is me:
                self._running = None
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._running is me)
            self._waiting.discard(me)
