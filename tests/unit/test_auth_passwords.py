"""Password hashing (scrypt), the per-process credential cache and Harbor's strength rule."""
from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.auth.passwords import (
    CredentialCache,
    hash_password,
    needs_rehash,
    validate_password_strength,
    verify_password,
)

PASSWORD = "Correct-Horse-9"
UNICODE_PASSWORD = "Pässwörd-日本語-🔑"


# scrypt costs ~16 MiB and tens of ms: hash each password once per module
@pytest.fixture(scope="module")
def encoded() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def unicode_encoded() -> str:
    return hash_password(UNICODE_PASSWORD)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_round_trip(encoded):
    assert verify_password(PASSWORD, encoded)


def test_wrong_password(encoded):
    assert not verify_password("correct-horse-9", encoded)


def test_encoding_format(encoded):
    scheme, n, r, p, salt, derived = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(derived)) == 32
    assert PASSWORD not in encoded


def test_encoding_is_standard_scrypt(encoded):
    _, n, r, p, salt, derived = encoded.split("$")
    expected = hashlib.scrypt(PASSWORD.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    assert base64.b64decode(derived) == expected


def test_salt_is_random(encoded, unicode_encoded):
    assert encoded.split("$")[4] != unicode_encoded.split("$")[4]


def test_unicode_password(unicode_encoded):
    assert verify_password(UNICODE_PASSWORD, unicode_encoded)
    assert not verify_password("Passwörd-日本語-🔑", unicode_encoded)


def test_hash_password_refuses_non_strings():
    with pytest.raises(TypeError):
        hash_password(b"bytes")  # type: ignore[arg-type]


def test_other_parameters_still_verify_and_need_rehash():
    salt = bytes(range(16))
    derived = hashlib.scrypt(b"s3cret", salt=salt, n=2**4, r=1, p=1, dklen=32)
    old = f"scrypt$16$1$1${b64(salt)}${b64(derived)}"
    assert verify_password("s3cret", old)
    assert not verify_password("s3cret!", old)
    assert needs_rehash(old)


def test_current_parameters_do_not_need_rehash(encoded):
    assert not needs_rehash(encoded)


SALT = b64(bytes(16))
HASH = b64(bytes(32))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "scrypt",
        "scrypt$",
        "scrypt$$$$$",
        f"pbkdf2$16384$8$1${SALT}${HASH}",
        f"SCRYPT$16384$8$1${SALT}${HASH}",
        f"scrypt$16384$8$1${SALT}${HASH}$extra",
        f"scrypt$16384$8$1${SALT}",
        f"scrypt$16383$8$1${SALT}${HASH}",  # n not a power of two
        f"scrypt$1$8$1${SALT}${HASH}",
        f"scrypt$1073741824$8$1${SALT}${HASH}",  # would need 1 TiB
        f"scrypt$1048576$32$16${SALT}${HASH}",
        f"scrypt$16384$0$1${SALT}${HASH}",
        f"scrypt$16384$8$0${SALT}${HASH}",
        f"scrypt$16384$-8$1${SALT}${HASH}",
        f"scrypt$+16384$8$1${SALT}${HASH}",
        f"scrypt$ 16384$8$1${SALT}${HASH}",
        f"scrypt$016384$8$1${SALT}${HASH}",
        f"scrypt$16384$8$1$${HASH}",
        f"scrypt$16384$8$1${SALT}$",
        f"scrypt$16384$8$1$not base64!${HASH}",
        f"scrypt$16384$8$1${SALT}$AAA",
        f"scrypt$16384$8$1${SALT}${b64(bytes(8))}",  # hash too short
        f"scrypt$16384$8$1${b64(bytes(4))}${HASH}",  # salt too short
        f"scrypt$16384$8$1${SALT}${HASH}\n",
        f"scrypt$１６３８４$8$1${SALT}${HASH}",  # non-ASCII digits
        None,
        42,
        b"scrypt$16384$8$1$AAAA$AAAA",
    ],
)
def test_malformed_encodings_do_not_verify_and_do_not_raise(bad):
    assert verify_password(PASSWORD, bad) is False
    assert needs_rehash(bad) is True


@pytest.mark.parametrize("password", [None, 42, b"Correct-Horse-9", "\ud800"])
def test_odd_passwords_do_not_raise(encoded, password):
    assert verify_password(password, encoded) is False


# --- credential cache --------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


H1 = "scrypt$16384$8$1$c2FsdA==$aGFzaA=="
H2 = "scrypt$16384$8$1$c2FsdDI=$aGFzaDI="


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock) -> CredentialCache:
    return CredentialCache(ttl_seconds=60, max_entries=3, clock=clock)


def test_cache_miss_when_empty(cache):
    assert cache.check("alice", PASSWORD, H1) is None


def test_cache_hit_after_remember(cache):
    cache.remember("alice", PASSWORD, H1)
    assert cache.check("alice", PASSWORD, H1) is True


def test_cache_wrong_password_for_same_hash_is_false(cache):
    cache.remember("alice", PASSWORD, H1)
    assert cache.check("alice", "wrong", H1) is False
    assert cache.check("alice", PASSWORD, H1) is True


