"""The speed limit: a blob is read no faster than the policy's KiB/s (a fake clock: the
sleeps it asks for are the assertion, no time passes)."""
from __future__ import annotations

import io

from chalicelib.replicator.throttle import Throttled, limited


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_reading_waits_until_the_bytes_are_due():
    time = FakeTime()
    stream = Throttled(io.BytesIO(b"x" * 10 * 1024), 2, clock=time.clock, sleep=time.sleep)  # 2 KiB/s
    while stream.read(1024):
        pass
    assert time.slept == 5.0  # 10 KiB at 2 KiB/s


def test_a_slow_source_is_not_slowed_further():
    time = FakeTime()
    source = io.BytesIO(b"x" * 4096)

    class Slow:
        def read(self, n):
            time.now += 10  # the source itself takes 10 s per read
            return source.read(n)

    stream = Throttled(Slow(), 1, clock=time.clock, sleep=time.sleep)
    while stream.read(1024):
        pass
    assert time.slept == 0.0


def test_no_limit_is_the_stream_itself():
    source = io.BytesIO(b"abc")
    assert limited(source, 0) is source and limited(source, -1) is source
