"""The PostgreSQL store's own mechanics: one migration source for both dialects, the schema version, rows by name
and position, row-level claims and the server-side timeouts, one audit chain from many connections, NOTIFY on a
change, leases and lease-based recovery."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from symbi_cron.errors import StoreError
from symbi_cron.security.policy import Decision
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.claim import Limits, claim_job
from symbi_cron.services.start import begin_run
from symbi_cron.store import Store, open_store
from symbi_cron.store import jobs as job_rows
from symbi_cron.store.migrations import LATEST_VERSION
from symbi_cron.store.postgres import PgStore, _pg_error, placeholders, redact_url
from symbi_cron.timeutil import to_ms


def _pg_columns(store: PgStore) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def _pg_indexes(store: PgStore) -> set[str]:
    return {r[0] for r in store.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}


def test_both_dialects_build_the_same_tables_columns_and_indexes(tmp_path, pg_url):
    lite = Store(tmp_path / "s.db")
    lite_tables = [
        r[0]
        for r in lite.query(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    lite_cols = {t: [r[1] for r in lite.query(f"PRAGMA table_info({t})")] for t in lite_tables}
    lite_idx = {
        r[0] for r in lite.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
    }
    pg = PgStore(pg_url)
    pg_cols = _pg_columns(pg)
    # PostgreSQL's bookkeeping: the schema version (PRAGMA user_version) and the audit's highest seq ever
    # written (sqlite_sequence).
    assert set(pg_cols) - set(lite_cols) == {"schema_version", "audit_sequence"}
    assert {t: pg_cols[t] for t in lite_cols} == lite_cols
    assert lite_idx <= _pg_indexes(pg)
    assert pg.schema_version() == lite.schema_version() == LATEST_VERSION


def test_instants_are_64_bit(pg_url):
    pg = PgStore(pg_url)
    types = {
        r[0]
        for r in pg.query(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'runs'"
            " AND column_name IN ('scheduled_for', 'created_at', 'not_before')"
        )
    }
    assert types == {"bigint"}


def test_migrate_is_idempotent_and_a_newer_schema_is_refused(pg_url):
    pg = PgStore(pg_url)
    assert pg.migrate() == LATEST_VERSION
    with pg.write() as tx:
        tx.execute("INSERT INTO agents (name, spec, created_at, updated_at) VALUES ('a', '{}', 1, 1)")
    again = PgStore(pg_url)
    assert again.migrate() == LATEST_VERSION
    assert again.query("SELECT COUNT(*) FROM agents")[0][0] == 1
    with again.write() as tx:
        tx.execute("UPDATE schema_version SET version = ?", (LATEST_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this symbi"):
        PgStore(pg_url).connection()


def test_only_the_placeholders_are_respelled_for_psycopg():
    assert placeholders("SELECT * FROM jobs WHERE a = ? AND b LIKE '50%?' AND c % 2 = 0") == (
        "SELECT * FROM jobs WHERE a = %s AND b LIKE '50%%?' AND c %% 2 = 0"
    )
    # What the dialects spell differently is written twice in its table module, not rewritten here.
    sqlite_only = "SELECT id FROM jobs INDEXED BY jobs_due WHERE next_run <= ?"
    assert placeholders(sqlite_only) == "SELECT id FROM jobs INDEXED BY jobs_due WHERE next_run <= %s"
    assert placeholders("PRAGMA user_version") == "PRAGMA user_version"


def test_a_sqlite_only_statement_is_refused_by_postgresql(pg_url):
    pg = PgStore(pg_url)
    with pytest.raises(StoreError, match="INDEXED|syntax"):
        pg.query("SELECT id FROM jobs INDEXED BY jobs_due WHERE next_run <= ?", (1,))
    assert pg.query("SELECT COUNT(*) FROM jobs")[0][0] == 0  # the connection is still usable


def test_rows_read_by_name_and_by_position(pg_url):
    pg = PgStore(pg_url)
    row = pg.query("SELECT 1 AS one, 'x' AS two, AVG(v) AS avg FROM (VALUES (1), (2)) t(v)")[0]
    assert (row["one"], row[1], row["avg"], row.keys()) == (1, "x", 1.5, ["one", "two", "avg"])
    assert dict(row) == {"one": 1, "two": "x", "avg": 1.5}


def test_open_store_picks_the_backend_from_the_url(home, pg_url, monkeypatch):
    from symbi_cron.paths import resolve

    assert isinstance(open_store(resolve()), Store)
    monkeypatch.setenv("SYMBI_STORE_URL", pg_url)
    assert isinstance(open_store(resolve()), PgStore)
    monkeypatch.delenv("SYMBI_STORE_URL")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[store]\nurl = "{pg_url}"\n')
    assert isinstance(open_store(resolve()), PgStore)


def test_an_unreachable_server_is_one_clear_error(home):
    store = PgStore("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(StoreError) as err:
        store.connection()
    assert "cannot reach the store" in str(err.value) and "secret" not in str(err.value)


def test_a_job_another_transaction_holds_is_skipped_not_waited_for(app, pg_url):
    """Row-level claims: a claim locks the job it claims; another daemon's claim skips that job (SKIP LOCKED) and
    takes the others at once, never waiting for it."""
    a = job_svc.create_job(app, {"name": "a", "agent_id": "x", "cron_expr": "* * * * *"})["id"]
    b = job_svc.create_job(app, {"name": "b", "agent_id": "x", "cron_expr": "* * * * *"})["id"]
    other = PgStore(pg_url)  # its own connections, as another daemon would have
    try:
        with app.store.write() as tx:
            assert job_rows.get_for_claim(tx, a)["name"] == "a"
            started = time.monotonic()
            with other.write() as tx2:
                assert job_rows.get_for_claim(tx2, a) is None  # held: skipped
                assert job_rows.get_for_claim(tx2, b)["name"] == "b"
            assert time.monotonic() - started < 1.0
    finally:
        other.close()


def test_the_server_cuts_off_a_client_frozen_inside_a_transaction(pg_url):
    """The store sets idle_in_transaction_session_timeout (and lock and statement timeouts) on its connections: a
    client that stops inside a transaction loses it, and its row locks, after that long; the next writer gets the
    row; the frozen client's next statement is a StoreError, and its store works again after it."""
    frozen = PgStore(pg_url, idle_timeout=0.5)
    other = PgStore(pg_url)
    try:
        shown = {r[0]: r[1] for r in other.query("SELECT name, setting FROM pg_settings WHERE name LIKE '%timeout'")}
        assert shown["idle_in_transaction_session_timeout"] == "5000"
        assert shown["lock_timeout"] == "5000" and shown["statement_timeout"] == "120000"
        with other.write() as tx:
            tx.execute("INSERT INTO agents (name, spec, created_at, updated_at) VALUES ('n', '0', 1, 1)")
        with pytest.raises(StoreError), frozen.write() as tx:
            tx.execute("SELECT spec FROM agents WHERE name = 'n' FOR UPDATE")
            time.sleep(1.0)  # frozen, holding the row
            tx.execute("SELECT 1")  # cut off by now
        started = time.monotonic()
        with other.write() as tx:
            tx.execute("UPDATE agents SET spec = '1' WHERE name = 'n'")
        assert time.monotonic() - started < 1.0
        assert frozen.query("SELECT spec FROM agents WHERE name = 'n'")[0][0] == "1"  # reconnected
    finally:
        frozen.close()
        other.close()


