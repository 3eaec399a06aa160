"""`symbi cron daemon` with real daemon processes: readiness, status truth, and each python-daemon pitfall
(umask, cwd, descriptors closed at detach, SIGHUP, stale pidfile after SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat

import pytest
from agents.daemon_helper import wait_for

pytestmark = pytest.mark.slow


def _status(d):
    proc = d.symbi("cron", "daemon", "status", "--format", "json")
    return proc.returncode, json.loads(proc.stdout)


def test_start_status_stop(d):
    code, st = _status(d)
    assert (code, st["state"]) == (5, "stopped")
    pid = d.start()  # returns only when ready: the status is already true
    code, st = _status(d)
    assert (code, st["state"], st["pid"]) == (0, "running", pid)
    assert st["uptime_seconds"] >= 0
    assert "running (pid" in d.symbi("cron", "daemon", "status").stdout
    again = d.symbi("cron", "daemon", "start")
    assert again.returncode == 4 and "already running" in again.stderr
    stop = d.symbi("cron", "daemon", "stop", check=True)
    assert f"stopped (pid {pid})" in stop.stdout
    assert _status(d)[1]["state"] == "stopped"
    assert not (d.home / "daemon.pid").exists()
    assert d.symbi("cron", "daemon", "stop").returncode == 5


def test_umask_cwd_and_log_after_detach(d):
    pid = d.start()
    with open(f"/proc/{pid}/status") as fh:
        umask = [line.split()[1] for line in fh if line.startswith("Umask:")][0]
    assert umask == "0077"  # python-daemon's default is 0
    assert os.readlink(f"/proc/{pid}/cwd") == str(d.home)  # python-daemon's default is /
    for name in ("daemon.log", "daemon.pid", "symbi.db"):
        assert stat.S_IMODE((d.home / name).stat().st_mode) == 0o600, name
    # The log handler is opened after detaching, so it is not among the descriptors python-daemon closed.
    assert "daemon ready" in d.log()
    d.symbi("cron", "daemon", "reload", check=True)
    wait_for(lambda: "reloaded the configuration" in d.log(), what="the reload in the log")


def test_sighup_reloads_and_does_not_kill(d):
    pid = d.start()
    for _ in range(5):
        os.kill(pid, signal.SIGHUP)
    wait_for(lambda: "reloaded the configuration" in d.log(), what="reload")
    assert _status(d)[1]["state"] == "running"


def test_relaunch_after_sigkill_really_runs(d):
    pid = d.start()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _status(d)[1]["state"] == "stale", what="a stale status")
    assert "stale pidfile" in d.symbi("cron", "daemon", "status").stdout
    proc = d.symbi("cron", "daemon", "start", check=True)
    assert "removed a stale pidfile" in proc.stderr
    new_pid = int(proc.stdout.split("pid ")[1].split(")")[0])
    d.pids.add(new_pid)
    assert new_pid != pid
    code, st = _status(d)
    assert (code, st["state"], st["pid"]) == (0, "running", new_pid)
    # ... and it does work: a manual run is executed by it.
    d.add_agent("a", "echo")
    d.add_job("j", "a")
    out = d.symbi("cron", "run", "j", "--input", "after relaunch", "--wait", timeout=30)
    assert out.returncode == 0 and "after relaunch" in out.stdout


def test_restart_gives_a_new_daemon(d):
    pid = d.start()
    proc = d.symbi("cron", "daemon", "restart", check=True)
    new_pid = int(proc.stdout.split("pid ")[1].split(")")[0])
    d.pids.add(new_pid)
    assert new_pid != pid and _status(d)[1]["pid"] == new_pid


def test_a_port_in_use_leaves_the_daemon_scheduling_without_its_api(d):
    """The schedule does not depend on the API's port: the daemon starts, runs jobs, and says the API is missing in
    `daemon start`, `daemon status` and its log."""
    d.add_agent("a", "echo")
    job = d.add_job("j", "a", input="ran")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
        (d.home / "config.toml").write_text(cfg)
        proc = d.symbi("cron", "daemon", "start")
        assert proc.returncode == 0, proc.stderr
        d.pids.add(d.pid)
        assert f"warning: the HTTP API is unavailable: port {port} on 127.0.0.1 is in use" in proc.stderr
        d.make_due(job)
        wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], what="a run without the API")
        code, status = _status(d)
        assert code == 0 and status["state"] == "running"
        assert status["health"]["status"] == "degraded"
        assert [r["code"] for r in status["health"]["reasons"]] == ["api_unavailable"]
        text = d.symbi("cron", "daemon", "status").stdout
        assert "degraded" in text and f"port {port}" in text
    assert "scheduling goes on without it" in d.log()


def test_api_required_makes_a_port_in_use_fatal(d):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = (
            (d.home / "config.toml")
            .read_text()
            .replace("enabled = false", f"enabled = true\nport = {port}\nrequired = true")
        )
        (d.home / "config.toml").write_text(cfg)
        proc = d.symbi("cron", "daemon", "start")
    assert proc.returncode == 1
    assert f"port {port}" in proc.stderr and "in use" in proc.stderr
    assert _status(d)[1]["state"] == "stopped"


def test_start_fails_with_the_reason_when_the_store_is_damaged(d):
    (d.home / "symbi.db").write_bytes(b"this is not a database" * 100)
    proc = d.symbi("cron", "daemon", "start")
    assert proc.returncode == 1
    assert "could not start" in proc.stderr and "damaged" in proc.stderr
    assert _status(d)[1]["state"] == "stopped"


def test_foreground_runs_in_the_terminal_and_stops_on_sigterm(d):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "symbi_cron", "cron", "daemon", "--foreground"],
        env=d.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    d.pids.add(proc.pid)
    try:
        wait_for(lambda: _status(d)[1]["state"] == "running", what="foreground daemon")
        assert _status(d)[1]["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "running in the foreground" in err and "daemon stopped" in err


def test_symbi_logs_filters_the_daemon_log(d):
    assert d.symbi("logs").returncode == 3  # no log yet
    d.start()
    d.symbi("cron", "daemon", "reload", check=True)
    wait_for(lambda: "reloaded" in d.log(), what="reload")
    out = d.symbi("logs", "--filter", "scheduler", check=True).stdout
    assert "reloaded the configuration" in out and "daemon ready" not in out
    assert d.symbi("logs", "--level", "error", check=True).stdout == ""
