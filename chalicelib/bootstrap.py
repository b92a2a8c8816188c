"""First-start set-up that CloudFormation cannot do, safe to run again.

- the SecureString secrets: the token signing key (RS256, PEM) and the upload
  state key, created only if absent (a re-run never rotates them);
- the `admin` system administrator, if absent, with the password given once: the
  environment variable BERTH_ADMIN_PASSWORD, or the SecureString
  `<prefix>/bootstrap/admin-password`, which is deleted once read. Only its hash is kept;
- the public `library` project, as Harbor has from the start, owned by `admin`, who is
  its first member (project admin).

Run by the local stack, by `make finish` (deploy/finish.py) for a deployment, and by
`python -m chalicelib.bootstrap` (environment as for the Lambda function).
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.secrets import TOKEN_SIGNING_KEY, UPLOAD_TOKEN_KEY
from chalicelib.services import Services

LIBRARY = "library"
ADMIN_PASSWORD_PARAMETER = "bootstrap/admin-password"


@dataclass(frozen=True)
class GivenPassword:
    """The admin's first password and, if it came from SSM, the parameter to delete."""

    value: str | None
    parameter: str | None = None


def ensure_secret(ssm, prefix: str, name: str, make_value) -> bool:
    """Create the SecureString `<prefix>/<name>` unless it exists; True if created."""
    try:
        ssm.put_parameter(
            Name=f"{prefix}/{name}",
            Value=make_value(),
            Type="SecureString",
            Overwrite=False,
            Description="Berth secret, created by chalicelib.bootstrap",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterAlreadyExists":
            return False
        raise
    return True


def _signing_key_pem() -> str:
    from chalicelib.auth.tokens import SigningKey

    return SigningKey.generate("RS256").to_pem()


def bootstrap(svc: Services, *, admin_password: str | None) -> dict[str, bool]:
    from chalicelib.meta.accounts import AccountNotFound, Member, Project, User
    from chalicelib.meta.list_sizes import backfill
    from chalicelib.roles import Role

    done = {
        # first: data saved before the lists were counted gets its counters (once)
        "list_sizes": backfill(svc.table, retention_days=svc.audit.retention_seconds() // 86400),
        "upload_key": ensure_secret(svc.ssm, svc.settings.ssm_prefix, UPLOAD_TOKEN_KEY, lambda: secrets.token_hex(32)),
        "signing_key": ensure_secret(svc.ssm, svc.settings.ssm_prefix, TOKEN_SIGNING_KEY, _signing_key_pem),
        "library": False,
        "admin": False,
    }
    if admin_password and svc.accounts.get_user("admin") is None:
        try:
            svc.accounts.create_user(
                User(
                    username="admin",
                    realname="System Administrator",
                    password_hash=svc.passwords.hash(admin_password),
                    sysadmin=True,
                    source="db",
                )
            )
            done["admin"] = True
        except Conflict:
            pass
    if svc.accounts.get_project(LIBRARY) is None:
        try:
            svc.accounts.create_project(Project(name=LIBRARY, public=True, owner="admin"))
            done["library"] = True
        except Conflict:
            pass
        else:
            # as in Harbor, and as for every project created through the API: its owner
            # is its first member, a project admin (the Members tab lists them)
            try:
                svc.accounts.add_member(
                    LIBRARY, Member(entity_type="u", entity_name="admin", role_id=int(Role.PROJECT_ADMIN))
                )
            except (Conflict, AccountNotFound):
                pass  # no admin account (no password given): the project has no member yet
    return done


def given_admin_password(svc: Services, environ: Mapping[str, str] = os.environ) -> GivenPassword:
    """BERTH_ADMIN_PASSWORD, else the SecureString <prefix>/bootstrap/admin-password, else none."""
    if environ.get("BERTH_ADMIN_PASSWORD"):
        return GivenPassword(environ["BERTH_ADMIN_PASSWORD"])
    name = f"{svc.settings.ssm_prefix}/{ADMIN_PASSWORD_PARAMETER}"
    try:
        value = svc.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return GivenPassword(None)
        raise
    return GivenPassword(value, name)


def first_start(svc: Services, given: GivenPassword) -> list[str]:
    """bootstrap(), then the parameter the password came from deleted; lines to print."""
    result = bootstrap(svc, admin_password=given.value)
    lines = [f"{what}: {'created' if created else 'already there'}" for what, created in result.items()]
    if not result["admin"] and svc.accounts.get_user("admin") is None:
        lines[-1] = (
            "admin: not created; give its password once (BERTH_ADMIN_PASSWORD, or the SecureString "
            f"{svc.settings.ssm_prefix}/{ADMIN_PASSWORD_PARAMETER}) and run this again"
        )
    if given.parameter:
        svc.ssm.delete_parameter(Name=given.parameter)
        lines.append(f"{given.parameter}: read once and deleted")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    from chalicelib.config import Settings
    from chalicelib.services import Services

    svc = Services(Settings.from_env())
    for line in first_start(svc, given_admin_password(svc)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
