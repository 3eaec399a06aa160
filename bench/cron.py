"""Cron engine speed: µs per next fire time (ours vs croniter vs cronsim when installed) and import times.

Run: .venv/bin/python bench/cron.py [--n 20000]

Two ways of asking, because the scheduler does both:
* "iter": walk one schedule forward (each answer is the next start), the cheapest case for every library;
* "fresh": a new question each time from an unrelated instant (croniter and cronsim must build an object).
Import time: the median over fresh interpreters of `python -X importtime -c "import MODULE"` (everything the
import pulls in beyond interpreter start-up).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EXPRESSIONS = ["*/15 * * * *", "0 9 * * 1-5", "30 1 * * *", "0 0 L * *", "0 0 29 2 *", "0 12 * * 5#3"]
ZONES = [timezone.utc, ZoneInfo("America/New_York")]
START = datetime(2026, 1, 1, 0, 0, 7, tzinfo=timezone.utc)
RESTART = 500  # "iter" walks restart every RESTART answers (500 leap days already reach the year 4000)


def per_call_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def ours_iter(expr: str, tz):
    from symbi_cron.timing import parse

    cron = parse(expr)

    def run(n: int) -> None:
        t = START
        for i in range(n):
            t = cron.next_after(START if i % RESTART == 0 else t, tz)

    return run


def ours_fresh(expr: str, tz):
    from symbi_cron.timing import parse

    starts = [START + timedelta(minutes=37 * i) for i in range(1000)]

    def run(n: int) -> None:
        for i in range(n):
            parse(expr).next_after(starts[i % 1000], tz)

    return run


def croniter_iter(expr: str, tz):
    from croniter import croniter

    def run(n: int) -> None:
        for i in range(n):
            if i % RESTART == 0:
                it = croniter(expr, START.astimezone(tz))
            it.get_next(datetime)

    return run


def croniter_fresh(expr: str, tz):
    from croniter import croniter

    starts = [(START + timedelta(minutes=37 * i)).astimezone(tz) for i in range(1000)]

    def run(n: int) -> None:
        for i in range(n):
            croniter(expr, starts[i % 1000]).get_next(datetime)

    return run


def cronsim_iter(expr: str, tz):
    from cronsim import CronSim

    def run(n: int) -> None:
        for i in range(n):
            if i % RESTART == 0:
                it = CronSim(expr, START.astimezone(tz))
            next(it)

    return run


def cronsim_fresh(expr: str, tz):
    from cronsim import CronSim

    starts = [(START + timedelta(minutes=37 * i)).astimezone(tz) for i in range(1000)]

    def run(n: int) -> None:
        for i in range(n):
            next(CronSim(expr, starts[i % 1000]))

    return run


def import_ms(module: str, runs: int = 9) -> float:
    """Median cost of `import module` in a fresh interpreter, from `python -X importtime`."""

    def once() -> float:
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            check=True,
            capture_output=True,
            text=True,
        ).stderr
        total, after_site = 0, False
        for line in err.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            _, cumulative, name = line.split("|")
            if name.strip() == "site" and not name.startswith("  "):
                after_site = True
                continue
            if after_site and not name[1:].startswith(" "):  # a top-level import made by `-c`
                total += int(cumulative)
        return total / 1000

    return statistics.median(once() for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="calls per measurement (best of 3)")
    args = ap.parse_args()

    engines = {"ours": (ours_iter, ours_fresh)}
    for name, pair in (
        ("croniter", (croniter_iter, croniter_fresh)),
        ("cronsim", (cronsim_iter, cronsim_fresh)),
    ):
        try:
            __import__(name)
            engines[name] = pair
        except ImportError:
            print(f"({name} not installed: skipped)")

    print(f"Python {sys.version.split()[0]}, {args.n} calls per figure, best of 3; µs per next fire time")
    header = f"{'expression':<16} {'zone':<17} {'mode':<6}" + "".join(f"{e:>10}" for e in engines)
    print(header)
    print("-" * len(header))
    for expr in EXPRESSIONS:
        for tz in ZONES:
            for mode in (0, 1):
                cells = []
                for pair in engines.values():
                    try:
                        cells.append(f"{per_call_us(pair[mode](expr, tz), args.n):>10.1f}")
                    except Exception as exc:  # an engine that lacks a feature
                        cells.append(f"{'n/a':>10}")
                        _ = exc
                print(f"{expr:<16} {str(tz):<17} {('iter', 'fresh')[mode]:<6}" + "".join(cells))
    print()
    for module in ["symbi_cron.timing"] + [m for m in ("croniter", "cronsim") if m in engines]:
        print(f"import {module:<20} {import_ms(module):6.1f} ms (median of 9, python -X importtime)")


if __name__ == "__main__":
    main()
