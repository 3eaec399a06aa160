"""A host meant for PostgreSQL, started from a relative SYMBI_HOME, runs on PostgreSQL: the daemon reads the
config of that home (not ``home/home/config.toml``), takes its lease in the shared database, and writes no SQLite
store anywhere (docs/scaling.md). The SQLite side and the daemon's own check are in tests/cli/test_daemon_paths.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from agents.daemon_helper import Daemon, wait_for

from symbi_cron.store.postgres import PgStore

pytestmark = pytest.mark.slow


def test_a_relative_symbi_home_configured_for_postgresql_runs_on_postgresql(tmp_path, pg_url):
    d = Daemon(tmp_path / "pghost")
    with open(d.home / "config.toml", "a") as fh:
        fh.write(f'[store]\nurl = "{pg_url}"\nlease_seconds = 3\n')
    env = dict(d.env, SYMBI_HOME="pghost")
    store = PgStore(pg_url)
    try:
        started = subprocess.run(
            [sys.executable, "-m", "symbi_cron", "cron", "daemon", "start"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert started.returncode == 0, started.stderr
        pid = d.pid
        d.pids.add(pid)
        rows = store.query("SELECT id, pid FROM daemons")
        assert [r["pid"] for r in rows] == [pid]  # its lease is in the shared database
        assert not (d.home / "symbi.db").exists() and not (d.home / "pghost").exists()
        assert "store postgresql://" in d.log()
        stop = subprocess.run(
            [sys.executable, "-m", "symbi_cron", "cron", "daemon", "stop"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert stop.returncode == 0, stop.stderr
        wait_for(lambda: not store.query("SELECT id FROM daemons"), what="the lease given back")
    finally:
        for name in os.listdir("/proc"):  # the daemon's fork server, found by its directory (see cli/test_daemon_paths)
            try:
                if name.isdigit() and os.readlink(f"/proc/{name}/cwd").startswith(str(d.home)):
                    d.pids.add(int(name))
            except OSError:
                continue
        d.cleanup()
        store.close()
