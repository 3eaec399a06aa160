"""No secret in any receipt, log line or CLI output, through every channel, on success and on failure.

Each secret has a distinctive value; servers are set up to fail in ways that tempt a leak (a webhook that
echoes the Authorization header back in its error body, a custom command that prints its token to stderr,
a wrong SMTP password, a wrong Slack token), then everything the user can see is grepped.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import pytest
from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.router import deliver
from symbi_cron.services.jobs import create_job
from tests.servers.http_recorder import Recorded, Reply

SECRETS = {
    "HOOK_KEY": "hk-SECRET-aaa111",
    "SYMBI_WEBHOOK_AUTH_HEADER": "Bearer SECRET-bbb222",
    "SYMBI_SLACK_TOKEN": "xoxb-SECRET-ccc333",
    "HOOK_PATH_TOKEN": "SECRETddd444path",
    "SMTP_PASS": "SECRET-eee555",
    "NOTIFY_TOKEN": "SECRET-fff666",
}
NEEDLES = ["SECRET", "aaa111", "bbb222", "ccc333", "ddd444", "eee555", "fff666"]

#: A command that leaks its argument to stderr and fails.
LEAKY = "import sys; sys.stdin.read(); print('token was', sys.argv[1], file=sys.stderr); sys.exit(4)"


def _echo_auth(rec: Recorded) -> Reply:
    # A careless server: its error quotes the credentials it got.
    return Reply(401, f"bad credentials: {rec.header('Authorization')} / {rec.header('X-Api-Key')} for {rec.path}")


def _assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"{needle!r} leaked into {where}:\n{text}"


@pytest.fixture
def leaky_world(http_server, slack_server, smtp_server, tmp_path: Path):
    http_server.handler = _echo_auth
    job = sample_job(
        delivery=["stdout", "log_file", "webhook", "slack", "email", "custom:notify"],
        webhook_url=http_server.url("/hooks/${HOOK_PATH_TOKEN}?token=${HOOK_PATH_TOKEN}"),
        webhook_headers={"X-Api-Key": "${HOOK_KEY}"},
        slack_channel="#ops",
        email_recipients=["ops@example.com"],
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(LEAKY)} ${{NOTIFY_TOKEN}}"
    delivery = dict(
        slack_api_base_url=slack_server.api_base,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_username="symbi-bot",
        smtp_password="${SMTP_PASS}",
        smtp_ca_file=str(smtp_server.ca_file),
        email_from="symbi@example.com",
        webhook_retry_attempts=1,
        webhook_retry_backoff_seconds=0,
    )
    return job, command, delivery


def test_failures_through_every_channel_leak_nothing(leaky_world, make_ctx, caplog):
    job, command, delivery = leaky_world
    caplog.set_level(logging.DEBUG)
    ctx = make_ctx(env=dict(SECRETS), custom_channels={"notify": command}, **delivery)
    receipts = deliver(sample_payload(job=job), job["delivery"], ctx)
    by = {r.channel: r for r in receipts}
    # the channels that should fail did, for the tempting reasons
    assert not by["webhook"].ok and "HTTP 401" in by["webhook"].detail
    assert not by["slack"].ok and "invalid_auth" in by["slack"].detail
    assert not by["email"].ok and "login refused" in by["email"].detail
    assert not by["custom:notify"].ok and "token was ***" in by["custom:notify"].detail
    dump = json.dumps([r.to_dict() for r in receipts], ensure_ascii=False)
    _assert_clean(dump, "receipts")
    _assert_clean(caplog.text, "logs")
    _assert_clean(ctx.stdout.getvalue(), "the stdout channel")
    _assert_clean(ctx.paths.job_log(job["name"]).read_text(), "the job's log file")


def test_successes_leak_nothing(http_server, slack_server, smtp_server, make_ctx, caplog, tmp_path: Path):
    caplog.set_level(logging.DEBUG)
    secrets = dict(SECRETS, SMTP_PASS="correct horse", SYMBI_SLACK_TOKEN=slack_server.token)
    job = sample_job(
        webhook_url=http_server.url("/hooks/${HOOK_PATH_TOKEN}"),
        webhook_headers={"X-Api-Key": "${HOOK_KEY}"},
        slack_channel="#ops",
        email_recipients=["ops@example.com"],
    )
    ctx = make_ctx(
        env=secrets,
        slack_api_base_url=slack_server.api_base,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_username="symbi-bot",
        smtp_password="${SMTP_PASS}",
        smtp_ca_file=str(smtp_server.ca_file),
        email_from="symbi@example.com",
    )
    receipts = deliver(sample_payload(job=job), ["webhook", "slack", "email"], ctx)
    assert all(r.ok for r in receipts), receipts
    # the secrets did reach the servers (they were expanded at send time) ...
    assert http_server.requests[0].header("X-Api-Key") == SECRETS["HOOK_KEY"]
    assert http_server.requests[0].path == "/hooks/" + SECRETS["HOOK_PATH_TOKEN"]
    # ... and nowhere else
    _assert_clean(json.dumps([r.to_dict() for r in receipts]), "receipts")
    _assert_clean(caplog.text, "logs")


def test_cli_output_leaks_nothing(leaky_world, app, cli, home: Path, monkeypatch):
    job, command, delivery = leaky_world
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    lines = ["[scheduler.delivery]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in delivery.items()]
    lines += ["", "[custom_channels]", f"notify = {json.dumps(command)}"]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    spec = {
        k: job[k]
        for k in (
            "name",
            "agent_id",
            "delivery",
            "webhook_url",
            "webhook_headers",
            "slack_channel",
            "email_recipients",
        )
    }
    create_job(app, dict(spec, cron_expr="0 3 * * *", timezone="UTC"))
    for fmt in ("table", "json"):
        r = cli("cron", "test-delivery", job["name"], "--format", fmt)
        assert r.exit_code == 1
        assert "webhook" in r.stdout and "custom:notify" in r.stdout
        _assert_clean(r.stdout, f"test-delivery --format {fmt} stdout")
        _assert_clean(r.stderr, f"test-delivery --format {fmt} stderr")
    # the store keeps the ${VAR} references, never the values
    dbtext = (home / "symbi.db").read_bytes().decode("latin-1")
    _assert_clean(dbtext, "the store")
