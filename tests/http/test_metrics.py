"""/metrics (SPEC §14): Prometheus text parsed with prometheus_client's own parser. Counts come from the run
statistics the store keeps as runs finish, so a restarted server reports the same totals as the run history, and
pruning runs or removing a job never lowers a scheduler-wide counter. Per-job series follow the cardinality rule
of ``[metrics]``."""

from __future__ import annotations

import uuid

from api_helpers import Http
from prometheus_client.parser import text_string_to_metric_families

from symbi_cron.http.server import start_api
from symbi_cron.store import jobs as job_rows
from symbi_cron.store import runs as run_rows
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


def _dead_letter(app, job_id: str, times: int) -> None:
    """Move the job to dead_letter ``times`` times (reset in between), as the lifecycle and ``cron reset`` do."""
    now = to_ms(app.clock.now())
    for _ in range(times):
        with app.store.write() as tx:
            job_rows.set_state(tx, job_id, now_ms=now, status="dead_letter", next_run=None)
        with app.store.write() as tx:
            job_rows.set_state(tx, job_id, now_ms=now, status="active")


def test_metrics_come_from_the_store_and_survive_a_restart(app, http):
    _seed(
        app,
        http,
        "daily-report",
        [("succeeded", 1234), ("succeeded", 400), ("failed", 50_000), ("skipped", None), ("missed", None)],
    )
    flaky = _seed(app, http, "flaky-job", [("failed", 10), ("timed_out", 3_600_500)])
    _dead_letter(app, flaky, times=2)
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


def _prom(http, path: str = "/metrics") -> dict:
    r = http("GET", path, auth=False)
    assert r.status == 200, r.text
    return _families(r.text)


def test_scheduler_counters_never_go_back_when_runs_are_pruned_or_a_job_is_removed(app, http):
    job = _seed(app, http, "nightly", [("succeeded", 100), ("failed", 200), ("succeeded", 300)])
    before = _prom(http)
    total = "symbiont_cron_scheduler_runs"
    assert _value(before, total, total + "_total", status="succeeded") == 2
    assert _value(before, total, total + "_total", status="failed") == 1
    with app.store.write() as tx:  # retention removes old runs: no counter moves
        tx.execute("DELETE FROM runs WHERE job_id = ?", (job,))
    after = _prom(http)
    assert _value(after, "symbiont_cron_runs", "symbiont_cron_runs_total", job_name="nightly", status="succeeded") == 2
    assert _value(after, total, total + "_total", status="succeeded") == 2
    assert http("DELETE", f"/api/v1/schedule/{job}").status == 200
    gone = _prom(http)
    assert _value(gone, total, total + "_total", status="succeeded") == 2  # the job's own series went with it
    assert "symbiont_cron_runs" not in gone
    h = "symbiont_cron_scheduler_run_duration_seconds"
    assert _value(gone, h, h + "_count") == 3 and _value(gone, h, h + "_bucket", le="0.25") == 2


def test_known_label_sets_have_zero_samples_and_grafana_gauges_are_there(app, http, clock):
    fams = _prom(http)  # an empty store: every scheduler-wide series is there, at zero
    total = "symbiont_cron_scheduler_runs"
    for status in ("succeeded", "failed", "timed_out", "denied", "skipped", "missed", "interrupted", "cancelled"):
        assert _value(fams, total, total + "_total", status=status) == 0
    for channel in ("stdout", "log_file", "webhook", "slack", "email"):
        f = "symbiont_cron_scheduler_delivery_failures"
        assert _value(fams, f, f + "_total", channel=channel) == 0
    for status in ("active", "paused", "completed", "failed", "dead_letter"):
        assert _value(fams, "symbiont_cron_jobs", "symbiont_cron_jobs", status=status) == 0
    info = fams["symbiont_cron_build_info"].samples[0]
    from symbi_cron import __version__

    assert info.labels["version"] == __version__ and info.labels["store"] == "sqlite" and info.value == 1
    assert "process_resident_memory_bytes" in fams and "process_start_time_seconds" in fams

    # A new job: its counters at zero, its state set and next run; no run yet.
    _seed(app, http, "fresh", [])
    fams = _prom(http)
    runs = "symbiont_cron_runs"
    for status in ("succeeded", "failed", "timed_out", "interrupted"):
        assert _value(fams, runs, runs + "_total", job_name="fresh", status=status) == 0
    assert _value(fams, "symbiont_cron_dead_letter", "symbiont_cron_dead_letter_total", job_name="fresh") == 0
    state = {s.labels["status"]: s.value for s in fams["symbiont_cron_job_status"].samples}
    assert state == {"active": 1, "paused": 0, "completed": 0, "failed": 0, "dead_letter": 0}
    nxt = _value(fams, "symbiont_cron_job_next_run_timestamp_seconds", "symbiont_cron_job_next_run_timestamp_seconds")
    assert nxt == (clock.now().replace(minute=0, second=0).timestamp() + 3600)
    last = "symbiont_cron_job_last_run_status"
    assert all(s.value == 0 for s in fams[last].samples)
    assert (
        _value(
            fams, "symbiont_cron_job_last_success_timestamp_seconds", "symbiont_cron_job_last_success_timestamp_seconds"
        )
        == 0
    )

    # Runs finish: last success, last run's status and duration follow.
    now = to_ms(clock.now())
    _seed(app, http, "report", [("succeeded", 1500), ("failed", 2500)])
    fams = _prom(http)
    lasts = {s.labels["status"]: s.value for s in fams[last].samples if s.labels["job_name"] == "report"}
    assert lasts == {"succeeded": 0, "failed": 1, "timed_out": 0, "interrupted": 0, "budget_exceeded": 0}
    assert (
        _value(
            fams,
            "symbiont_cron_job_last_run_duration_seconds",
            "symbiont_cron_job_last_run_duration_seconds",
            job_name="report",
        )
        == 2.5
    )
    ok_at = _value(
        fams,
        "symbiont_cron_job_last_success_timestamp_seconds",
        "symbiont_cron_job_last_success_timestamp_seconds",
        job_name="report",
    )
    assert ok_at == now / 1000


