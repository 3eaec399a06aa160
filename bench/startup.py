"""Start-up cost of the CLI: median wall time of `symbi --version`, `symbi cron list` on a store of 1,000 jobs,
and `python -c pass` in the same environment, with the ratios (target: `cron list` <= 4x `python -c pass`).

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
    listing_json = median_ms([symbi, "cron", "list", "--format", "json"], env, args.runs)
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, median wall time")
    print(f"{'python -c pass':<34} {base:7.1f} ms   1.00x")
    print(f"{'symbi --version':<34} {version:7.1f} ms  {version / base:5.2f}x")
    print(f"{f'symbi cron list ({args.jobs} jobs)':<34} {listing:7.1f} ms  {listing / base:5.2f}x   (target <= 4x)")
    print(f"{'symbi cron list --format json':<34} {listing_json:7.1f} ms  {listing_json / base:5.2f}x")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
