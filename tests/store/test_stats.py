"""The run statistics the store keeps as runs finish (store/stats.py and its migration), on both backends: each final
run counts once, in the same transaction as the change that caused it, whatever path wrote it; pruning runs or
removing a job never lowers the scheduler-wide totals; a store migrated from version 3 starts with the counts of
its history."""

from __future__ import annotations

import sqlite3

import pytest

from symbi_cron.delivery.base import Receipt
from symbi_cron.store import Store, stats
from symbi_cron.store import jobs as job_rows
from symbi_cron.store import runs as run_rows
from symbi_cron.store.deliveries import save_receipts
from symbi_cron.store.migrations import MIGRATIONS

NOW = 1_800_000_000_000


def _job(tx, job_id: str, name: str) -> None:
    job_rows.insert(
        tx,
        id=job_id,
        spec={"name": name, "agent_id": "a", "cron_expr": "* * * * *"},
        status="active",
        next_run=NOW + 60_000,
        now_ms=NOW,
    )


def _finish(tx, run_id: str, job_id: str, slot: int, status: str, ms: int | None, **extra) -> None:
    run_rows.insert(tx, id=run_id, job_id=job_id, trigger="schedule", status="queued", scheduled_for=slot, now_ms=NOW)
    run_rows.update(tx, run_id, now_ms=NOW, status="running", started_at=slot)
    run_rows.update(tx, run_id, now_ms=NOW, status=status, finished_at=slot + (ms or 0), execution_time_ms=ms, **extra)


def _row(app, name: str) -> dict:
    (row,) = stats.job_rows(app.store.connection(), [name])
    return dict(zip(stats.JOB_ROW_COLUMNS, row, strict=True))


def test_each_final_run_counts_once_with_its_duration_and_the_last_run(app):
    with app.store.write() as tx:
        _job(tx, "j1", "report")
        _finish(tx, "r1", "j1", NOW - 300_000, "succeeded", 80)
        _finish(tx, "r2", "j1", NOW - 240_000, "failed", 2_000)
        _finish(tx, "r3", "j1", NOW - 180_000, "succeeded", 45_000, input_tokens=10, output_tokens=4, cost_usd=0.5)
        _finish(tx, "r4", "j1", NOW - 120_000, "timed_out", 7_200_000)
        # Inserted final (a missed slot): counts, and is no "last run".
        run_rows.insert(
            tx,
            id="r5",
            job_id="j1",
            trigger="schedule",
            status="missed",
            scheduled_for=NOW - 60_000,
            now_ms=NOW,
            finished=True,
        )
        # A final run written again (its output, a second status write) is not counted again.
        run_rows.update(tx, "r1", now_ms=NOW, output="more", status="succeeded")
    row = _row(app, "report")
    assert (row["succeeded"], row["failed"], row["timed_out"], row["missed"]) == (2, 1, 1, 1)
    assert row["duration_count"] == 4 and row["duration_sum_ms"] == 80 + 2_000 + 45_000 + 7_200_000
    assert (row["le_100ms"], row["le_2500ms"], row["le_1m"], row["le_1h"]) == (1, 2, 3, 3)
    assert row["duration_max_ms"] == 7_200_000
    assert (row["last_status"], row["last_duration_ms"]) == ("timed_out", 7_200_000)
    assert row["last_success_at"] == NOW - 180_000 + 45_000
    assert (row["model_runs"], row["input_tokens"], row["output_tokens"], row["priced_runs"]) == (1, 10, 4, 1)
    assert row["cost_usd"] == pytest.approx(0.5)
    totals = stats.scheduler_totals(app.store.connection())
    assert {k: totals[k] for k in ("succeeded", "failed", "timed_out", "missed", "duration_count")} == {
        "succeeded": 2,
        "failed": 1,
        "timed_out": 1,
        "missed": 1,
        "duration_count": 4,
    }


def test_a_job_that_never_ran_reads_as_zeros(app):
    with app.store.write() as tx:
        _job(tx, "j1", "new")
    row = _row(app, "new")
    assert row["succeeded"] == row["dead_letters"] == row["duration_count"] == 0
    assert row["last_status"] is None and row["last_success_at"] is None and row["status"] == "active"


def test_a_failed_write_counts_nothing(app):
    with pytest.raises(RuntimeError), app.store.write() as tx:
        _job(tx, "j1", "doomed")
        _finish(tx, "r1", "j1", NOW, "succeeded", 10)
        raise RuntimeError("the change fails after the run finished")
    assert stats.scheduler_totals(app.store.connection())["succeeded"] == 0


