from chalicelib.auth.context_cache import AccessContextCache


class CountingAccounts:
    def __init__(self):
        self.calls = []

    def access_context(self, username, groups, projects):
        self.calls.append((username, tuple(groups), tuple(projects)))
        return object()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_hits_within_ttl_and_reads_again_after():
    accounts, clock = CountingAccounts(), Clock()
    cache = AccessContextCache(accounts, ttl=10, clock=clock)
    first = cache.access_context(None, (), {"library"})
    assert cache.access_context(None, [], ["library"]) is first
    assert len(accounts.calls) == 1
    clock.now = 10.0
    assert cache.access_context(None, (), {"library"}) is not first
    assert len(accounts.calls) == 2


def test_keys_distinguish_projects_and_order_does_not_matter():
    accounts = CountingAccounts()
    cache = AccessContextCache(accounts, clock=Clock())
    a = cache.access_context(None, (), ["a", "b"])
    assert cache.access_context(None, (), ["b", "a"]) is a
    assert cache.access_context(None, (), ["a"]) is not a
    assert len(accounts.calls) == 2


def test_oldest_entries_are_evicted():
    accounts = CountingAccounts()
    cache = AccessContextCache(accounts, max_entries=2, clock=Clock())
    first = cache.access_context(None, (), ["p1"])
    cache.access_context(None, (), ["p2"])
    cache.access_context(None, (), ["p3"])
    assert cache.access_context(None, (), ["p1"]) is not first
