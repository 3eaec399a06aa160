"""What a Prometheus scrape and a health check cost on a large store: 10,000 jobs and 1,000,000 finished runs
(target: a `/metrics` scrape under 50 ms and under 1 MB; `/api/v1/health/scheduler` without scanning the runs).

The store is filled through the real write path (the run statistics are kept by the store's triggers as the runs
are inserted), served by the real API server on 127.0.0.1, and scraped over HTTP with the headers Prometheus
sends. Printed beside the targets, and beside peers measured on the same store in the same run: the scrape with
per-job series forced for every job (`per_job = "always"`), and the GROUP BY over every run that the exporter ran
before the statistics existed.

    python bench/metrics_scrape.py [--jobs 10000] [--runs 1000000] [--scrapes 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import statistics
import tempfile
import time
import uuid
from pathlib import Path

STATUSES = ("succeeded",) * 17 + ("failed", "timed_out", "skipped")


def fill(app, jobs: int, runs: int, now: int = 1_800_000_000_000) -> float:
    """Write ``jobs`` jobs and ``runs`` finished runs (every 5 minutes up to ``now``, in ms); seconds taken."""
    from symbi_cron.models import JobSpec
    from symbi_cron.store import jobs as job_rows

    t0 = time.perf_counter()
    with app.store.write() as tx:
        for i in range(jobs):
            spec = JobSpec.model_validate(
                {"name": f"job-{i:05d}", "agent_id": f"agent-{i % 50}", "cron_expr": "*/5 * * * *"}
            ).model_dump(mode="json")
            spec.update(timezone="UTC", max_retries=0)  # what `cron add` stores: every field, none left unset
            job_rows.insert(
                tx,
                id=f"{i:08x}-0000-4000-8000-000000000000",
                spec=spec,
                status="active" if i % 20 else "paused",
                next_run=now + 60_000 + i,
                now_ms=now,
            )
    per_job = runs // jobs
    batch: list[tuple] = []
    sql = (
        "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, attempt, started_at, finished_at,"
        " execution_time_ms, exit_code, output, created_at, updated_at)"
        " VALUES (?, ?, 'schedule', ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
    )
    for i in range(jobs):
        job_id = f"{i:08x}-0000-4000-8000-000000000000"
        for k in range(per_job):
            slot = now - (per_job - k) * 300_000
            status = STATUSES[(i + k) % len(STATUSES)]
            ms = None if status == "skipped" else 200 + (i * 7 + k * 13) % 90_000
            batch.append(
                (
                    str(uuid.UUID(int=i * per_job + k)),
                    job_id,
                    status,
                    slot,
                    slot,
                    slot + (ms or 0),
                    ms,
                    0,
                    "ok\n",
                    slot,
                    slot + (ms or 0),
                )
            )
        if len(batch) >= 50_000 or i == jobs - 1:
            with app.store.write() as tx:
                tx.executemany(sql, batch)
            batch = []
    app.store.connection().execute("ANALYZE")
    return time.perf_counter() - t0


def open_store(keep: Path | None, jobs: int, runs: int, now: int = 1_800_000_000_000):
    """The bench's store: ``keep`` reused when it holds one, else filled with ``jobs`` and ``runs``; prints its
    size. Returns the App over it and its paths."""
    from symbi_cron.paths import resolve
    from symbi_cron.services.app import App
    from symbi_cron.store import Store

    home = keep or Path(tempfile.mkdtemp(prefix="symbi-bench-"))
    paths = resolve({"SYMBI_HOME": str(home)})
    fresh = not paths.db.exists()
    app = App(paths=paths, store=Store(paths.db, paths.lock), env={"SYMBI_HOME": str(home)})
    app.store.migrate()
    if fresh:
        took = fill(app, jobs, runs, now)
        print(f"store: {jobs:,} jobs and {runs:,} runs written in {took:.1f} s ({paths.db})")
    n_runs = app.store.query("SELECT COUNT(*) FROM runs")[0][0]
    n_jobs = app.store.query("SELECT COUNT(*) FROM jobs")[0][0]
    print(f"store: {n_jobs:,} jobs, {n_runs:,} runs, {paths.db.stat().st_size / 1e6:.0f} MB")
    return app, paths


def get(port: int, path: str, headers: dict[str, str]) -> tuple[float, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = (time.perf_counter() - t) * 1000
        assert resp.status == 200, (resp.status, body[:200])
        return elapsed, body, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def measure(port: int, path: str, n: int, headers: dict[str, str]) -> tuple[list[float], bytes, dict[str, str]]:
    get(port, path, headers)  # warm-up: page cache, first imports
    times, body, hdrs = [], b"", {}
    for _ in range(n):
        ms, body, hdrs = get(port, path, headers)
        times.append(ms)
    return times, body, hdrs


def row(label: str, times: list[float], size: int | None = None, limit: str = "") -> str:
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
    text = f"{label:<44} p50 {statistics.median(times):8.1f} ms  p95 {p95:8.1f} ms"
    if size is not None:
        text += f"  {size / 1e6:6.3f} MB"
    return text + (f"   {limit}" if limit else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store in this directory")
    args = ap.parse_args()

    from symbi_cron.http.server import start_api

    app, paths = open_store(args.keep, args.jobs, args.runs)

    prom = {"Accept": "text/plain;version=0.0.4;q=0.9,*/*;q=0.1", "Accept-Encoding": "gzip"}
    plain = {"Accept": "text/plain"}
    handle = start_api(app, None, port=0)
    try:
        port = handle.port
        times, body, hdrs = measure(port, "/metrics", args.scrapes, prom)
        raw = gzip.decompress(body) if hdrs.get("content-encoding") == "gzip" else body
        series = sum(1 for line in raw.splitlines() if line and not line.startswith(b"#"))
        print()
        print(f"default [metrics] (per_job = auto, per_job_max_jobs = {app.settings.metrics.per_job_max_jobs}):")
        print(row("/metrics as Prometheus asks (gzip)", times, len(body), "target < 50 ms, < 1 MB"))
        ptimes, pbody, _ = measure(port, "/metrics", args.scrapes, plain)
        print(row("/metrics uncompressed", ptimes, len(pbody), f"{series} series"))
        htimes, _, _ = measure(port, "/api/v1/health/scheduler", args.scrapes, {})
        print(row("/api/v1/health/scheduler", htimes))

        app.settings.metrics.jobs = ["job-00[0-4]??"]  # 500 jobs: what per_job_max_jobs allows by default
        print()
        print("per-job series for 500 of the jobs (the default per_job_max_jobs), named in [metrics] jobs:")
        ltimes, lbody, lh = measure(port, "/metrics", args.scrapes, prom)
        lraw = gzip.decompress(lbody) if lh.get("content-encoding") == "gzip" else lbody
        lseries = sum(1 for line in lraw.splitlines() if line and not line.startswith(b"#"))
        print(row("/metrics as Prometheus asks (gzip)", ltimes, len(lbody)))
        print(f"{'':<44} {len(lraw) / 1e6:.2f} MB uncompressed, {lseries:,} series")
        app.settings.metrics.jobs = []
        app.settings.metrics.per_job = "always"
        print()
        print("peer: per-job series forced for every job (per_job = always):")
        ftimes, fbody, fh = measure(port, "/metrics", max(5, args.scrapes // 3), prom)
        fraw = gzip.decompress(fbody) if fh.get("content-encoding") == "gzip" else fbody
        fseries = sum(1 for line in fraw.splitlines() if line and not line.startswith(b"#"))
        print(row("/metrics as Prometheus asks (gzip)", ftimes, len(fbody)))
        print(f"{'':<44} {len(fraw) / 1e6:.1f} MB uncompressed, {fseries:,} series")
        app.settings.metrics.per_job = "auto"
    finally:
        handle.close()

    print()
    print("peer: the exporter's old query, a GROUP BY over every run (the same store):")
    conn = app.store.connection()
    cases = ", ".join(
        f"SUM(CASE WHEN r.execution_time_ms <= {int(b * 1000)} THEN 1 ELSE 0 END)"
        for b in (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
    )
    old = []
    for _ in range(3):
        t = time.perf_counter()
        conn.execute(
            f"SELECT j.name, COUNT(*), SUM(r.execution_time_ms), {cases} FROM runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.execution_time_ms IS NOT NULL AND r.finished_at IS NOT NULL GROUP BY j.name"
        ).fetchall()
        old.append((time.perf_counter() - t) * 1000)
    print(row("histogram GROUP BY alone (1 of its 6 queries)", old))


if __name__ == "__main__":
    main()
