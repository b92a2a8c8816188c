"""`make finish STAGE=<stage>`: what `chalice deploy` cannot do, after it; safe to run again.

    python -m deploy.finish --stage prod

Reads what Chalice deployed (``.chalice/deployed/<stage>.json``) and the stage's settings
(``.chalice/config.json``), then makes sure that

1. the REST API is named ``berth-<stage>``: the alarms and the dashboard (infra/operations.yaml)
   watch API Gateway's metrics by that name (Chalice names it after the app);
2. the ``UNAUTHORIZED`` gateway response carries Docker's token challenge
   (``WWW-Authenticate: Bearer realm=".../v2/service/token",service="..."``), which API Gateway
   would rename if the app sent it: the `challenge` authorizer (app.py) answers every OCI request
   without a fresh token with this response; Chalice has no setting for gateway responses;
3. stage ``v2`` runs a deployment made after that response (a gateway response takes effect with
   the next deployment); one is made only when the stage's deployment is not this step's own
   for the same challenge, so running this again deploys nothing;
4. the API function's pull lines reach ``record_pulls`` (chalicelib/pulls.py): CloudWatch Logs
   may invoke it, and the subscription filter ``berth-<stage>-pulls`` on the API's log group
   (infra/operations.yaml's) names it. Chalice has no event source for log subscriptions;
5. the first start is done (chalicelib/bootstrap.py): the secrets, the `library` project and the
   `admin` account, its password given once (BERTH_ADMIN_PASSWORD, or the SecureString
   ``<prefix>/bootstrap/admin-password``, deleted once read).

Deleting: ``chalice delete`` removes the API (with its gateway response) and the functions (with
their permissions); the subscription filter goes with the log group, when the operations stack
is deleted (README).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deploy import configure

STAGE = "v2"
SUBSCRIPTION_STATEMENT = "berth-pull-log-subscription"
ERROR_BODY = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}'


class FinishError(Exception):
    """Something Chalice should have deployed is not there; the message says what."""


def deployed_resources(project: Path, stage: str) -> dict[str, dict[str, Any]]:
    """Chalice's record of what it deployed for the stage, by resource name."""
    path = project / ".chalice" / "deployed" / f"{stage}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FinishError(f"{path} does not exist: run `chalice deploy --stage {stage}` first") from None
    return {r["name"]: r for r in record.get("resources", [])}


def stage_environment(project: Path, stage: str) -> dict[str, str]:
    """The API function's environment as .chalice/config.json gives it for the stage."""
    config = json.loads((project / ".chalice" / "config.json").read_text(encoding="utf-8"))
    stage_config = config.get("stages", {}).get(stage, {})
    env = dict(config.get("environment_variables", {}))
    env.update(stage_config.get("environment_variables", {}))
    for level in (config, stage_config):
        env.update(level.get("lambda_functions", {}).get("api_handler", {}).get("environment_variables", {}))
    return env


def challenge(public_url: str, service: str) -> str:
    """The challenge as the app would send it, minus a scope (chalicelib/auth/token_authorizer.py)."""
    return f'Bearer realm="{public_url}/v2/service/token",service="{service}"'


def gateway_response(value: str) -> dict[str, Any]:
    return {
        "statusCode": "401",
        "responseParameters": {
            "gatewayresponse.header.WWW-Authenticate": f"'{value}'",
            "gatewayresponse.header.Docker-Distribution-API-Version": "'registry/2.0'",
        },
        "responseTemplates": {"application/json": ERROR_BODY},
    }


def name_api(apigw: Any, api_id: str, name: str) -> bool:
    if apigw.get_rest_api(restApiId=api_id)["name"] == name:
        return False
    apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/name", "value": name}])
    return True


def ensure_challenge(apigw: Any, api_id: str, value: str) -> bool:
    wanted = gateway_response(value)
    try:
        current = apigw.get_gateway_response(restApiId=api_id, responseType="UNAUTHORIZED")
    except apigw.exceptions.NotFoundException:  # moto has no default responses; AWS always does
        current = {}
    if all(current.get(key) == wanted[key] for key in wanted):
        return False
    apigw.put_gateway_response(restApiId=api_id, responseType="UNAUTHORIZED", **wanted)
    return True


def ensure_stage_deployment(apigw: Any, api_id: str, value: str) -> bool:
    marker = f"berth finish: {value}"[:250]
    current = apigw.get_stage(restApiId=api_id, stageName=STAGE)["deploymentId"]
    if apigw.get_deployment(restApiId=api_id, deploymentId=current).get("description") == marker:
        return False
    apigw.create_deployment(restApiId=api_id, stageName=STAGE, description=marker)
    return True


