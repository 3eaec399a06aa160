"""/metrics (SPEC §14): Prometheus text parsed with prometheus_client's own parser; counts come from the store, so a
restarted server reports the same totals as the run history."""

from __future__ import annotations

import uuid

from api_helpers import Http
from prometheus_client.parser import text_string_to_metric_families

from symbi_cron.http.server import start_api
from symbi_cron.store import runs as run_rows
from symbi_cron.store.audit import append_event
from symbi_cron.timeutil import to_ms


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(fams: dict, family: str, sample: str, **labels: str) -> float | None:
    for s in fams[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def _seed(app, http, job_name: str, outcomes: list[tuple[str, int | None]]) -> str:
    """Write finished runs for a job straight into the store, as the supervisor would."""
    job = http("POST", "/api/v1/schedule", {"name": job_name, "agent_id": "a", "cron_expr": "0 * * * *"}).body
    now = to_ms(app.clock.now())
    with app.store.write() as tx:
        for i, (status, ms) in enumerate(outcomes):
            rid = str(uuid.uuid4())
            run_rows.insert(
                tx,
                id=rid,
                job_id=job["id"],
                trigger="schedule",
                status="running",
                scheduled_for=now - (i + 1) * 3_600_000,
                now_ms=now,
            )
            run_rows.update(
                tx,
                rid,
                now_ms=now,
                status=status,
                started_at=now - 1000,
                finished_at=now,
                execution_time_ms=ms,
            )
            if status == "failed":
                tx.execute(
                    "INSERT INTO deliveries (run_id, channel, ok, detail, attempts, at) VALUES (?,?,?,?,?,?)",
                    (rid, "webhook", 0, "HTTP 500", 3, now),
                )
    return job["id"]


def test_metrics_come_from_the_store_and_survive_a_restart(app, http):
    _seed(
        app,
        http,
        "daily-report",
        [("succeeded", 1234), ("succeeded", 400), ("failed", 50_000), ("skipped", None), ("missed", None)],
    )
    _seed(app, http, "flaky-job", [("failed", 10), ("timed_out", 3_600_500)])
    with app.store.write() as tx:
        for _ in range(2):
            append_event(
                tx,
                at_ms=to_ms(app.clock.now()),
                type="CronJobDeadLettered",
                actor="supervisor",
                job_name="flaky-job",
                details={},
            )
    r = http("GET", "/metrics", auth=False)
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    fams = _families(r.text)

    runs = "symbiont_cron_runs"
    assert _value(fams, runs, "symbiont_cron_runs_total", job_name="daily-report", status="succeeded") == 2
    assert _value(fams, runs, "symbiont_cron_runs_total", job_name="daily-report", status="failed") == 1
    assert _value(fams, runs, "symbiont_cron_runs_total", job_name="flaky-job", status="timed_out") == 1
    assert (
        _value(fams, "symbiont_cron_skipped_slots", "symbiont_cron_skipped_slots_total", job_name="daily-report") == 1
    )
    assert _value(fams, "symbiont_cron_missed_slots", "symbiont_cron_missed_slots_total", job_name="daily-report") == 1
    assert _value(fams, "symbiont_cron_dead_letter", "symbiont_cron_dead_letter_total", job_name="flaky-job") == 2
    assert (
        _value(
            fams,
            "symbiont_cron_delivery_failures",
            "symbiont_cron_delivery_failures_total",
            job_name="daily-report",
            channel="webhook",
        )
        == 1
    )
    assert _value(fams, "symbiont_cron_in_flight_jobs", "symbiont_cron_in_flight_jobs") == 0

    h = "symbiont_cron_execution_duration_seconds"
    assert _value(fams, h, h + "_count", job_name="daily-report") == 3
    assert abs(_value(fams, h, h + "_sum", job_name="daily-report") - 51.634) < 1e-9
    assert _value(fams, h, h + "_bucket", job_name="daily-report", le="0.5") == 1
    assert _value(fams, h, h + "_bucket", job_name="daily-report", le="2.5") == 2
    assert _value(fams, h, h + "_bucket", job_name="daily-report", le="+Inf") == 3
    assert _value(fams, h, h + "_bucket", job_name="flaky-job", le="3600.0") == 1  # 3600.5 s is above it

    # The counters agree with the run history the API serves.
    history = http("GET", "/api/v1/schedule/daily-report/history?limit=100").body
    assert sum(1 for x in history if x["status"] == "succeeded") == 2

    # A new server over the same store (a daemon restart) reports the same totals.
    again = start_api(app, None, port=0)
    try:
        fams2 = _families(Http(again)("GET", "/metrics", auth=False).text)
    finally:
        again.close()
    for name in (runs, "symbiont_cron_dead_letter", h, "symbiont_cron_delivery_failures"):

        def key(fs):
            return sorted((x.name, sorted(x.labels.items()), x.value) for x in fs.samples)

        assert key(fams[name]) == key(fams2[name])


class _Supervisor:
    def snapshot(self) -> dict:
        return {
            "in_flight": 3,
            "queued": 4,
            "tick_lag_seconds": 0.25,
            "started_at": None,
            "last_tick_at": None,
        }


def test_live_gauges_come_from_the_supervisor(app):
    handle = start_api(app, _Supervisor(), port=0)
    try:
        http = Http(handle)
        fams = _families(http("GET", "/metrics", auth=False).text)
        assert _value(fams, "symbiont_cron_in_flight_jobs", "symbiont_cron_in_flight_jobs") == 3
        assert _value(fams, "symbiont_cron_queued_runs", "symbiont_cron_queued_runs") == 4
        assert _value(fams, "symbiont_cron_tick_lag_seconds", "symbiont_cron_tick_lag_seconds") == 0.25
        health = http("GET", "/api/v1/health/scheduler", auth=False).body
        assert health["in_flight_jobs"] == 3 and health["tick_lag_seconds"] == 0.25
    finally:
        handle.close()


def test_metrics_can_be_disabled(app):
    app.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    app.paths.config_file.write_text("[scheduler]\nenable_metrics = false\n")
    app._settings = None
    handle = start_api(app, None, port=0)
    try:
        r = Http(handle)("GET", "/metrics", auth=False)
        assert r.status == 404 and r.body["code"] == "metrics_disabled"
    finally:
        handle.close()
