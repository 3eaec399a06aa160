"""Paths resolved once: ``daemon start`` makes SYMBI_HOME and every configured path absolute before the daemon
changes directory, and the daemon opens the store that ``daemon start`` read from the config, or refuses to start
(a relative SYMBI_HOME read again in the daemon's directory once sent a host to ``h/h/config.toml``: a private
SQLite store and the default API port, while ``daemon start`` said "started"). The PostgreSQL side is in
tests/pg/test_daemon_placement.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from agents.daemon_helper import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def d(d):
    """The real daemon of tests/conftest.py; processes started from a relative SYMBI_HOME do not show the absolute
    one in /proc/PID/environ (the daemon is a fork of the CLI), so they are also found by their directory."""
    yield d
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if os.readlink(f"/proc/{name}/cwd").startswith(str(d.home)):
                    d.pids.add(int(name))
            except OSError:
                continue


def _symbi(d, *args: str, cwd, home: str) -> subprocess.CompletedProcess:
    env = dict(d.env, SYMBI_HOME=home)
    return subprocess.run(
        [sys.executable, "-m", "symbi_cron", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_a_daemon_started_from_a_relative_symbi_home_uses_that_home(d):
    parent = d.home.parent
    with open(d.home / "config.toml", "a") as fh:
        fh.write('[store]\nurl = "sqlite:state/jobs.db"\n[agentpin]\ntrust_bundle = "pins/bundle.json"\n')
    started = _symbi(d, "cron", "daemon", "start", cwd=parent, home=d.home.name)
    assert started.returncode == 0, started.stderr
    pid = d.pid
    d.pids.add(pid)
    assert os.readlink(f"/proc/{pid}/cwd") == str(d.home)
    assert not (d.home / d.home.name).exists()  # nothing read or written under home/home
    # The relative store path of the config file means the file beside the config, not one under the cwd.
    assert (d.home / "state" / "jobs.db").exists()
    assert f"store {d.home / 'state' / 'jobs.db'}" in d.log()
    shown = _symbi(d, "config", "show", "--format", "json", cwd=parent, home=d.home.name)
    assert str(d.home / "pins" / "bundle.json") in shown.stdout
    # The commands of that home see the same daemon, from wherever they run.
    status = _symbi(d, "cron", "daemon", "status", cwd=d.home, home=".")
    assert status.returncode == 0 and f"pid {pid}" in status.stdout
    stop = _symbi(d, "cron", "daemon", "stop", cwd=parent, home=d.home.name)
    assert stop.returncode == 0, stop.stderr
    wait_for(lambda: d.pid is None, what="the daemon to stop")


def test_a_config_that_does_not_read_fails_daemon_start_before_it_forks(d):
    (d.home / "config.toml").write_text("[scheduler\n")
    started = _symbi(d, "cron", "daemon", "start", cwd=d.home.parent, home=d.home.name)
    assert started.returncode == 2, (started.stdout, started.stderr)
    assert "config.toml" in started.stderr
    assert d.pid is None and not (d.home / "daemon.log").exists()  # it never forked


def test_the_daemon_refuses_a_store_other_than_the_one_daemon_start_read(d):
    """The daemon's own check, made to fail for real: ``daemon start`` (this process) is made to read a
    PostgreSQL URL while the daemon it forks reads the SQLite config that is really there, as a config that can no
    longer be read after daemonising would. The parent's reading is the one replaced (a test double: nothing else
    here can make one file read differently in two processes a few milliseconds apart)."""
    script = (
        "import os, sys\n"
        "from symbi_cron.runtime import daemonize\n"
        "parent, real = os.getpid(), daemonize.expected_store\n"
        "daemonize.expected_store = lambda paths, env: (\n"
        "    'postgresql://symbi:secret@db.internal/symbi' if os.getpid() == parent else real(paths, env))\n"
        "sys.argv = ['symbi', 'cron', 'daemon', 'start']\n"
        "from symbi_cron.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(d.env, SYMBI_HOME=d.home.name),
        cwd=d.home.parent,
        timeout=60,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "started" not in proc.stdout
    assert "the daemon could not start: after daemonising, the daemon read its store as sqlite:" in proc.stderr
    assert "postgresql://symbi:***@db.internal/symbi" in proc.stderr and "secret" not in proc.stderr
    assert d.pid is None and not (d.home / "symbi.db").exists()  # it opened no store
