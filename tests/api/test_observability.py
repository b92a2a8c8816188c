"""The access log and metrics middleware: one JSON line per request, no secrets,
and the internal operation/error headers never reach clients."""
import json

from tests.api.helpers import digest


def _access_lines(capsys) -> list[dict]:
    out = capsys.readouterr()
    lines = []
    for line in (out.out + out.err).splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("message") == "request":
            lines.append(doc)
    return lines


def test_one_access_line_per_request_with_operation_and_error_code(api, capsys):
    capsys.readouterr()
    ok = api.get("/v2/")
    missing = api.get(f"/v2/library/app/blobs/{digest(b'nothing')}")
    assert ok.status == 200 and missing.status == 404
    for reply in (ok, missing):
        assert not any(h.startswith("x-berth-") for h in reply.headers)
    lines = _access_lines(capsys)
    assert [line["status"] for line in lines] == [200, 404]
    assert lines[0]["operation"] == "ping"
    assert lines[1]["operation"] == "get_blob" and lines[1]["error_code"] == "BLOB_UNKNOWN"
    assert all(line["correlation_id"] for line in lines)


def test_credentials_never_reach_the_log(api, capsys):
    capsys.readouterr()
    api.get("/v2/", headers={"Authorization": "Bearer secret-token-value"})
    out = capsys.readouterr()
    assert "secret-token-value" not in out.out + out.err


def test_no_metric_documents_when_metrics_are_off(api, capsys, monkeypatch):
    # Powertools keeps a disabled Metrics' values and prints them every 100 (an EMF
    # document of kilobytes); the middleware adds none while metrics are off.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    for _ in range(105):  # one "Requests" value each: past the 100 that trigger a document
        api.get("/v2/")
    out = capsys.readouterr()
    assert "_aws" not in out.out + out.err
    assert "CloudWatchMetrics" not in out.out + out.err
