"""devstack's CLI without starting it: loading the upload app it serves (the stack as a
process: tests/devstack/test_cli.py)."""

from __future__ import annotations

import pytest

from devstack.__main__ import StartupError, load_upload_app


def test_a_missing_upload_module_gives_a_503_placeholder():
    upload = load_upload_app("devstack_test_no_such_module:create_upload_app")
    answers = []
    body = upload({}, lambda status, headers: answers.append(status))
    assert answers == ["503 Service Unavailable"]
    assert b"not available" in b"".join(body)


def test_a_broken_upload_module_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "brokenupload.py").write_text(
        "import devstack_test_no_such_dependency\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StartupError):
        load_upload_app("brokenupload:create_upload_app")
