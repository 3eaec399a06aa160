"""The store at scale: load 100,000 jobs, then time the due-jobs query and the earliest-next-run query that the
tick loop runs (target: due-jobs query under 1 ms at 100,000 jobs).

    python bench/store.py [--jobs 100000] [--repeat 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from symbi_cron.store import Store
from symbi_cron.store import jobs as job_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    store = Store(Path(tempfile.mkdtemp(prefix="symbi-bench-")) / "symbi.db")
    now = 1_800_000_000_000
    t0 = time.perf_counter()
    with store.write() as tx:
        for i in range(args.jobs):
            spec = {"name": f"job-{i:06d}", "agent_id": "a", "cron_expr": "0 * * * *", "timezone": "UTC"}
            # Idle jobs: next runs spread over the coming day; 5 are due now.
            next_run = now - 1000 if i < 5 else now + 60_000 + (i * 864_000_000 // args.jobs) // 1000
            job_rows.insert(
                tx,
                id=f"{i:08x}-0000-4000-8000-000000000000",
                spec=spec,
                status="active" if i % 10 else "paused",
                next_run=next_run,
                now_ms=now,
            )
    load_s = time.perf_counter() - t0
    conn = store.connection()
    conn.execute("ANALYZE")

    def timed(fn) -> list[float]:
        out = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1e6)
        return out

    due = timed(lambda: job_rows.due(conn, now))
    earliest = timed(lambda: job_rows.earliest_next_run(conn))
    assert len(job_rows.due(conn, now)) == 4  # i % 10 == 0 is paused
    q = statistics.quantiles
    print(f"{args.jobs} jobs loaded in {load_s:.2f} s ({args.jobs / load_s:,.0f} jobs/s, one transaction)")
    print(
        f"due-jobs query        p50 {statistics.median(due):7.1f} µs  p99 {q(due, n=100)[98]:7.1f} µs"
        "   (target < 1000 µs)"
    )
    print(f"earliest-next-run     p50 {statistics.median(earliest):7.1f} µs  p99 {q(earliest, n=100)[98]:7.1f} µs")


if __name__ == "__main__":
    main()
