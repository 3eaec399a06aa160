"""PostgreSQL store figures (docs/performance.md, "PostgreSQL store"):

1. claims per second with one claimer, then three (processes, as three daemons would be) racing for the same due jobs:
   each runs the supervisor's claim transaction (due query, then claim_job per job, each job locked with
   FOR UPDATE SKIP LOCKED) until no job is due; every slot must be claimed exactly once;
2. how long a change made through the services (App.changed -> NOTIFY in its transaction) takes to reach a
   listening connection (another daemon's LISTEN thread), median and max of 50.

Uses SYMBI_TEST_PG_URL or starts a throwaway cluster like the tests (tests/pg/server.py).
Run: .venv/bin/python bench/pg_store.py [JOBS]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _claimer(url: str, home: str, start: mp.Event, out: mp.Queue) -> None:
    os.environ["SYMBI_HOME"] = home
    from symbi_cron.clock import SystemClock
    from symbi_cron.config import Settings
    from symbi_cron.paths import resolve
    from symbi_cron.runtime.supervisor import Supervisor
    from symbi_cron.services.app import App
    from symbi_cron.store import jobs as job_rows
    from symbi_cron.store.postgres import PgStore
    from symbi_cron.timeutil import to_ms

    app = App(paths=resolve(), store=PgStore(url), clock=SystemClock(), actor="bench")
    app.settings = Settings()
    sup = Supervisor(app)
    start.wait()
    while True:
        now_ms = to_ms(app.clock.now())
        due = job_rows.due(app.store.connection(), now_ms, limit=50)
        if not due:
            break
        sup._claim(due, now_ms)
    out.put(True)


def main() -> None:
    n_jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    from pg.server import fresh_database

    url = fresh_database()
    home = tempfile.mkdtemp()
    os.environ["SYMBI_HOME"] = home
    from symbi_cron.clock import SystemClock
    from symbi_cron.config import Settings
    from symbi_cron.paths import resolve
    from symbi_cron.services import jobs as job_svc
    from symbi_cron.services.app import App
    from symbi_cron.store.postgres import PgStore

    app = App(paths=resolve(), store=PgStore(url), clock=SystemClock(), actor="bench")
    settings = Settings()
    settings.scheduler.default_timezone = "UTC"
    app.settings = settings
    with app.store.write():
        for i in range(n_jobs):
            job_svc.create_job(app, {"name": f"j{i}", "agent_id": "none", "cron_expr": "0 0 1 1 *"})

    def claim_all(n_procs: int) -> float:
        """Every job due at once, claimed by ``n_procs`` processes; the seconds it took (one run per job checked)."""
        now_ms = int(time.time() * 1000)
        with app.store.write() as tx:
            tx.execute("DELETE FROM runs")
            tx.execute("UPDATE jobs SET next_run = ?", (now_ms - now_ms % 1000,))
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_claimer, args=(url, home, start, out)) for _ in range(n_procs)]
        for p in procs:
            p.start()
        time.sleep(2.0)  # let them import and connect
        t0 = time.perf_counter()
        start.set()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t0
        runs = app.store.query("SELECT COUNT(*), COUNT(DISTINCT job_id) FROM runs")[0]
        assert runs[0] == runs[1] == n_jobs, f"expected {n_jobs} runs, one per job, got {tuple(runs)}"
        return elapsed

    one, three = claim_all(1), claim_all(3)
    print(
        f"claims: {n_jobs} due jobs claimed by 1 process in {one:.2f}s = {n_jobs / one:,.0f} claims/s; by 3"
        f" processes at once in {three:.2f}s = {n_jobs / three:,.0f} claims/s; exactly one run per slot"
    )

    import psycopg

    listener = psycopg.connect(url, autocommit=True)
    listener.execute("LISTEN symbi_reload")
    delays = []
    for i in range(50):
        t = time.perf_counter()
        job_svc.pause_job(app, f"j{i}")
        for _n in listener.notifies(timeout=5, stop_after=1):
            delays.append((time.perf_counter() - t) * 1000)
    print(
        f"change -> another connection notified (write + commit + NOTIFY): median"
        f" {statistics.median(delays):.1f} ms, max {max(delays):.1f} ms over {len(delays)}"
    )


if __name__ == "__main__":
    main()
