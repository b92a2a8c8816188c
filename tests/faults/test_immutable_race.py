"""An immutable tag stays where its first push put it, under any interleaving of
concurrent pushes of that tag (tests/faults/interleave.py): the tag's write is
conditional on it being absent or naming the same manifest, so the check made before
the write cannot be raced. Exactly one of two first pushes of a protected tag with
different manifests wins; the other answers DENIED (or 429 when it lost a transaction
race outright, which a client retries into a DENIED)."""
from __future__ import annotations

import random

import pytest

from chalicelib import immutability
from chalicelib.registry.dispatch import dispatch
from tests.api.helpers import digest
from tests.faults.interleave import Interleaver
from tests.faults.operations import REPO
from tests.faults.test_tag_race import TAG, _image, _request, _wipe

RUNS = int(__import__("os").environ.get("RACE_RUNS", "240")) // 4

RULE = {
    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": TAG}],
    "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
}


def _overlapped(schedule) -> bool:
    """Whether two pushes both read the tag before either wrote: the case the tag's
    condition decides."""
    readers: set[int] = set()
    for index, operation, _ in schedule:
        if operation == "BatchGetItem":
            readers.add(index)
        elif operation == "TransactWriteItems":
            return len(readers) > 1
    return False


@pytest.mark.parametrize("seed", range(2))
def test_a_protected_tag_has_one_first_push_under_any_interleaving(new_cell, seed):
    rng = random.Random(seed)
    svc, _, _ = new_cell("none")
    interleaver = Interleaver([svc.dynamodb, svc.s3])
    failures: list[str] = []
    interleaved = 0
    for run in range(RUNS):
        _wipe(svc)
        rules = svc.immutable_rules.get("library")
        svc.immutable_rules.save("library", rules, [immutability.normalize(RULE, 1)], 1)
        # the repository exists already: its catalog entry's condition would end the race
        # by itself for a first push into a new repository
        assert dispatch(svc, _request("PUT", "base", _image(svc, f"base {seed}-{run}"))).status == 201
        bodies = [_image(svc, f"{seed}-{run}-{n}") for n in range(rng.choice([2, 3]))]
        results = interleaver.run([lambda b=b: dispatch(svc, _request("PUT", TAG, b)) for b in bodies], rng)
        where = f"seed {seed} run {run}"
        interleaved += _overlapped(interleaver.schedule)
        statuses = [r.status if not isinstance(r, BaseException) else repr(r) for r in results]
        winners = [b for b, status in zip(bodies, statuses) if status == 201]
        if len(winners) != 1 or any(status not in (201, 403, 429) for status in statuses):
            failures.append(f"{where}: answers {statuses}")
            continue
        tag = svc.meta.get_tag(REPO, TAG)
        if tag is None or tag.digest != digest(winners[0]):
            failures.append(f"{where}: the tag names {tag and tag.digest}, the push that succeeded {digest(winners[0])}")
    assert not failures, f"{len(failures)} of {RUNS} runs broke:\n" + "\n".join(failures[:20])
    assert interleaved, "no run overlapped the pushes' reads and writes: the race was never reached"
