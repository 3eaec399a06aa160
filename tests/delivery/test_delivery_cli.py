"""``symbi cron test-delivery``: the real CLI over a real store, sending to real servers on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from symbi_cron.services.jobs import create_job
from tests.servers.http_recorder import Reply


def _add_job(app, **spec):
    base = {"name": "nightly-report", "agent_id": "reporter", "cron_expr": "0 3 * * *", "timezone": "UTC"}
    base.update(spec)
    return create_job(app, base)


def test_sends_a_sample_through_the_jobs_channels(app, cli, http_server, home: Path):
    _add_job(app, delivery=["log_file", "webhook"], webhook_url=http_server.url("/hook"))
    r = cli("cron", "test-delivery", "nightly-report")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["CHANNEL", "RESULT", "ATTEMPTS", "DETAIL"]
    assert lines[-2].split()[:3] == ["log_file", "ok", "1"]
    assert lines[-1].split()[:3] == ["webhook", "ok", "1"]
    body = http_server.wait_for(1)[0].json()
    assert body["job"]["name"] == "nightly-report"
    assert body["run"]["id"].startswith("test-") and body["run"]["trigger"] == "manual"
    assert "test delivery for job nightly-report" in (home / "logs" / "jobs" / "nightly-report.log").read_text()


def test_json_format_and_exit_1_when_a_channel_fails(app, cli, http_server):
    http_server.default = Reply(404, "gone")
    _add_job(app, delivery=["stdout", "webhook"], webhook_url=http_server.url("/hook"))
    r = cli("cron", "test-delivery", "nightly-report", "--format", "json")
    assert r.exit_code == 1
    receipts = json.loads(r.stdout)  # the stdout channel wrote to stderr: stdout is one JSON document
    assert [(x["channel"], x["ok"]) for x in receipts] == [("stdout", True), ("webhook", False)]
    assert "HTTP 404" in receipts[1]["detail"]
    assert "1 of 2 channel(s) failed" in r.stderr
    assert "test delivery for job nightly-report" in r.stderr


def test_channel_option_overrides_the_jobs_list(app, cli, http_server):
    _add_job(app, delivery=["webhook"], webhook_url=http_server.url("/hook"))
    r = cli("cron", "test-delivery", "nightly-report", "--channel", "stdout", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert [x["channel"] for x in json.loads(r.stdout)] == ["stdout"]
    assert http_server.requests == []


def test_bad_channel_and_unknown_job(app, cli):
    _add_job(app)
    r = cli("cron", "test-delivery", "nightly-report", "--channel", "pigeon")
    assert r.exit_code == 2 and "--channel: unknown channel 'pigeon'" in r.stderr
    r = cli("cron", "test-delivery", "no-such-job")
    assert r.exit_code == 3 and r.stderr.startswith("error: ")
