"""Reading pull log lines out of CloudWatch Logs subscription events
(chalicelib/pulls.py): the text format, Lambda's JSON format, and what to skip."""
from __future__ import annotations

import base64
import gzip
import json
import logging

from chalicelib.pulls import Pull, from_subscription

PULL = {"username": "alice", "repository": "library/app", "reference": "v1", "digest": "sha256:" + "a" * 64,
        "source_ip": "10.0.0.1", "time": 1700000000.5, "request_id": "r-1"}


def event(*messages) -> dict:
    batch = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": str(i), "timestamp": 0, "message": m} for i, m in enumerate(messages)]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(batch).encode())).decode()}}


def line(**extra) -> str:
    return json.dumps({"level": "INFO", "message": "pull", "pull": PULL, **extra})


def test_a_text_format_line():
    assert from_subscription(event(line())) == [Pull(**PULL)]


def test_lambdas_json_log_format_wraps_the_line():
    wrapped = json.dumps({"time": "2026-11-27T00:00:00Z", "type": "app", "message": line()})
    already_parsed = json.dumps({"time": "2026-11-27T00:00:00Z", "message": json.loads(line())})
    assert from_subscription(event(wrapped, already_parsed)) == [Pull(**PULL), Pull(**PULL)]


def test_other_lines_are_skipped_and_broken_pull_lines_logged(caplog):
    broken = json.dumps({"message": "pull", "pull": {**PULL, "time": "soon"}})
    missing = json.dumps({"message": "pull", "pull": {"username": "x"}})
    with caplog.at_level(logging.ERROR, logger="berth.pulls"):
        pulls = from_subscription(event("START RequestId: 1", "{bad json", '{"message": "request"}', broken, missing, line(), 42))
    assert pulls == [Pull(**PULL)]


def test_long_fields_are_cut():
    long = {**PULL, "reference": "x" * 5000}
    assert len(from_subscription(event(json.dumps({"message": "pull", "pull": long})))[0].reference) == 1024


# ---------------------------------------------------------------- what counts (image_pulls)

from chalicelib.pulls import REPEAT_WINDOW, RecentTagPulls, image_pulls, served_digests

INDEX = "sha256:" + "1" * 64
CHILD = "sha256:" + "2" * 64
OTHER = "sha256:" + "3" * 64


def get(reference, digest, *, at=1000.0, covers=(), user="alice", agent="docker/27", ip="10.0.0.1"):
    return Pull(username=user, repository="library/app", reference=reference, digest=digest, source_ip=ip,
                time=at, request_id=f"r-{reference}-{at}-{user}", user_agent=agent, covers=covers)


def test_a_tag_get_then_the_digest_it_resolved_is_one_pull():
    tag = get("v1", CHILD, covers=(CHILD,))
    assert image_pulls([tag, get(CHILD, CHILD, at=1000.2)], RecentTagPulls()) == [tag]


def test_an_index_then_its_platforms_manifest_is_one_pull():
    covers = served_digests(INDEX, "application/vnd.oci.image.index.v1+json",
                            json.dumps({"manifests": [{"digest": CHILD}, {"digest": OTHER}]}).encode())
    assert covers == (INDEX, CHILD, OTHER)
    tag = get("v1", INDEX, covers=covers)
    assert image_pulls([tag, get(CHILD, CHILD, at=1000.1)], RecentTagPulls()) == [tag]


def test_what_is_a_pull_of_its_own():
    recent = RecentTagPulls()
    tag = get("v1", CHILD, covers=(CHILD,))
    late = get(CHILD, CHILD, at=1000 + REPEAT_WINDOW + 1)
    someone_else = get(CHILD, CHILD, at=1000.1, user="bob")
    other_tool = get(CHILD, CHILD, at=1000.1, agent="skopeo/1.18")
    unrelated = get(OTHER, OTHER, at=1000.1)
    pulls = [tag, late, someone_else, other_tool, unrelated]
    assert image_pulls(pulls, recent) == [tag, someone_else, other_tool, unrelated, late]


def test_the_rule_holds_across_batches():
    recent = RecentTagPulls()
    tag = get("v1", CHILD, covers=(CHILD,))
    assert image_pulls([tag], recent) == [tag]
    assert image_pulls([get(CHILD, CHILD, at=1001)], recent) == []


def test_old_lines_without_the_new_fields_still_read():
    assert from_subscription(event(line()))[0].covers == ()
    assert served_digests(CHILD, "application/vnd.oci.image.manifest.v1+json", b"{}") == (CHILD,)
