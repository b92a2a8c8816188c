"""``python -m devstack``: Berth's whole stack on this machine.

Starts moto, creates the resources from infra/berth.yaml, sets the app's environment,
then imports the app and serves it behind the API Gateway stand-in on the API port and
the upload host on the upload port. Prints ``READY api=... upload=... moto=...`` once
everything answers; Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import secrets
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from devstack import schedules, workflows
from devstack.authorizer import deployed_authorizer
from devstack.event_stream import EventDelivery, QueuePoller, StreamPoller
from devstack.gateway import Gateway, serve
from devstack.localdata import DataDirInUse, LocalData, Resources
from devstack.log_subscription import LogSubscription
from devstack.motoserver import MotoServer, http_url
from devstack.resources import REGION, ProvisionError, client, event_sources, provision

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = "app:app"
DEFAULT_UPLOAD_APP = "chalicelib.uploadhost:create_upload_app"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run Berth locally: moto, the infra/ resources, the API on /v2 and the upload host.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--api-port", type=int, default=8000, help="registry API port; 0 picks one"
    )
    parser.add_argument(
        "--upload-port", type=int, default=8001, help="upload host port; 0 picks one"
    )
    parser.add_argument(
        "--moto-port", type=int, default=5000, help="moto (AWS) port; 0 picks one"
    )
    parser.add_argument(
        "--stage",
        default="dev",
        help="deployment stage: names the stack and /berth/<stage>",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the registry's data (S3 objects, DynamoDB items, SSM parameters) in "
        "DATA_DIR/<stage> across restarts (make run: .berth-data); without it nothing is kept",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="with --data-dir, start empty (the previous data is moved to <stage>.previous)",
    )
    parser.add_argument(
        "--apigw-limits",
        action="store_true",
        help="behave like the AWS deployment: API Gateway's 10 MB requests, Lambda's 6 MB "
        "events and responses, the 29 s timeout, remapped response headers, and the "
        "challenge authorizer and gateway response of infra/apigw-extras.yaml",
    )
    parser.add_argument(
        "--raw-apigw",
        action="store_true",
        help="with --apigw-limits, a bare API Gateway without infra/apigw-extras.yaml's "
        "authorizer: the 401 challenge arrives only as x-amzn-Remapped-WWW-Authenticate "
        "and logins fail (for tests of that behaviour)",
    )
    parser.add_argument(
        "--serial", action="store_true", help="run one API request at a time"
    )
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        help=f"Chalice app as module:attribute ({DEFAULT_APP})",
    )
    parser.add_argument(
        "--upload-app",
        default=DEFAULT_UPLOAD_APP,
        help=f"factory returning the upload host's WSGI app ({DEFAULT_UPLOAD_APP})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log everything: each request (moto's too), the app's JSON access log and pull lines",
    )
    args = parser.parse_args(argv)
    if args.fresh and args.data_dir is None:
        parser.error("--fresh needs --data-dir (make run passes --data-dir .berth-data)")
    if args.raw_apigw and not args.apigw_limits:
        parser.error("--raw-apigw goes with --apigw-limits")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    moto = MotoServer(args.host, args.moto_port)
    running: list[tuple[Any, threading.Thread | None]] = []
    # Parts that run beside the servers (start() / stop()), stopped in reverse order
    # after the servers and before moto: the pull-log subscription, the local data's
    # saver, and whatever else a module plugs in here.
    background: list[Any] = []
    try:
        moto_url = _listen("moto (AWS)", args.host, args.moto_port, moto.start, "--moto-port")
        point_aws_at_moto(moto_url)
        env = provision(moto_url, args.stage)
        # jobs on a cron: what infra/schedules.yaml gives a deployed stage (devstack/schedules.py)
        env.update(schedules.environment(args.stage))
        env["BERTH_FUNCTION_PREFIX"] = f"berth-{args.stage}-"  # the app's functions, named as infra/operations.yaml does
        data = _open_local_data(args, moto_url, env)
        # the restore's writes are on the table's stream: they are not new events
        restored_records = _stream_records(moto_url, args.stage) if data is not None else set()
        # Bind both ports before the app is imported: with port 0 the app's
        # BERTH_UPLOAD_URL must already carry the real upload port.
        api_app, upload_app = _Deferred("registry API"), _Deferred("upload host")
        api_server = _listen(
            "the registry API",
            args.host,
            args.api_port,
            lambda: serve(api_app, args.host, args.api_port),
            "--api-port",
        )
        running.append((api_server, None))
        upload_server = _listen(
            "the upload host",
            args.host,
            args.upload_port,
            lambda: serve(upload_app, args.host, args.upload_port),
            "--upload-port",
        )
        running.append((upload_server, None))
        api_url = http_url(args.host, api_server.server_address[1])
        upload_url = http_url(args.host, upload_server.server_address[1])

        os.environ.update({**env, "BERTH_UPLOAD_URL": upload_url})
        # no EMF documents on the console; the JSON access log only with --verbose
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if args.verbose else "WARNING")
        # as deployed on AWS: pulls are log lines, recorded by record_pulls in batches
        os.environ.setdefault("BERTH_PULL_RECORDING", "log")
        admin_password = (
            os.environ.get("BERTH_ADMIN_PASSWORD")
            or (data.admin_password() if data else None)
            or _new_admin_password()
        )
        os.environ["BERTH_ADMIN_PASSWORD"] = admin_password
        env["admin_password"] = admin_password
        if data is not None:
            data.keep_admin_password(admin_password)
        _bootstrap(admin_password)
        env["admin_password_note"] = _admin_password_note(admin_password)
        app = load_object(args.app)
        app_module = sys.modules.get(args.app.rsplit(":", 1)[0])
        # replication runs: moto's Step Functions executes infra/replication.yaml, its
        # Lambda tasks handed to the app's function in process (devstack/workflows.py)
        os.environ["MOTO_PORT"] = moto_url.rsplit(":", 1)[1]
        workflows.enable_execution()
        if app_module is not None and hasattr(app_module, workflows.FUNCTION):
            workflows.install(app_module)
            # the proxy cache's background copies: an asynchronous invocation, run in process
            workflows.create_function(lambda service: client(service, moto_url), args.stage, "proxy_fill")
            # tag retention runs, and the steps that go on with them, are run_schedule's jobs
            workflows.create_function(lambda service: client(service, moto_url), args.stage, "run_schedule")
            os.environ["BERTH_REPLICATION_STATE_MACHINE"] = workflows.create_replication_workflow(
                lambda service: client(service, moto_url), args.stage
            )
            # garbage collection runs the same way (infra/gc.yaml, the app's gc_task)
            os.environ["BERTH_GC_STATE_MACHINE"] = workflows.create_gc_workflow(
                lambda service: client(service, moto_url), args.stage
            )
        api_app.target = Gateway(
            app,
            apigw_limits=args.apigw_limits,
            serialize=args.serial,
            authorizer=None if args.raw_apigw or not args.apigw_limits else deployed_authorizer(api_url),
        )
        upload_app.target = load_upload_app(args.upload_app)
        record_pulls = getattr(sys.modules.get(args.app.rsplit(":", 1)[0]), "record_pulls", None)
        # stopped in reverse order: the last pull lines become events, the events are
        # delivered, then the local data is saved
        if data is not None:
            background.append(data.start())
        delivery = start_event_delivery(
            moto_url, args.stage, sys.modules.get(args.app.rsplit(":", 1)[0]), skip=restored_records
        )
        if delivery is not None:
            background.append(delivery)
        if os.environ["BERTH_PULL_RECORDING"] == "log" and record_pulls is not None:
            background.append(LogSubscription(record_pulls).start())
        run_schedule = getattr(app_module, "run_schedule", None)
        if run_schedule is not None:  # the Scheduler's part: fire the stage's schedules when due
            background.append(schedules.ScheduleFiring(
                client("scheduler", moto_url), os.environ["BERTH_SCHEDULE_PREFIX"], run_schedule).start())

        for index, (server, _) in enumerate(running):
            thread = threading.Thread(
                target=server.serve_forever,
                name=f"serve-{server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            running[index] = (server, thread)

        if stop.is_set():  # asked to stop while starting: never claim READY
            return 0
        print_banner(args, env, api_url, upload_url, moto_url, upload_app.target, data)
        while not stop.wait(1.0):
            pass
        log.info("stopping")
        return 0
    except (StartupError, ProvisionError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        _stop_all(running, background, moto)


def configure_logging(verbose: bool) -> None:
    """One line per request at most: without -v, requests are not logged at all (errors
    are), pull lines stay with the log subscription and TLS probes are answered quietly."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # werkzeug logs one line per request (moto's included): only with --verbose.
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
    for chatty in ("botocore", "boto3", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # the pull lines are data for record_pulls (LogSubscription keeps its own handler)
    logging.getLogger("berth.pulls").propagate = verbose


def _open_local_data(args: argparse.Namespace, moto_url: str, env: dict[str, str]) -> LocalData | None:
    """The stage's folder under --data-dir, locked and restored into moto; None without it."""
    if args.data_dir is None:
        return None
    folder = (args.data_dir / args.stage).resolve()
    data = LocalData(folder, lambda service: client(service, moto_url))
    try:
        data.open(fresh=args.fresh)
    except DataDirInUse as exc:
        raise StartupError(str(exc)) from None
    restored = data.restore(
        Resources(bucket=env["BERTH_BUCKET"], table=env["BERTH_TABLE"], ssm_prefix=env["BERTH_SSM_PREFIX"],
                  schedule_prefix=env["BERTH_SCHEDULE_PREFIX"])
    )
    env["data_note"] = (
        f"kept in {folder} (restored {restored.items} items, {restored.objects} objects, "
        f"{restored.parameters} parameters; make run ARGS=--fresh starts empty)"
        if not restored.empty
        else f"kept in {folder} (new; saved every few seconds and at Ctrl-C)"
    )
    return data


def _stop_all(
    running: list[tuple[Any, threading.Thread | None]], background: list[Any], moto: MotoServer
) -> None:
    """Servers first (side by side: each shutdown() waits out a poll interval), then the
    background parts in reverse order while moto still answers (the last pulls, the last
    save), then moto."""
    # shutdown() waits for a serve_forever loop, so only servers whose thread ran get one.
    _side_by_side([s.shutdown for s, t in running if t is not None])
    for server, _ in running:
        server.server_close()
    for part in reversed(background):
        try:
            part.stop()
        except Exception:
            log.exception("stopping %s failed", type(part).__name__)
    moto.stop()


def _side_by_side(calls: list[Callable[[], Any]]) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _stream_records(moto_url: str, stage: str) -> set[str]:
    """The eventIDs on the table's stream now (empty for a stack without one)."""
    try:
        arn = event_sources(moto_url, stage)["stream_arn"]
    except KeyError:
        return set()
    return StreamPoller(client("dynamodbstreams", moto_url), arn).present()


def start_event_delivery(
    moto_url: str, stage: str, app_module: Any, skip: Iterable[str] = ()
) -> EventDelivery | None:
    """The table's stream to the app's forward_events, the audit queue to audit_events, the
    webhook queues to webhook_events and deliver_webhooks (devstack/event_stream.py), as
    Lambda's event sources do in AWS."""
    forward = getattr(app_module, "forward_events", None)
    audit = getattr(app_module, "audit_events", None)
    if forward is None or audit is None:  # an app of its own (--app) without the event functions
        return None
    sources = event_sources(moto_url, stage)
    stream = StreamPoller(client("dynamodbstreams", moto_url), sources["stream_arn"], handed=skip)
    sqs = client("sqs", moto_url)
    consumers = [(QueuePoller(sqs, sources["audit_queue_url"]), audit)]
    webhook_events, deliver_webhooks = (getattr(app_module, n, None) for n in ("webhook_events", "deliver_webhooks"))
    if webhook_events is not None and deliver_webhooks is not None:  # webhooks (docs/webhooks.md)
        consumers += [(QueuePoller(sqs, sources["webhook_events_queue_url"]), webhook_events),
                      (QueuePoller(sqs, sources["webhook_deliveries_queue_url"]), deliver_webhooks)]
    replication_events = getattr(app_module, "replication_events", None)
    if replication_events is not None:  # event-based replication (docs/replication.md)
        consumers.append((QueuePoller(sqs, sources["replication_events_queue_url"]), replication_events))
    return EventDelivery(stream, forward, consumers).start()


class StartupError(Exception):
    """A part of the stack could not be loaded; the message says which and why."""


def _listen(what: str, host: str, port: int, bind: Callable[[], Any], flag: str) -> Any:
    try:
        return bind()
    # werkzeug prints why and exits when it cannot bind; anything else raises OSError
    except (OSError, SystemExit) as exc:
        reason = f": {exc}" if isinstance(exc, OSError) else " (port in use?)"
        raise StartupError(
            f"cannot listen on {host}:{port} for {what}{reason}; "
            f'choose another port with {flag}, e.g. make run ARGS="{flag} {port + 10 if port else 0}" '
            f"(0 picks a free one)"
        ) from None


def point_aws_at_moto(moto_url: str) -> None:
    """Point this process's AWS SDK, the app's included, at moto and nowhere else."""
    for name in list(os.environ):
        # Anything that could lead boto3 elsewhere: profiles, real tokens, per-service endpoints.
        if name.startswith("AWS_ENDPOINT_URL_") or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        ):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )


