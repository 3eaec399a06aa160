"""Start-up cost of the CLI: median wall time of `symbi --version`, `symbi cron list` on a store of 1,000 jobs,
every other read command (`cron status|history|next|pending`, `logs`, `audit query`, `agent list`, a Tab press)
and `python -c pass` in the same environment, with the ratios to `python -c pass` and to `cron list` (target:
`cron list` <= 4x `python -c pass`; every read command about as fast as `cron list`).

    python bench/startup.py [--runs 30] [--jobs 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(argv: list[str], env: dict[str, str], runs: int) -> float:
    """The median wall time of ``argv`` over ``runs`` runs, after one warm-up run (page cache, shiv's cache)."""
    first = subprocess.run(argv, env=env, capture_output=True, text=True)
    if first.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {first.stderr.strip()}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def fill_store(home: Path, count: int) -> None:
    from datetime import datetime, timezone

    from symbi_cron.clock import FakeClock
    from symbi_cron.paths import resolve
    from symbi_cron.services.app import App
    from symbi_cron.store import Store
    from symbi_cron.store import jobs as job_rows

    paths = resolve({"SYMBI_HOME": str(home)})
    app = App(paths=paths, store=Store(paths.db, paths.lock), clock=FakeClock(datetime.now(timezone.utc)))
    with app.store.write() as tx:
        for i in range(count):
            spec = {
                "name": f"job-{i:05d}",
                "agent_id": f"agent-{i % 50}",
                "cron_expr": f"{i % 60} * * * *",
                "timezone": "UTC",
                "delivery": ["log_file"],
                "max_retries": 3,
            }
            job_rows.insert(
                tx,
                id=f"{i:08x}-0000-4000-8000-000000000000",
                spec=spec,
                status="active",
                next_run=1_800_000_000_000 + i,
                now_ms=1_800_000_000_000,
            )
        # 50 finished runs of the first job (history, status), audit events, a daemon log (logs).
        from symbi_cron.store import runs as run_rows
        from symbi_cron.store.audit import append_event

        for r in range(50):
            at = 1_790_000_000_000 + r * 3_600_000
            run_id = f"{r:08x}-1111-4000-8000-000000000000"
            run_rows.insert(
                tx, id=run_id, job_id="00000000-0000-4000-8000-000000000000", trigger="schedule",
                status="running", scheduled_for=at, now_ms=at,
            )  # fmt: skip
            run_rows.update(
                tx, run_id, now_ms=at + 2000, status="succeeded", started_at=at + 500, finished_at=at + 2000,
                execution_time_ms=1500, exit_code=0, summary="ok",
            )  # fmt: skip
            append_event(tx, at_ms=at, type="CronJobExecuted", actor="daemon", job_id=None, job_name="job-00000",
                         run_id=run_id, details={"status": "succeeded"})  # fmt: skip
    lines = [f"2026-11-27 12:{i // 60 % 60:02d}:{i % 60:02d},000 INFO symbi.scheduler: tick {i}\n" for i in range(2000)]
    (home / "daemon.log").write_text("".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=1000)
    args = ap.parse_args()
    symbi = shutil.which("symbi", path=str(Path(sys.executable).parent)) or "symbi"
    home = Path(tempfile.mkdtemp(prefix="symbi-bench-"))
    env = {**os.environ, "SYMBI_HOME": str(home)}
    fill_store(home, args.jobs)
    base = median_ms([sys.executable, "-c", "pass"], env, args.runs)
    version = median_ms([symbi, "--version"], env, args.runs)
    listing = median_ms([symbi, "cron", "list"], env, args.runs)
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, median wall time")
    print(f"{'command':<40} {'ms':>7}  {'x pass':>6}  {'x list':>6}")
    print(f"{'python -c pass':<40} {base:7.1f}  {1:6.2f}")
    print(f"{'symbi --version':<40} {version:7.1f}  {version / base:6.2f}")
    print(
        f"{f'symbi cron list ({args.jobs} jobs)':<40} {listing:7.1f}  {listing / base:6.2f}  {1:6.2f}   (target <= 4x)"
    )
    reads = [
        ("symbi cron list --format json", [symbi, "cron", "list", "--format", "json"], {}),
        ("symbi cron status JOB", [symbi, "cron", "status", "job-00000"], {}),
        ("symbi cron history JOB (50 runs)", [symbi, "cron", "history", "job-00000", "--limit", "50"], {}),
        ("symbi cron next EXPR", [symbi, "cron", "next", "0 9 * * 1-5", "--tz", "Europe/Madrid"], {}),
        ("symbi cron pending", [symbi, "cron", "pending"], {}),
        ("symbi logs (2,000 lines)", [symbi, "logs"], {}),
        ("symbi audit query --since 2000-01-01", [symbi, "audit", "query", "--since", "2000-01-01"], {}),
        ("symbi agent list", [symbi, "agent", "list"], {}),
        (
            "Tab: symbi cron status job-0000<Tab>",
            [symbi],
            {"_SYMBI_COMPLETE": "bash_complete", "COMP_WORDS": "symbi cron status job-0000", "COMP_CWORD": "3"},
        ),
    ]
    for label, argv, extra in reads:
        ms = median_ms(argv, {**env, **extra}, args.runs)
        print(f"{label:<40} {ms:7.1f}  {ms / base:6.2f}  {ms / listing:6.2f}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
