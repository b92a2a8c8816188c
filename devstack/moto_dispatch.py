"""moto's routing of a request to its handler, worked out once per class instead of per call.

moto 5.2 routes each AWS call in two steps that depend on nothing the call carries:

- `BaseResponse.call_action` lists the response class's functions
  (`method_names_from_class`: `inspect.getmembers` over a few hundred attributes) to see
  whether the action is one of them; about half a millisecond a call.
- the botocore stubber (and the server) read the service backend's `urls`, a dict built
  anew from its urls module's `url_bases` and `url_paths` and two settings; for S3 the
  urls module is even reloaded first, since it reads one of those settings at import:
  up to 1.5 ms a call.
- `call_action` turns the action's name into its method's (`camelcase_to_underscores`,
  character by character), and SQS's queue model does the same for each attribute name
  it reads: the same few dozen names each time.

`install()` keeps moto's functions and remembers their answers: the function names per
class, keyed also by the size of each class dict on its MRO (so a function added to or
deleted from a handler class is seen; moto and the tests only ever replace methods);
the urls per backend class and the two settings they read (`MOTO_ENABLE_ISO_REGIONS`
and S3's custom endpoints, `MOTO_S3_CUSTOM_ENDPOINTS`); each caller gets its own copy;
and the underscored form of each name (a function of the name alone, a string), for
the first few thousand names.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto import settings
from moto.core import responses
from moto.core.base_backend import BaseBackend
from moto.core.utils import camelcase_to_underscores as motos_underscores
from moto.core.utils import method_names_from_class as motos_method_names
from moto.sqs import models as sqs_models

MOTOS_METHOD_NAMES = motos_method_names  # kept for the tests that compare the two
MOTOS_URLS = BaseBackend.__dict__["urls"]
MOTOS_UNDERSCORES = motos_underscores
MAX_REMEMBERED = 4096  # more names than this are not a fixed set: stop remembering new ones

_names: dict[tuple[Any, ...], list[str]] = {}
_urls: dict[tuple[Any, ...], dict[str, Callable[..., Any]]] = {}
_underscored: dict[str, str] = {}


def method_names_from_class(clazz: type) -> list[str]:
    key = (clazz, *(len(vars(c)) for c in clazz.__mro__))
    names = _names.get(key)
    if names is None:
        names = _names[key] = MOTOS_METHOD_NAMES(clazz)
    return list(names)


def urls(self: BaseBackend) -> dict[str, Callable[..., Any]]:
    key = (type(self), settings.enable_iso_regions(), tuple(settings.get_s3_custom_endpoints()))
    found = _urls.get(key)
    if found is None:
        found = _urls[key] = MOTOS_URLS.fget(self)
    return dict(found)


def camelcase_to_underscores(argument: str) -> str:
    found = _underscored.get(argument) if type(argument) is str else None
    if found is None:
        found = MOTOS_UNDERSCORES(argument)
        if type(argument) is str and len(_underscored) < MAX_REMEMBERED:
            _underscored[argument] = found
    return found


def install() -> None:
    """Idempotent: moto routes with the remembered answers."""
    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]
    responses.camelcase_to_underscores = camelcase_to_underscores
    sqs_models.camelcase_to_underscores = camelcase_to_underscores
    BaseBackend.urls = property(urls)  # type: ignore[assignment,method-assign]