def load_object(spec: str) -> Any:
    """Import ``module:attribute`` with the repository root importable."""
    module_name, _, attribute = spec.partition(":")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StartupError(f"cannot import {spec}: {exc}") from exc
    try:
        return getattr(module, attribute or "app")
    except AttributeError:
        raise StartupError(f"{module_name} has no attribute {attribute!r}") from None


def load_upload_app(spec: str) -> Callable[..., Any]:
    """The upload host's WSGI app, or a placeholder while its module does not exist yet."""
    module_name = spec.partition(":")[0]
    try:
        factory = load_object(spec)
    except StartupError as exc:
        missing = getattr(exc.__cause__, "name", None)
        if (
            isinstance(exc.__cause__, ModuleNotFoundError)
            and missing
            and (missing == module_name or module_name.startswith(missing + "."))
        ):
            log.warning(
                "%s does not exist yet: the upload port answers 503", module_name
            )
            return _Deferred(f"upload host ({module_name} is not written yet)")
        raise
    return factory()


class _Deferred:
    """A WSGI app answering 503 until ``target`` is set; lets ports be bound first."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.target: Callable[..., Any] | None = None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.target is not None:
            return self.target(environ, start_response)
        body = json.dumps({"message": f"{self.what} is not available"}).encode()
        start_response(
            "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _new_admin_password() -> str:
    # meets Harbor's rule: upper and lower case and a digit
    return "Berth" + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y") + "1"


def _bootstrap(admin_password: str) -> None:
    """Secrets, the public `library` project and the admin account, as on first deploy."""
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services

    bootstrap(Services(Settings.from_env()), admin_password=admin_password)


def print_banner(
    args: argparse.Namespace,
    env: dict[str, str],
    api_url: str,
    upload_url: str,
    moto_url: str,
    upload_app: Any,
    data: LocalData | None,
) -> None:
    """What is running, where the data is, and commands that work as printed, in the
    order to run them (tests/e2e/test_first_hour.py runs every one of them)."""
    uploads = (
        upload_url
        if not isinstance(upload_app, _Deferred)
        else f"{upload_url} [placeholder: 503]"
    )
    if not args.apigw_limits:
        limits = "off (make run ARGS=--apigw-limits behaves like the AWS deployment)"
    elif args.raw_apigw:
        limits = "on, without infra/apigw-extras.yaml (--raw-apigw: logins fail)"
    else:
        limits = "on, with infra/apigw-extras.yaml's challenge authorizer"
    data_note = env.get("data_note") or "not kept: started without --data-dir (make run keeps it)"
    lines = [
        f"Berth is running: registry {api_url} (uploads {uploads}, AWS on moto {moto_url})",
        f"  data:      {data_note}",
        f"  API Gateway limits {limits}",
        (
            f"  resources: table {env['BERTH_TABLE']}, bucket {env['BERTH_BUCKET']}, "
            f"SSM {env['BERTH_SSM_PREFIX']}"
        ),
        f"  console:   {api_url}/v2/ui/  (user admin, password {env['admin_password']})",
    ]
    if env.get("admin_password_note"):
        lines.append(f"  note:      {env['admin_password_note']}")
    lines += [
        "  Try it (copy and run; docker trusts plain HTTP on 127.0.0.0/8):",
        *("    " + command for command in banner_commands(api_url, moto_url, env)),
        "  Ctrl-C stops it" + (" (the data is saved)." if data is not None else "."),
        f"READY api={api_url} upload={upload_url} moto={moto_url} username=admin password={env['admin_password']}",
    ]
    print("\n".join(lines), flush=True)


def banner_commands(api_url: str, moto_url: str, env: dict[str, str]) -> list[str]:
    """Shell commands for a first push and pull, credentials included, nothing to fill in."""
    registry = api_url.removeprefix("http://")
    password = shlex.quote(env["admin_password"])
    image = f"{registry}/library/hello"
    return [
        f"docker login {registry} -u admin -p {password}",
        f"echo hello > hello.txt && tar -c hello.txt | docker import - {image}:1",
        f"docker push {image}:1",
        f"docker pull {image}:1",
        (
            f"skopeo copy --src-tls-verify=false --dest-tls-verify=false --dest-creds admin:{password} "
            f"docker://{image}:1 docker://{image}:copy"
        ),
        f"skopeo inspect --tls-verify=false docker://{image}:copy",
        (
            f"AWS_ENDPOINT_URL={moto_url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"AWS_DEFAULT_REGION={REGION} aws s3 ls s3://{env['BERTH_BUCKET']}/"
        ),
    ]


def _admin_password_note(password: str) -> str:
    """Empty when `admin` logs in with `password`; otherwise why the printed one fails."""
    from chalicelib.auth.passwords import verify_password
    from chalicelib.config import Settings
    from chalicelib.services import Services

    user = Services(Settings.from_env()).accounts.get_user("admin")
    if user is None:
        return "there is no admin account (deleted?): make run ARGS=--fresh starts over"
    if not user.password_hash or not verify_password(password, user.password_hash):
        return (
            "admin's password was changed since it was printed first: log in with the new one "
            "(BERTH_ADMIN_PASSWORD only sets it on a fresh start)"
        )
    return ""


if __name__ == "__main__":
    sys.exit(main())
