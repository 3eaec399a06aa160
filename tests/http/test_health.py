"""GET /api/v1/health/scheduler tells the truth (docs/operations.md, "Health"): ``degraded`` with a reason for each
thing wrong (dead-lettered jobs, a run past its max_runtime, a lagging, stalled or failing tick loop, a key clients
cannot find), ``unhealthy`` with a 503 when the store cannot be read; ``healthy`` only when none holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_helpers import Http

from symbi_cron.http.server import start_api
from symbi_cron.store import jobs as job_rows
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms

JOB = {"agent_id": "a", "cron_expr": "0 * * * *"}


class FakeSupervisor:
    """The supervisor's snapshot, as health reads it (the real one is exercised by the daemon tests)."""

    def __init__(self, clock, **snap) -> None:
        self.clock = clock
        self.snap = {"in_flight": 0, "queued": 0, "tick_lag_seconds": 0.0, "last_tick_at": None, **snap}

    def snapshot(self) -> dict:
        snap = dict(self.snap)
        if snap["last_tick_at"] is None:
            snap["last_tick_at"] = self.clock.now()
        return snap


@pytest.fixture
def served(app, clock):
    """An API over ``app`` with a fake supervisor; yields (http, supervisor)."""
    sup = FakeSupervisor(clock)
    handle = start_api(app, sup, port=0)
    yield Http(handle), sup
    handle.close()


def _health(http) -> tuple[int, dict]:
    r = http("GET", "/api/v1/health/scheduler", auth=False)
    return r.status, r.body


def _codes(body: dict) -> list[str]:
    return [r["code"] for r in body["reasons"]]


def test_healthy_means_nothing_is_wrong(served):
    http, _ = served
    http("POST", "/api/v1/schedule", {**JOB, "name": "fine"})
    status, body = _health(http)
    assert status == 200 and body["status"] == "healthy" and body["reasons"] == []


def test_dead_lettered_jobs_degrade_it_and_are_named(served, app, clock):
    http, _ = served
    for name in ("flaky", "broken", "fine"):
        http("POST", "/api/v1/schedule", {**JOB, "name": name})
    with app.store.write() as tx:
        for name in ("flaky", "broken"):
            job = job_rows.by_name(tx, name)
            job_rows.set_state(tx, job["id"], now_ms=to_ms(clock.now()), status="dead_letter", next_run=None)
    status, body = _health(http)
    assert status == 200 and body["status"] == "degraded" and _codes(body) == ["dead_letter"]
    (reason,) = body["reasons"]
    assert "2 jobs dead-lettered: broken, flaky" in reason["message"] and "symbi cron reset" in reason["message"]
    assert reason["details"] == {"jobs": ["broken", "flaky"], "count": 2}
    assert body["dead_letter_jobs"] == 2


def test_a_run_still_running_past_its_max_runtime_degrades_it(served, app, clock):
    http, _ = served
    job = http("POST", "/api/v1/schedule", {**JOB, "name": "slow", "policy": {"max_runtime": 60}}).body
    started = to_ms(clock.now())
    with app.store.write() as tx:
        run_rows.insert(
            tx,
            id="r-slow-1",
            job_id=job["id"],
            trigger="manual",
            status="running",
            scheduled_for=started,
            now_ms=started,
        )
        run_rows.update(tx, "r-slow-1", now_ms=started, started_at=started)
    clock.advance(60 + 5)  # within max_runtime + kill grace + slack: the kill is under way
    assert _health(http)[1]["status"] == "healthy"
    clock.advance(120)
    status, body = _health(http)
    assert body["status"] == "degraded" and _codes(body) == ["run_overdue"]
    assert "run r-slow-1 of job slow is still running 125s past its max_runtime of 60s" in body["reasons"][0]["message"]


def test_the_tick_loop_lagging_stalled_or_failing_degrades_it(served, clock):
    http, sup = served
    sup.snap["tick_lag_seconds"] = 12.5
    body = _health(http)[1]
    assert (
        body["status"] == "degraded" and _codes(body) == ["tick_lag"] and "12.5s late" in body["reasons"][0]["message"]
    )

    sup.snap["tick_lag_seconds"] = 0.0
    sup.snap["last_tick_at"] = clock.now() - timedelta(seconds=90)  # a hung loop reports no lag of its own
    body = _health(http)[1]
    assert _codes(body) == ["tick_lag"] and "has not run for 90s" in body["reasons"][0]["message"]

    sup.snap["last_tick_at"] = None
    sup.snap["last_error"] = "the disk holding /x/symbi.db is full: nothing was changed"
    body = _health(http)[1]
    assert _codes(body) == ["tick_failing"] and "disk" in body["reasons"][0]["message"]


def test_a_slot_overdue_and_unclaimed_degrades_it(served, clock):
    http, _ = served
    http("POST", "/api/v1/schedule", {**JOB, "name": "hourly"})
    clock.advance(3600 + 30)  # the 13:00 slot is 30 s late: a busy tick, not yet a problem
    assert _health(http)[1]["status"] == "healthy"
    clock.advance(60)
    body = _health(http)[1]
    assert _codes(body) == ["tick_lag"] and "job hourly's slot is 90s overdue" in body["reasons"][0]["message"]


def test_an_api_served_with_a_key_clients_cannot_find_degrades_it(served, app):
    http, _ = served
    app.paths.api_key_file.unlink()
    body = _health(http)[1]
    assert _codes(body) == ["api_key"] and "served without its key" in body["reasons"][0]["message"]
    app.paths.api_key_file.write_text("another-key\n")
    body = _health(http)[1]
    assert _codes(body) == ["api_key"] and "another key than the key file" in body["reasons"][0]["message"]


def test_a_store_that_cannot_be_read_is_unhealthy_with_a_503(served, app):
    http, _ = served
    app.store.close()
    app.paths.db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        app.paths.db.with_name(app.paths.db.name + suffix).unlink(missing_ok=True)
    status, body = _health(http)
    assert status == 503 and body["status"] == "unhealthy"
    assert _codes(body) == ["store_damaged"] and "restore it from a backup" in body["reasons"][0]["message"]


def test_reasons_add_up(served, app, clock):
    http, sup = served
    job = http("POST", "/api/v1/schedule", {**JOB, "name": "gone-wrong"}).body
    with app.store.write() as tx:
        job_rows.set_state(tx, job["id"], now_ms=to_ms(clock.now()), status="dead_letter", next_run=None)
    sup.snap.update(tick_lag_seconds=30.0, stopping=True)
    assert _codes(_health(http)[1]) == ["dead_letter", "tick_lag", "stopping"]
