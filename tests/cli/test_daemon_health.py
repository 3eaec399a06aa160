"""A real daemon's health as `symbi cron daemon status` reports it (docs/operations.md, "Health"), and
`symbi cron daemon reload` applying each changed setting live or saying it needs a restart."""

from __future__ import annotations

import json

import pytest
from agents.daemon_helper import Daemon, wait_for
from servers.ports import free_port

pytestmark = pytest.mark.slow


class Http:
    """GET on the daemon's API with its key (or none)."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    def __call__(self, method: str, path: str, *, auth: bool = True):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers={"Authorization": f"Bearer {self.key}"} if auth else {})
            resp = conn.getresponse()
            resp.read()
            return resp
        finally:
            conn.close()


def _with_api(d: Daemon, port: int) -> None:
    cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
    (d.home / "config.toml").write_text(cfg)


def _dead_letter(d: Daemon, name: str) -> None:
    conn = d.db()
    try:
        conn.execute("UPDATE jobs SET status = 'dead_letter', next_run = NULL WHERE name = ?", (name,))
        conn.commit()
    finally:
        conn.close()


def _status(d: Daemon) -> dict:
    proc = d.symbi("cron", "daemon", "status", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_without_the_api_reads_the_store(d):
    d.add_agent("ok", "echo")
    d.add_job("fine", "ok")
    d.add_job("flaky", "ok")
    d.start()
    assert _status(d)["health"] == {"status": "healthy", "reasons": [], "source": "store"}
    _dead_letter(d, "flaky")
    health = _status(d)["health"]
    assert health["status"] == "degraded" and [r["code"] for r in health["reasons"]] == ["dead_letter"]
    out = d.symbi("cron", "daemon", "status").stdout
    assert out.startswith("running (pid") and ": degraded\n" in out
    assert "  - 1 job dead-lettered: flaky" in out


def test_status_asks_the_daemon_when_the_api_serves(tmp_path):
    d = Daemon(tmp_path / "home")
    try:
        _with_api(d, free_port())
        d.add_agent("ok", "echo")
        d.add_job("flaky", "ok")
        d.start()
        assert _status(d)["health"]["source"] == "api"
        _dead_letter(d, "flaky")
        (d.home / "api.key").unlink()  # clients can no longer find the key the daemon serves
        health = _status(d)["health"]
        assert health["source"] == "api" and health["status"] == "degraded"
        assert [r["code"] for r in health["reasons"]] == ["dead_letter", "api_key"]
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()


def test_reload_applies_live_settings_and_names_those_that_need_a_restart(tmp_path):
    d = Daemon(tmp_path / "home")
    port = free_port()
    try:
        _with_api(d, port)
        d.start()
        key = d.symbi("api-key", check=True).stdout.strip()
        http = Http(port, key)
        wait_for(lambda: http("GET", "/health", auth=False).status == 200, what="the API")
        assert http("GET", "/metrics", auth=False).status == 200
        cfg = (d.home / "config.toml").read_text()
        cfg = cfg.replace(f"port = {port}", f'port = {free_port()}\nkey = "a-new-key-from-config"')
        cfg += "enable_metrics = false\nmax_concurrent_jobs = 3\n"  # in [scheduler], the last table
        (d.home / "config.toml").write_text(cfg)
        d.symbi("cron", "daemon", "reload", check=True)
        wait_for(lambda: "reloaded the configuration: 4 settings changed" in d.log(), what="the reload")
        log = d.log()
        assert "reload: scheduler.enable_metrics changed (True -> False): applied" in log
        assert "reload: scheduler.max_concurrent_jobs changed (10 -> 3): applied" in log
        assert "reload: api.key changed (unset -> ********): applied" in log and "a-new-key" not in log
        assert f"reload: api.port changed ({port} -> " in log and "needs restart" in log
        # Applied without a restart, on the port the daemon still listens on:
        assert http("GET", "/metrics", auth=False).status == 404
        assert http("GET", "/api/v1/schedule").status == 401  # the old key is refused
        http.key = "a-new-key-from-config"
        assert http("GET", "/api/v1/schedule").status == 200
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()
