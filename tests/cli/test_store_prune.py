"""`symbi store prune [--dry-run]`: [retention] applied on demand, through the real CLI on a real store."""

from __future__ import annotations

import json

from symbi_cron.services import jobs as job_svc
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms

DAY = 86_400_000


def _history(app, ages_days: list[int]) -> str:
    job = job_svc.create_job(app, {"name": "nightly", "agent_id": "a", "cron_expr": "0 3 * * *"})
    now = to_ms(app.clock.now())
    with app.store.write() as tx:
        for age in ages_days:
            slot = now - age * DAY
            run_rows.insert(
                tx,
                id=f"run-{age}",
                job_id=job["id"],
                trigger="schedule",
                status="missed",
                scheduled_for=slot,
                now_ms=slot,
                finished=True,
            )
    return job["id"]


def test_dry_run_then_prune(cli, app):
    job = _history(app, [400, 200, 95, 10, 1])
    r = cli("store", "prune", "--dry-run", ok=True)
    assert r.stdout.startswith("would remove 3 runs, 0 run logs, 0 job logs, 0 context directories, 0 audit events")
    assert len(run_rows.for_job(app.store.connection(), job)) == 5
    report = json.loads(cli("store", "prune", "--format", "json", ok=True).stdout)
    assert report["runs"] == 3 and report["dry_run"] is False
    assert [r["id"] for r in run_rows.for_job(app.store.connection(), job)] == ["run-1", "run-10"]
    assert cli("store", "prune", ok=True).stdout.startswith("removed 0 runs")


def test_retention_settings_come_from_the_config(cli, app, home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[retention]\nrun_max_age_days = 0\nruns_per_job = 1\n")
    _history(app, [3, 2, 1])
    assert cli("store", "prune", ok=True).stdout.startswith("removed 2 runs")
    (home / "config.toml").write_text("[retention]\nruns_per_job = -1\n")
    r = cli("store", "prune")
    assert r.exit_code == 2 and "retention.runs_per_job" in r.stderr