def test_concurrent_appends_keep_one_audit_chain(app, pg_url):
    """The audit chain's append takes its own lock: appends from many connections at once form one chain."""
    from symbi_cron.services.audit import verify_chain
    from symbi_cron.store.audit import append_event

    def append() -> None:
        store = PgStore(pg_url)
        for i in range(20):
            with store.write() as tx:
                append_event(tx, at_ms=1_000 + i, type="Test", actor="test", details={"i": i})
        store.close()

    threads = [threading.Thread(target=append) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert app.store.query("SELECT COUNT(*) FROM audit WHERE type = 'Test'")[0][0] == 80
    assert verify_chain(app)["ok"] is True


def test_a_change_notifies_listeners_at_commit_only(app, pg_url):
    import psycopg

    listener = psycopg.connect(pg_url, autocommit=True)
    listener.execute("LISTEN symbi_reload")
    with pytest.raises(RuntimeError), app.store.write():
        job_svc.create_job(app, {"name": "rolled-back", "agent_id": "a", "cron_expr": "* * * * *"})
        raise RuntimeError("abort")
    assert list(listener.notifies(timeout=0.3, stop_after=1)) == []
    job_svc.create_job(app, {"name": "kept", "agent_id": "a", "cron_expr": "* * * * *"})
    got = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in got] == ["symbi_reload"] and got[0].payload == "test"
    listener.close()


def test_the_supervisor_reloads_on_a_notification(rt):
    sup = rt.supervisor()
    reloads: list[int] = []
    original = sup._reload_config

    def counting_reload(**kwargs) -> None:
        reloads.append(sup.ticks)
        original(**kwargs)

    sup._reload_config = counting_reload  # type: ignore[method-assign]
    t = threading.Thread(target=sup.serve, daemon=True)
    t.start()
    try:

        def listening() -> bool:
            # Nothing else asks for a reload here: the first one is the listener's own, made right after its
            # LISTEN; once a tick has consumed it, the channel is listened on and no reload is pending.
            return bool(reloads) and sup._asked["remote"] == sup._seen["remote"]

        deadline = time.monotonic() + 10
        while not listening():
            assert time.monotonic() < deadline, "the reload listener never started listening"
            time.sleep(0.01)
        seen, before = len(reloads), sup.ticks
        other = PgStore(rt.app.store.url)
        other.notify_changed("another host")
        deadline = time.monotonic() + 5
        while len(reloads) == seen:
            assert time.monotonic() < deadline, "the notification did not reach the supervisor"
            time.sleep(0.01)
        deadline = time.monotonic() + 5
        while sup.ticks <= before:  # ...and it looked at the store at once
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other.close()
    finally:
        sup.request_stop()
        t.join(10)


