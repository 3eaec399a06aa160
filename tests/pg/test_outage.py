"""A database outage shorter than the lease never wedges nor doubles a run (issue 17, item 2).

A real daemon on PostgreSQL runs a two-second job; while its agent runs, every connection to the test database is
cut (``pg_terminate_backend``) and new ones are refused (``ALLOW_CONNECTIONS false``) for five seconds, so the agent
ends while the database is down. When the database is back the outcome is recorded: the run succeeded once, with no
``interrupted`` record and no retry, the agent started once (its own record), and the next slot runs as usual.
"""

from __future__ import annotations

import time

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

from .cluster import Host, mark_command, read_marks, set_due, wait_for
from .server import admin_url

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5
LEASE_SECONDS = 15


def _outage(db: str, allow: bool) -> None:
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {db} WITH ALLOW_CONNECTIONS {'true' if allow else 'false'}")
        if not allow:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,))


def test_an_outage_shorter_than_the_lease_delays_the_outcome_and_nothing_else(tmp_path, home, pg_url):
    marks = tmp_path / "marks.log"
    db = pg_url.rsplit("/", 1)[1]
    store = PgStore(pg_url)
    app = App(paths=resolve(), store=store, actor="test")
    agent_svc.add_agent(app, {"name": "two", "command": mark_command(marks, "sleep 2"), "shell": True})
    job = job_svc.create_job(
        app, {"name": "j", "agent_id": "two", "cron_expr": "0 0 1 1 *", "retry_backoff_seconds": 0, "max_retries": 3}
    )["id"]
    host = Host(tmp_path / "host", pg_url, lease_seconds=LEASE_SECONDS, separate=False)
    try:
        host.start()
        (slot,) = set_due(store, [job], first_in=0.5, spread=0).values()
        wait_for(lambda: any(m.what == "start" for m in read_marks(marks)), what="the agent to start")
        store.close()
        _outage(db, allow=False)
        try:
            t_down = time.monotonic()
            wait_for(lambda: any(m.what == "end" for m in read_marks(marks)), what="the agent to end in the outage")
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - t_down)))
        finally:
            _outage(db, allow=True)
        t_up = time.monotonic()
        wait_for(
            lambda: store.query("SELECT status FROM runs WHERE job_id = ?", (job,))[0][0] == "succeeded",
            timeout=LEASE_SECONDS,
            what="the outcome to be recorded once the database is back",
        )
        recorded_after = time.monotonic() - t_up
        runs = store.query("SELECT status, trigger, scheduled_for FROM runs WHERE job_id = ?", (job,))
        assert [(r[0], r[1], r[2]) for r in runs] == [("succeeded", "schedule", slot)]
        assert [m.what for m in read_marks(marks)] == ["start", "end"]
        assert "cannot record the outcome" in host.log()

        # Not wedged: the next slot runs.
        set_due(store, [job], first_in=0.5, spread=0)
        wait_for(
            lambda: (
                store.query("SELECT COUNT(*) FROM runs WHERE job_id = ? AND status = 'succeeded'", (job,))[0][0] == 2
            ),
            timeout=15,
            what="the next slot to run",
        )
        assert store.query("SELECT COUNT(*) FROM runs WHERE job_id = ? AND status <> 'succeeded'", (job,))[0][0] == 0
        print(f"\noutage {OUTAGE_SECONDS}s; outcome recorded {recorded_after:.1f}s after the database came back")
    finally:
        host.cleanup()
        store.close()
