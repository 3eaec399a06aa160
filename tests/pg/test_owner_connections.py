"""Run owners on PostgreSQL hold at most ``store.owner_connections`` connections at once, and only while they use
them: a burst of more runs than the server has connections completes, each run exactly once.

A server of its own with ``max_connections = 20``, one real daemon with ``owner_connections = 4`` and room for
the whole burst (``max_concurrent_jobs = 40``), 30 one-second jobs due at the same second. Before the owners
rationed their connections each one kept its own from its first run: the burst ran out of connections, runs failed
unexecuted ("sorry, too many clients already") and sat ``running`` while their owners could not record them, and
the CLI could not reach the store. Counted from the agents' own start and end records.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

from .cluster import Host, mark_command, read_marks, set_due, wait_for
from .server import small_server

pytestmark = pytest.mark.slow

MAX_CONNECTIONS = 20
BURST = 30


def test_a_burst_larger_than_the_servers_connections_runs_each_run_once(tmp_path, home):
    url = small_server(MAX_CONNECTIONS)
    marks = tmp_path / "marks.log"
    store = PgStore(url)
    app = App(paths=resolve(), store=store, actor="test")
    agent_svc.add_agent(app, {"name": "work", "command": mark_command(marks, "sleep 1"), "shell": True})
    far = "2099-01-01T00:00:00+00:00"
    jobs = [job_svc.create_job(app, {"name": f"b-{i}", "agent_id": "work", "at": far})["id"] for i in range(BURST)]
    host = Host(tmp_path / "host", url, lease_seconds=30, separate=False, max_concurrent_jobs=40)
    with open(host.daemon.home / "config.toml", "a") as fh:
        fh.write("owner_connections = 4\n")  # under [store], the section Host wrote last
    peak = [0]
    stop = threading.Event()

    def watch() -> None:  # the server's own count of client connections, through the burst
        while not stop.wait(0.05):
            try:
                rows = store.query("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
            except Exception:
                continue
            peak[0] = max(peak[0], int(rows[0][0]))

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        host.start()
        watcher.start()
        set_due(store, jobs, first_in=1.5, spread=0)
        wait_for(lambda: sum(1 for m in read_marks(marks) if m.what == "start") >= BURST // 2, timeout=20)
        listed = host.daemon.symbi("cron", "list")  # the CLI reaches the store in the middle of the burst
        assert listed.returncode == 0, listed.stderr

        def done() -> bool:
            ended = Counter(m.job for m in read_marks(marks) if m.what == "end")
            recorded = store.query("SELECT count(*) FROM runs WHERE status = 'succeeded'")[0][0]
            return len(ended) == BURST and recorded >= BURST

        wait_for(done, timeout=30, what="every run of the burst to end and be recorded")
        stop.set()
        marks_now = read_marks(marks)
        starts = Counter(m.job for m in marks_now if m.what == "start")
        ends = Counter(m.job for m in marks_now if m.what == "end")
        assert starts == ends == Counter({f"b-{i}": 1 for i in range(BURST)}), "a run started twice or never"
        statuses = Counter(r[0] for r in store.query("SELECT status FROM runs"))
        assert statuses == Counter({"succeeded": BURST}), statuses
        assert peak[0] < MAX_CONNECTIONS, f"{peak[0]} connections at the peak"
        log = host.log()
        assert "too many clients" not in log and "could not be executed" not in log, log[-3000:]
    finally:
        stop.set()
        host.cleanup()
        store.close()
