"""Adoption on a shared store: two real daemons of one host (each its own SYMBI_HOME, one PostgreSQL database)
never adopt each other's run owners. A daemon adopts the owners its home's previous daemon left running
(tests/runtime/test_run_owners.py) or those of a daemon whose lease lapsed, never those of a live daemon, which
watches them itself: a daemon that stops neither waits for nor stops the runs of another.

The agent waits for a file the test writes, so the run is still going whatever the timing of the two daemons.
"""

from __future__ import annotations

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

from .cluster import Host, mark_command, read_marks, set_due, wait_for

pytestmark = pytest.mark.slow


def test_a_daemon_never_adopts_the_run_owners_of_another_live_daemon(tmp_path, home, pg_url):
    marks, go = tmp_path / "marks.log", tmp_path / "go"
    store = PgStore(pg_url)
    app = App(paths=resolve(), store=store, actor="test")
    wait_go = f"while [ ! -e {go} ]; do sleep 0.05; done"
    agent_svc.add_agent(app, {"name": "waits", "command": mark_command(marks, wait_go), "shell": True})
    job = job_svc.create_job(app, {"name": "waits", "agent_id": "waits", "at": "2099-01-01T00:00:00+00:00"})["id"]
    a = Host(tmp_path / "a", pg_url, lease_seconds=3, separate=False, shutdown_timeout_seconds=1)
    b = Host(tmp_path / "b", pg_url, lease_seconds=3, separate=False, shutdown_timeout_seconds=1)
    try:
        a.start()
        set_due(store, [job], first_in=0, spread=0)
        wait_for(lambda: any(m.what == "start" for m in read_marks(marks)), what="A's agent to start")
        (run,) = store.query("SELECT id, status, daemon_id FROM runs WHERE job_id = ?", (job,))
        assert run["status"] == "running" and run["daemon_id"].startswith("owner:")

        # B starts (its first sweep sees A's run running under a live owner of this host) and stops: it has
        # nothing in flight, so it neither waits for A's run nor tells A's owner to stop it.
        b.start()
        b.daemon.symbi("cron", "daemon", "stop", check=True, timeout=30)
        assert "adopted" not in b.log() and "still in flight" not in b.log(), b.log()
        assert store.query("SELECT status FROM runs WHERE id = ?", (run["id"],))[0]["status"] == "running"
        assert [m.what for m in read_marks(marks)] == ["start"]  # the agent goes on

        go.write_text("")
        wait_for(
            lambda: store.query("SELECT status FROM runs WHERE id = ?", (run["id"],))[0]["status"] == "succeeded",
            what="A's run to succeed",
        )
        assert [m.what for m in read_marks(marks)] == ["start", "end"]
        assert store.query("SELECT COUNT(*) FROM runs WHERE job_id = ?", (job,))[0][0] == 1
    finally:
        go.write_text("")
        a.cleanup()
        b.cleanup()
        store.close()
