"""The run path through a real daemon (issue 13): burst start delay, sustained throughput, daemon CPU per run, each
beside the raw limit measured in the same run (Python spawning trivial processes), so the ratios survive a noisy
machine.

    python bench/run_path.py [--burst 100,500] [--repeat 3] [--runs 1000] [--width 10] [--postgres] [--json]

``--postgres``: the daemons use a PostgreSQL store (a fresh database each, on ``SYMBI_TEST_PG_URL`` or a throwaway
server started like the tests', tests/pg/server.py) instead of their SQLite file.

1. Raw spawn: ``Popen(["true"])`` 100 (and 500) times at once, then wait for all: the time the machine needs to
   start that many processes from Python; and the same with the burst's own agent (``date +%s.%N``, a little
   heavier than ``true``). And the rate of a pool of ``--width`` threads each spawning ``true`` and
   waiting for it (the raw sustained rate at the daemon's width).
2. Burst: N one-shot ``at`` jobs due at the same second, agent ``date +%s.%N`` (its output is its own start time),
   ``max_concurrent_jobs`` = N. The start delay of a run is the agent's own clock reading minus the slot. Each
   burst is run ``--repeat`` times (a daemon each time): the p99 of each, and their median. Targets (issue 13):
   p99 for 100 within 2x the raw spawn of 100, p99 for 500 under 1 s.
3. Throughput: ``--runs`` manual runs of ``true`` queued at once, ``max_concurrent_jobs`` = ``--width``: runs/s from
   the first start to the last finish. Target: at least half the raw rate of the same width.
4. Daemon CPU per run: the daemon process's user+system time over phase 3 (its fork server and the run owners are
   other processes), divided by the runs. Target: under 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TICKS = os.sysconf("SC_CLK_TCK")
#: ``--postgres``: each Home gets a fresh database on this server's session (tests/pg/server.py).
POSTGRES = False


#: The burst's agent: its output is its own clock reading when it runs.
CLOCK_AGENT = ["date", "+%s.%N"]


def raw_burst(n: int, argv: list[str] = ["true"]) -> float:  # noqa: B006 - read only
    t0 = time.perf_counter()
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def raw_rate(width: int, n: int) -> float:
    def one(_: int) -> None:
        subprocess.run(["true"], check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(width) as pool:
        list(pool.map(one, range(n)))
    return n / (time.perf_counter() - t0)


class Home:
    """A throwaway SYMBI_HOME with a daemon driven through the real CLI."""

    def __init__(self, concurrency: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="symbi-bench-run-"))
        (self.dir / "config.toml").write_text(
            "[api]\nenabled = false\n[scheduler]\n"
            f'max_concurrent_jobs = {concurrency}\ntick_interval_seconds = 1\ndefault_timezone = "UTC"\n'
        )
        self.env = dict(os.environ, SYMBI_HOME=str(self.dir))
        self.env.pop("SYMBI_API_KEY", None)
        if POSTGRES:
            sys.path.insert(0, str(ROOT / "tests"))
            from pg.server import fresh_database

            self.env["SYMBI_STORE_URL"] = fresh_database()

    def symbi(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "symbi_cron", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"symbi {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def app(self):
        from symbi_cron.services.app import open_app

        return open_app(self.env, actor="bench", notify=False)

    def daemon_pid(self) -> int:
        return int((self.dir / "daemon.pid").read_text().split()[0])

    def stop(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "symbi_cron", "cron", "daemon", "stop"], env=self.env, capture_output=True
        )


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def burst(n: int) -> dict:
    from symbi_cron.services import agents as agent_svc
    from symbi_cron.services import jobs as job_svc

    home = Home(concurrency=max(n, 10))
    app = home.app()
    agent_svc.add_agent(app, {"name": "clock", "command": " ".join(CLOCK_AGENT)})
    slot = (int(time.time()) + 6) * 1.0  # whole second, far enough ahead to set up
    at = datetime.fromtimestamp(slot, tz=timezone.utc).isoformat()
    ids = [
        job_svc.create_job(app, {"name": f"b{i}", "agent_id": "clock", "at": at, "delivery": []})["id"]
        for i in range(n)
    ]
    home.symbi("cron", "daemon", "start")
    try:
        deadline = time.time() + 60 + n / 10
        rows = []
        while time.time() < deadline:
            rows = app.store.query(
                "SELECT output, status FROM runs WHERE status NOT IN ('queued', 'running') AND trigger = 'schedule'"
            )
            if len(rows) >= n:
                break
            time.sleep(0.2)
    finally:
        home.stop()
    delays = sorted(float(r["output"].strip()) - slot for r in rows if r["status"] == "succeeded")
    assert len(delays) == len(ids), f"{len(delays)} of {n} runs succeeded"
    return {
        "jobs": n,
        "p50_s": round(statistics.median(delays), 4),
        "p99_s": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 4),
        "max_s": round(delays[-1], 4),
    }


def throughput(runs: int, width: int) -> dict:
    from symbi_cron.services import agents as agent_svc
    from symbi_cron.services import jobs as job_svc
    from symbi_cron.services.runs import queue_manual

    home = Home(concurrency=width)
    app = home.app()
    agent_svc.add_agent(app, {"name": "t", "command": "true"})
    job = job_svc.create_job(
        app, {"name": "t", "agent_id": "t", "cron_expr": "0 0 1 1 *", "max_concurrent": runs, "delivery": []}
    )
    home.symbi("cron", "daemon", "start")
    try:
        pid = home.daemon_pid()
        for _ in range(runs):  # queued while the daemon waits (no signal: one reload at the end)
            queue_manual(app, job["id"])
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        os.kill(pid, 1)
        deadline = time.time() + 120 + runs / 20
        done = 0
        while time.time() < deadline:
            done = app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'")[0][0]
            if done >= runs:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
    finally:
        home.stop()
    assert done >= runs, f"only {done} of {runs} runs finished"
    return {
        "runs": runs,
        "width": width,
        "seconds": round(elapsed, 2),
        "runs_per_s": round(runs / elapsed, 1),
        "daemon_cpu_ms_per_run": round(cpu * 1000 / runs, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--burst", default="100,500")
    ap.add_argument("--repeat", type=int, default=3, help="bursts of each size (the median p99 is compared)")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--width", type=int, default=10)
    ap.add_argument("--postgres", action="store_true", help="a PostgreSQL store instead of SQLite")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    global POSTGRES
    POSTGRES = args.postgres
    sizes = [int(x) for x in args.burst.split(",") if x]
    out: dict = {"raw": {}, "burst": [], "throughput": None}
    for n in sizes:
        out["raw"][f"spawn_{n}_s"] = round(min(raw_burst(n) for _ in range(3)), 4)
        out["raw"][f"spawn_{n}_agent_s"] = round(min(raw_burst(n, CLOCK_AGENT) for _ in range(3)), 4)
    out["raw"][f"rate_width_{args.width}"] = round(raw_rate(args.width, args.runs), 1)
    for n in sizes:
        each = [burst(n) for _ in range(max(1, args.repeat))]
        b = {
            "jobs": n,
            "p50_s": statistics.median(x["p50_s"] for x in each),
            "p99_s": statistics.median(x["p99_s"] for x in each),
            "p99_each_s": [x["p99_s"] for x in each],
            "max_s": max(x["max_s"] for x in each),
        }
        raw = out["raw"][f"spawn_{n}_s"]
        b["p99_over_raw_spawn"] = round(b["p99_s"] / raw, 2)
        b["p99_over_raw_agent_spawn"] = round(b["p99_s"] / out["raw"][f"spawn_{n}_agent_s"], 2)
        out["burst"].append(b)
    t = throughput(args.runs, args.width)
    t["over_raw_rate"] = round(t["runs_per_s"] / out["raw"][f"rate_width_{args.width}"], 2)
    out["throughput"] = t
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print("raw spawn (Popen 'true', wait all): " + ", ".join(f"{n}: {out['raw'][f'spawn_{n}_s']} s" for n in sizes))
    print(
        f"raw spawn of the burst's agent ({' '.join(CLOCK_AGENT)}): "
        + ", ".join(f"{n}: {out['raw'][f'spawn_{n}_agent_s']} s" for n in sizes)
    )
    print(f"raw rate, pool of {args.width} threads: {out['raw'][f'rate_width_{args.width}']} /s")
    for b in out["burst"]:
        print(
            f"burst of {b['jobs']} due at one second, {len(b['p99_each_s'])} times: start delay p50 {b['p50_s']} s,"
            f" p99 {b['p99_s']} s (each: {', '.join(str(x) for x in b['p99_each_s'])})"
            f" (= {b['p99_over_raw_spawn']}x the raw spawn of {b['jobs']} 'true',"
            f" {b['p99_over_raw_agent_spawn']}x of the agent), max {b['max_s']} s"
        )
    print(
        f"throughput: {t['runs']} runs of `true` at width {t['width']} in {t['seconds']} s = {t['runs_per_s']} /s"
        f" (= {t['over_raw_rate']}x the raw rate); daemon CPU {t['daemon_cpu_ms_per_run']} ms per run"
    )


if __name__ == "__main__":
    threading.stack_size(0)
    main()
