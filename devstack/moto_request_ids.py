"""moto's request ids, drawn from moto's random source with fewer calls per character.

moto 5.2 gives every response a 52-character request id (`gen_amzn_requestid_long`:
`mock_random.get_random_string(52)`, one `random.choice` over the 62 letters and digits
per character). Each choice is four Python calls deep (`choice`, `_randbelow`,
`bit_length`, `getrandbits`); with the string's assembly, about 0.2 ms a response.

Python's `choice` over 62 items draws 6 bits with `getrandbits` until they are below 62
and takes that item (`Random._randbelow_with_getrandbits`). `install()` draws the same
bits from the same source (`mock_random`, which a test may seed) in one loop, so the ids
are the very ones moto would give, in the same order; if moto's random source does not
pick that way (a `random()` or `getrandbits` of its own, another `choice` or
`get_random_string`), moto's function is called instead.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import string
from random import Random
from typing import Any

from moto.core import responses
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.moto_random import MotoRandom
from moto.utilities import aws_headers

MOTOS_REQUEST_ID = aws_headers.gen_amzn_requestid_long  # kept for the tests
MOTOS_RANDOM_STRING = MotoRandom.__dict__["get_random_string"]
LENGTH = 52
POOL = string.ascii_letters + string.digits  # get_random_string's, digits included


def _picks_as_python_does() -> bool:
    cls = type(mock_random)
    return (
        cls.get_random_string is MOTOS_RANDOM_STRING
        and cls.choice is Random.choice
        and cls._randbelow is Random._randbelow_with_getrandbits  # type: ignore[attr-defined]
        and "getrandbits" not in vars(mock_random)
        and cls.getrandbits is Random.getrandbits
    )


def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
    if not _picks_as_python_does():
        return MOTOS_REQUEST_ID(headerdict)
    bits, pool, chars = mock_random.getrandbits, POOL, []
    while len(chars) < LENGTH:
        drawn = bits(6)  # (62).bit_length()
        if drawn < 62:
            chars.append(pool[drawn])
    req_id = "".join(chars)
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id


def install() -> None:
    """Idempotent: moto's responses get their request ids from the function above."""
    responses.gen_amzn_requestid_long = gen_amzn_requestid_long
