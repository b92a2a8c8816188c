"""Password hashing for database accounts, with the standard library only.

Hashes are scrypt, encoded with their parameters so they can be raised later
(`needs_rehash` says when a stored hash should be replaced at the next login):

    scrypt$16384$8$1$<salt, base64>$<derived key, base64>

scrypt costs ~16 MiB and tens of milliseconds per check on purpose; a warm
Lambda keeps a `CredentialCache` of recently verified logins so that a client
sending basic auth on every request does not pay that each time.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SCHEME = "scrypt"
N = 2**14
R = 8
P = 1
DKLEN = 32
SALT_BYTES = 16

# bounds on what verify_password accepts from a stored encoding, so a
# tampered or corrupt row cannot make a check take unbounded memory or time
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEMORY = 256 * 1024 * 1024
_DIGITS = re.compile(r"[1-9][0-9]{0,9}")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64.fullmatch(text):
        raise ValueError("not base64")
    return base64.b64decode(text, validate=True)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    memory = 128 * r * n * p + 128 * r * n
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=memory + 1024 * 1024
    )


@dataclass(frozen=True)
class PasswordHasher:
    """Makes new hashes at one cost. A check's cost comes from the stored encoding,
    so a hash made at a lower cost is checked at that cost. The app's `Services` holds
    one; its default is the production cost, and only code that builds `Services`
    itself (the test suites) passes a cheaper one."""

    n: int = N
    r: int = R
    p: int = P

    def hash(self, password: str) -> str:
        """A new salted hash of `password`, to store."""
        if not isinstance(password, str):
            raise TypeError("password must be a string")
        salt = os.urandom(SALT_BYTES)
        derived = _scrypt(password, salt, self.n, self.r, self.p, DKLEN)
        return f"{SCHEME}${self.n}${self.r}${self.p}${_b64encode(salt)}${_b64encode(derived)}"

    def needs_rehash(self, encoded: str) -> bool:
        """Whether a stored hash is malformed or made at another cost than this hasher's."""
        try:
            n, r, p, salt, derived = _parse(encoded)
        except (ValueError, TypeError, binascii.Error):
            return True
        return (n, r, p, len(salt), len(derived)) != (self.n, self.r, self.p, SALT_BYTES, DKLEN)


DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """A new salted hash of `password` at the production cost, to store."""
    return DEFAULT_HASHER.hash(password)


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, derived key); ValueError (TypeError) if `encoded` is not a sane scrypt encoding."""
    if not isinstance(encoded, str):
        raise TypeError("encoding must be a string")
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt encoding")
    if not all(_DIGITS.fullmatch(v) for v in parts[1:4]):
        raise ValueError("bad parameters")
    n, r, p = (int(v) for v in parts[1:4])
    if n < 2 or n > _MAX_N or n & (n - 1) or r > _MAX_R or p > _MAX_P:
        raise ValueError("parameters out of range")
    if 128 * r * n * (p + 1) > _MAX_MEMORY:
        raise ValueError("parameters need too much memory")
    salt, derived = _b64decode(parts[4]), _b64decode(parts[5])
    if not 8 <= len(salt) <= 64 or not 16 <= len(derived) <= 64:
        raise ValueError("bad salt or hash length")
    return n, r, p, salt, derived


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the stored `encoded` hash. Never raises: a
    malformed encoding (or a non-string argument) just does not match."""
    try:
        n, r, p, salt, expected = _parse(encoded)
        if not isinstance(password, str):
            return False
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, TypeError, UnicodeError, MemoryError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str) -> bool:
    """Whether a stored hash is malformed or uses other parameters than `hash_password` now would."""
    return DEFAULT_HASHER.needs_rehash(encoded)


def validate_password_strength(password: str) -> str | None:
    """Harbor's rule for new passwords: 8-128 characters with at least one
    uppercase letter, one lowercase letter and one digit. The problem, or None."""
    if not isinstance(password, str):
        return "password must be a string"
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long"
    missing = [
        what
        for what, pattern in (("an uppercase letter", "[A-Z]"), ("a lowercase letter", "[a-z]"), ("a digit", "[0-9]"))
        if not re.search(pattern, password)
    ]
    if missing:
        return "password must contain at least " + ", ".join(missing)
    return None


class CredentialCache:
    """Recently verified (username, password, stored hash) triples, per process.

    Holds only HMAC-SHA256 digests under a random key that never leaves the
    process, never a password. An entry is tied to the stored hash it was
    verified against, so changing the password (a new stored hash) makes it
    miss. At most one entry per username; least recently used entries go first
    when full.

    `check` answers True (this password was verified against this hash
    recently), False (another password was, so this one is wrong) or None (not
    cached: verify with `verify_password`, then `remember` on success).
    """

    def __init__(
        self,
        ttl_seconds: float = 60,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ):
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        # mac(username) -> (mac(username, hash), mac(username, password, hash), expiry)
        self._entries: OrderedDict[bytes, tuple[bytes, bytes, float]] = OrderedDict()

    def _mac(self, *parts: str) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        mac.update(len(parts).to_bytes(1, "big"))
        for part in parts:
            data = part.encode("utf-8", "surrogatepass")
            mac.update(len(data).to_bytes(8, "big"))
            mac.update(data)
        return mac.digest()

    def check(self, username: str, password: str, encoded_hash: str) -> bool | None:
        if not all(isinstance(v, str) for v in (username, password, encoded_hash)):
            return None
        user = self._mac("user", username)
        with self._lock:
            entry = self._entries.get(user)
            if entry is None:
                return None
            stored_hash, credential, expiry = entry
            if self._clock() >= expiry:
                del self._entries[user]
                return None
            if not hmac.compare_digest(stored_hash, self._mac("hash", username, encoded_hash)):
                return None  # the stored hash changed since: verify afresh
            self._entries.move_to_end(user)
        return hmac.compare_digest(credential, self._mac("credential", username, password, encoded_hash))

    def remember(self, username: str, password: str, encoded_hash: str) -> None:
        """Record a credential that `verify_password` has just accepted."""
        if not all(isinstance(v, str) for v in (username, password, encoded_hash)):
            return
        user = self._mac("user", username)
        entry = (
            self._mac("hash", username, encoded_hash),
            self._mac("credential", username, password, encoded_hash),
            self._clock() + self._ttl,
        )
        with self._lock:
            self._entries[user] = entry
            self._entries.move_to_end(user)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, username: str) -> None:
        """Drop a user's entry (e.g. after a password change or a lockout)."""
        with self._lock:
            self._entries.pop(self._mac("user", username), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
