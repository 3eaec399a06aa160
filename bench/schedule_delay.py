#!/usr/bin/env python3
"""Does API load delay the schedule? Slot start delay of every-minute jobs on a real daemon, first with the API
idle, then while the API takes RATE requests/s of a realistic mix including `/metrics` scrapes.

The daemon's store holds 220 jobs (20 every minute, each a real subprocess agent, and 200 idle ones) and 5,000
finished runs of history. For every run of an every-minute job, the start delay is ``started_at - scheduled_for``
(no jitter is configured, so any delay is the daemon's). The mix is bench/api_load.py's (lists, gets, histories,
health, `/metrics` 5%, SDK lists, creates, updates, deletes, pauses, manual runs). Printed: start delay p50, p99
and max for each phase, side by side (the idle phase is the peer), and the API's own latency under load.

    .venv/bin/python bench/schedule_delay.py [--rate 200] [--minutes 3] [--idle-minutes 2]

Target: the delays under load stay those of the idle daemon (the API never delays the schedule).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from queue import Empty, Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import LocalDaemon, Worker, build_mix, pct  # noqa: E402

EVERY_MINUTE = 20
IDLE_JOBS = 200
HISTORY_RUNS = 5000


def seed(home: Path) -> None:
    """220 jobs and 5,000 runs of history, written through the services and the store (as `cron add` would)."""
    from symbi_cron.paths import resolve
    from symbi_cron.services.agents import add_agent
    from symbi_cron.services.app import App
    from symbi_cron.services.jobs import create_job
    from symbi_cron.store import Store
    from symbi_cron.timeutil import to_ms

    paths = resolve({"SYMBI_HOME": str(home)})
    app = App(paths=paths, store=Store(paths.db, paths.lock), env={"SYMBI_HOME": str(home)}, actor="bench")
    agent = shlex.join([sys.executable, "-c", "import sys; print('ok', sys.stdin.read()[:20])"])
    add_agent(app, {"name": "echo", "command": agent})
    ids = []
    for i in range(EVERY_MINUTE):
        spec = {"name": f"every-minute-{i:02d}", "agent_id": "echo", "cron_expr": "* * * * *"}
        ids.append(create_job(app, {**spec, "delivery": ["log_file"]})["id"])
    for i in range(IDLE_JOBS):
        spec = {"name": f"idle-{i:03d}", "agent_id": "echo", "cron_expr": f"{i % 60} {i % 24} * * *"}
        ids.append(create_job(app, spec)["id"])
    now = to_ms(app.clock.now())
    rows = []
    for k in range(HISTORY_RUNS):
        job = ids[k % len(ids)]
        slot = now - (k + 1) * 3_600_000 - (k % 997) * 1000
        status = "succeeded" if k % 10 else "failed"
        rows.append((str(uuid.uuid4()), job, status, slot, slot, slot + 1500, 1500, "ok\n", slot, slot))
    with app.store.write() as tx:
        tx.executemany(
            "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, started_at, finished_at,"
            " execution_time_ms, output, created_at, updated_at) VALUES (?, ?, 'schedule', ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    app.store.close()


def delays(db: Path, lo_ms: int, hi_ms: int, column: str = "started_at") -> list[float]:
    """Delays (s) from slot to ``column`` (started_at: the start; created_at: the claim) of the every-minute jobs'
    scheduled runs whose slot lies in [lo, hi)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            f"SELECT r.{column} - r.scheduled_for FROM runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE j.name LIKE 'every-minute-%' AND r.trigger = 'schedule' AND r.started_at IS NOT NULL"
            " AND r.scheduled_for >= ? AND r.scheduled_for < ?",
            (lo_ms, hi_ms),
        ).fetchall()
    finally:
        conn.close()
    return [r[0] / 1000 for r in rows]


