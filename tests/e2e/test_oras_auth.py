"""The harness checks itself: when ScopeAwareTokenAuth drops oras-py's cached token.

No registry involved (tests/e2e/oras_auth.py says why the adapter exists).
"""
from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.oras_auth import challenge_wants_new_token

pytestmark = pytest.mark.e2e

REALM = 'Bearer realm="http://127.0.0.1:1/v2/service/token",service="berth-registry"'


def _token(access: list[dict]) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'sub': 'dev1', 'access': access})}.c2ln"


PULL_ONLY = _token([{"type": "repository", "name": "team/app", "actions": ["pull"]}])
PULL_PUSH = _token([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
STAR = _token([{"type": "repository", "name": "team/app", "actions": ["*"]}])


@pytest.mark.parametrize(("challenge", "token", "expected"), [
    # the registry says the token lacks scope, or is invalid
    (REALM + ',scope="repository:team/app:pull",error="insufficient_scope"', PULL_PUSH, True),
    (REALM + ',error="invalid_token"', PULL_PUSH, True),
    # a scope the token does not grant: another action, another repository
    (REALM + ',scope="repository:team/app:pull,push"', PULL_ONLY, True),
    (REALM + ',scope="repository:team/other:pull"', PULL_PUSH, True),
    (REALM + ',scope="repository:team/app:pull repository:library/base:pull"', PULL_PUSH, True),
    # the token covers it (a 401 for some other reason): keep it, as oras does
    (REALM + ',scope="repository:team/app:pull,push"', PULL_PUSH, False),
    (REALM + ',scope="repository:team/app:pull,push,delete"', STAR, False),
    (REALM, PULL_ONLY, False),
    # nothing cached, or not a Bearer challenge: oras's own logic applies
    (REALM + ',error="insufficient_scope"', None, False),
    ('Basic realm="berth"', PULL_ONLY, False),
    # an unreadable token cannot be shown to cover the scope
    (REALM + ',scope="repository:team/app:pull"', "not-a-jwt", True),
])
def test_challenge_wants_new_token(challenge, token, expected):
    assert challenge_wants_new_token(challenge, token) is expected
