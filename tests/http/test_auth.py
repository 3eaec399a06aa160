"""The key rules of SPEC §13: health, /metrics and the OpenAPI document open, the rest behind a Bearer key compared
in constant time."""

from __future__ import annotations

import logging
import stat

import pytest

from symbi_cron.apikey import api_key
from symbi_cron.http.server import start_api


def test_open_and_closed_endpoints(http):
    assert http("GET", "/health", auth=False).status == 200
    assert http("GET", "/api/v1/health/scheduler", auth=False).status == 200
    assert http("GET", "/metrics", auth=False).status == 200
    assert http("GET", "/api/v1/openapi.json", auth=False).status == 200  # it holds no secret
    for method, path in (
        ("GET", "/api/v1/schedule"),
        ("POST", "/api/v1/schedule"),
        ("GET", "/api/v1/schedules"),
        ("GET", "/api/v1/runs/x"),
        ("POST", "/api/v1/schedules/x/trigger"),
    ):
        r = http(method, path, auth=False)
        assert r.status == 401, (method, path)
        assert r.body["code"] == "unauthorized" and r.headers["www-authenticate"].startswith("Bearer")


def test_wrong_keys_are_refused(http):
    for value in (
        "Bearer nope",
        f"Basic {http.key}",
        http.key,
        f"Bearer {http.key}x",
        "Bearer",
        "Bearer \u00e9",
    ):
        r = http("GET", "/api/v1/schedule", auth=False, headers={"Authorization": value})
        assert r.status == 401, value
    assert http("GET", "/api/v1/schedule", auth=False, headers={"Authorization": f"bearer {http.key}"}).status == 200


def test_generated_key_is_private_and_stable(app, server):
    path = app.paths.api_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == server.key and len(server.key) >= 40
    assert api_key(app) == server.key  # read back, not regenerated


def test_key_from_environment_and_config_reference(app, monkeypatch):
    monkeypatch.setenv("SYMBI_API_KEY", "from-env")
    app.settings = None  # reload settings with the new environment
    app._settings = None
    assert api_key(app) == "from-env"
    monkeypatch.delenv("SYMBI_API_KEY")
    app.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    app.paths.config_file.write_text('[api]\nkey = "${MY_API_SECRET}"\n')
    monkeypatch.setenv("MY_API_SECRET", "s3cret")
    app._settings = None
    handle = start_api(app, None, port=0)
    try:
        assert handle.key == "s3cret"
        assert not app.paths.api_key_file.exists()  # a configured key is never written to disk
    finally:
        handle.close()
    monkeypatch.delenv("MY_API_SECRET")
    app._settings = None
    from symbi_cron.errors import SymbiError

    with pytest.raises(SymbiError, match=r"\$\{MY_API_SECRET\}"):
        start_api(app, None, port=0)


def test_non_loopback_bind_warns(app, caplog):
    with caplog.at_level(logging.WARNING, logger="symbi_cron.http"):
        handle = start_api(app, None, bind="0.0.0.0", port=0)
        handle.close()
    assert any("TLS" in r.getMessage() for r in caplog.records)


def test_disabled_api_starts_nothing(app):
    app.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    app.paths.config_file.write_text("[api]\nenabled = false\n")
    app._settings = None
    handle = start_api(app, None)
    assert not handle.enabled and handle.url is None
    handle.close()
