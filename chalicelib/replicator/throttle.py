"""A policy's speed limit (Harbor's `speed`, KiB/s per task): a blob's bytes are read no
faster than that. The clock and the sleep are passed in (tests give fake ones)."""
from __future__ import annotations

import time
from collections.abc import Callable


class Throttled:
    def __init__(self, stream, kib_per_second: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._stream = stream
        self._rate = kib_per_second * 1024.0
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._read += len(data)
        # ahead of the allowed pace: wait until the bytes read so far are due
        due = self._start + self._read / self._rate
        now = self._clock()
        if due > now:
            self._sleep(due - now)
        return data


def limited(stream, speed: int, **kwargs):
    """`stream` read at most `speed` KiB/s; as it is for no limit (0 or -1)."""
    return Throttled(stream, speed, **kwargs) if speed and speed > 0 else stream
