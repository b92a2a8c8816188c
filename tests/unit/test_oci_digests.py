"""Digests: the image-spec grammar, the registered algorithms, and nothing else."""
from __future__ import annotations

import hashlib

import pytest

from chalicelib.errors import InvalidDigest, UnsupportedDigest
from chalicelib.oci.digests import CANONICAL, Digest, looks_like_digest

HEX256 = hashlib.sha256(b"berth").hexdigest()
HEX512 = hashlib.sha512(b"berth").hexdigest()


@pytest.mark.parametrize(
    "value, algorithm, hex_",
    [
        (f"sha256:{HEX256}", "sha256", HEX256),
        (f"sha512:{HEX512}", "sha512", HEX512),
        ("sha256:" + "0" * 64, "sha256", "0" * 64),
        ("sha256:" + "f" * 64, "sha256", "f" * 64),
        ("sha512:" + "a" * 128, "sha512", "a" * 128),
    ],
)
def test_valid_digests_parse_and_round_trip(value, algorithm, hex_):
    digest = Digest.parse(value)
    assert (digest.algorithm, digest.hex) == (algorithm, hex_)
    assert str(digest) == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("sha256", id="no-colon"),
        pytest.param("sha256:", id="no-encoded"),
        pytest.param(f":{HEX256}", id="no-algorithm"),
        pytest.param("sha256:" + HEX256[:-1], id="sha256-63"),
        pytest.param("sha256:" + HEX256 + "0", id="sha256-65"),
        pytest.param("sha256:" + HEX512, id="sha256-with-128"),
        pytest.param("sha512:" + HEX256, id="sha512-with-64"),
        pytest.param("sha512:" + HEX512[:-1], id="sha512-127"),
        pytest.param("sha256:" + HEX256.upper(), id="uppercase-hex"),
        pytest.param("sha256:" + HEX256[:-1] + "A", id="one-uppercase"),
        pytest.param("SHA256:" + HEX256, id="uppercase-algorithm"),
        pytest.param("sha256:" + "g" * 64, id="non-hex"),
        pytest.param("sha256:" + "z" * 64, id="non-hex-z"),
        pytest.param("sha256:" + "=" * 64, id="base64-padding"),
        pytest.param(" sha256:" + HEX256, id="leading-space"),
        pytest.param("sha256:" + HEX256 + " ", id="trailing-space"),
        pytest.param("sha256:" + HEX256 + "\n", id="trailing-newline"),
        # 63 hex digits and a newline are 64 characters: the length check alone would pass it
        pytest.param("sha256:" + HEX256[:-1] + "\n", id="newline-as-64th-character"),
        pytest.param("sha512:" + HEX512[:-1] + "\n", id="sha512-newline-as-128th-character"),
        pytest.param("sha256::" + HEX256, id="double-colon"),
        pytest.param("sha256:" + HEX256[:32] + "/" + HEX256[33:], id="slash"),
        pytest.param("sha256-:" + HEX256, id="dangling-separator"),
        pytest.param("sha256:" + "é" * 64, id="non-ascii"),
        pytest.param("sha256:" + "a" * 300, id="too-long"),
        pytest.param("latest", id="a-tag"),
        pytest.param("sha256:../../etc/passwd", id="path"),
        pytest.param("\x00", id="nul"),
    ],
)
def test_invalid_digests(value):
    with pytest.raises(InvalidDigest) as caught:
        Digest.parse(value)
    assert type(caught.value) is InvalidDigest
    assert caught.value.detail["digest"] == value[:256]


@pytest.mark.parametrize(
    "value",
    [
        "md5:" + "a" * 32,
        "sha1:" + "a" * 40,
        "sha384:" + "a" * 96,
        "sha224:" + "a" * 56,
        "blake3:" + "a" * 64,
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
    ],
)
def test_unknown_algorithms_are_unsupported(value):
    # the grammar is fine; the algorithm is not registered
    with pytest.raises(UnsupportedDigest):
        Digest.parse(value)


def test_unsupported_is_a_kind_of_invalid():
    # so the API layer answers DIGEST_INVALID for both
    assert issubclass(UnsupportedDigest, InvalidDigest)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("data", [b"", b"a", bytes(range(256)) * 100])
def test_of_matches_hashlib(algorithm, data):
    digest = Digest.of(data, algorithm)
    assert digest == Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
    assert Digest.parse(str(digest)) == digest


def test_of_defaults_to_sha256():
    assert CANONICAL == "sha256"
    assert str(Digest.of(b"")) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_digest_is_hashable_and_immutable():
    d = Digest.parse(f"sha256:{HEX256}")
    assert {d, Digest("sha256", HEX256)} == {d}
    with pytest.raises(AttributeError):
        d.hex = "0" * 64  # type: ignore[misc]


@pytest.mark.parametrize(
    "reference, expected",
    [("latest", False), ("v1.0", False), (f"sha256:{HEX256}", True), ("sha256:short", True), ("", False)],
)
def test_looks_like_digest(reference, expected):
    assert looks_like_digest(reference) is expected
