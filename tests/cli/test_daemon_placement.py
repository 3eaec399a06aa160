"""Placement you can see, on SQLite (docs/scaling.md, "Placement"): a daemon's name (``[daemon] name``, else the host
name and a hash of its home) is on every run it starts, in `cron history` (table, JSON, CSV), and `daemon status
--all` lists the one daemon of a SQLite store with its name, host, pid, version and load. Several daemons on one
PostgreSQL store: tests/pg/test_daemon_placement.py."""

from __future__ import annotations

import csv
import io
import json
import socket

import pytest

from symbi_cron import __version__
from symbi_cron.paths import resolve
from symbi_cron.processes import daemon_name

pytestmark = pytest.mark.slow


def test_the_default_name_is_the_host_and_a_hash_of_the_home(tmp_path):
    one, two = resolve({"SYMBI_HOME": str(tmp_path / "a")}), resolve({"SYMBI_HOME": str(tmp_path / "b")})
    host = socket.gethostname()
    assert daemon_name(one).startswith(f"{host}-") and len(daemon_name(one)) == len(host) + 7
    assert daemon_name(one) == daemon_name(one) != daemon_name(two)  # stable for a home, distinct across homes
    assert daemon_name(one, "alpha") == "alpha"


def test_runs_carry_the_daemon_name_and_status_all_lists_the_daemon(d):
    with open(d.home / "config.toml", "a") as fh:
        fh.write('[daemon]\nname = "alpha"\n')
    pid = d.start()
    d.add_agent("a", "echo")
    d.add_job("j", "a")
    assert d.symbi("cron", "run", "j", "--input", "hi", "--wait", timeout=30).returncode == 0

    runs = json.loads(d.symbi("cron", "history", "j", "--format", "json", check=True).stdout)
    assert [r["daemon_name"] for r in runs] == ["alpha"] and "daemon_id" not in runs[0]
    rows = list(csv.DictReader(io.StringIO(d.symbi("cron", "history", "j", "--format", "csv", check=True).stdout)))
    assert [r["daemon_name"] for r in rows] == ["alpha"]
    table = d.symbi("cron", "history", "j", "--wide", check=True).stdout.splitlines()
    assert "DAEMON" in table[0].split() and "alpha" in table[2].split()  # under the header and its rule

    listed = d.symbi("cron", "daemon", "status", "--all", "--format", "json", check=True)
    (me,) = json.loads(listed.stdout)
    assert (me["name"], me["host"], me["pid"], me["version"], me["running"]) == (
        "alpha",
        socket.gethostname(),
        pid,
        __version__,
        0,
    )
    assert me["this_home"] is True and me["lease_age_seconds"] is None  # SQLite: no lease
    text = d.symbi("cron", "daemon", "status", "--all", check=True).stdout.splitlines()
    assert text[0].split()[:3] == ["NAME", "HOST", "PID"] and text[2].split()[:4] == [
        "alpha",
        "*",
        socket.gethostname(),
        str(pid),
    ]

    assert f"running (pid {pid}, up " in (plain := d.symbi("cron", "daemon", "status", check=True).stdout)
    assert ", name alpha): healthy" in plain
    assert json.loads(d.symbi("cron", "daemon", "status", "--format", "json", check=True).stdout)["name"] == "alpha"

    d.symbi("cron", "daemon", "stop", check=True)
    gone = d.symbi("cron", "daemon", "status", "--all")
    assert gone.returncode == 5 and "no daemon is running on this store" in gone.stderr
    assert d.symbi("cron", "daemon", "status", "--all", "--format", "json").stdout.strip() == "[]"
    assert d.symbi("cron", "daemon", "stop", "--all").returncode == 2  # --all goes with status