def test_cache_other_user_misses(cache):
    cache.remember("alice", PASSWORD, H1)
    assert cache.check("bob", PASSWORD, H1) is None


def test_cache_new_stored_hash_invalidates(cache):
    cache.remember("alice", PASSWORD, H1)
    assert cache.check("alice", PASSWORD, H2) is None
    assert cache.check("alice", "new password", H2) is None


def test_cache_expires(cache, clock):
    cache.remember("alice", PASSWORD, H1)
    clock.now += 59.9
    assert cache.check("alice", PASSWORD, H1) is True
    clock.now += 0.1
    assert cache.check("alice", PASSWORD, H1) is None
    assert len(cache) == 0


def test_cache_expiry_is_from_remember_not_from_last_hit(cache, clock):
    cache.remember("alice", PASSWORD, H1)
    for _ in range(3):
        clock.now += 25
        cache.check("alice", PASSWORD, H1)
    assert cache.check("alice", PASSWORD, H1) is None


def test_cache_remember_replaces_the_users_entry(cache):
    cache.remember("alice", PASSWORD, H1)
    cache.remember("alice", "new password", H2)
    assert len(cache) == 1
    assert cache.check("alice", "new password", H2) is True
    assert cache.check("alice", PASSWORD, H1) is None


def test_cache_evicts_least_recently_used(cache):
    for user in ("a", "b", "c"):
        cache.remember(user, PASSWORD, H1)
    assert cache.check("a", PASSWORD, H1) is True  # a is now the most recent
    cache.remember("d", PASSWORD, H1)
    assert len(cache) == 3
    assert cache.check("b", PASSWORD, H1) is None
    assert all(cache.check(u, PASSWORD, H1) is True for u in ("a", "c", "d"))


def test_cache_field_boundaries_are_unambiguous(cache):
    cache.remember("ab", "c", H1)
    assert cache.check("a", "bc", H1) is None


def test_cache_forget_and_clear(cache):
    cache.remember("alice", PASSWORD, H1)
    cache.remember("bob", PASSWORD, H1)
    cache.forget("alice")
    assert cache.check("alice", PASSWORD, H1) is None
    assert cache.check("bob", PASSWORD, H1) is True
    cache.clear()
    assert len(cache) == 0


def test_cache_never_stores_the_password(cache):
    secret = "Super-Secret-Password-123"
    cache.remember("alice", secret, H1)
    stored = repr(cache.__dict__)
    assert secret not in stored and "alice" not in stored and H1 not in stored
    for entry_key, (hash_mac, credential_mac, _expiry) in cache._entries.items():
        for value in (entry_key, hash_mac, credential_mac):
            assert len(value) == 32 and secret.encode() not in value


def test_cache_keys_differ_per_process_instance():
    a, b = CredentialCache(), CredentialCache()
    a.remember("alice", PASSWORD, H1)
    b.remember("alice", PASSWORD, H1)
    assert list(a._entries) != list(b._entries)


def test_cache_odd_inputs_do_not_raise(cache):
    cache.remember("alice", "\ud800", H1)
    assert cache.check("alice", "\ud800", H1) is True
    assert cache.check(None, PASSWORD, H1) is None  # type: ignore[arg-type]
    cache.remember(None, PASSWORD, H1)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"ttl_seconds": 0}, {"max_entries": 0}, {"ttl_seconds": -1}])
def test_cache_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        CredentialCache(**kwargs)


def test_cache_defaults():
    cache = CredentialCache()
    cache.remember("alice", PASSWORD, H1)
    assert cache.check("alice", PASSWORD, H1) is True


def test_cache_with_real_verification(encoded):
    cache = CredentialCache()
    assert cache.check("alice", PASSWORD, encoded) is None
    assert verify_password(PASSWORD, encoded)
    cache.remember("alice", PASSWORD, encoded)
    assert cache.check("alice", PASSWORD, encoded) is True


# --- strength ----------------------------------------------------------------


@pytest.mark.parametrize("password", ["Harbor12345", "aB3aB3aB", "Aa1" + "x" * 125, "Pässwörd1", "Ab1 !@#$%"])
def test_strong_passwords(password):
    assert validate_password_strength(password) is None


@pytest.mark.parametrize(
    "password,complaint",
    [
        ("", "8 to 128"),
        ("Ab1defg", "8 to 128"),
        ("Aa1" + "x" * 126, "8 to 128"),
        ("harbor12345", "uppercase"),
        ("HARBOR12345", "lowercase"),
        ("HarborHarbor", "digit"),
        ("12345678", "uppercase"),
        ("ÄÖÜäöü123", "uppercase"),  # like Harbor, only ASCII letters count
    ],
)
def test_weak_passwords(password, complaint):
    message = validate_password_strength(password)
    assert message is not None and complaint in message


def test_weak_password_message_names_everything_missing():
    message = validate_password_strength("12345678")
    assert "uppercase" in message and "lowercase" in message and "digit" not in message


def test_strength_of_non_string():
    assert validate_password_strength(None) is not None  # type: ignore[arg-type]
