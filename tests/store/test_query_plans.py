"""The queries every run makes use an index that leads straight to the rows they want (one index of a job's open
runs, one of its runs with a summary), whatever the length of the job's history: a job every minute for a year has
half a million runs, and each claim and start counts its open runs, each run reads its previous summary."""

from __future__ import annotations

import pytest

from symbi_cron.store import runs as run_rows
from symbi_cron.vocab import OCCUPYING_RUN_STATUSES, RunStatus


def _plan(conn, sql: str, args: tuple) -> str:
    return "; ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall())


def _traced(conn, call) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("name", "call", "index"),
    [
        ("count_running", lambda conn: run_rows.count_running(conn, "job-1"), "runs_job_open"),
        ("occupancy", lambda conn: run_rows.occupancy(conn, "job-1", OCCUPYING_RUN_STATUSES), "runs_job_open"),
        (
            "queued of a job",
            lambda conn: run_rows.with_status(conn, (RunStatus.queued,), job_id="job-1"),
            "runs_job_open",
        ),
        ("previous_summary", lambda conn: run_rows.previous_summary(conn, "job-1", before_run="r"), "runs_job_summary"),
    ],
)
def test_per_run_queries_do_not_walk_a_jobs_history(app, name, call, index):
    conn = app.store.connection()
    statements = _traced(conn, lambda: call(conn))
    assert statements, f"{name} made no query"
    for sql in statements:
        plan = _plan(conn, sql, ())
        assert index in plan, f"{name}: {sql!r} is planned as {plan!r}, not through {index}"