def test_the_cardinality_rule_limits_per_job_series_and_histograms(app, http, caplog):
    for name in ("billing-a", "billing-b", "reports"):
        _seed(app, http, name, [("succeeded", 700)])
    m = app.settings.metrics
    fams = _prom(http)  # 3 jobs: under both limits, everything per job
    h = "symbiont_cron_execution_duration_seconds"
    assert {s.labels["job_name"] for s in fams[h].samples} == {"billing-a", "billing-b", "reports"}
    assert _value(fams, "symbiont_cron_metrics_jobs_without_series", "symbiont_cron_metrics_jobs_without_series") == 0

    m.histogram_max_jobs = 2  # histograms no more; the other per-job series stay
    fams = _prom(http)
    assert h not in fams
    assert {s.labels["job_name"] for s in fams["symbiont_cron_job_status"].samples} == {
        "billing-a",
        "billing-b",
        "reports",
    }

    m.per_job_max_jobs = 2  # above the limit: scheduler-wide series only, and a warning in the log
    with caplog.at_level("WARNING", logger="symbi_cron.http"):
        fams = _prom(http)
    assert "symbiont_cron_runs" not in fams and "symbiont_cron_job_status" not in fams
    assert _value(fams, "symbiont_cron_metrics_jobs_without_series", "symbiont_cron_metrics_jobs_without_series") == 3
    assert "per_job_max_jobs" in caplog.text
    s = "symbiont_cron_scheduler_runs"
    assert _value(fams, s, s + "_total", status="succeeded") == 3

    m.jobs = ["billing-*"]  # jobs asked for by name keep everything, histogram included
    fams = _prom(http)
    assert {x.labels["job_name"] for x in fams["symbiont_cron_runs"].samples} == {"billing-a", "billing-b"}
    assert {x.labels["job_name"] for x in fams[h].samples} == {"billing-a", "billing-b"}
    assert _value(fams, "symbiont_cron_metrics_jobs_without_series", "symbiont_cron_metrics_jobs_without_series") == 1

    m.jobs, m.per_job, m.histograms = [], "always", "never"
    fams = _prom(http)
    assert len({x.labels["job_name"] for x in fams["symbiont_cron_runs"].samples}) == 3 and h not in fams


def test_a_large_scrape_is_gzipped_for_prometheus(app, http):
    import gzip

    for i in range(40):
        _seed(app, http, f"job-{i:02d}", [("succeeded", 10)])
    r = http("GET", "/metrics", auth=False, headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["content-encoding"] == "gzip"
    text = gzip.decompress(r.raw).decode()
    plain = http("GET", "/metrics", auth=False)
    assert "content-encoding" not in plain.headers
    assert len(r.raw) < len(plain.raw) / 4
    assert _families(text)["symbiont_cron_runs"].samples == _families(plain.text)["symbiont_cron_runs"].samples


def test_a_job_name_is_escaped_in_labels(app, http):
    _seed(app, http, 'odd "name" \\ here', [("succeeded", 10)])
    fams = _prom(http)
    names = {s.labels["job_name"] for s in fams["symbiont_cron_runs"].samples}
    assert names == {'odd "name" \\ here'}
