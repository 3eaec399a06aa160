"""Prometheus metrics (SPEC §14): read from the run statistics the store keeps as runs finish (store/stats.py), so
a scrape costs the same at a thousand runs as at a million and the counts survive daemon restarts and pruning.

What a scrape holds (docs/api.md, "Metrics", has the table):

- scheduler-wide series, always, with a zero sample for every known label value (each final run status, each
  built-in channel): runs by status, the duration histogram of all runs, dead-letters, delivery failures, model
  tokens and cost, jobs by status, runs in flight, queued and waiting for approval, tick-loop lag, build info and
  the process collector;
- per-job series, a few gauges and counters a job (runs by status, last success, the last run's status and
  duration, the next run, the job's status as a state set, dead-letters), under the cardinality rule of
  ``[metrics]``: for every job while the store holds at most ``per_job_max_jobs`` jobs, else only for the jobs
  named in ``metrics.jobs``; the per-job duration histogram (16 series a job) the same way, with its own smaller
  limit ``histogram_max_jobs``.

The text is written here rather than through prometheus_client's generic collector path: at a thousand jobs that
path spent most of the scrape formatting samples one object at a time. The process collector's few series still
come from prometheus_client.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import zlib
from collections.abc import Iterable
from typing import Any

from ..store import stats
from ..vocab import BUILTIN_CHANNELS, JobStatus, RunStatus

log = logging.getLogger("symbi_cron.http")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Bodies at least this long are gzip-compressed for a client that accepts it (Prometheus always does).
GZIP_MIN_BYTES = 8192
JOB_STATUSES = tuple(s.value for s in JobStatus)
#: The label values a job's runs_total always has, with a zero sample until they happen (the others appear when
#: they first happen: a job's skipped, missed, denied, cancelled and budget_exceeded runs).
ALWAYS_STATUSES = ("succeeded", "failed", "timed_out", "interrupted")


def _num(value: Any) -> str:
    """A sample value as prometheus_client writes it (``1.0``, ``1.795938794e+09``, ``+Inf``): scrapes read the
    same as before, to the byte, for anyone matching lines. Small integers (most counters) take a short cut."""
    if type(value) is int and -1_000_000 < value < 1_000_000:
        return f"{value}.0"
    return _go_float(0.0 if value is None else value)


def _go_float(value: Any) -> str:
    from prometheus_client.utils import floatToGoString

    return floatToGoString(value)


def _seconds(ms: Any) -> str:
    """Epoch or duration milliseconds as seconds (0 when unknown: never happened)."""
    return _num(0.0 if ms is None else ms / 1000)


_ESCAPE = re.compile(r'[\\"\n]')


def _label(value: str) -> str:
    return _ESCAPE.sub(lambda m: {"\\": "\\\\", '"': '\\"', "\n": "\\n"}[m.group(0)], str(value))


class _Text:
    """The exposition text being written: families in order, each with its HELP and TYPE once."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.parts.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")

    def sample(self, name: str, value: str, labels: str = "") -> None:
        self.parts.append(f"{name}{{{labels}}} {value}\n" if labels else f"{name} {value}\n")

    def histogram(self, name: str, labels: str, row: dict[str, Any] | tuple, at: dict[str, int]) -> None:
        """One histogram's buckets, sum and count from a stats row (``at`` maps a column to its index)."""
        sep = "," if labels else ""
        for bound, col in stats.BUCKETS:
            self.parts.append(f'{name}_bucket{{{labels}{sep}le="{bound!r}"}} {_num(row[at[col]])}\n')
        count = _num(row[at["duration_count"]])
        self.parts.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {count}\n')
        braced = f"{{{labels}}}" if labels else ""
        self.parts.append(f"{name}_sum{braced} {_seconds(row[at['duration_sum_ms']])}\n")
        self.parts.append(f"{name}_count{braced} {count}\n")

    def body(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


def _matcher(patterns: Iterable[str]) -> Any:
    globs = [p for p in patterns if p]
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in globs)).match


class Scope:
    """Which jobs get per-job series and histograms under ``[metrics]`` (None: every job)."""

    def __init__(self, series: list[str] | None, histograms: list[str] | None, jobs: int) -> None:
        self.series = series
        self.histograms = histograms
        self.jobs = jobs

    @property
    def omitted(self) -> int:
        """Jobs left without per-job series."""
        return 0 if self.series is None else self.jobs - len(self.series)


