"""Placement you can see on a shared PostgreSQL store (docs/scaling.md, "Placement"): two real daemons, each its
own SYMBI_HOME and name, one database. `daemon status --all` from either home lists both with their host, pid,
lease age, version and load; every run carries the name of the daemon that started it; /metrics has one load
series per daemon."""

from __future__ import annotations

import json
import time

import pytest
from agents.daemon_helper import Daemon, agent_command, wait_for
from prometheus_client.parser import text_string_to_metric_families

from symbi_cron import __version__
from symbi_cron.http.metrics import MetricsExporter
from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

pytestmark = pytest.mark.slow


class _Snapshot:
    """The supervisor as the exporter sees it: only its snapshot (the scrape of the daemon named "north")."""

    def snapshot(self) -> dict:
        return {"daemon_name": "north"}


def test_two_daemons_show_where_each_run_ran(tmp_path, home, pg_url):
    store = PgStore(pg_url)
    app = App(paths=resolve(), store=store, actor="test")
    agent_svc.add_agent(app, {"name": "slow", "command": agent_command("sleep", "3")})
    far = "2099-01-01T00:00:00+00:00"
    jobs = [job_svc.create_job(app, {"name": f"j{i}", "agent_id": "slow", "at": far})["id"] for i in range(6)]
    daemons = []
    try:
        for name in ("north", "south"):
            d = Daemon(tmp_path / name)
            with open(d.home / "config.toml", "a") as fh:
                fh.write(f'[daemon]\nname = "{name}"\n[store]\nlease_seconds = 3\n')
            d.env["SYMBI_STORE_URL"] = pg_url
            d.start()
            daemons.append(d)
        at = int(time.time() * 1000) + 1000
        at -= at % 1000
        with store.write() as tx:
            for job_id in jobs:
                tx.execute("UPDATE jobs SET next_run = ? WHERE id = ?", (at, job_id))
            store.notify_changed("test")
        running = wait_for(
            lambda: (
                (rows := store.query("SELECT daemon_name FROM runs WHERE status = 'running'"))
                and len(rows) == 6
                and rows
            ),
            timeout=20,
            what="the six runs running",
        )
        load = {n: sum(1 for r in running if r["daemon_name"] == n) for n in ("north", "south")}
        assert sum(load.values()) == 6 and set(r["daemon_name"] for r in running) <= {"north", "south"}

        listed = daemons[1].symbi("cron", "daemon", "status", "--all", "--format", "json", check=True)
        rows = json.loads(listed.stdout)
        assert [r["name"] for r in rows] == ["north", "south"]
        assert [r["pid"] for r in rows] == [d.pid for d in daemons]
        assert [r["this_home"] for r in rows] == [False, True]
        for r in rows:
            assert r["version"] == __version__ and 0 <= r["lease_age_seconds"] <= 3 and r["lease_left_seconds"] > 0
        assert {r["name"]: r["running"] for r in rows} == load
        table = daemons[0].symbi("cron", "daemon", "status", "--all", check=True).stdout.splitlines()
        assert table[0].split() == ["NAME", "HOST", "PID", "UP", "LEASE", "RENEWED", "VERSION", "RUNNING"]
        assert [line.split()[0] for line in table[2:]] == ["north", "south"] and table[2].split()[1] == "*"

        status = daemons[0].symbi("cron", "daemon", "status", "--format", "json", check=True)
        assert json.loads(status.stdout)["name"] == "north"  # read from its lease

        fams = {f.name: f for f in text_string_to_metric_families(MetricsExporter(app, _Snapshot()).text().decode())}
        per_daemon = {s.labels["daemon"]: s.value for s in fams["symbiont_cron_daemon_running_runs"].samples}
        assert per_daemon == {n: float(c) for n, c in load.items()}
        (info,) = fams["symbiont_cron_daemon_info"].samples
        assert info.labels["daemon"] == "north"

        wait_for(
            lambda: store.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'")[0][0] == 6,
            timeout=30,
            what="the runs to finish",
        )
        names = {r["daemon_name"] for r in store.query("SELECT daemon_name FROM runs")}
        assert names <= {"north", "south"} and None not in names
    finally:
        for d in daemons:
            d.cleanup()
        store.close()
