#!/usr/bin/env python3
"""Retention keeps a busy installation flat: a real daemon runs RUNS runs (real subprocess agents, the log_file
channel, the audit log) with `[retention]` on, and every SAMPLE runs the store, the files and the daemon log are
measured. Target: after the first passes, every figure stays flat while the run count grows.

    .venv/bin/python bench/retention.py [--runs 100000] [--sample 10000] [--jobs 20]

Retention is set tight so that a bench of minutes shows what a year does: the daemon prunes every 20 s
(`interval_hours`), keeps the newest 50 runs of each job, 2 minutes of audit log, 64 KB job logs (1 copy) and a
256 KB daemon log (2 copies). Runs are asked for through the API (`POST /api/v1/schedule/{id}/run`), keeping at
most 100 queued, and counted from the scheduler's run statistics. Printed: one row per sample, with the peer row
of the first sample after warm-up beside the last.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import free_port  # noqa: E402

CONFIG = """
[api]
port = {port}
[scheduler]
tick_interval_seconds = 1
max_concurrent_jobs = 16
default_timezone = "UTC"
[retention]
interval_hours = {interval_hours}
run_max_age_days = 0
runs_per_job = 50
run_log_max_age_days = 0
job_log_max_bytes = 65536
job_log_backups = 1
audit_max_age_days = {audit_days}
daemon_log_max_bytes = 262144
daemon_log_backups = 2
"""


def symbi(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "symbi_cron", *args], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"symbi {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def tree_bytes(path: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(path):
        for n in names:
            try:
                size += os.stat(os.path.join(root, n)).st_size
                files += 1
            except OSError:
                pass
    return files, size


def sample(home: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{home / 'symbi.db'}?mode=ro", uri=True, timeout=30)
    try:
        finished = conn.execute(
            "SELECT succeeded + failed + timed_out + interrupted + denied + skipped + missed + cancelled"
            " FROM scheduler_stats"
        ).fetchone()[0]
        rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("runs", "audit")}
    finally:
        conn.close()
    db = sum((home / n).stat().st_size for n in ("symbi.db", "symbi.db-wal") if (home / n).exists())
    run_files, run_bytes = tree_bytes(home / "logs" / "runs")
    job_files, job_bytes = tree_bytes(home / "logs" / "jobs")
    ctx_files, ctx_bytes = tree_bytes(home / "contexts")
    daemon_log = sum(p.stat().st_size for p in home.glob("daemon.log*"))
    return {
        "finished": finished,
        "runs": rows["runs"],
        "audit": rows["audit"],
        "store_bytes": db,
        "run_log_files": run_files,
        "run_log_bytes": run_bytes,
        "job_log_bytes": job_bytes,
        "context_files": ctx_files,
        "daemon_log_bytes": daemon_log,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--interval-seconds", type=float, default=20)
    ap.add_argument("--audit-seconds", type=float, default=120)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="symbi-retention-")
    home = Path(tmp.name)
    port = free_port()
    (home / "config.toml").write_text(
        CONFIG.format(port=port, interval_hours=args.interval_seconds / 3600, audit_days=args.audit_seconds / 86400)
    )
    env = dict(os.environ, SYMBI_HOME=str(home))
    env.pop("SYMBI_API_KEY", None)
    agent = shlex.join([sys.executable, "-c", "print('report line ' * 8)"])
    symbi(env, "agent", "add", "reporter", "--command", agent)
    jobs = []
    for i in range(args.jobs):
        spec = {
            "name": f"busy-{i:02d}",
            "agent_id": "reporter",
            "cron_expr": "0 0 1 1 *",
            "delivery": ["log_file"],
            "max_concurrent": 4,
        }
        jobs.append(json.loads(symbi(env, "cron", "add", "--json", json.dumps(spec), "--format", "json"))["id"])
    symbi(env, "cron", "daemon", "start")
    key = symbi(env, "api-key")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    asked = 0
    rows: list[dict[str, int]] = []
    started = time.monotonic()
    next_sample = args.sample
    print(
        f"{'finished':>9} {'runs':>6} {'audit':>6} {'store MB':>9} {'run logs':>9} {'run log MB':>10}"
        f" {'job logs MB':>11} {'ctx files':>9} {'daemon.log MB':>13} {'runs/s':>7}",
        flush=True,
    )
    try:
        while True:
            now = sample(home)
            if now["finished"] >= next_sample or now["finished"] >= args.runs:
                now["elapsed"] = int(time.monotonic() - started)
                rows.append(now)
                rate = now["finished"] / max(1, now["elapsed"])
                print(
                    f"{now['finished']:>9} {now['runs']:>6} {now['audit']:>6} {now['store_bytes'] / 1e6:>9.2f}"
                    f" {now['run_log_files']:>9} {now['run_log_bytes'] / 1e6:>10.2f}"
                    f" {now['job_log_bytes'] / 1e6:>11.2f}"
                    f" {now['context_files']:>9} {now['daemon_log_bytes'] / 1e6:>13.2f} {rate:>7.0f}",
                    flush=True,
                )
                next_sample += args.sample
                if now["finished"] >= args.runs:
                    break
            queued = asked - now["finished"]
            for _ in range(max(0, min(100 - queued, args.runs - asked))):
                job = jobs[asked % len(jobs)]
                conn.request("POST", f"/api/v1/schedule/{job}/run", body=b"{}", headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 202:
                    raise SystemExit(f"run request refused: {resp.status}")
                asked += 1
            time.sleep(0.2)
    finally:
        conn.close()
        subprocess.run([sys.executable, "-m", "symbi_cron", "cron", "daemon", "stop"], env=env, capture_output=True)
    if len(rows) >= 3:
        first, last = rows[1], rows[-1]  # the first sample after warm-up, and the last
        print()
        print(f"flat? from {first['finished']:,} to {last['finished']:,} finished runs:")
        for key, label in (
            ("store_bytes", "store (db + WAL) bytes"),
            ("runs", "run rows"),
            ("audit", "audit rows"),
            ("run_log_files", "logs/runs files"),
            ("job_log_bytes", "logs/jobs bytes"),
            ("daemon_log_bytes", "daemon.log (+ copies) bytes"),
        ):
            print(f"  {label:<28} {first[key]:>12,} -> {last[key]:>12,}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
