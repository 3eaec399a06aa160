"""Tick-loop costs (SPEC §12): the cost of one idle tick as the number of idle jobs grows, and how late runs start.

    python bench/ticks.py [--jobs 100000] [--slots 200]

1. Per-tick cost: a store with N active jobs whose next slot is hours away (idle), N finished runs of history,
   and one Supervisor on the real clock; each tick is timed (wall clock, in-process). Targets: under 2 ms at
   100,000 idle jobs, and no growth
   from 1,000 to 100,000 (the tick uses the partial index ``jobs_due`` and MIN(next_run), never a scan).
2. Start delay: ``--slots`` one-shot ``at`` jobs due between 2 and 12 seconds from now (spread evenly, at
   arbitrary milliseconds, so most do not fall on a tick boundary) running ``/bin/true``, with the default
   ``tick_interval_seconds = 1`` and no jitter; the supervisor runs its real loop (``serve``) in a thread. The delay
   of a run is ``started_at - scheduled_for`` as recorded in the store. Target: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _app(home: Path):
    from symbi_cron.config import Settings
    from symbi_cron.paths import resolve
    from symbi_cron.services.app import App
    from symbi_cron.store import Store

    env = dict(os.environ, SYMBI_HOME=str(home))
    paths = resolve(env)
    paths.ensure()
    app = App(paths=paths, store=Store(paths.db, paths.lock), actor="bench", env=env)
    s = Settings()
    s.api.enabled = False
    s.scheduler.default_timezone = "UTC"
    s.scheduler.max_concurrent_jobs = 50
    app.settings = s
    return app


def _idle_jobs(app, n: int) -> None:
    from symbi_cron.store import jobs as job_rows

    now = int(time.time() * 1000)
    spec = {"cron_expr": "0 3 * * *", "timezone": "UTC", "delivery": [], "max_concurrent": 1, "max_retries": 3}
    with app.store.write() as tx:
        ids = []
        for i in range(n):
            ids.append(str(uuid.uuid4()))
            job_rows.insert(
                tx,
                id=ids[-1],
                spec={**spec, "name": f"idle-{i}", "agent_id": "none"},
                status="active",
                next_run=now + 3_600_000 + i * 10,
                now_ms=now,
            )
        # As much finished history as jobs: the tick must not read it.
        tx.executemany(
            "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, created_at, updated_at)"
            " VALUES (?, ?, 'schedule', 'succeeded', ?, ?, ?)",
            [(str(uuid.uuid4()), ids[i], now - i * 1000, now, now) for i in range(n)],
        )


def tick_cost(n: int, ticks: int = 300) -> dict:
    from symbi_cron.runtime.supervisor import Supervisor

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp) / "home")
        _idle_jobs(app, n)
        sup = Supervisor(app)
        for _ in range(20):
            sup.tick()  # warm the page cache and the statement cache
        times = []
        for _ in range(ticks):
            t0 = time.perf_counter()
            sup.tick()
            times.append((time.perf_counter() - t0) * 1000)
        app.store.close()
    times.sort()
    return {
        "jobs": n,
        "ticks": ticks,
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
        "mean_ms": round(statistics.mean(times), 3),
    }


def start_delay(slots: int) -> dict:
    from symbi_cron.runtime.supervisor import Supervisor
    from symbi_cron.services import agents, jobs

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp) / "home")
        agents.add_agent(app, {"name": "true", "command": "/bin/true"})
        first = datetime.now(timezone.utc) + timedelta(seconds=2)
        spread_ms = 10_000
        for i in range(slots):
            at = first + timedelta(milliseconds=i * spread_ms // slots + 7)
            jobs.create_job(app, {"name": f"slot-{i}", "agent_id": "true", "at": at.isoformat(), "delivery": []})
        sup = Supervisor(app)
        thread = threading.Thread(target=sup.serve, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'")[0][0]
            if done >= slots:
                break
            time.sleep(0.2)
        sup.request_stop()
        thread.join(10)
        rows = app.store.query("SELECT started_at - scheduled_for, trigger FROM runs WHERE started_at IS NOT NULL")
        app.store.close()
    delays = sorted(r[0] / 1000 for r in rows)
    return {
        "slots": slots,
        "started": len(delays),
        "p50_s": round(statistics.median(delays), 3),
        "p99_s": round(delays[max(0, int(len(delays) * 0.99) - 1)], 3),
        "max_s": round(delays[-1], 3),
        "triggers": sorted({r[1] for r in rows}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {"tick_cost": [tick_cost(n) for n in sorted({1_000, args.jobs})], "start_delay": start_delay(args.slots)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} CPUs")
    for r in results["tick_cost"]:
        print(
            f"idle tick with {r['jobs']:>7,} jobs: p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
            f"mean {r['mean_ms']:.3f} ms  ({r['ticks']} ticks)"
        )
    s = results["start_delay"]
    print(
        f"start delay over {s['started']}/{s['slots']} slots: p50 {s['p50_s']:.3f} s  p99 {s['p99_s']:.3f} s  "
        f"max {s['max_s']:.3f} s"
    )


if __name__ == "__main__":
    main()
