"""Prometheus metrics (SPEC §14), derived from the store at scrape time so they survive daemon restarts.

A custom collector (prometheus_client's ``Collector`` API) runs a handful of GROUP BY queries per scrape; nothing
is counted in memory, so a restarted daemon reports the same totals as the run history. Only the live gauges
(in-flight runs, tick-loop lag) come from the supervisor's snapshot. Counter semantics: deleting a job deletes
its runs, so its series disappear (Prometheus treats that as a reset).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from ..models import FINAL_RUN_STATUSES

#: Histogram buckets in seconds: agents run for seconds to hours, not milliseconds.
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_FINAL = tuple(sorted(FINAL_RUN_STATUSES))


def store_totals(conn: sqlite3.Connection) -> dict[str, Any]:
    """Jobs by status, finished runs by status, mean and longest execution time, running and queued runs."""
    jobs = {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}
    runs = {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")}
    avg, longest = conn.execute(
        "SELECT AVG(execution_time_ms), MAX(execution_time_ms) FROM runs WHERE execution_time_ms IS NOT NULL"
    ).fetchone()
    return {
        "jobs": jobs,
        "runs": runs,
        "avg_ms": avg or 0.0,
        "max_ms": longest or 0.0,
        "running": runs.get("running", 0),
        "queued": runs.get("queued", 0),
    }


class StoreCollector:
    """Yields the metric families of SPEC §14 from the store (and the supervisor's live snapshot)."""

    def __init__(self, app: Any, supervisor: Any = None) -> None:
        self.app = app
        self.supervisor = supervisor

    def describe(self) -> list[Any]:
        return []  # no describe: registering must not run queries

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        conn = self.app.store.connection()
        marks = ", ".join("?" for _ in _FINAL)

        runs = CounterMetricFamily(
            "symbiont_cron_runs", "Finished runs by job and final status", labels=["job_name", "status"]
        )
        skipped = CounterMetricFamily(
            "symbiont_cron_skipped_slots", "Slots skipped (job at max_concurrent)", labels=["job_name"]
        )
        missed = CounterMetricFamily(
            "symbiont_cron_missed_slots", "Slots missed while the daemon was down", labels=["job_name"]
        )
        for name, status, n in conn.execute(
            f"SELECT j.name, r.status, COUNT(*) FROM runs r JOIN jobs j ON j.id = r.job_id"
            f" WHERE r.status IN ({marks}) GROUP BY j.name, r.status",
            _FINAL,
        ):
            runs.add_metric([name, status], n)
            if status == "skipped":
                skipped.add_metric([name], n)
            elif status == "missed":
                missed.add_metric([name], n)
        yield runs
        yield skipped
        yield missed

        hist = HistogramMetricFamily(
            "symbiont_cron_execution_duration_seconds", "Execution time of finished runs", labels=["job_name"]
        )
        cases = ", ".join(f"SUM(CASE WHEN r.execution_time_ms <= {int(b * 1000)} THEN 1 ELSE 0 END)" for b in BUCKETS)
        for row in conn.execute(
            f"SELECT j.name, COUNT(*), SUM(r.execution_time_ms), {cases} FROM runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.execution_time_ms IS NOT NULL AND r.finished_at IS NOT NULL GROUP BY j.name"
        ):
            name, count, total_ms = row[0], row[1], row[2] or 0
            buckets = [(_le(b), row[3 + i]) for i, b in enumerate(BUCKETS)] + [("+Inf", count)]
            hist.add_metric([name], buckets, total_ms / 1000.0)
        yield hist

        dead = CounterMetricFamily("symbiont_cron_dead_letter", "Times a job moved to dead_letter", labels=["job_name"])
        for name, n in conn.execute(
            "SELECT COALESCE(job_name, job_id, ''), COUNT(*) FROM audit WHERE type = 'CronJobDeadLettered' GROUP BY 1"
        ):
            dead.add_metric([name], n)
        yield dead

        failures = CounterMetricFamily(
            "symbiont_cron_delivery_failures", "Deliveries that failed", labels=["job_name", "channel"]
        )
        for name, channel, n in conn.execute(
            "SELECT j.name, d.channel, COUNT(*) FROM deliveries d JOIN runs r ON r.id = d.run_id"
            " JOIN jobs j ON j.id = r.job_id WHERE d.ok = 0 GROUP BY j.name, d.channel"
        ):
            failures.add_metric([name, channel], n)
        yield failures

        # Model agents: tokens and cost per job (runs.input_tokens/output_tokens/cost_usd, store migration 2).
        tokens = CounterMetricFamily(
            "symbiont_cron_model_tokens",
            "Model tokens used by a job's runs",
            labels=["job_name", "direction"],
        )
        cost = CounterMetricFamily(
            "symbiont_cron_model_cost_usd", "Model cost of a job's runs (priced models)", labels=["job_name"]
        )
        for name, tin, tout, usd, priced in conn.execute(
            "SELECT j.name, SUM(r.input_tokens), SUM(r.output_tokens), SUM(r.cost_usd), COUNT(r.cost_usd)"
            " FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.input_tokens IS NOT NULL GROUP BY j.name"
        ):
            tokens.add_metric([name, "input"], tin or 0)
            tokens.add_metric([name, "output"], tout or 0)
            if priced:
                cost.add_metric([name], usd or 0.0)
        yield tokens
        yield cost

        jobs = GaugeMetricFamily("symbiont_cron_jobs", "Jobs by status", labels=["status"])
        counts = {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}
        for status in ("active", "paused", "completed", "failed", "dead_letter"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        open_runs = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running', 'pending_approval')"
                " GROUP BY status"
            )
        }
        snap = _snapshot(self.supervisor)
        in_flight = snap.get("in_flight")
        yield GaugeMetricFamily(
            "symbiont_cron_in_flight_jobs",
            "Runs executing now",
            value=float(in_flight if in_flight is not None else open_runs.get("running", 0)),
        )
        queued = snap.get("queued")
        yield GaugeMetricFamily(
            "symbiont_cron_queued_runs",
            "Runs waiting for capacity or their start time",
            value=float(queued if queued is not None else open_runs.get("queued", 0)),
        )
        yield GaugeMetricFamily(
            "symbiont_cron_pending_approval_runs",
            "Runs waiting for an approver",
            value=float(open_runs.get("pending_approval", 0)),
        )
        lag = snap.get("tick_lag_seconds")
        if lag is not None:
            yield GaugeMetricFamily(
                "symbiont_cron_tick_lag_seconds",
                "How late the tick loop handled its most recent due slot",
                value=float(lag),
            )
        last_tick = snap.get("last_tick_at")
        if last_tick is not None and hasattr(last_tick, "timestamp"):
            yield GaugeMetricFamily(
                "symbiont_cron_last_tick_timestamp_seconds",
                "When the tick loop last ran",
                value=last_tick.timestamp(),
            )


def _le(b: float) -> str:
    return repr(float(b))


def _snapshot(supervisor: Any) -> dict[str, Any]:
    if supervisor is None:
        return {}
    try:
        return dict(supervisor.snapshot() or {})
    except Exception:
        return {}


class MetricsExporter:
    """One registry per server (no globals) holding the store collector; renders text for a scrape."""

    def __init__(self, app: Any, supervisor: Any = None) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(app, supervisor))  # type: ignore[arg-type]

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition body and its content type."""
        from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
