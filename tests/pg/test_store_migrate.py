"""``symbi store migrate --to URL``: a SQLite store with history moves to PostgreSQL whole (counts and the audit
chain checked), the CLI then works on the new store, and a non-empty target is refused."""

from __future__ import annotations

import json

from symbi_cron.paths import resolve
from symbi_cron.services import audit as audit_svc
from symbi_cron.services.app import App
from symbi_cron.store import Store
from symbi_cron.store.postgres import PgStore


def test_migrate_copies_everything_and_verifies(home, clock, cli, pg_url, monkeypatch):
    from runtime.conftest import Runtime

    from symbi_cron.config import Settings

    paths = resolve()
    app = App(paths=paths, store=Store(paths.db, paths.lock), clock=clock, actor="test")
    s = Settings()
    s.api.enabled = False
    s.scheduler.default_timezone = "UTC"
    app.settings = s
    rt = Runtime(app)
    rt.agent("a", "echo")
    rt.agent("bad", "fail", "2")
    ok = rt.job("ok", delivery=["log_file"])
    rt.job("failing", agent="bad", retry_backoff_seconds=0)
    sup = rt.supervisor()
    for _ in range(3):
        rt.cycle(sup, 60)
    before = {
        t: app.store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("agents", "jobs", "runs", "deliveries", "audit")
    }
    assert before["runs"] >= 6 and before["deliveries"] >= 3 and before["audit"] >= 8

    # A pruned source: its audit log verifies from a checkpoint, its counters hold more than its runs.
    app.settings.retention.run_max_age_days = 0
    app.settings.retention.runs_per_job = 1
    app.settings.retention.audit_max_age_days = 0.0001
    clock.advance(3600)
    from symbi_cron.services.retention import prune
    from symbi_cron.store import stats

    assert prune(app)["audit_events"] >= 8
    before = {
        t: app.store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("agents", "jobs", "runs", "deliveries", "audit")
    }
    counters = stats.scheduler_totals(app.store.connection())
    per_job = sorted(stats.job_rows(app.store.connection()))
    app.store.close()

    r = cli("store", "migrate", "--to", pg_url, "--format", "json", ok=True)
    result = json.loads(r.stdout)
    assert {t: result["tables"][t] for t in before} == before and result["audit"]["ok"]
    assert result["tables"]["audit_checkpoints"] >= 1

    pg = App(paths=paths, store=PgStore(pg_url), clock=clock, actor="test")
    check = audit_svc.verify_chain(pg)
    assert check["ok"] and check["count"] == before["audit"] and check["verified_from"]["seq"] > 1
    assert stats.scheduler_totals(pg.store.connection()) == counters
    assert sorted(stats.job_rows(pg.store.connection())) == per_job
    monkeypatch.setenv("SYMBI_STORE_URL", pg_url)
    listed = json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)
    assert {j["name"] for j in listed} == {"ok", "failing"}
    history = json.loads(cli("cron", "history", ok["id"], "--format", "json", ok=True).stdout)
    assert len(history) == 1 and history[0]["status"] == "succeeded"  # runs_per_job = 1
    monkeypatch.delenv("SYMBI_STORE_URL")

    again = cli("store", "migrate", "--to", pg_url)
    assert again.exit_code == 4 and "already holds" in again.stderr
    bad = cli("store", "migrate", "--to", "mysql://x")
    assert bad.exit_code == 2 and "--to" in bad.stderr