def job_scope(settings: Any, conn: Any) -> Scope:
    """Apply the cardinality rule (docs/api.md): per-job series for every job while there are at most
    ``per_job_max_jobs`` jobs (``always``/``never`` override), the histogram likewise with ``histogram_max_jobs``,
    and always for the jobs matching ``metrics.jobs``."""
    m = settings.metrics
    total = stats.job_count(conn)

    def everyone(mode: str, limit: int) -> bool:
        return mode == "always" or (mode == "auto" and total <= limit)

    all_series = everyone(m.per_job, m.per_job_max_jobs)
    all_hist = everyone(m.histograms, m.histogram_max_jobs)
    named: list[str] = []
    match = _matcher(m.jobs)
    if match is not None and not (all_series and all_hist):
        named = [n for n in stats.job_names(conn) if match(n)]
    return Scope(None if all_series else named, None if all_hist else named, total)


class MetricsExporter:
    """Renders a scrape for one server. No globals: the process collector has a registry of its own."""

    def __init__(self, app: Any, supervisor: Any = None) -> None:
        self.app = app
        self.supervisor = supervisor
        self._process_registry: Any = None
        self._warned_omitted = False
        self._lock = threading.Lock()

    # -- the scrape ------------------------------------------------------------------------------------------------
    def render(self, headers: Any = None) -> tuple[bytes, str, dict[str, str]]:
        """The exposition body, its content type and response headers (gzip when the client accepts it)."""
        body = self.text()
        accepts = (headers.get("Accept-Encoding") if headers is not None else None) or ""
        if len(body) >= GZIP_MIN_BYTES and "gzip" in accepts.lower():
            packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1: a large scrape compresses ~10x in ~1 ms/100 KB
            return packer.compress(body) + packer.flush(), CONTENT_TYPE, {"Content-Encoding": "gzip"}
        return body, CONTENT_TYPE, {}

    def text(self) -> bytes:
        out = _Text()
        settings = self.app.settings
        with self.app.store.read() as conn:
            totals = stats.scheduler_totals(conn)
            jobs = stats.job_counts(conn)
            open_runs = stats.open_run_counts(conn)
            channels = stats.delivery_failure_totals(conn)
            models = stats.model_totals(conn)
            scope = job_scope(settings, conn)
            want_hist = scope.histograms is None or bool(scope.histograms)
            rows: list[tuple] = []
            if scope.series is None:
                rows = stats.job_rows(conn, histogram=want_hist)
            elif scope.series:
                rows = stats.job_rows(conn, scope.series, histogram=want_hist)
            failures = stats.job_delivery_failures(conn, scope.series) if rows else []
        self._scheduler_series(out, totals, jobs, open_runs, channels, scope)
        self._model_series(out, models)
        self._job_series(out, rows, failures, scope)
        self._live_series(out, open_runs)
        out.parts.append(self._process_text())
        if scope.omitted and not self._warned_omitted:
            log.warning(
                "metrics: %d jobs, above metrics.per_job_max_jobs (%d): per-job series are exported only for jobs"
                " matching metrics.jobs (%d of them); see docs/api.md, Metrics",
                scope.jobs,
                settings.metrics.per_job_max_jobs,
                scope.jobs - scope.omitted,
            )
        self._warned_omitted = bool(scope.omitted)
        return out.body()

    # -- families --------------------------------------------------------------------------------------------------
    def _scheduler_series(
        self,
        out: _Text,
        totals: dict[str, Any],
        jobs: dict[str, int],
        open_runs: dict[str, int],
        channels: dict[str, int],
        scope: Scope,
    ) -> None:
        from .. import __version__

        name = "symbiont_cron_scheduler_runs_total"
        out.family(name, "counter", "Finished runs of all jobs by final status (never lowered by removing or pruning)")
        for status in stats.STATUS_COLUMNS:
            out.sample(name, _num(totals[status]), f'status="{status}"')
        name = "symbiont_cron_scheduler_run_duration_seconds"
        out.family(name, "histogram", "Execution time of the finished runs of all jobs")
        out.histogram(name, "", totals, _TOTALS_AT)
        name = "symbiont_cron_scheduler_dead_letter_total"
        out.family(name, "counter", "Times any job moved to dead_letter")
        out.sample(name, _num(totals["dead_letters"]))
        name = "symbiont_cron_scheduler_delivery_failures_total"
        out.family(name, "counter", "Failed deliveries of all jobs by channel")
        for channel in sorted(set(BUILTIN_CHANNELS) | set(channels)):
            out.sample(name, _num(channels.get(channel, 0)), f'channel="{_label(channel)}"')
        name = "symbiont_cron_scheduler_model_tokens_total"
        out.family(name, "counter", "Model tokens used by the runs of all jobs")
        out.sample(name, _num(totals["input_tokens"]), 'direction="input"')
        out.sample(name, _num(totals["output_tokens"]), 'direction="output"')
        name = "symbiont_cron_scheduler_model_cost_usd_total"
        out.family(name, "counter", "Model cost of the runs of all jobs (priced models), US dollars")
        out.sample(name, _num(totals["cost_usd"]))
        name = "symbiont_cron_jobs"
        out.family(name, "gauge", "Jobs by status")
        for status in JOB_STATUSES:
            out.sample(name, _num(jobs.get(status, 0)), f'status="{status}"')
        name = "symbiont_cron_pending_approval_runs"
        out.family(name, "gauge", "Runs waiting for an approver")
        out.sample(name, _num(open_runs.get(RunStatus.pending_approval, 0)))
        name = "symbiont_cron_metrics_jobs_without_series"
        out.family(name, "gauge", "Jobs left without per-job series by the cardinality rule ([metrics], docs/api.md)")
        out.sample(name, _num(scope.omitted))
        name = "symbiont_cron_build_info"
        out.family(name, "gauge", "The running symbi-cron: version, Python and store backend")
        import platform

        store = getattr(self.app.store, "dialect", "sqlite")
        out.sample(
            name,
            "1.0",
            f'python="{platform.python_version()}",store="{_label(store)}",version="{_label(__version__)}"',
        )

    def _model_series(self, out: _Text, models: list[dict[str, Any]]) -> None:
        """Per model (one series per model name, never per run: `symbi usage --by model` over all time)."""
        name = "symbiont_cron_model_usage_runs_total"
        out.family(name, "counter", "Finished model agent runs by model")
        for m in models:
            out.sample(name, _num(m["runs"]), f'model="{_label(m["model"] or "unknown")}"')
        name = "symbiont_cron_model_usage_tokens_total"
        out.family(name, "counter", "Model tokens by model and direction")
        for m in models:
            label = _label(m["model"] or "unknown")
            out.sample(name, _num(m["input_tokens"]), f'direction="input",model="{label}"')
            out.sample(name, _num(m["output_tokens"]), f'direction="output",model="{label}"')
        name = "symbiont_cron_model_usage_cost_usd_total"
        out.family(name, "counter", "Model cost by model (priced runs), US dollars")
        for m in models:
            out.sample(name, _num(m["cost_usd"]), f'model="{_label(m["model"] or "unknown")}"')

    def _job_series(self, out: _Text, rows: list[tuple], failures: list[tuple[str, str, int]], scope: Scope) -> None:
        if not rows:
            return
        at = _JOB_AT
        jobs = [(f'job_name="{_label(r[0])}"', r) for r in rows]
        name = "symbiont_cron_runs_total"
        out.family(name, "counter", "Finished runs by job and final status")
        add = out.parts.append
        for lab, r in jobs:
            for status in stats.STATUS_COLUMNS:
                n = r[at[status]]
                if n or status in ALWAYS_STATUSES:
                    add(f'{name}{{{lab},status="{status}"}} {_num(n)}\n')
        for fam, col, text in (
            ("symbiont_cron_skipped_slots_total", RunStatus.skipped, "Slots skipped (job at max_concurrent)"),
            ("symbiont_cron_missed_slots_total", RunStatus.missed, "Slots missed while the daemon was down"),
            ("symbiont_cron_dead_letter_total", "dead_letters", "Times a job moved to dead_letter"),
        ):
            out.family(fam, "counter", text)
            i = at[col]
            for lab, r in jobs:
                add(f"{fam}{{{lab}}} {_num(r[i])}\n")
        name = "symbiont_cron_job_last_success_timestamp_seconds"
        out.family(name, "gauge", "When the job's last successful run finished (0: never)")
        i = at["last_success_at"]
        for lab, r in jobs:
            add(f"{name}{{{lab}}} {_seconds(r[i])}\n")
        name = "symbiont_cron_job_last_run_duration_seconds"
        out.family(name, "gauge", "How long the job's last run took (0: no run yet)")
        i = at["last_duration_ms"]
        for lab, r in jobs:
            add(f"{name}{{{lab}}} {_seconds(r[i])}\n")
        name = "symbiont_cron_job_last_run_status"
        out.family(name, "gauge", "The status of the job's last run, a state set (all 0: no run yet)")
        i = at["last_status"]
        for lab, r in jobs:
            for status in stats.EXECUTED:
                add(f'{name}{{{lab},status="{status}"}} {"1.0" if r[i] == status else "0.0"}\n')
        name = "symbiont_cron_job_next_run_timestamp_seconds"
        out.family(name, "gauge", "When the job runs next (0: not scheduled: paused, finished or dead-lettered)")
        i = at["next_run"]
        for lab, r in jobs:
            add(f"{name}{{{lab}}} {_seconds(r[i])}\n")
        name = "symbiont_cron_job_status"
        out.family(name, "gauge", "The job's status, a state set")
        i = at["status"]
        for lab, r in jobs:
            for status in JOB_STATUSES:
                add(f'{name}{{{lab},status="{status}"}} {"1.0" if r[i] == status else "0.0"}\n')
        name = "symbiont_cron_delivery_failures_total"
        out.family(name, "counter", "Deliveries that failed, by job and channel")
        for job_name, channel, n in failures:
            add(f'{name}{{channel="{_label(channel)}",job_name="{_label(job_name)}"}} {_num(n)}\n')
        model = [(lab, r) for lab, r in jobs if r[at["model_runs"]]]
        name = "symbiont_cron_model_tokens_total"
        out.family(name, "counter", "Model tokens used by a job's runs")
        for lab, r in model:
            add(f'{name}{{direction="input",{lab}}} {_num(r[at["input_tokens"]])}\n')
            add(f'{name}{{direction="output",{lab}}} {_num(r[at["output_tokens"]])}\n')
        name = "symbiont_cron_model_cost_usd_total"
        out.family(name, "counter", "Model cost of a job's runs (priced models), US dollars")
        for lab, r in model:
            if r[at["priced_runs"]]:
                add(f"{name}{{{lab}}} {_num(r[at['cost_usd']])}\n")
        hist = jobs if scope.histograms is None else [(lab, r) for lab, r in jobs if r[0] in set(scope.histograms)]
        if hist:
            name = "symbiont_cron_execution_duration_seconds"
            out.family(name, "histogram", "Execution time of a job's finished runs")
            for lab, r in hist:
                out.histogram(name, lab, r, at)

    def _live_series(self, out: _Text, open_runs: dict[str, int]) -> None:
        snap = _snapshot(self.supervisor)
        in_flight = snap.get("in_flight")
        name = "symbiont_cron_in_flight_jobs"
        out.family(name, "gauge", "Runs executing now")
        out.sample(name, _num(in_flight if in_flight is not None else open_runs.get(RunStatus.running, 0)))
        queued = snap.get("queued")
        name = "symbiont_cron_queued_runs"
        out.family(name, "gauge", "Runs waiting for capacity or their start time")
        out.sample(name, _num(queued if queued is not None else open_runs.get(RunStatus.queued, 0)))
        lag = snap.get("tick_lag_seconds")
        if lag is not None:
            name = "symbiont_cron_tick_lag_seconds"
            out.family(name, "gauge", "How late the tick loop handled its most recent due slot")
            out.sample(name, _num(float(lag)))
        self._daemon_series(out, snap)
        last_tick = snap.get("last_tick_at")
        if last_tick is not None and hasattr(last_tick, "timestamp"):
            name = "symbiont_cron_last_tick_timestamp_seconds"
            out.family(name, "gauge", "When the tick loop last ran")
            out.sample(name, _num(last_tick.timestamp()))

    def _daemon_series(self, out: _Text, snap: dict[str, Any]) -> None:
        """Placement (docs/scaling.md): which daemon this is, and the load of every live daemon of the store, one
        series per daemon (a handful), never a label per run or per job."""
        from ..errors import SymbiError
        from ..processes import host_name
        from ..services.placement import live_daemons

        me = snap.get("daemon_name")
        if me:
            name = "symbiont_cron_daemon_info"
            out.family(name, "gauge", "The daemon serving this scrape: its name ([daemon] name) and host")
            out.sample(name, "1.0", f'daemon="{_label(me)}",host="{_label(host_name())}"')
        try:
            daemons = live_daemons(self.app)
        except SymbiError:
            return
        name = "symbiont_cron_daemon_running_runs"
        out.family(name, "gauge", "Runs running now under each live daemon of the store, by daemon name")
        for d in daemons:
            out.sample(name, _num(d["running"]), f'daemon="{_label(d["name"] or "")}"')

    def _process_text(self) -> str:
        """process_* (CPU, memory, descriptors, start time), python_info and python_gc_* from prometheus_client."""
        with self._lock:
            if self._process_registry is None:
                from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

                registry = CollectorRegistry(auto_describe=False)
                ProcessCollector(registry=registry)
                PlatformCollector(registry=registry)
                GCCollector(registry=registry)
                self._process_registry = registry
        from prometheus_client.exposition import generate_latest

        return generate_latest(self._process_registry).decode("utf-8")


_TOTALS_AT = {c: c for c in stats.COUNTERS}
_JOB_AT = {c: i for i, c in enumerate(stats.JOB_ROW_COLUMNS)}


def _snapshot(supervisor: Any) -> dict[str, Any]:
    if supervisor is None:
        return {}
    try:
        return dict(supervisor.snapshot() or {})
    except Exception:
        return {}
