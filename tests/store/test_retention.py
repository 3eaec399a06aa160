"""Retention (SPEC §17, services/retention.py) on both backends: what a pass removes and what it never touches (open
runs, a job's newest finished run), run logs, job logs and context directories, and the audit log pruned behind a
checkpoint that ``audit verify`` starts from. The run statistics (metrics, health) do not move."""

from __future__ import annotations

import os
import time

import pytest

from symbi_cron.services import jobs as job_svc
from symbi_cron.services.audit import query_events, verify_chain
from symbi_cron.services.retention import RetentionWorker, last_prune_ms, prune
from symbi_cron.store import runs as run_rows
from symbi_cron.store import stats
from symbi_cron.store.audit import append_event
from symbi_cron.timeutil import to_ms

DAY = 86_400_000


def _job(app, name: str) -> str:
    return job_svc.create_job(app, {"name": name, "agent_id": "a", "cron_expr": "0 * * * *"})["id"]


def _runs(app, job_id: str, ages_days: list[float], status: str = "succeeded") -> list[str]:
    """Finished runs whose slots are ``ages_days`` old, each with a run log."""
    now = to_ms(app.clock.now())
    ids = []
    with app.store.write() as tx:
        for age in ages_days:
            slot = now - int(age * DAY)
            rid = f"{job_id[:8]}-{slot}"
            run_rows.insert(
                tx, id=rid, job_id=job_id, trigger="schedule", status="running", scheduled_for=slot, now_ms=slot
            )
            run_rows.update(
                tx, rid, now_ms=slot, status=status, started_at=slot, finished_at=slot + 5, execution_time_ms=5
            )
            ids.append(rid)
    for rid in ids:
        path = app.paths.run_log(rid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("output\n")
    return ids


def _left(app, job_id: str) -> list[str]:
    return [r["id"] for r in run_rows.for_job(app.store.connection(), job_id)]


def test_old_runs_go_with_their_logs_and_the_counters_stay(app):
    job = _job(app, "nightly")
    old = _runs(app, job, [200, 120, 91])
    recent = _runs(app, job, [30, 1])
    before = stats.scheduler_totals(app.store.connection())
    report = prune(app)
    assert report["runs"] == 3 and report["run_logs"] == 3
    assert sorted(_left(app, job)) == sorted(recent)
    assert not any(app.paths.run_log(r).exists() for r in old)
    assert all(app.paths.run_log(r).exists() for r in recent)
    assert stats.scheduler_totals(app.store.connection()) == before  # metrics never go back
    (event,) = query_events(app, types=["StorePruned"])
    assert event["details"]["runs"] == 3 and event["actor"] == "test"
    assert last_prune_ms(app) == to_ms(app.clock.now())


def test_never_open_runs_nor_a_jobs_newest_finished_run(app):
    job = _job(app, "yearly")
    (only,) = _runs(app, job, [400])  # its only finished run: the next run reads its summary
    now = to_ms(app.clock.now())
    with app.store.write() as tx:
        for status, age in (("queued", 300), ("running", 200), ("pending_approval", 150)):
            run_rows.insert(
                tx,
                id=f"open-{status}",
                job_id=job,
                trigger="manual",
                status=status,
                scheduled_for=now - age * DAY,
                now_ms=now,
            )
    assert prune(app)["runs"] == 0
    assert sorted(_left(app, job)) == sorted([only, "open-queued", "open-running", "open-pending_approval"])


def test_never_a_run_whose_deliveries_are_still_pending(app):
    job = _job(app, "mailer")
    old, pending, _newest = _runs(app, job, [300, 200, 1])
    now = to_ms(app.clock.now())
    with app.store.write() as tx:
        # The delivery outbox (the run owners' table): a row until the channel has its receipt.
        tx.execute(
            "CREATE TABLE IF NOT EXISTS outbox (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
            " channel TEXT NOT NULL, position BIGINT NOT NULL, owner TEXT NOT NULL, created_at BIGINT NOT NULL,"
            " PRIMARY KEY (run_id, channel))"
        )
        tx.execute(
            "INSERT INTO outbox (run_id, channel, position, owner, created_at) VALUES (?, 'email', 0, 'o', ?)",
            (pending, now),
        )
    assert prune(app)["runs"] == 1
    assert pending in _left(app, job) and old not in _left(app, job)
    assert app.paths.run_log(pending).exists()


def test_count_per_job_keeps_the_newest(app, monkeypatch):
    app.settings.retention.run_max_age_days = 0
    app.settings.retention.runs_per_job = 2
    a, b = _job(app, "a"), _job(app, "b")
    a_runs = _runs(app, a, [5, 4, 3, 2, 1])
    b_runs = _runs(app, b, [1])
    assert prune(app)["runs"] == 3
    assert sorted(_left(app, a)) == sorted(a_runs[-2:]) and _left(app, b) == b_runs


def test_a_dry_run_removes_nothing_and_says_what_it_would(app):
    job = _job(app, "x")
    _runs(app, job, [100, 95, 1])
    (app.paths.contexts_dir / "gone-job" / "shared").mkdir(parents=True)
    report = prune(app, dry_run=True)
    assert report["dry_run"] and report["runs"] == 2 and report["run_logs"] == 2 and report["contexts"] == 1
    assert len(_left(app, job)) == 3 and (app.paths.contexts_dir / "gone-job").exists()
    assert query_events(app, types=["StorePruned"]) == [] and last_prune_ms(app) is None


def test_stray_run_logs_job_logs_and_contexts(app):
    app.settings.retention.run_log_max_age_days = 10
    app.settings.retention.job_log_max_bytes = 100
    app.settings.retention.job_log_backups = 1
    job = _job(app, "keeper")
    (kept,) = _runs(app, job, [1])
    old_log = app.paths.run_log(kept)
    stamp = time.time() - 20 * 86400
    os.utime(old_log, (stamp, stamp))  # its run stays, its log is past run_log_max_age_days
    orphan = app.paths.run_log("no-such-run")
    orphan.write_text("x")
    os.utime(orphan, (time.time() - 120, time.time() - 120))
    fresh_orphan = app.paths.run_log("being-written")
    fresh_orphan.write_text("x")  # a run's log may exist a moment before we can see its run
    big = app.paths.job_log("keeper")
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_text("y" * 500)
    stale = app.paths.job_log("removed-long-ago")
    stale.write_text("z")
    os.utime(stale, (time.time() - 100 * 86400,) * 2)
    ctx = app.paths.contexts_dir
    (ctx / "deleted-job-id" / "shared").mkdir(parents=True)
    (ctx / job / "shared").mkdir(parents=True)
    (ctx / job / "crashed-run").mkdir()
    os.utime(ctx / job / "crashed-run", (time.time() - 3600,) * 2)

    report = prune(app)
    assert report["run_logs"] == 2 and not old_log.exists() and not orphan.exists() and fresh_orphan.exists()
    assert report["job_logs_rotated"] == 1 and not big.exists() and big.with_name(big.name + ".1").stat().st_size == 500
    assert report["job_logs_removed"] == 1 and not stale.exists()
    assert (
        report["contexts"] == 2 and not (ctx / "deleted-job-id").exists() and not (ctx / job / "crashed-run").exists()
    )
    assert (ctx / job / "shared").exists() and _left(app, job) == [kept]


def _events(app, n: int, age_days: float) -> None:
    at = to_ms(app.clock.now()) - int(age_days * DAY)
    with app.store.write() as tx:
        for i in range(n):
            append_event(tx, at_ms=at + i, type="CronJobExecuted", actor="daemon", details={"i": i})


def test_the_audit_log_is_pruned_behind_a_checkpoint_and_still_verifies(app):
    app.settings.retention.audit_max_age_days = 30
    _events(app, 1, age_days=41)
    first_head = verify_chain(app)["head"]  # a head kept outside after the first event
    _events(app, 6, age_days=40)
    before = verify_chain(app)
    _events(app, 3, age_days=1)
    report = prune(app)
    assert report["audit_events"] == 7 and report["checkpoint"]["seq"] == 7
    result = verify_chain(app)
    assert result["ok"], result["problems"]
    assert result["verified_from"]["seq"] == 8 and result["verified_from"]["pruned"] == 7
    assert result["verified_from"]["checkpoint_hash"] == before["head"]
    assert result["count"] == 4  # the 3 recent events and the StorePruned event
    # A head recorded before the prune is gone with the events: verify says so, and why.
    assert verify_chain(app, expect_head=before["head"])["ok"]  # the checkpoint holds that very hash
    older = verify_chain(app, expect_head=first_head)
    assert not older["ok"] and "pruned up to seq 7" in older["problems"][-1]["message"]


def test_a_log_pruned_to_its_end_goes_on_from_the_checkpoint(app):
    app.settings.retention.audit_max_age_days = 30
    _events(app, 4, age_days=40)
    report = prune(app)  # every event goes; the StorePruned event is the first of the new stretch
    assert report["audit_events"] == 4
    result = verify_chain(app)
    assert result["ok"], result["problems"]
    assert result["count"] == 1 and result["verified_from"]["seq"] == 5


def test_events_past_the_checkpoint_cannot_be_deleted(app):
    from symbi_cron.errors import StoreError

    app.settings.retention.audit_max_age_days = 30
    _events(app, 3, age_days=40)
    _events(app, 2, age_days=1)
    prune(app)
    with pytest.raises(StoreError, match="append-only"), app.store.write() as tx:
        tx.execute("DELETE FROM audit WHERE seq = 4")
    with pytest.raises(StoreError, match="append-only"), app.store.write() as tx:
        tx.execute("DELETE FROM audit_checkpoints")


def test_tampering_after_a_prune_is_still_found(app):
    app.settings.retention.audit_max_age_days = 30
    _events(app, 3, age_days=40)
    _events(app, 3, age_days=1)
    prune(app)
    with app.store.write() as tx:  # an attacker with the database: triggers off, a row changed
        if app.store.dialect == "postgresql":
            tx.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        else:
            tx.execute("DROP TRIGGER audit_no_update")
        tx.execute("UPDATE audit SET details = ? WHERE seq = 5", ('{"i":99}',))
    result = verify_chain(app)
    assert not result["ok"] and result["problems"][0]["seq"] == 5


def test_the_worker_prunes_when_a_pass_is_due(app):
    app.settings.retention.interval_hours = 24
    worker = RetentionWorker(app)
    assert worker.due_in() == 0  # never pruned
    job = _job(app, "w")
    _runs(app, job, [100, 1])
    assert worker.run_once()["runs"] == 1
    assert worker.due_in() == pytest.approx(24 * 3600)
    app.clock.advance(23 * 3600)
    assert worker.due_in() == pytest.approx(3600)
