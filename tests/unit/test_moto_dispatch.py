"""The local stack's routing answers (devstack/moto_dispatch.py) are moto's own: the same
handler method names for every response class of the services Berth calls, kept up to
date when a class gains or loses a function, the same backend urls, under the settings
they read, each caller with its own copy, and the same underscored names."""
from __future__ import annotations

import pytest
from moto.backends import get_backend
from moto.cloudformation.responses import CloudFormationResponse
from moto.core import DEFAULT_ACCOUNT_ID, responses
from moto.core.base_backend import BaseBackend
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.logs.responses import LogsResponse
from moto.s3.responses import S3Response
from moto.sqs import models as sqs_models
from moto.sqs.responses import SQSResponse
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.stepfunctions.responses import StepFunctionResponse

from devstack import moto_dispatch

RESPONSE_CLASSES = [DynamoHandler, S3Response, SQSResponse, SimpleSystemManagerResponse, CloudFormationResponse,
                    EventsHandler, StepFunctionResponse, LogsResponse]
SERVICES = ["dynamodb", "s3", "sqs", "ssm", "cloudformation", "events", "stepfunctions", "logs"]


@pytest.mark.parametrize("clazz", RESPONSE_CLASSES, ids=lambda c: c.__name__)
def test_the_same_method_names_as_motos(clazz):
    motos = moto_dispatch.MOTOS_METHOD_NAMES(clazz)
    assert moto_dispatch.method_names_from_class(clazz) == motos
    assert moto_dispatch.method_names_from_class(clazz) == motos  # from what was remembered
    assert "dispatch" not in motos and len(motos) > 10  # functions only, classmethods not


def test_a_function_added_or_removed_is_seen():
    class Handler(DynamoHandler):
        pass

    before = moto_dispatch.method_names_from_class(Handler)
    Handler.brand_new = lambda self: None
    assert moto_dispatch.method_names_from_class(Handler) == moto_dispatch.MOTOS_METHOD_NAMES(Handler) != before
    del Handler.brand_new
    assert moto_dispatch.method_names_from_class(Handler) == before
    moto_dispatch.method_names_from_class(Handler).clear()  # a caller's copy
    assert moto_dispatch.method_names_from_class(Handler) == before


def backend(service: str) -> BaseBackend:
    """The backend moto's stubber routes with (moto/core/botocore_stubber.py)."""
    accounts = get_backend(service)[DEFAULT_ACCOUNT_ID]
    return accounts["us-east-1"] if "us-east-1" in accounts else accounts["aws"]


@pytest.mark.parametrize("iso", ["false", "true"])
@pytest.mark.parametrize("endpoints", [None, "https://s3.example.test,http://minio:9000"])
@pytest.mark.parametrize("service", SERVICES)
def test_the_same_urls_as_motos(service, iso, endpoints, monkeypatch):
    monkeypatch.setenv("MOTO_ENABLE_ISO_REGIONS", iso)
    if endpoints:
        monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", endpoints)
    else:
        monkeypatch.delenv("MOTO_S3_CUSTOM_ENDPOINTS", raising=False)
    routed = backend(service)
    motos = moto_dispatch.MOTOS_URLS.fget(routed)
    ours = moto_dispatch.urls(routed)
    assert list(ours.items()) == list(motos.items()) and motos
    ours.clear()  # a caller's copy
    assert list(moto_dispatch.urls(routed).items()) == list(motos.items())


def test_installed_for_the_tests():
    assert responses.method_names_from_class is moto_dispatch.method_names_from_class
    assert BaseBackend.urls.fget is moto_dispatch.urls
    assert responses.camelcase_to_underscores is moto_dispatch.camelcase_to_underscores
    assert sqs_models.camelcase_to_underscores is moto_dispatch.camelcase_to_underscores


NAMES = ["GetItem", "TransactWriteItems", "ApproximateNumberOfMessagesNotVisible", "RedrivePolicy", "KmsMasterKeyId",
         "FifoQueue", "listTables", "DBInstanceIdentifier", "SSEEnabled", "a", "", "Two Words", "ABC", "already_under"]


@pytest.mark.parametrize("name", NAMES)
def test_the_same_underscored_names_as_motos(name):
    motos = moto_dispatch.MOTOS_UNDERSCORES(name)
    assert moto_dispatch.camelcase_to_underscores(name) == motos
    assert moto_dispatch.camelcase_to_underscores(name) == motos  # from what was remembered
