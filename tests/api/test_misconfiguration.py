"""A deployment missing a setting says which one, on every request, with 503."""
import pytest

import app as app_module
from devstack.events import proxy_event, proxy_reply


@pytest.fixture(autouse=True)
def built_from_the_environment():
    """As in a fresh Lambda container: the app builds its graph from the environment."""
    previous = app_module.use_services(None)
    yield
    app_module.use_services(previous)


def _call(url):
    status, _headers, body = proxy_reply(app_module.app(proxy_event("GET", url), None))
    return status, body


def test_missing_setting_is_named_on_every_path(monkeypatch):
    monkeypatch.delenv("BERTH_TABLE", raising=False)
    monkeypatch.setenv("BERTH_BUCKET", "b")
    for url in ("/v2/", "/v2/library/app/tags/list", "/v2/api/v2.0/health", "/v2/service/token"):
        status, body = _call(url)
        assert status == 503, (url, status, body)
        assert b"BERTH_TABLE" in body


def test_malformed_setting_is_named(monkeypatch):
    monkeypatch.setenv("BERTH_TABLE", "t")
    monkeypatch.setenv("BERTH_BUCKET", "b")
    monkeypatch.setenv("BERTH_PRESIGN_TTL", "soon")
    status, body = _call("/v2/")
    assert status == 503 and b"BERTH_PRESIGN_TTL" in body
