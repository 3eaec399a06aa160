"""Delivery (SPEC §8) end to end through a real daemon: a heartbeat job and a failing job deliver to every kind of
channel, against the real local servers of tests/servers (recording HTTP server, the Slack-shaped API answering
429 and ok:false, aiosmtpd with STARTTLS and AUTH). Every receipt is stored and shown by `symbi cron history`
(table and JSON), a failing channel never fails the run, /metrics counts the failed deliveries, and `symbi cron
test-delivery` reports the same channels."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
from agents.daemon_helper import Daemon, wait_for

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for tests.servers (never tests/ itself: tests/http)
from servers.ports import free_port

from tests.servers.http_recorder import RecordingHTTPServer  # noqa: E402
from tests.servers.slack_server import SlackServer  # noqa: E402
from tests.servers.smtp_server import SMTPTestServer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")]

CHANNELS = ["webhook", "slack", "email", "log_file", "stdout", "custom:rec", "custom:broken"]
# A heartbeat agent: three iterations, the last one ends with the control word.
HEARTBEAT = (
    'echo "iteration $SYMBI_ITERATION: disk at 9${SYMBI_ITERATION}%";'
    ' if [ "$SYMBI_ITERATION" -ge 3 ]; then echo "all good"; echo SLEEP; fi'
)
RECORDER = "import os, sys; open(sys.argv[1] + '/' + os.environ['SYMBI_RUN_ID'], 'w').write(sys.stdin.read())"


def test_every_channel_through_a_real_daemon(tmp_path):
    received = tmp_path / "custom"
    received.mkdir()
    with (
        RecordingHTTPServer() as hook,
        SlackServer() as slack,
        SMTPTestServer(tmp_path / "certs", users={"bot": "pw"}) as smtp,
    ):
        d = Daemon(tmp_path / "home")
        port = free_port()
        cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
        cfg += (
            "[scheduler.delivery]\n"
            f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nsmtp_username = "bot"\nsmtp_password = "pw"\n'
            f'smtp_ca_file = "{smtp.ca_file}"\nemail_from = "cron@example.com"\n'
            f'slack_api_base_url = "{slack.api_base}"\nwebhook_retry_attempts = 1\n'
            "webhook_retry_backoff_seconds = 0.1\ncustom_timeout_seconds = 10\n"
            "[custom_channels]\n"
            f"rec = {json.dumps(_shell(sys.executable, '-c', RECORDER, received))}\n"
            "broken = \"sh -c 'echo no route to pager >&2; exit 3'\"\n"
        )
        (d.home / "config.toml").write_text(cfg)
        d.env.update(SYMBI_SLACK_TOKEN=slack.token, SYMBI_API_KEY="qa-delivery-api-key")
        d.symbi("agent", "add", "hb", "--shell", "--command", HEARTBEAT, check=True)
        d.add_agent("bad", "fail", "7")
        common = {
            "delivery": CHANNELS,
            "webhook_url": hook.url("/hook"),
            "email_recipients": ["ops@example.com"],
            "max_retries": 0,
        }
        d.add_job("hb", "hb", heartbeat={"enabled": True, "max_iterations": 5}, slack_channel="#ops", **common)
        d.add_job("bad", "bad", slack_channel="#nowhere", **common)
        try:
            d.start()
            slack.rate_limit(1, retry_after=1)  # the heartbeat's Slack message is rate limited once
            assert d.symbi("cron", "run", "hb", "--wait").returncode == 0
            assert d.symbi("cron", "run", "bad", "--wait").returncode == 1
            wait_for(
                lambda: d.query("SELECT count(*) AS n FROM deliveries")[0]["n"] == 2 * len(CHANNELS),
                timeout=30,
                what="every receipt of both runs",
            )

            hb = json.loads(d.symbi("cron", "history", "hb", "--format", "json", check=True).stdout)
            bad = json.loads(d.symbi("cron", "history", "bad", "--format", "json", check=True).stdout)
            assert [(r["status"], r["iterations"]) for r in hb] == [("succeeded", 3)]  # one run per wake
            assert [r["status"] for r in bad] == ["failed"]  # failed by its agent, not by a channel
            # The wake's summary is what the agent found, without the `sleep` control line.
            assert hb[0]["summary"] == "iteration 3: disk at 93%\nall good"
            receipts = {r["channel"]: r for r in hb[0]["deliveries"]}
            assert [r["channel"] for r in hb[0]["deliveries"]] == CHANNELS
            assert {c for c, r in receipts.items() if not r["ok"]} == {"custom:broken"}
            assert receipts["slack"]["attempts"] == 2  # 429, Retry-After honoured, then delivered
            assert receipts["custom:broken"]["detail"] == "sh: exit 3: no route to pager"
            bad_receipts = {r["channel"]: r for r in bad[0]["deliveries"]}
            assert {c for c, r in bad_receipts.items() if not r["ok"]} == {"slack", "custom:broken"}
            assert "channel_not_found" in bad_receipts["slack"]["detail"]

            table = d.symbi("cron", "history", "hb", check=True).stdout
            assert "webhook:ok slack:ok email:ok log_file:ok stdout:ok custom:rec:ok custom:broken:FAILED" in table

            # Each channel got the wake once, with its summary.
            bodies = [r.json() for r in hook.requests]
            assert [(b["job"]["name"], b["run"]["iterations"]) for b in bodies] == [("hb", 3), ("bad", 1)]
            assert bodies[0]["run"]["summary"] == "iteration 3: disk at 93%\nall good"
            assert len(slack.messages) == 1 and slack.messages[0]["channel"] == "#ops"
            subjects = sorted(m.message()["Subject"] for m in smtp.messages)
            assert subjects == ["[symbi] bad failed", "[symbi] hb succeeded"]
            failed_mail = next(m.message() for m in smtp.messages if "failed" in m.message()["Subject"])
            text = failed_mail.get_content().replace("\r\n", "\n")
            assert "Exit code:     7" in text and "Error:\nagent exited with status 7: something broke" in text
            assert json.loads((received / hb[0]["id"]).read_text())["run"]["summary"] == hb[0]["summary"]
            job_log = (d.home / "logs" / "jobs" / "hb.log").read_text()
            assert job_log.count("=== ") == 1 and "all good" in job_log
            wait_for(lambda: "job hb run" in d.log(), what="the stdout channel's block in daemon.log")

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                metrics = resp.read().decode()
            for line in (
                'symbiont_cron_delivery_failures_total{channel="custom:broken",job_name="hb"} 1.0',
                'symbiont_cron_delivery_failures_total{channel="custom:broken",job_name="bad"} 1.0',
                'symbiont_cron_delivery_failures_total{channel="slack",job_name="bad"} 1.0',
            ):
                assert line in metrics
            assert 'channel="slack",job_name="hb"' not in metrics

            # test-delivery: the same channels, a sample run, nothing stored, exit 1 for the broken one.
            before = len(hook.requests)
            proc = d.symbi("cron", "test-delivery", "hb", "--format", "json")
            assert proc.returncode == 1, proc.stderr
            sample = json.loads(proc.stdout)
            assert [(r["channel"], r["ok"]) for r in sample] == [(c, c != "custom:broken") for c in CHANNELS]
            assert len(hook.requests) == before + 1 and hook.requests[-1].json()["run"]["id"].startswith("test-")
            assert d.query("SELECT count(*) AS n FROM deliveries")[0]["n"] == 2 * len(CHANNELS)
        finally:
            d.symbi("cron", "daemon", "stop")
            d.cleanup()


def _shell(*argv: object) -> str:
    import shlex

    return " ".join(shlex.quote(str(a)) for a in argv)
