"""The `challenge` authorizer's decisions (chalicelib/auth/challenge.py), through the handler
Chalice deploys for it (app.challenge) with API Gateway's TOKEN authorizer event."""
from __future__ import annotations

import base64
import json

import pytest

API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123defg"


def jwt(claims: dict) -> str:
    def part(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


# fixed times: the same test ids in every xdist worker, fresh however slow the run
FRESH, EXPIRED = jwt({"sub": "admin", "exp": 4102444800}), jwt({"sub": "admin", "exp": 946684800})  # 2100, 2000


def token_event(authorization: str, path: str = "library/app/manifests/1") -> dict:
    # API Gateway calls a TOKEN authorizer only when the header is present (otherwise it
    # answers the UNAUTHORIZED gateway response itself)
    return {"type": "TOKEN", "authorizationToken": authorization, "methodArn": f"{API_ARN}/v2/GET/{path}"}


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {FRESH}", f"bearer {FRESH}", f"  Bearer   {FRESH} "],
)
def test_a_fresh_bearer_token_reaches_the_app_on_every_path_of_the_stage(authorization):
    from app import challenge

    result = challenge(token_event(authorization), None)
    assert result["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API_ARN}/v2/*"}
    ]
    assert result["principalId"]


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {EXPIRED}",  # expired: the challenge again, so the client fetches a new token
        "Bearer not-a-jwt",
        "Bearer a.b!.c",
        f"Bearer {jwt({'sub': 'admin'})}",  # no exp
        f"Bearer {jwt({'sub': 'admin', 'exp': 'soon'})}",
        "Basic YWRtaW46eA==",  # registries take tokens: Basic gets the challenge
        FRESH,  # no scheme
        "",
    ],
)
def test_anything_else_gets_unauthorized_which_api_gateway_answers_with_the_challenge(authorization):
    from app import challenge

    # exactly "Unauthorized": API Gateway maps that message to the UNAUTHORIZED response (401)
    with pytest.raises(Exception, match="^Unauthorized$"):
        challenge(token_event(authorization), None)


def test_the_decision_follows_the_clock():
    from chalicelib.auth.challenge import Unauthorized, decide

    token = "Bearer " + jwt({"exp": 1000})
    assert decide(token, f"{API_ARN}/v2/HEAD/", now=999.0)["principalId"]
    with pytest.raises(Unauthorized):
        decide(token, f"{API_ARN}/v2/HEAD/", now=1000.0)
