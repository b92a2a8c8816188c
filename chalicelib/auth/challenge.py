"""The decision of the API Gateway authorizer in front of the OCI routes (app.py, `challenge`).

API Gateway renames a `WWW-Authenticate` header that the app returns, so Docker token auth's
401 challenge would never reach clients; the `UNAUTHORIZED` gateway response is not renamed
and carries the challenge instead (deploy/finish.py, infra/apigw-extras.yaml). Chalice's
built-in authorizer is a TOKEN authorizer on `Authorization`: API Gateway itself answers that
response to a request without the header, and calls this function for the others. It lets a
Bearer JWT through while its `exp` is ahead and answers `Unauthorized` (the challenge) to
anything else on these routes (Basic, a malformed or expired token). The app still verifies
every token's signature and scopes; this only decides who gets the challenge.

The token service, the management API and the console are routed without the authorizer
(chalicelib/front.py), so anonymous and Basic requests reach them.

Standard library only: this runs in its own function, whose cold start should stay small.
"""
from __future__ import annotations

import base64
import binascii
import json
import time


class Unauthorized(Exception):
    """API Gateway answers the UNAUTHORIZED gateway response when the authorizer fails with
    exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def fresh_bearer(value: str, now: float) -> bool:
    """A Bearer JWT whose `exp` is still ahead (nothing else is checked here)."""
    scheme, _, token = (value or "").strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"]) > now
    except (binascii.Error, ValueError, TypeError, KeyError):
        return False


def decide(authorization: str, method_arn: str, now: float | None = None) -> dict:
    """The authorizer's answer: an Allow policy on the whole stage, or Unauthorized.

    The policy covers every method and path of the stage, so that API Gateway's cache of it
    (keyed by the Authorization value) serves the token's later requests as well."""
    if not fresh_bearer(authorization, time.time() if now is None else now):
        raise Unauthorized()
    # arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path>
    api, stage = method_arn.split("/")[:2]
    return {
        "principalId": "registry-client",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api}/{stage}/*"}],
        },
    }
