"""DynamoUploadSessions against DynamoDB on moto: one item per session, saved conditionally."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from chalicelib.errors import RangeInvalid
from chalicelib.meta import keys
from chalicelib.meta.uploads import DynamoUploadSessions, UploadSession
from tests.conftest import ROOT
from tests.contract.helpers import T0

MiB = 1024 * 1024


def new_session(upload_id: str = "0f6d8c52-5d0e-4a43-9a55-6f1f0c1a2b3c") -> UploadSession:
    return UploadSession(id=upload_id, name="library/app", created=T0, expires_at=T0 + 3600)


def test_create_and_get(sessions: DynamoUploadSessions):
    session = new_session()
    sessions.create(session)
    assert sessions.get(session.id) == session
    assert sessions.get("another") is None


def test_every_field_round_trips(sessions):
    session = new_session()
    sessions.create(session)
    full = dataclasses.replace(
        session,
        offset=10 * MiB + 7,
        multipart_id="mp-Id.with/odd+chars==",
        parts=[(1, '"etag-1"'), (2, '"etag-2"')],
        tail_key="uploads/x/tail/abc/10485760-10485767",
        tail_size=7,
        hash_state=bytes(range(256)) + b"\x00\xff",
    )
    sessions.save(full, expected_offset=0)
    got = sessions.get(session.id)
    assert got == full
    assert isinstance(got.hash_state, bytes)
    assert got.parts_size == 10 * MiB
    assert got.tail_length == 7


def test_session_expires_through_the_table_ttl(sessions, table):
    session = new_session()
    sessions.create(session)
    item = table.get(keys.upload_pk(session.id), keys.UPLOAD_SK)
    assert item[keys.TTL_ATTRIBUTE] == T0 + 3600
    # moto's CloudFormation ignores TimeToLiveSpecification, so check the template itself
    loader = type("CfnLoader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "infra" / "berth.yaml").read_text(), Loader=loader)
    ttl = template["Resources"]["MetadataTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": keys.TTL_ATTRIBUTE, "Enabled": True}


def test_save_with_the_expected_offset(sessions):
    session = new_session()
    sessions.create(session)
    moved = dataclasses.replace(session, offset=100, tail_key="uploads/x/tail/n/0-100", hash_state=b"s1")
    sessions.save(moved, expected_offset=0)
    moved_again = dataclasses.replace(moved, offset=200, tail_key="uploads/x/tail/m/0-200", hash_state=b"s2")
    sessions.save(moved_again, expected_offset=100)
    assert sessions.get(session.id) == moved_again


def test_save_with_a_stale_offset_is_range_invalid(sessions):
    session = new_session()
    sessions.create(session)
    sessions.save(dataclasses.replace(session, offset=100), expected_offset=0)
    loser = dataclasses.replace(session, offset=50, hash_state=b"loser")
    with pytest.raises(RangeInvalid) as caught:
        sessions.save(loser, expected_offset=0)
    assert caught.value.offset == 0
    assert sessions.get(session.id).offset == 100
    assert sessions.get(session.id).hash_state is None


def test_save_never_recreates_a_deleted_session(sessions):
    session = new_session()
    sessions.create(session)
    sessions.delete(session.id)
    with pytest.raises(RangeInvalid):
        sessions.save(dataclasses.replace(session, offset=10), expected_offset=0)
    assert sessions.get(session.id) is None


def test_cleared_fields_are_removed(sessions):
    session = new_session()
    sessions.create(session)
    with_tail = dataclasses.replace(session, offset=10, tail_key="uploads/x/tail/n/0-10", hash_state=b"s")
    sessions.save(with_tail, expected_offset=0)
    flushed = dataclasses.replace(with_tail, offset=6 * MiB, tail_key=None, multipart_id="mp", parts=[(1, '"e"')])
    sessions.save(flushed, expected_offset=10)
    assert sessions.get(session.id).tail_key is None


def test_delete(sessions):
    session = new_session()
    sessions.create(session)
    sessions.delete(session.id)
    assert sessions.get(session.id) is None
    sessions.delete(session.id)  # idempotent


def test_sessions_are_independent(sessions):
    a, b = new_session("a"), new_session("b")
    sessions.create(a)
    sessions.create(b)
    sessions.save(dataclasses.replace(a, offset=5), expected_offset=0)
    assert sessions.get("b") == b
    sessions.delete("a")
    assert sessions.get("b") == b