def test_a_lapsed_lease_hands_the_running_run_to_the_others(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(retry_backoff_seconds=0, max_retries=3)
    dead = rt.supervisor(daemon_id="daemon:424242:dead0001:elsewhere")
    live = rt.supervisor(seed=2)
    clock.advance(60)
    dead.recover()  # takes its lease
    live.recover()
    with rt.app.store.write() as tx:  # the dead daemon claimed and started the slot, then vanished
        res = claim_job(
            tx,
            job_rows.get(tx, job["id"]),
            now_ms=to_ms(clock.now()),
            daemon_id=dead.daemon_id,
            rng=random.Random(1),
            limits=Limits(),
        )
    with rt.app.store.write() as tx:
        begun = begin_run(
            tx,
            res.queued[0],
            now_ms=to_ms(clock.now()),
            daemon_id=dead.daemon_id,
            gate=lambda job, agent: Decision("allow"),
        )
    assert begun is not None  # running, owned by the dead daemon
    rt.cycle(live)
    assert [r["status"] for r in rt.runs(job["id"])] == ["running"]  # its lease still holds
    clock.advance(31)  # past the 30 s lease: dead never renewed
    rt.cycle(live)
    rt.cycle(live)
    runs = rt.runs(job["id"])
    assert [(r["status"], r["trigger"]) for r in runs] == [
        ("interrupted", "schedule"),
        ("succeeded", "retry"),
    ]
    assert runs[1]["daemon_id"] == live.daemon_id
    assert rt.app.store.query("SELECT id FROM daemons")[0][0] == live.daemon_id  # the lapsed row is gone


def test_max_concurrent_holds_across_supervisors(rt, clock):
    """Two supervisors sharing the store never run more than max_concurrent runs of a job between them."""
    from symbi_cron.services.runs import queue_manual

    rt.agent("a", "sleep", "0.3")
    job = rt.job(max_concurrent=1, cron="0 0 1 1 *")
    sups = [rt.supervisor(seed=i) for i in range(2)]
    for s in sups:
        s.recover()
    for _ in range(3):
        queue_manual(rt.app, job["id"])
    seen = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for s in sups:
            s.tick()
        running = rt.app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'running'")[0][0]
        assert running <= 1
        done = rt.app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'")[0][0]
        seen = max(seen, running)
        if done == 3:
            break
        time.sleep(0.02)
    assert done == 3 and seen == 1
    for s in sups:
        assert s.wait_idle(30)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redact_url_masks_a_password_given_as_a_query_parameter():
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    masked = redact_url("postgresql://u@h/db?sslmode=require&password=LEAKME&application_name=x")
    assert "LEAKME" not in masked and "password=***" in masked and "sslmode=require" in masked
    assert "LEAKME" not in redact_url("postgresql://u@h/db?PassWord=LEAKME")


def test_an_unreachable_store_url_with_a_query_password_is_not_printed(home, cli):
    url = f"postgresql://u@127.0.0.1:{_closed_port()}/db?password=LEAKME"
    r = cli("store", "migrate", "--to", url)
    assert r.exit_code == 1 and "cannot reach" in r.stderr
    assert "LEAKME" not in r.stderr + r.stdout


def test_a_rejected_password_is_reported_as_refused_credentials_not_unreachable():
    # What psycopg raises for a bad password at connect: an OperationalError with no sqlstate.
    import psycopg

    exc = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password'
        ' authentication failed for user "app"'
    )
    err = _pg_error(exc, "postgresql://app:s3cret@127.0.0.1/db")
    assert "refused the credentials" in str(err) and "s3cret" not in str(err)


def test_a_read_on_a_connection_the_server_dropped_raises_store_error(pg_url):
    """After a database restart a long-lived process (the daemon's tick, the API) reads on a connection the server
    closed: that is a StoreError (logged in one line, retried), not a raw psycopg error logged as a bug."""
    import psycopg
    import pytest

    from symbi_cron.errors import StoreError
    from symbi_cron.store.postgres import PgStore

    store = PgStore(pg_url)
    conn = store.connection()
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreError) as err:
        conn.execute("SELECT COUNT(*) FROM jobs").fetchall()
    assert "cannot reach the store" in str(err.value)
    assert store.query("SELECT COUNT(*) FROM jobs")[0][0] == 0  # the next use reconnects
    store.close()
