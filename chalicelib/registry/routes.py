"""The OCI distribution API as data: one table that the dispatcher, the upload
host and the tests all read (as distribution's descriptors.go).

Paths are what follows `/v2/`. Repository names contain slashes, so a name is
matched loosely here and validated by the dispatcher (NAME_INVALID, not 404).
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.access import Access
from chalicelib.web.http import Request

_NAME = r"(?P<name>.+)"
_DIGEST = r"(?P<digest>[^/]+)"


@dataclass(frozen=True)
class Route:
    name: str  # the spec's operation, also the handler's name
    method: str
    pattern: re.Pattern
    handler: Callable
    actions: tuple[str, ...]  # needed on the repository in the path
    errors: tuple[str, ...] = ()  # wire codes this route may answer (beyond auth and UNKNOWN)
    upload_host: bool = False  # also served by the upload host
    public: bool = False  # no authorization step (the token service itself)
    def accesses(self, request: Request, params: dict[str, str]) -> list[Access]:
        needed = []
        if "name" in params and self.actions:
            needed.append(Access("repository", params["name"], self.actions))
            source = request.arg("from") if self.name == "start_upload" and request.arg("mount") else None
            if source and source != params["name"] and _plausible_name(source):
                # a cross-repository mount reads the source: the challenge asks for pull
                # there too (as distribution does), but without it the POST still opens
                # a session (the handler falls back), so it is not required
                needed.append(Access("repository", source, ("pull",), required=False))
        elif self.name == "list_repositories":
            needed.append(Access("registry", "catalog", ("*",)))
        return needed


def _plausible_name(name: str) -> bool:
    from chalicelib.errors import InvalidName
    from chalicelib.oci.names import validate_name

    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


class Handler:
    """A handler named "<module of chalicelib/registry/handlers>.<function>", imported on its
    first call: a cold container imports only the handlers of the requests it serves (the
    ping needs none of the upload, manifest or hashing code)."""

    def __init__(self, reference: str):
        module, self.__name__ = reference.rsplit(".", 1)
        self.__module__ = f"chalicelib.registry.handlers.{module}"
        self._function: Callable | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            self._function = getattr(importlib.import_module(self.__module__), self.__name__)
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<handler {self.__module__}.{self.__name__}>"


def _route(method: str, path: str, handler: Callable | str, actions=(), errors=(), upload_host=False, public=False) -> Route:
    if isinstance(handler, str):
        handler = Handler(handler)
    return Route(
        handler.__name__, method, re.compile(f"^{path}$"), handler, tuple(actions), tuple(errors), upload_host, public
    )


_MANIFEST = rf"{_NAME}/manifests/(?P<reference>[^/]+)"
_UPLOAD = rf"{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)"
_UPLOAD_ERRORS = ("NAME_INVALID", "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "DIGEST_INVALID", "SIZE_INVALID")

ROUTES: tuple[Route, ...] = (
    _route("GET", "", "base.ping"),
    _route("HEAD", "", "base.ping"),
    _route("GET", "_catalog", "catalog.list_repositories", errors=("PAGINATION_NUMBER_INVALID",)),
    _route("GET", _MANIFEST, "manifests.get_manifest", ["pull"], ("NAME_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_INVALID", "DIGEST_INVALID")),
    _route("HEAD", _MANIFEST, "manifests.check_manifest", ["pull"], ("NAME_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_INVALID", "DIGEST_INVALID")),
    _route(
        "PUT",
        _MANIFEST,
        "manifests.put_manifest",
        ["pull", "push"],
        ("NAME_INVALID", "MANIFEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "DIGEST_INVALID", "SIZE_INVALID"),
    ),
    _route(
        "DELETE", _MANIFEST, "manifests.delete_manifest", ["delete"], ("NAME_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_INVALID", "DIGEST_INVALID")
    ),
    _route(
        "POST",
        rf"{_NAME}/blobs/uploads/?",
        "uploads.start_upload",
        ["pull", "push"],
        ("NAME_INVALID", "DIGEST_INVALID", "SIZE_INVALID"),
    ),
    _route("GET", _UPLOAD, "uploads.get_upload", ["pull", "push"], _UPLOAD_ERRORS, upload_host=True),
    _route("PATCH", _UPLOAD, "uploads.patch_upload", ["pull", "push"], _UPLOAD_ERRORS, upload_host=True),
    _route("PUT", _UPLOAD, "uploads.complete_upload", ["pull", "push"], _UPLOAD_ERRORS, upload_host=True),
    _route("DELETE", _UPLOAD, "uploads.cancel_upload", ["pull", "push"], _UPLOAD_ERRORS, upload_host=True),
    _route("HEAD", rf"{_NAME}/blobs/{_DIGEST}", "blobs.check_blob", ["pull"], ("NAME_INVALID", "BLOB_UNKNOWN", "DIGEST_INVALID")),
    _route("GET", rf"{_NAME}/blobs/{_DIGEST}", "blobs.get_blob", ["pull"], ("NAME_INVALID", "BLOB_UNKNOWN", "DIGEST_INVALID")),
    _route("DELETE", rf"{_NAME}/blobs/{_DIGEST}", "blobs.delete_blob", ["delete"], ("NAME_INVALID", "BLOB_UNKNOWN", "DIGEST_INVALID")),
    _route("GET", rf"{_NAME}/tags/list", "tags.list_tags", ["pull"], ("NAME_INVALID", "NAME_UNKNOWN", "PAGINATION_NUMBER_INVALID")),
    _route("GET", rf"{_NAME}/referrers/{_DIGEST}", "referrers.get_referrers", ["pull"], ("NAME_INVALID", "DIGEST_INVALID")),
)


_BLOB_ROUTES = frozenset({"check_blob", "get_blob", "delete_blob"})


def match(routes: tuple[Route, ...], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_known). path_known without a route means 405."""
    path_known = False
    for route in routes:
        found = route.pattern.fullmatch(path)
        if not found:
            continue
        # "<name>/blobs/uploads" is an upload start, never a blob named "uploads"
        if route.name in _BLOB_ROUTES and found["digest"] == "uploads":
            continue
        path_known = True
        if route.method == method:
            return route, found.groupdict(), True
    return None, {}, path_known
