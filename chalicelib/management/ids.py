"""Harbor's integer ids for what Berth keys by name: repositories, artifacts, tags.

Harbor numbers them in its database; Berth's keys are names and digests, so an id
is the first 52 bits of the SHA-256 of what names the thing ("<repository>",
"<repository>@<digest>", "<repository>:<tag>"): stable across requests and
deployments, exact in a JSON number, and, with 2^52 values, distinct in practice.
Nothing is looked up by these ids (Harbor's own paths for these resources take
names and references).
"""
from __future__ import annotations

import hashlib


def stable_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big") >> 4
