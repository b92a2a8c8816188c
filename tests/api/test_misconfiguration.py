"""A deployment missing a setting says which one, on every request, with 503."""
import app as app_module
from devstack.events import proxy_event, proxy_reply


def _call(url):
    status, _headers, body = proxy_reply(app_module.app(proxy_event("GET", url), None))
    return status, body


def test_missing_setting_is_named_on_every_path(monkeypatch):
    monkeypatch.setattr(app_module, "_services", None)
    monkeypatch.delenv("BERTH_TABLE", raising=False)
    monkeypatch.setenv("BERTH_BUCKET", "b")
    for url in ("/v2/", "/v2/library/app/tags/list", "/v2/api/v2.0/health", "/v2/service/token"):
        status, body = _call(url)
        assert status == 503, (url, status, body)
        assert b"BERTH_TABLE" in body


def test_malformed_setting_is_named(monkeypatch):
    monkeypatch.setattr(app_module, "_services", None)
    monkeypatch.setenv("BERTH_TABLE", "t")
    monkeypatch.setenv("BERTH_BUCKET", "b")
    monkeypatch.setenv("BERTH_PRESIGN_TTL", "soon")
    status, body = _call("/v2/")
    assert status == 503 and b"BERTH_PRESIGN_TTL" in body
