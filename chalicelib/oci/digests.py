"""Digests as the OCI image-spec defines them: `algorithm:encoded`."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from chalicelib.errors import InvalidDigest, UnsupportedDigest

# image-spec descriptor.md: the grammar every digest must match
_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
HEX_LENGTH = {"sha256": 64, "sha512": 128}
CANONICAL = "sha256"
_HEX = re.compile(r"^[a-f0-9]+$")


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        if not value or len(value) > 256 or not _GRAMMAR.fullmatch(value):
            raise InvalidDigest(f"invalid digest {value[:80]!r}", detail={"digest": value[:256]})
        algorithm, encoded = value.split(":", 1)
        if algorithm not in HEX_LENGTH:
            raise UnsupportedDigest(
                f"unsupported digest algorithm {algorithm!r}", detail={"digest": value}
            )
        if len(encoded) != HEX_LENGTH[algorithm] or not _HEX.fullmatch(encoded):
            raise InvalidDigest(f"invalid {algorithm} digest {value!r}", detail={"digest": value})
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def looks_like_digest(reference: str) -> bool:
    return ":" in reference