def ensure_pull_subscription(lam: Any, logs: Any, function_arn: str, log_group: str, filter_name: str) -> bool:
    """CloudWatch Logs may invoke record_pulls for the API's log group, and does (the filter)."""
    from botocore.exceptions import ClientError

    from chalicelib.pulls import LOG_MESSAGE

    changed = False
    region, account = function_arn.split(":")[3:5]
    partition = function_arn.split(":")[1]
    source = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}:*"
    try:
        policy = json.loads(lam.get_policy(FunctionName=function_arn)["Policy"])
        statements = {s["Sid"]: s for s in policy.get("Statement", [])}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        statements = {}
    if SUBSCRIPTION_STATEMENT not in statements:
        lam.add_permission(
            FunctionName=function_arn,
            StatementId=SUBSCRIPTION_STATEMENT,
            Action="lambda:InvokeFunction",
            Principal="logs.amazonaws.com",
            SourceArn=source,
            SourceAccount=account,
        )
        changed = True
    pattern = '{ $.message = "' + LOG_MESSAGE + '" }'
    filters = logs.describe_subscription_filters(logGroupName=log_group, filterNamePrefix=filter_name)["subscriptionFilters"]
    if not any(f["filterName"] == filter_name and f["filterPattern"] == pattern and f["destinationArn"] == function_arn for f in filters):
        logs.put_subscription_filter(
            logGroupName=log_group, filterName=filter_name, filterPattern=pattern, destinationArn=function_arn
        )
        changed = True
    return changed


def first_start(env: Mapping[str, str], session: Any, say: Callable[[str], None]) -> None:
    from chalicelib import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services

    svc = Services(Settings.from_env(env), session=session)
    for line in bootstrap.first_start(svc, bootstrap.given_admin_password(svc)):
        say(f"first start: {line}")


def _deployed(resources: dict[str, dict[str, Any]], name: str, key: str, stage: str) -> str:
    try:
        return resources[name][key]
    except KeyError:
        raise FinishError(f".chalice/deployed/{stage}.json lacks {name}: deploy this repository's app.py") from None


def public_url(project: Path, stage: str) -> str:
    """https://<registry host>: BERTH_PUBLIC_URL (a custom domain), else the API's own host."""
    api_url = _deployed(deployed_resources(project, stage), "rest_api", "rest_api_url", stage)
    return stage_environment(project, stage).get("BERTH_PUBLIC_URL") or "https://" + urlsplit(api_url).netloc


def finish(stage: str, project: Path, session: Any, say: Callable[[str], None] = print) -> str:
    """Steps 1-5 of the module's doc; returns the registry host."""
    resources = deployed_resources(project, stage)
    api_id = _deployed(resources, "rest_api", "rest_api_id", stage)
    record_pulls = _deployed(resources, "record_pulls", "lambda_arn", stage)
    api_function = _deployed(resources, "api_handler", "lambda_arn", stage).split(":")[6]
    env = stage_environment(project, stage)
    url = public_url(project, stage)
    value = challenge(url, env.get("BERTH_TOKEN_SERVICE") or "berth-registry")

    apigw = session.client("apigateway")
    steps = [
        ("REST API name", lambda: name_api(apigw, api_id, f"berth-{stage}")),
        ("401 challenge (gateway response UNAUTHORIZED)", lambda: ensure_challenge(apigw, api_id, value)),
        (f"stage {STAGE} deployed with it", lambda: ensure_stage_deployment(apigw, api_id, value)),
        (
            "pull log subscription -> record_pulls",
            lambda: ensure_pull_subscription(
                session.client("lambda"), session.client("logs"), record_pulls, f"/aws/lambda/{api_function}", f"berth-{stage}-pulls"
            ),
        ),
    ]
    for what, step in steps:
        say(f"{what}: {'done' if step() else 'unchanged'}")
    first_start(env, session, say)
    return urlsplit(url).netloc


def main(argv: list[str] | None = None, *, session: Any = None, project: Path = configure.ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.finish", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="AWS region (default: your AWS configuration)")
    parser.add_argument(
        "--print", dest="show", choices=("host", "api-id"), help="only print the registry host or the REST API's id (no AWS calls)"
    )
    args = parser.parse_args(argv)
    if args.show:
        try:
            if args.show == "host":
                print(urlsplit(public_url(project, args.stage)).netloc)
            else:
                print(_deployed(deployed_resources(project, args.stage), "rest_api", "rest_api_id", args.stage))
        except FinishError as exc:
            print(f"finish: {exc}", file=sys.stderr)
            return 1
        return 0
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=args.region)
    try:
        host = finish(args.stage, project, session)
    except FinishError as exc:
        print(f"finish: {exc}", file=sys.stderr)
        return 1
    print(f"registry: {host}\n  docker login {host} -u admin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
