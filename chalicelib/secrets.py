"""Secrets kept in SSM Parameter Store as SecureStrings, read on first use."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import ConfigurationError

UPLOAD_TOKEN_KEY = "upload-token-key"


class SsmSecrets:
    def __init__(self, ssm_client: Any, prefix: str):
        self._ssm = ssm_client
        self._prefix = prefix
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._cache:
            path = f"{self._prefix}/{name}"
            try:
                out = self._ssm.get_parameter(Name=path, WithDecryption=True)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ParameterNotFound":
                    raise ConfigurationError(
                        f"SSM parameter {path} is missing; run the bootstrap step (see README)"
                    ) from None
                raise ConfigurationError(f"cannot read SSM parameter {path}: {code}") from None
            self._cache[name] = out["Parameter"]["Value"]
        return self._cache[name]
