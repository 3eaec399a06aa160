"""Secrets across the whole product (SPEC §2, §4): a real daemon started with umask 022 runs a job whose webhook
header, AgentPin credential, agent environment, SMTP password, Slack token and API key all come from the
environment, delivering to real local webhook, Slack-shaped and SMTP servers; then every file under SYMBI_HOME (the
SQLite file and its -wal included), every CLI read command and every API answer is searched for the secret values,
and every file and directory symbi created is checked to be 0600/0700."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from agents.daemon_helper import Daemon, wait_for

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for tests.servers (never tests/ itself: tests/http)
from servers.ports import free_port

from tests.servers.http_recorder import RecordingHTTPServer, Reply  # noqa: E402
from tests.servers.slack_server import SlackServer  # noqa: E402
from tests.servers.smtp_server import SMTPTestServer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")]

SECRETS = {
    "HOOK_TOKEN": "hooktok-S3CRET-1111",
    "PIN": "pinjwt-S3CRET-2222",
    "AGENT_SECRET": "agentsec-S3CRET-3333",
    "SMTP_PW": "smtppw-S3CRET-4444",
    "SYMBI_SLACK_TOKEN": "xoxb-slack-S3CRET-5555",
    "SYMBI_API_KEY": "apikey-S3CRET-6666",
}
# The agent prints its own secret on stdout (split across two writes) and stderr, as `set -x` or curl -v would.
AGENT = (
    "printf 'out %s' \"${API_KEY%????}\"; sleep 0.2; printf '%s done\\n' \"${API_KEY#${API_KEY%????}}\";"
    ' echo "err $API_KEY" >&2; exit 3'
)


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, value in SECRETS.items() if value.encode() in data]


@pytest.fixture
def servers(tmp_path):
    # The webhook answers 401 echoing the Authorization header it got, as some servers do.
    hook = RecordingHTTPServer(handler=lambda rec: Reply(401, f"denied for {rec.header('Authorization')}"))
    with hook, SlackServer() as slack, SMTPTestServer(tmp_path / "certs", users={"bot": "wrong"}) as smtp:
        yield hook, slack, smtp


def test_no_secret_value_lands_anywhere_and_every_file_is_private(tmp_path, servers):
    hook, slack, smtp = servers
    old_umask = os.umask(0o022)
    try:
        d = Daemon(tmp_path / "home")
        os.chmod(d.home, 0o755)  # as a user's mkdir under umask 022 would leave it
        port = free_port()
        cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
        cfg += (
            "[scheduler.delivery]\n"
            f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nsmtp_username = "bot"\n'
            f'smtp_password = "${{SMTP_PW}}"\nsmtp_ca_file = "{smtp.ca_file}"\nemail_from = "cron@example.com"\n'
            f'slack_api_base_url = "{slack.api_base}"\nwebhook_retry_attempts = 0\n'
            f'[agentpin]\ndomain = "agents.example.com"\ndiscovery_dir = "{tmp_path}"\n'
        )
        (d.home / "config.toml").write_text(cfg)
        d.env.update(SECRETS)
        d.symbi("agent", "add", "leaky", "--shell", "--command", AGENT, "--env", "API_KEY=${AGENT_SECRET}", check=True)
        job = {
            "name": "sec",
            "agent_id": "leaky",
            "cron_expr": "0 0 1 1 *",
            "input": "hello",
            "max_retries": 0,
            "delivery": ["webhook", "email", "slack", "log_file"],
            "webhook_url": hook.url("/hook?token=${HOOK_TOKEN}"),
            "webhook_headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
            "email_recipients": ["ops@example.com"],
            "slack_channel": "#ops",
            "agent_pin_jwt": "${PIN}",
        }
        d.symbi("cron", "add", "--json", json.dumps(job), check=True)
        d.symbi(
            "cron",
            "add",
            "--json",
            json.dumps(dict(job, name="pinned", policy={"require_agent_pin": True})),
            check=True,
        )
        try:
            d.start()
            outputs = {
                "run sec": d.symbi("cron", "run", "sec", "--wait"),
                "run pinned": d.symbi("cron", "run", "pinned", "--wait"),
            }
            hook.wait_for(1, timeout=30)
            wait_for(lambda: smtp.auth_attempts and slack.requests, timeout=30, what="email and Slack attempts")
            wait_for(
                lambda: all(r["n"] for r in d.query("SELECT count(*) AS n FROM deliveries")),
                timeout=30,
                what="delivery receipts",
            )
            # The secrets really were used: the servers saw them.
            assert hook.requests[0].header("Authorization") == f"Bearer {SECRETS['HOOK_TOKEN']}"
            assert SECRETS["HOOK_TOKEN"] in hook.requests[0].path
            assert slack.requests[0].header("Authorization") == f"Bearer {SECRETS['SYMBI_SLACK_TOKEN']}"

            for args in (
                ("cron", "list", "--format", "json"),
                ("cron", "status", "sec", "--format", "json"),
                ("cron", "history", "sec", "--format", "json"),
                ("cron", "history", "pinned"),
                ("config", "show"),
                ("config", "show", "--format", "json"),
                ("audit", "query", "--format", "json"),
                ("agent", "list", "--format", "json"),
                ("cron", "status", "pinned"),
            ):
                outputs[" ".join(args)] = d.symbi(*args)
            texts = {k: p.stdout + p.stderr for k, p in outputs.items()}
            assert "agent exited with status 3" in texts["cron history sec --format json"]
            assert "AgentPin" in texts["cron status pinned"]
            job_id = json.loads(texts["cron list --format json"])[0]["id"]
            headers = {"Authorization": f"Bearer {SECRETS['SYMBI_API_KEY']}"}
            for path in (
                "/api/v1/schedule",
                f"/api/v1/schedule/{job_id}",
                f"/api/v1/schedule/{job_id}/history",
                "/api/v1/schedules",
                f"/api/v1/schedules/{job_id}/history",
                "/metrics",
                "/api/v1/health/scheduler",
                "/api/v1/schedule/nope",
            ):
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        texts[path] = resp.read().decode()
                except urllib.error.HTTPError as exc:
                    texts[path] = exc.read().decode()
            assert {k: _leaks(v) for k, v in texts.items() if _leaks(v)} == {}
        finally:
            d.symbi("cron", "daemon", "stop")
            d.cleanup()

        found, modes = {}, {}
        for p in sorted(d.home.rglob("*")):
            mode = p.stat().st_mode & 0o777
            if p.name != "config.toml" and mode != (0o700 if p.is_dir() else 0o600):  # config.toml: ours
                modes[str(p.relative_to(d.home))] = oct(mode)
            if p.is_file() and _leaks(p.read_bytes()):
                found[str(p.relative_to(d.home))] = _leaks(p.read_bytes())
        run_logs = "".join(p.read_text() for p in (d.home / "logs" / "runs").iterdir())
        assert "*** done" in run_logs and "err ***" in run_logs, run_logs  # masked, even split across writes
        assert found == {}
        assert modes == {}
    finally:
        os.umask(old_umask)