def test_dead_letters_and_delivery_failures_count_transitions(app):
    with app.store.write() as tx:
        _job(tx, "j1", "flaky")
        _finish(tx, "r1", "j1", NOW, "failed", 10)
        job_rows.set_state(tx, "j1", now_ms=NOW, status="dead_letter")
        job_rows.set_state(tx, "j1", now_ms=NOW, status="dead_letter")  # no transition: not counted
        job_rows.set_state(tx, "j1", now_ms=NOW, status="active")  # reset
        job_rows.set_state(tx, "j1", now_ms=NOW, status="dead_letter")
        at = app.clock.now()
        save_receipts(tx, "r1", [Receipt("webhook", False, "HTTP 500", 3, at), Receipt("email", True, "sent", 1, at)])
        save_receipts(tx, "r1", [Receipt("webhook", False, "HTTP 500 again", 3, at)])  # still failed: once
        save_receipts(tx, "r1", [Receipt("email", False, "refused", 1, at)])  # ok -> failed: counts
    row = _row(app, "flaky")
    assert row["dead_letters"] == 2
    conn = app.store.connection()
    assert sorted(stats.job_delivery_failures(conn)) == [("flaky", "email", 1), ("flaky", "webhook", 1)]
    assert stats.delivery_failure_totals(conn) == {"webhook": 1, "email": 1}
    assert stats.scheduler_totals(conn)["dead_letters"] == 2


def test_pruning_runs_and_removing_a_job_never_lower_the_totals(app):
    with app.store.write() as tx:
        _job(tx, "j1", "a")
        _job(tx, "j2", "b")
        for i in range(3):
            _finish(tx, f"a{i}", "j1", NOW + i, "succeeded", 10)
            _finish(tx, f"b{i}", "j2", NOW + i, "failed", 10)
    with app.store.write() as tx:
        tx.execute("DELETE FROM runs WHERE job_id = 'j1'")
        job_rows.delete(tx, "j2")
    conn = app.store.connection()
    totals = stats.scheduler_totals(conn)
    assert (totals["succeeded"], totals["failed"], totals["duration_count"]) == (3, 3, 6)
    assert _row(app, "a")["succeeded"] == 3  # the job's own counters survive its pruned runs
    assert stats.job_rows(conn, ["b"]) == []
    assert conn.execute("SELECT COUNT(*) FROM job_stats").fetchone()[0] == 1


@pytest.mark.sqlite_only
def test_a_store_migrated_from_version_3_starts_with_the_counts_of_its_history(app, tmp_path):
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    from symbi_cron.store.db import _split_sql

    for version, _title, sql in MIGRATIONS:
        if version > 3:
            break
        for statement in _split_sql(sql):
            raw.execute(statement)
        raw.execute(f"PRAGMA user_version = {version}")
    raw.execute(
        "INSERT INTO jobs (id, name, agent_id, status, spec, created_at, updated_at)"
        " VALUES ('j1', 'old', 'a', 'active', '{}', 0, 0)"
    )
    rows = [
        ("r1", "succeeded", 1, 100, 150, None),
        ("r2", "failed", 2, 200, 3_000, None),
        ("r3", "succeeded", 3, 300, 40_000, 7),
        ("r4", "missed", 4, None, None, None),
        ("r5", "running", 5, None, None, None),
    ]
    for rid, status, slot, finished, ms, tokens in rows:
        raw.execute(
            "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, finished_at, execution_time_ms,"
            " input_tokens, output_tokens, created_at, updated_at)"
            " VALUES (?, 'j1', 'schedule', ?, ?, ?, ?, ?, ?, 0, 0)",
            (rid, status, slot, finished, ms, tokens, tokens),
        )
    raw.execute("INSERT INTO deliveries (run_id, channel, ok, at) VALUES ('r2', 'slack', 0, 0)")
    raw.execute(
        "INSERT INTO audit (seq, at, type, actor, job_id, details, prev_hash, hash)"
        " VALUES (1, 0, 'CronJobDeadLettered', 'd', 'j1', '{}', 'x', 'y')"
    )
    raw.commit()
    raw.close()
    store = Store(path)
    store.migrate()
    conn = store.connection()
    (row,) = stats.job_rows(conn, ["old"])
    got = dict(zip(stats.JOB_ROW_COLUMNS, row, strict=True))
    assert (got["succeeded"], got["failed"], got["missed"], got["duration_count"]) == (2, 1, 1, 3)
    assert (got["le_250ms"], got["le_5s"], got["le_1m"], got["duration_sum_ms"]) == (1, 2, 3, 43_150)
    assert (got["last_status"], got["last_duration_ms"], got["last_success_at"]) == ("succeeded", 40_000, 300)
    assert (got["dead_letters"], got["input_tokens"], got["model_runs"]) == (1, 7, 1)
    totals = stats.scheduler_totals(conn)
    assert (totals["succeeded"], totals["dead_letters"], totals["duration_max_ms"]) == (2, 1, 40_000)
    assert stats.delivery_failure_totals(conn) == {"slack": 1}
    store.close()
