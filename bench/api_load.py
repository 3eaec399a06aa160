#!/usr/bin/env python3
"""Load on the HTTP API of a daemon that is running jobs: a steady RATE of mixed reads and writes for DURATION
seconds; prints p50/p95/p99/max latency overall and per kind, errors, and whether any slot was missed.

    .venv/bin/python bench/api_load.py                  # starts its own daemon in a temporary SYMBI_HOME
    .venv/bin/python bench/api_load.py --rate 200 --duration 30 --cron-jobs 20

Targets (docs/performance.md): no errors, p99 under 50 ms, no missed or skipped slot.

The daemon runs ``--cron-jobs`` jobs every minute (a real subprocess agent each) plus the manual runs the load
itself queues, so the API competes with real work. Requests go out on a fixed schedule (open loop) from a pool of
keep-alive connections; latency is measured from send to the last byte of the answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shlex
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalDaemon:
    def __init__(self, cron_jobs: int) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="symbi-api-load-")
        self.home = Path(self.tmp.name)
        self.port = free_port()
        (self.home / "config.toml").write_text(
            f"[api]\nport = {self.port}\n[scheduler]\ntick_interval_seconds = 1\nmax_concurrent_jobs = 50\n"
            'default_timezone = "UTC"\n'
        )
        self.env = dict(os.environ, SYMBI_HOME=str(self.home))
        self.env.pop("SYMBI_API_KEY", None)
        self.cron_jobs = cron_jobs

    def symbi(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "symbi_cron", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode:
            raise SystemExit(f"symbi {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def start(self) -> tuple[str, str]:
        agent = shlex.join([sys.executable, "-c", "import sys; print('ok', sys.stdin.read()[:20])"])
        self.symbi("agent", "add", "echo", "--command", agent)
        for i in range(self.cron_jobs):
            self.symbi(
                "cron",
                "add",
                "--json",
                json.dumps(
                    {
                        "name": f"every-minute-{i:02d}",
                        "agent_id": "echo",
                        "cron_expr": "* * * * *",
                        "delivery": ["log_file"],
                    }
                ),
            )
        self.symbi("cron", "daemon", "start")
        key = self.symbi("api-key")
        return f"http://127.0.0.1:{self.port}", key

    def stop(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "symbi_cron", "cron", "daemon", "stop"],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        self.tmp.cleanup()


class Worker:
    """One keep-alive connection."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def build_mix(rng: random.Random, state: dict) -> tuple[str, str, str, object, tuple[int, ...]]:
    """(kind, method, path, body, accepted statuses) for one request."""
    jobs = state["jobs"]
    r = rng.random()
    jid = rng.choice(jobs) if jobs else None
    if r < 0.20 or jid is None:
        return "list", "GET", "/api/v1/schedule", None, (200,)
    if r < 0.35:
        return "get", "GET", f"/api/v1/schedule/{jid}", None, (200, 404)
    if r < 0.47:
        return "history", "GET", f"/api/v1/schedule/{jid}/history?limit=20", None, (200, 404)
    if r < 0.55:
        return "health", "GET", "/api/v1/health/scheduler", None, (200,)
    if r < 0.60:
        return "metrics", "GET", "/metrics", None, (200,)
    if r < 0.70:
        return "sdk_list", "GET", "/api/v1/schedules", None, (200,)
    if r < 0.76:
        n = state["next"]
        state["next"] += 1
        return (
            "create",
            "POST",
            "/api/v1/schedule",
            {"name": f"load-{n}", "agent_id": "echo", "cron_expr": "0 0 1 1 *"},
            (201,),
        )
    if r < 0.86:
        return "update", "PUT", f"/api/v1/schedule/{jid}", {"input": f"v{rng.randint(0, 9999)}"}, (200, 404)
    if r < 0.91:
        return (
            "pause",
            "POST",
            f"/api/v1/schedule/{jid}/{rng.choice(['pause', 'resume'])}",
            None,
            (200, 404, 409),
        )
    if r < 0.94:
        return "run_now", "POST", f"/api/v1/schedule/{jid}/run", {"input": "load"}, (202, 404, 409)
    # Deletes balance creates (6% each) so the job count stays near its start: the figures are for a steady
    # store, not one that grows by a thousand jobs a minute.
    return "delete", "DELETE", f"/api/v1/schedule/{jid}", None, (200, 404, 409)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--key")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--cron-jobs", type=int, default=20, help="jobs the daemon runs every minute")
    ap.add_argument("--jobs", type=int, default=50, help="idle jobs created before the load")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    daemon = None
    if args.url:
        url, key = args.url, args.key or os.environ.get("SYMBI_API_KEY", "")
    else:
        daemon = LocalDaemon(args.cron_jobs)
        url, key = daemon.start()
        # Start so that a minute boundary (every cron job's slot) falls inside the window.
        into = time.time() % 60
        lead = min(args.duration / 2, 25.0)
        wait = (60 - lead - into) % 60
        print(f"waiting {wait:.0f}s so that the :00 slot falls {lead:.0f}s into the load", flush=True)
        time.sleep(wait)
    host, port = url.split("//", 1)[1].split(":")
    port = int(port.rstrip("/"))
    rng = random.Random(args.seed)
    state: dict = {"jobs": [], "next": 0}
    lock = threading.Lock()
    results: list[tuple[str, float, int, bool]] = []
    todo: Queue = Queue()
    late = [0]

    w0 = Worker(host, port, key)
    for i in range(args.jobs):
        st, body = w0.call(
            "POST", "/api/v1/schedule", {"name": f"seed-{i}", "agent_id": "echo", "cron_expr": "0 0 1 1 *"}
        )
        state["jobs"].append(json.loads(body)["id"])

    def work() -> None:
        w = Worker(host, port, key)
        while True:
            try:
                item = todo.get(timeout=1)
            except Empty:
                continue
            if item is None:
                return
            kind, method, path, body, ok_codes, due = item
            lag = time.perf_counter() - due
            if lag > 0.05:
                late[0] += 1
            t0 = time.perf_counter()
            try:
                status, raw = w.call(method, path, body)
            except Exception as exc:  # counted as an error
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
            if not ok:
                print(f"  error: {method} {path} -> {status} {raw[:200]!r}", file=sys.stderr)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(args.connections)]
    for t in threads:
        t.start()
    started_wall = time.time()
    start = time.perf_counter()
    n = int(args.rate * args.duration)
    for i in range(n):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with lock:
            item = build_mix(rng, state)
        todo.put((*item, due))
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ended_wall = time.time()

    lat = [r[1] * 1000 for r in results]
    errors = [r for r in results if not r[3]]
    print(
        f"requests: {len(results)} in {elapsed:.1f}s = {len(results) / elapsed:.0f}/s"
        f" (target {args.rate:.0f}/s, {args.connections} connections); sent late >50ms: {late[0]}"
    )
    print(
        f"latency ms: p50 {pct(lat, 50):.1f}  p95 {pct(lat, 95):.1f}  p99 {pct(lat, 99):.1f}"
        f"  max {max(lat):.1f}  mean {statistics.mean(lat):.1f}"
    )
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, dt, _, _ in results:
        by_kind[kind].append(dt * 1000)
    for kind in sorted(by_kind):
        v = by_kind[kind]
        print(f"  {kind:9s} n={len(v):5d}  p50 {pct(v, 50):6.1f}  p99 {pct(v, 99):6.1f}  max {max(v):6.1f}")
    print(f"errors: {len(errors)}; jobs at the end: {len(state['jobs'])} (+{args.cron_jobs} every-minute)")

    if daemon is not None:
        # Slots of the every-minute jobs that fell inside the load window must each have a run, none missed.
        time.sleep(3)  # let the last slot's runs be written
        conn = sqlite3.connect(daemon.home / "symbi.db")
        lo, hi = int(started_wall * 1000), int(ended_wall * 1000)
        slots = [m for m in range((lo // 60000 + 1) * 60000, hi, 60000)]
        bad = conn.execute("SELECT COUNT(*) FROM runs WHERE status IN ('missed', 'skipped')").fetchone()[0]
        have = conn.execute(
            "SELECT COUNT(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.name LIKE 'every-minute-%'"
            " AND r.trigger = 'schedule' AND r.scheduled_for >= ? AND r.scheduled_for < ?",
            (lo, hi),
        ).fetchone()[0]
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        conn.close()
        expected = len(slots) * args.cron_jobs
        print(f"daemon work: runs by status {statuses}")
        print(
            f"cron slots in the window: {len(slots)} x {args.cron_jobs} jobs = {expected}; runs for them: {have};"
            f" missed/skipped anywhere: {bad}"
        )
        daemon.stop()
        return 0 if not errors and have == expected and bad == 0 else 1
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
