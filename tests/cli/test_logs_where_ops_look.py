"""Logs where ops look (issue 15, item 7): relative `--since` for `symbi logs` and `audit query`; under systemd
(JOURNAL_STREAM names the daemon's stderr) the daemon writes journal priorities without its own timestamp, and
`symbi logs` names the journalctl command instead of failing. A real foreground daemon, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

from agents.daemon_helper import wait_for

from symbi_cron.cli.logs import journalctl_command
from symbi_cron.logformat import priority


def _log_line(when: datetime, level: str, text: str) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S},000 {level} symbi.scheduler: {text}\n"


def test_logs_since_takes_relative_times(d) -> None:
    now = datetime.now()  # daemon.log is written in local time
    (d.home / "daemon.log").write_text(
        _log_line(now - timedelta(hours=5), "INFO", "five hours ago")
        + _log_line(now - timedelta(minutes=90), "WARNING", "ninety minutes ago")
        + "Traceback (most recent call last): a continuation line\n"
        + _log_line(now - timedelta(minutes=10), "INFO", "ten minutes ago")
    )
    out = d.symbi("logs", "--since", "2h", check=True).stdout
    assert "five hours ago" not in out and "ninety minutes ago" in out and "a continuation line" in out
    assert "ten minutes ago" in out
    out = d.symbi("logs", "--since", "2 hours ago", "--until", "1h", check=True).stdout
    assert out.splitlines()[0].endswith("ninety minutes ago") and "ten minutes ago" not in out
    assert d.symbi("logs", "--since", "yesterday", check=True).stdout.count("symbi.scheduler") == 3
    bad = d.symbi("logs", "--since", "two hours ago")
    assert bad.returncode == 2 and "since: 'two hours ago' is not a time" in bad.stderr


def test_audit_query_since_takes_relative_times(d) -> None:
    d.symbi("cron", "add", "--json", json.dumps({"name": "j", "agent_id": "a", "cron_expr": "@daily"}), check=True)
    recent = json.loads(d.symbi("audit", "query", "--since", "2 hours ago", "--format", "json", check=True).stdout)
    assert [e["type"] for e in recent] == ["CronJobCreated"]
    older = json.loads(d.symbi("audit", "query", "--until", "1h", "--format", "json", check=True).stdout)
    assert older == []


def test_journal_priorities_and_logs_pointing_to_journalctl(d, tmp_path) -> None:
    stderr_path = tmp_path / "journal-stream"
    with open(stderr_path, "wb") as stream:
        st = os.fstat(stream.fileno())
        env = dict(d.env, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")  # what systemd sets: stderr is the journal
        proc = subprocess.Popen(
            [sys.executable, "-m", "symbi_cron", "cron", "daemon", "--foreground"],
            env=env,
            stdout=stream,
            stderr=stream,
        )
    d.pids.add(proc.pid)
    try:
        wait_for(lambda: "daemon ready" in stderr_path.read_text(), what="the daemon's ready line")
        logs = d.symbi("logs")  # no daemon.log: the journal holds it
        assert logs.returncode == 0, logs.stderr
        assert "logs to the systemd journal" in logs.stderr and "journalctl " in logs.stderr
        filtered = d.symbi("logs", "--since", "1h", "--level", "warning", "--filter", "dead", "-f")
        assert "--since -1h -p warning --grep dead -n 100 -f" in filtered.stderr
        (d.home / "config.toml").write_text("[scheduler\nbroken =\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping the previous configuration" in stderr_path.read_text(), what="the reload error")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # Every log record carries its priority (the one-line banner "running in the foreground" is not a record:
    # the journal gives it the unit's default priority, info).
    lines = [line for line in stderr_path.read_text().splitlines() if line and "running in the foreground" not in line]
    assert lines and all(line[:1] == "<" and line[2] == ">" for line in lines), lines
    assert any(line.startswith("<6>INFO symbi.daemon: ") and "daemon ready" in line for line in lines)
    assert any(line.startswith("<3>ERROR ") and "keeping the previous configuration" in line for line in lines)
    assert not any(line[3:7].isdigit() for line in lines)  # no timestamp of our own: the journal has one


def test_without_journal_stream_the_log_keeps_its_timestamps(d) -> None:
    d.start()
    wait_for(lambda: "daemon ready" in d.log(), what="the ready line")
    first = d.log().splitlines()[0]
    assert first[:4].isdigit() and " INFO symbi." in first  # 2026-11-29 12:00:00,000 INFO symbi.daemon: ...
    assert "journal" not in d.symbi("logs", check=True).stderr


def test_priorities_and_the_journalctl_command() -> None:
    assert [priority(n) for n in (10, 20, 25, 30, 40, 50)] == [7, 6, 6, 4, 3, 2]
    cmd = journalctl_command(
        ("symbi-cron.service", True), needle=None, level="error", since="2026-11-01", until=None, lines=20, follow=False
    )
    assert cmd == "journalctl --user -u symbi-cron.service --since 2026-11-01 -p err -n 20"
    system = journalctl_command(
        ("symbi.service", False), needle="a b", level="debug", since="2 hours ago", until=None, lines=100, follow=False
    )
    assert system == "journalctl -u symbi.service --since '2 hours ago' --grep 'a b' -n 100"
