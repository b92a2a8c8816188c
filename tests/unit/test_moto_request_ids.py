"""The local stack's request ids (devstack/moto_request_ids.py) are moto's own: from the
same seed, the same ids in the same order, in the same header; and moto's function
whenever moto's random source would not pick as Python's `choice` does."""
from __future__ import annotations

import pytest
from moto.core import responses
from moto.moto_api._internal import mock_random

from devstack import moto_request_ids


@pytest.fixture(autouse=True)
def motos_random_state():
    """The seeds here are this module's: moto's random source goes on as before after it."""
    state = mock_random.getstate()
    yield
    mock_random.setstate(state)


def ids(generate, seed: int, count: int = 300) -> list[tuple[str, dict]]:
    mock_random.seed(seed)
    drawn = []
    for _ in range(count):
        headers: dict = {"status": "200"}
        drawn.append((generate(headers), headers))
    drawn.append((generate(None), {}))
    return drawn


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_the_same_ids_as_motos_from_the_same_seed(seed):
    motos = ids(moto_request_ids.MOTOS_REQUEST_ID, seed)
    assert ids(moto_request_ids.gen_amzn_requestid_long, seed) == motos
    assert len({i for i, _ in motos}) == len(motos)
    assert all(len(i) == 52 and i.isalnum() and h.get("x-amzn-requestid", i) == i for i, h in motos)


def test_a_random_source_of_its_own_gets_motos_function(monkeypatch):
    monkeypatch.setattr(mock_random, "getrandbits", lambda k: 0)  # every pick would be "a"
    assert moto_request_ids.gen_amzn_requestid_long() == moto_request_ids.MOTOS_REQUEST_ID() == "a" * 52
    monkeypatch.undo()
    assert moto_request_ids._picks_as_python_does()


def test_installed_for_the_tests():
    assert responses.gen_amzn_requestid_long is moto_request_ids.gen_amzn_requestid_long
