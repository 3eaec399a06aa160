"""The store: pragmas, migrations, constraints, instants, atomic changes (tests using ``app`` run on SQLite and
on PostgreSQL: tests/store/conftest.py)."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest

from symbi_cron.errors import StoreError
from symbi_cron.services import jobs
from symbi_cron.store import Store
from symbi_cron.store import runs as run_rows
from symbi_cron.store.migrations import LATEST_VERSION, MIGRATIONS
from symbi_cron.timeutil import from_ms, to_ms


@pytest.mark.sqlite_only
def test_store_is_wal_with_busy_timeout_and_foreign_keys(app):
    conn = app.store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.sqlite_only
def test_new_store_files_are_private(app, home):
    app.store.connection()
    jobs.create_job(app, {"name": "j", "agent_id": "a", "cron_expr": "* * * * *"})
    assert stat.S_IMODE(os.stat(app.paths.db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(app.paths.lock).st_mode) & 0o077 == 0


def test_migrations_are_versioned_and_idempotent(tmp_path):
    store = Store(tmp_path / "s.db")
    assert store.schema_version() == LATEST_VERSION
    assert [v for v, _t, _s in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    # A second open applies nothing and keeps the data.
    with store.write() as tx:
        tx.execute("INSERT INTO agents (name, spec, created_at, updated_at) VALUES ('a', '{}', 1, 1)")
    store.close()
    again = Store(tmp_path / "s.db")
    assert again.migrate() == LATEST_VERSION
    assert again.query("SELECT COUNT(*) FROM agents")[0][0] == 1


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this symbi"):
        Store(path).connection()


def test_runs_are_unique_per_job_and_slot(app):
    job = jobs.create_job(app, {"name": "j", "agent_id": "a", "cron_expr": "* * * * *"})
    slot = to_ms(datetime(2026, 11, 27, 12, 1, tzinfo=timezone.utc))
    with app.store.write() as tx:
        first = run_rows.insert(
            tx, id="r1", job_id=job["id"], trigger="schedule", status="queued", scheduled_for=slot, now_ms=slot
        )
        second = run_rows.insert(
            tx, id="r2", job_id=job["id"], trigger="schedule", status="queued", scheduled_for=slot, now_ms=slot
        )
    assert (first, second) == (True, False)
    assert app.store.query("SELECT id FROM runs")[0][0] == "r1"


def test_instants_sort_as_instants_whatever_their_zone(app):
    """12:30+02:00 is before 11:00Z: stored values must order by the instant, not by the wall clock text."""
    madrid_like = datetime(2026, 11, 28, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    utc = datetime(2026, 11, 28, 11, 0, tzinfo=timezone.utc)
    jobs.create_job(app, {"name": "later", "agent_id": "a", "at": utc.isoformat()})
    jobs.create_job(app, {"name": "sooner", "agent_id": "a", "at": madrid_like.isoformat()})
    rows = app.store.query("SELECT name, next_run FROM jobs ORDER BY next_run")
    assert [r[0] for r in rows] == ["sooner", "later"]
    assert from_ms(rows[0][1]) == madrid_like


def test_a_change_that_fails_in_the_middle_leaves_the_store_as_it_was(app, monkeypatch):
    """create_job inserts the job, then writes the audit event: make the second step fail."""
    jobs.create_job(app, {"name": "keep", "agent_id": "a", "cron_expr": "0 9 * * *"})

    def snapshot():
        conn = app.store.connection()
        return [list(map(tuple, conn.execute(f"SELECT * FROM {t} ORDER BY 1"))) for t in ("jobs", "audit")]

    before = snapshot()

    def boom(*args, **kwargs):
        raise OSError("simulated crash between the two writes")

    monkeypatch.setattr(jobs, "append_event", boom)
    with pytest.raises(OSError, match="simulated crash"):
        jobs.create_job(app, {"name": "lost", "agent_id": "a", "cron_expr": "0 9 * * *"})
    assert snapshot() == before
    monkeypatch.undo()
    # ...and the store is still writable: the lock and the transaction were released.
    jobs.create_job(app, {"name": "after", "agent_id": "a", "cron_expr": "0 9 * * *"})
    assert {j["name"] for j in jobs.list_jobs(app)} == {"keep", "after"}


def test_nested_writes_join_one_transaction(app):
    with pytest.raises(RuntimeError), app.store.write():
        jobs.create_job(app, {"name": "one", "agent_id": "a", "cron_expr": "0 9 * * *"})
        jobs.create_job(app, {"name": "two", "agent_id": "a", "cron_expr": "0 9 * * *"})
        raise RuntimeError("abort the whole batch")
    assert jobs.list_jobs(app) == []


def test_audit_rows_cannot_be_updated_or_deleted_through_sql(app):
    jobs.create_job(app, {"name": "j", "agent_id": "a", "cron_expr": "0 9 * * *"})
    with pytest.raises(StoreError, match="append-only"), app.store.write() as tx:
        tx.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(StoreError, match="append-only"), app.store.write() as tx:
        tx.execute("DELETE FROM audit")


def test_concurrent_writers_in_threads_lose_nothing(app):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                jobs.create_job(app, {"name": f"w{n}-{i}", "agent_id": "a", "cron_expr": "0 9 * * *"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(jobs.list_jobs(app)) == 40
    seqs = [r[0] for r in app.store.query("SELECT seq FROM audit ORDER BY seq")]
    assert seqs == list(range(1, 41))


def test_unwritable_store_gives_a_clear_error(tmp_path):
    """A store opened read-only (as on a read-only mount) refuses writes with a StoreError, not a traceback."""
    path = tmp_path / "s.db"
    Store(path).connection()
    ro = Store(path)
    ro._local.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    ro._migrated = True
    with pytest.raises(StoreError, match="read-only"), ro.write() as tx:
        tx.execute("INSERT INTO agents (name, spec, created_at, updated_at) VALUES ('a', '{}', 1, 1)")


@pytest.mark.sqlite_only
def test_due_query_uses_the_partial_index(app):
    from symbi_cron.store import jobs as job_rows

    plan = app.store.query(
        "EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_due WHERE status = 'active' AND next_run <= ?"
        " ORDER BY next_run LIMIT 10",
        (1,),
    )
    assert any("jobs_due" in str(tuple(r)) for r in plan)
    assert not any("TEMP B-TREE" in str(tuple(r)) for r in plan)
    assert job_rows.due(app.store.connection(), 1) == []


def test_many_openers_of_a_brand_new_store_all_succeed(tmp_path):
    """Processes (here threads with their own Store) racing to create the same store: the WAL switch and the
    migration happen once, nobody gets 'database is locked'."""
    for round_ in range(10):
        path = tmp_path / f"race{round_}" / "symbi.db"
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def opener(path=path, barrier=barrier, errors=errors) -> None:
            store = Store(path)
            barrier.wait()
            try:
                store.connection()
                with store.write() as tx:
                    tx.execute(
                        "INSERT INTO agents (name, spec, created_at, updated_at) VALUES (?, '{}', 1, 1)",
                        (f"a{threading.get_ident()}",),
                    )
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
        assert Store(path).query("SELECT COUNT(*) FROM agents")[0][0] == 6
        assert Store(path).query("PRAGMA journal_mode")[0][0] == "wal"


def test_a_change_made_of_several_steps_signals_the_daemon_once(app):
    """Adding a file's agents and jobs calls App.changed at every step: one commit, one reload signal."""
    calls = []
    app.notify = lambda: calls.append(1)
    with app.store.write():
        for i in range(3):
            jobs.create_job(app, {"name": f"step{i}", "agent_id": "a", "cron_expr": "0 9 * * *"})
        assert calls == []  # nothing before the commit
    assert calls == [1]


def test_a_store_known_to_exist_is_never_created_again_when_deleted(tmp_path):
    """A daemon's store once opened (``must_exist``): deleted, a thread's new connection fails instead of
    creating an empty file in its place (the daemon would then see its store 'replaced', and the CLI an empty one)."""
    store = Store(tmp_path / "home with space" / "symbi.db")
    store.migrate()
    store.must_exist()
    store.connection().execute("SELECT 1")  # the file's own thread still works
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "home with space" / f"symbi.db{suffix}").unlink(missing_ok=True)
    failed: list[BaseException] = []

    def fresh_connection() -> None:
        try:
            store.connection()
        except BaseException as exc:  # noqa: BLE001 - asserted below
            failed.append(exc)

    t = threading.Thread(target=fresh_connection)
    t.start()
    t.join()
    assert len(failed) == 1 and isinstance(failed[0], StoreError) and "cannot open the store" in str(failed[0])
    assert not (tmp_path / "home with space" / "symbi.db").exists()
