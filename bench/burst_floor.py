"""Why run owners hold their agents before a burst (issue 13): N processes, one per run like the run owners, each
starting one agent at the same instant, with no scheduler code at all, beside the raw spawn of N agents by one
process, all in the same run.

    python bench/burst_floor.py [--n 100] [--repeat 6]

- raw: one process spawns the N agents (``Popen``) as fast as it can; the time until the last agent ran.
- spawn at the slot: N processes sleep until the same instant, then each ``Popen``s its agent and reads its output
  (what owners did before they held their agents).
- held, released at the slot: each process starts its agent ahead as ``/bin/sh -c 'kill -STOP $$ && exec "$@"'``
  and sends it SIGCONT at the instant, then reads its output at once.
- held, then settle: the same, and each process leaves the CPU to the others' agents for 0.5 ms per process
  before it reads its output (what an owner does now: ``runtime/owner.py`` ``SETTLE_PER_RUN_SECONDS``).

The agent is ``date +%s.%N``: its output is its own clock reading, so the start delay is measured by the agent.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

AGENT = ["date", "+%s.%N"]
HOLD = ["/bin/sh", "-c", 'kill -STOP $$ && exec "$@"', AGENT[0], *AGENT]


def _spawn(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True, process_group=0
    )


def raw(n: int) -> list[float]:
    t0 = time.time()
    procs = [_spawn(AGENT) for _ in range(n)]
    return [float(p.communicate()[0]) - t0 for p in procs]


def owners(n: int, mode: str) -> list[float]:
    """N forked processes, each starting one agent at the same instant ``mode``: spawn | held | settle."""
    slot = time.time() + 1.0 + n / 500
    r, w = os.pipe()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                proc = None
                if mode != "spawn":
                    proc = _spawn(HOLD)
                    os.waitpid(proc.pid, os.WUNTRACED)  # stopped, just before its exec
                time.sleep(max(0.0, slot - time.time()))
                if proc is None:
                    proc = _spawn(AGENT)
                else:
                    os.kill(proc.pid, signal.SIGCONT)
                    if mode == "settle":
                        time.sleep(0.0005 * n)
                out, _ = proc.communicate()
                os.write(w, out)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    for pid in pids:
        os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    return [float(x) - slot for x in data.split()]


def p99(delays: list[float]) -> float:
    d = sorted(delays)
    return d[min(len(d) - 1, int(len(d) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=6)
    args = ap.parse_args()
    rows = [("raw: one process spawns them all", lambda: raw(args.n))]
    for mode, label in (
        ("spawn", "N processes, each spawns its agent at the slot"),
        ("held", "N processes, each releases its held agent"),
        ("settle", "N processes, each releases its held agent, then settles"),
    ):
        rows.append((label, lambda mode=mode: owners(args.n, mode)))
    base = None
    for label, fn in rows:
        each = [p99(fn()) for _ in range(args.repeat)]
        med = statistics.median(each)
        base = base or med
        print(
            f"{label}: p99 start delay {med:.3f} s (median of {args.repeat}; {med / base:.2f}x raw)"
            f"  each: {', '.join(f'{x:.3f}' for x in each)}"
        )


if __name__ == "__main__":
    sys.exit(main())
