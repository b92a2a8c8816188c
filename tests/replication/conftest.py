"""Replication's tests need Debian's docker-registry (a system package, installed by
scripts/install-system-deps.sh), so they live outside the quick suites; the API tests here
use the management API's fixtures (in-process app on moto, a bootstrapped `world`, every
reply checked against the OpenAPI document)."""
from __future__ import annotations

from tests.api.conftest import _moto  # noqa: F401 - the package's moto
from tests.api.management.conftest import admin, api, checked_replies, wired, world  # noqa: F401
