"""Settings: the one place that reads the environment.

Everything the app needs to know about its deployment arrives as environment
variables (set by `.chalice/config.json` from the infrastructure's outputs, or by
the local stack). Secrets are not here: they live in SSM and are read by
`chalicelib.secrets`, lazily, on first use.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PULL_RECORDINGS = ("inline", "log")


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    ssm_prefix: str
    region: str
    # Path prefix the OCI API sees: "" on the raw API Gateway URL (stage v2 eats
    # "/v2"), "/v2" behind a custom domain mapped with an empty base path.
    oci_prefix: str = ""
    # Absolute base URL of the upload host ("https://uploads.example.com"); empty
    # means uploads go to the API itself, within API Gateway's payload limit.
    upload_url: str = ""
    presign_ttl_seconds: int = 900
    upload_ttl_seconds: int = 24 * 3600
    # The most bytes one request body may carry into the Lambda handler.
    max_request_body: int = 10 * 1024 * 1024
    max_manifest_bytes: int = 4 * 1024 * 1024
    # "token": Docker token auth (the default); "none": an open registry (tests only)
    auth: str = "token"
    token_service: str = "berth-registry"  # the `service` of challenges, the tokens' `aud`
    token_issuer: str = "berth-token-issuer"
    # Base URL clients reach the API on, for the challenge's realm; empty = from the request
    public_url: str = ""
    # creates the `admin` account on first login if it does not exist yet
    admin_password: str = ""
    # how a pull reaches the audit log and the pull counts (chalicelib/pulls.py):
    # "inline" in the request, or "log": a log line that a CloudWatch Logs subscription
    # hands to the record_pulls function (the AWS deployment: infra/apigw-extras.yaml)
    pull_recording: str = "inline"
    # the domain events' EventBridge bus (infra/berth.yaml, EventBus); forward_events puts on it
    event_bus_name: str = ""
    # the upload host gives up on a request body that sends nothing for this long (seconds)
    upload_body_timeout: int = 60
    # webhooks (docs/webhooks.md): the deliveries queue (infra/berth.yaml,
    # WebhookDeliveriesQueue), a receiver's timeout, the first retry's delay
    webhook_queue_url: str = ""
    # replication (docs/replication.md): the state machine a run executes (infra/replication.yaml)
    replication_state_machine: str = ""
    # jobs on a cron (chalicelib/schedules.py; infra/schedules.yaml): the schedules' names
    # start with the stage's prefix; each calls the run_schedule function with this role
    # the app's functions are berth-<stage>-<function> (infra/operations.yaml); the API
    # function invokes proxy_fill by name
    function_prefix: str = "berth-dev-"
    schedule_prefix: str = "berth-dev-"
    schedule_target_arn: str = ""
    schedule_role_arn: str = ""
    # garbage collection (docs/lifecycle.md): the state machine a run executes
    # (infra/gc.yaml), and how long a blob nothing names is kept after it was last
    # linked or named (Harbor's time window: 2 hours)
    gc_state_machine: str = ""
    gc_grace_seconds: int = 2 * 3600
    webhook_timeout_seconds: float = 5.0
    webhook_retry_base_seconds: float = 5.0

    def function_name(self, name: str) -> str:
        """The deployed name of the app's function `name` (app.py)."""
        return self.function_prefix + name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
            if value <= 0:
                raise ConfigurationError(f"{name}={raw!r} must be positive")
            return value

        def seconds(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None
            if not 0 <= value <= 900:
                raise ConfigurationError(f"{name}={raw!r} must be between 0 and 900 seconds")
            return value

        auth = env.get("BERTH_AUTH", "token").strip() or "token"
        if auth not in ("token", "none"):
            raise ConfigurationError(f"BERTH_AUTH={auth!r} must be 'token' or 'none'")
        pull_recording = env.get("BERTH_PULL_RECORDING", "").strip() or "inline"
        if pull_recording not in PULL_RECORDINGS:
            raise ConfigurationError(f"BERTH_PULL_RECORDING={pull_recording!r} must be 'inline' or 'log'")
        prefix = env.get("BERTH_OCI_PREFIX", "").strip().rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ConfigurationError(f"BERTH_OCI_PREFIX={prefix!r} must start with '/'")
        return cls(
            table_name=required("BERTH_TABLE"),
            bucket_name=required("BERTH_BUCKET"),
            ssm_prefix=env.get("BERTH_SSM_PREFIX", "/berth/dev").rstrip("/"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            oci_prefix=prefix,
            upload_url=env.get("BERTH_UPLOAD_URL", "").strip().rstrip("/"),
            presign_ttl_seconds=integer("BERTH_PRESIGN_TTL", 900),
            upload_ttl_seconds=integer("BERTH_UPLOAD_TTL", 24 * 3600),
            max_request_body=integer("BERTH_MAX_REQUEST_BODY", 10 * 1024 * 1024),
            auth=auth,
            token_service=env.get("BERTH_TOKEN_SERVICE", "").strip() or "berth-registry",
            token_issuer=env.get("BERTH_TOKEN_ISSUER", "").strip() or "berth-token-issuer",
            public_url=env.get("BERTH_PUBLIC_URL", "").strip().rstrip("/"),
            admin_password=env.get("BERTH_ADMIN_PASSWORD", ""),
            pull_recording=pull_recording,
            event_bus_name=env.get("BERTH_EVENT_BUS", "").strip(),
            upload_body_timeout=integer("BERTH_UPLOAD_BODY_TIMEOUT", 60),
            webhook_queue_url=env.get("BERTH_WEBHOOK_QUEUE", "").strip(),
            replication_state_machine=env.get("BERTH_REPLICATION_STATE_MACHINE", "").strip(),
            function_prefix=env.get("BERTH_FUNCTION_PREFIX", "").strip() or "berth-dev-",
            schedule_prefix=env.get("BERTH_SCHEDULE_PREFIX", "").strip() or "berth-dev-",
            schedule_target_arn=env.get("BERTH_SCHEDULE_TARGET_ARN", "").strip(),
            schedule_role_arn=env.get("BERTH_SCHEDULE_ROLE_ARN", "").strip(),
            gc_state_machine=env.get("BERTH_GC_STATE_MACHINE", "").strip(),
            gc_grace_seconds=integer("BERTH_GC_GRACE", 2 * 3600),
            webhook_timeout_seconds=seconds("BERTH_WEBHOOK_TIMEOUT", 5.0),
            webhook_retry_base_seconds=seconds("BERTH_WEBHOOK_RETRY_BASE", 5.0),
        )