def next_minute_wall(offset: float) -> float:
    """Sleep until ``offset`` seconds before the next minute boundary; return that boundary (epoch s)."""
    boundary = (int(time.time()) // 60 + 1) * 60
    if boundary - time.time() < offset:
        boundary += 60
    time.sleep(max(0.0, boundary - offset - time.time()))
    return float(boundary)


def load(host: str, port: int, key: str, rate: float, seconds: float, seed_jobs: list[str]) -> list:
    rng = random.Random(7)
    state: dict = {"jobs": list(seed_jobs), "next": 0}
    lock = threading.Lock()
    results: list[tuple[str, float, int, bool]] = []
    todo: Queue = Queue()

    def work() -> None:
        w = Worker(host, port, key)
        while True:
            try:
                item = todo.get(timeout=1)
            except Empty:
                continue
            if item is None:
                return
            kind, method, path, body, ok_codes = item
            t0 = time.perf_counter()
            try:
                status, raw = w.call(method, path, body)
            except Exception as exc:
                status, raw = 0, str(exc).encode()
            dt = time.perf_counter() - t0
            ok = status in ok_codes
            with lock:
                results.append((kind, dt, status, ok))
                if ok and kind == "create":
                    state["jobs"].append(json.loads(raw)["id"])
                if ok and kind == "delete" and status == 200:
                    jid = path.rsplit("/", 1)[1]
                    if jid in state["jobs"]:
                        state["jobs"].remove(jid)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(16)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with lock:
            item = build_mix(rng, state)
        todo.put(item)
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    return results


def line(label: str, d: list[float]) -> str:
    if not d:
        return f"{label:<34} no runs"
    return (
        f"{label:<34} runs {len(d):4d}  p50 {statistics.median(d) * 1000:7.0f} ms  p99 {pct(d, 99) * 1000:7.0f} ms"
        f"  max {max(d) * 1000:7.0f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--minutes", type=int, default=3, help="minutes of load (each holds one slot per job)")
    ap.add_argument("--idle-minutes", type=int, default=2)
    args = ap.parse_args()

    daemon = LocalDaemon(0)
    seed(daemon.home)
    daemon.symbi("cron", "daemon", "start")
    key = daemon.symbi("api-key")
    try:
        w = Worker("127.0.0.1", daemon.port, key)
        status, raw = w.call("GET", "/api/v1/schedule")
        seed_jobs = [j["id"] for j in json.loads(raw) if j["name"].startswith("idle-")][:50]
        print(f"daemon up: {EVERY_MINUTE + IDLE_JOBS} jobs, {HISTORY_RUNS} runs of history; idle phase", flush=True)
        idle_from = next_minute_wall(5)
        time.sleep(args.idle_minutes * 60)
        idle_to = idle_from + args.idle_minutes * 60
        print(f"load phase: {args.rate:.0f} requests/s for {args.minutes} min", flush=True)
        load_from = next_minute_wall(5) - 5  # the load starts 5 s before the first slot of the window
        results = load("127.0.0.1", daemon.port, key, args.rate, args.minutes * 60 + 5, seed_jobs)
        load_to = load_from + args.minutes * 60 + 5
        time.sleep(3)  # the last slot's runs are written
        db = daemon.home / "symbi.db"
        idle = delays(db, int(idle_from * 1000), int(idle_to * 1000))
        busy = delays(db, int(load_from * 1000), int(load_to * 1000))
        lat = [r[1] * 1000 for r in results]
        errors = sum(1 for r in results if not r[3])
        scrapes = [r[1] * 1000 for r in results if r[0] == "metrics"]
        print()
        print("slot start delay of the every-minute jobs (started_at - scheduled_for):")
        print(line("API idle (peer)", idle))
        print(line(f"API at {args.rate:.0f} requests/s", busy))
        print("  of which from the slot to its claim (the run's row written):")
        print(line("  API idle (peer)", delays(db, int(idle_from * 1000), int(idle_to * 1000), "created_at")))
        print(
            line(
                f"  API at {args.rate:.0f} requests/s",
                delays(db, int(load_from * 1000), int(load_to * 1000), "created_at"),
            )
        )
        print()
        print(
            f"API under load: {len(results)} requests, {errors} errors, latency p50 {pct(lat, 50):.1f} ms"
            f"  p99 {pct(lat, 99):.1f} ms  max {max(lat):.1f} ms; /metrics p99 {pct(scrapes, 99):.1f} ms"
        )
        return 0 if busy and errors == 0 else 1
    finally:
        daemon.stop()


if __name__ == "__main__":
    sys.exit(main())
