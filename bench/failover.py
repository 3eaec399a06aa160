"""Failover of several daemons on one PostgreSQL (issue 17, item 7): three real daemons, each under a host name of
its own, share a throwaway PostgreSQL server; slots come due every second; one host is SIGKILLed while it runs long
jobs (a power cut), another is frozen with SIGSTOP inside a write transaction for three leases (a paused VM).

    python bench/failover.py [--seconds 40] [--per-second 3] [--lease 3]

Counted from the agents' own records (each agent appends a start and an end line to a shared file), not from the
store:

- slots on time: the share of slots whose agent started within 1 s of the slot (and the worst lateness);
- seconds to take over: from the kill (or the freeze) to the start of the retry of each run the host was carrying,
  beside the bound set by the lease and the sweep (``lease_seconds`` for the lease to lapse, then up to 5 s for a
  sweep to see it);
- duplicates: slots started twice by the schedule, or runs whose agent finished twice (target 0); an agent of the
  frozen host whose remaining work ran out during the freeze finishes the instant the host wakes, before its owner
  can stop it (its outcome is refused in the store, the retry's stands): counted, and shown apart;
- losses: jobs whose agent never finished (target 0).

Needs root for the host names (``unshare --uts``) and the PostgreSQL server binaries (tests/pg/server.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pg.cluster import (  # noqa: E402
    Host,
    freeze_inside_a_transaction,
    mark_command,
    read_marks,
    separate_hosts_possible,
    set_due,
    wait_for,
)
from pg.server import fresh_database  # noqa: E402

SWEEP_SECONDS = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=40, help="how long slots keep coming due")
    ap.add_argument("--per-second", type=int, default=3, help="slots due each second")
    ap.add_argument("--lease", type=float, default=3.0, help="lease_seconds of every daemon")
    ap.add_argument("--long", type=int, default=6, help="long runs (45 s) started before the kill and the freeze")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    why = separate_hosts_possible()
    if why:
        sys.exit(f"failover bench: {why}")

    import os

    from symbi_cron.paths import resolve
    from symbi_cron.services import agents as agent_svc
    from symbi_cron.services import jobs as job_svc
    from symbi_cron.services.app import App
    from symbi_cron.store.postgres import PgStore

    work = Path(tempfile.mkdtemp(prefix="symbi-failover-"))
    os.environ["SYMBI_HOME"] = str(work / "cli")
    url = fresh_database()
    store = PgStore(url)
    app = App(paths=resolve(), store=store, actor="bench")
    marks = work / "marks.log"
    agent_svc.add_agent(app, {"name": "quick", "command": mark_command(marks), "shell": True})
    slow = mark_command(marks, 'if [ "$SYMBI_TRIGGER" = retry ]; then sleep 1; else sleep 45; fi')
    agent_svc.add_agent(app, {"name": "slow", "command": slow, "shell": True})
    far = "2099-01-01T00:00:00+00:00"

    def jobs(prefix: str, n: int, agent: str = "quick", **extra) -> list[str]:
        return [
            job_svc.create_job(app, {"name": f"{prefix}-{i}", "agent_id": agent, "at": far, **extra})["id"]
            for i in range(n)
        ]

    n_slots = args.seconds * args.per_second
    slot_jobs = jobs("slot", n_slots)
    long_a = jobs("longA", args.long, agent="slow", retry_backoff_seconds=0, max_retries=3)
    long_b = jobs("longB", args.long, agent="slow", retry_backoff_seconds=0, max_retries=3)
    names = {r[0]: r[1] for r in store.query("SELECT id, name FROM jobs")}
    hosts = [Host(work / f"host{n}", url, lease_seconds=args.lease, max_concurrent_jobs=50) for n in range(3)]
    report: dict = {}
    try:
        for h in hosts:
            h.start()
        t0 = time.time()
        due = set_due(store, slot_jobs, first_in=2, spread=args.seconds - 1)
        due.update(set_due(store, long_a, first_in=3, spread=0))
        kill_at, freeze_at = t0 + args.seconds * 0.25, t0 + args.seconds * 0.5

        def host_of_runs(job_ids: list[str]) -> Host | None:
            owners = Counter()
            for r in store.query(
                "SELECT daemon_id FROM runs WHERE status = 'running' AND job_id IN ("
                + ",".join("?" * len(job_ids))
                + ")",
                tuple(job_ids),
            ):
                owners[int(r[0].split(":")[1])] += 1
            by_host = Counter()
            for h in hosts:
                procs = set(h.processes())
                by_host[h.name] = sum(n for pid, n in owners.items() if pid in procs)
            name, n = by_host.most_common(1)[0] if by_host else (None, 0)
            return next((h for h in hosts if h.name == name), None) if n else None

        # -- the kill: the host carrying most of the first long runs --------------------------------------------
        time.sleep(max(0.0, kill_at - time.time()))
        killed = wait_for(lambda: host_of_runs(long_a), timeout=15, what="a host running long jobs")
        killed_names = {
            names[r[0]]
            for r in store.query("SELECT job_id, daemon_id FROM runs WHERE status = 'running'")
            if int(r[1].split(":")[1]) in killed.processes()
        }
        t_kill = time.time()
        killed.kill()
        # -- the freeze: a survivor carrying the second long runs, caught inside a write transaction --------------
        due.update(set_due(store, long_b, first_in=max(0.5, freeze_at - 6 - time.time()), spread=0))
        time.sleep(max(0.0, freeze_at - time.time()))
        frozen = wait_for(
            lambda: (h := host_of_runs(long_b)) is not None and h is not killed and h, timeout=20, what="a host"
        )
        frozen_names = {
            names[r[0]]
            for r in store.query("SELECT job_id, daemon_id FROM runs WHERE status = 'running'")
            if int(r[1].split(":")[1]) in frozen.processes()
        }
        caught = freeze_inside_a_transaction(frozen, store)
        t_freeze = time.time()
        time.sleep(3 * args.lease)
        frozen.thaw()
        t_thaw = time.time()

        # -- settle: every slot due, every retry done ------------------------------------------------------------
        end_by = t0 + args.seconds + 45
        expected = {names[j] for j in due}

        def finished() -> bool:
            ended = {m.job for m in read_marks(marks) if m.what == "end"}
            return expected <= ended

        while time.time() < end_by and not finished():
            time.sleep(0.5)
        time.sleep(2)  # a late double would show now
        all_marks = read_marks(marks)
    finally:
        for h in hosts:
            h.cleanup()

    per_daemon = {
        r[0] or "?": int(r[1]) for r in store.query("SELECT daemon_name, COUNT(*) FROM runs GROUP BY daemon_name")
    }
    starts = [m for m in all_marks if m.what == "start"]
    lateness = []
    for job_id, at in due.items():
        first = [m.at for m in starts if m.job == names[job_id] and m.trigger == "schedule"]
        if first:
            lateness.append(min(first) - at / 1000)
    schedule_starts = Counter((m.job, m.slot_ms) for m in starts if m.trigger == "schedule")
    ends = Counter(m.job for m in all_marks if m.what == "end")
    doubled = sorted({j for (j, _s), n in schedule_starts.items() if n > 1} | {j for j, n in ends.items() if n > 1})
    # Of those, agents that finished on the frozen host the instant it woke: their remaining work ran out while
    # everything was frozen, so they ended before their owner could stop them; the store refused their outcome.
    thawed_ends = sorted(
        j
        for j in doubled
        if any(m.what == "end" and m.trigger == "schedule" and m.at >= t_thaw for m in all_marks if m.job == j)
        and j in frozen_names
    )
    lost = sorted(j for j in (names[x] for x in due) if ends[j] == 0)
    retry_start = defaultdict(list)
    for m in starts:
        if m.trigger == "retry":
            retry_start[m.job].append(m.at)

    def takeover(jobs_of_host: set[str], t: float) -> list[float]:
        return sorted(round(min(retry_start[j]) - t, 1) for j in jobs_of_host if retry_start[j])

    on_time = sum(1 for x in lateness if x <= 1.0)
    report = {
        "slots": len(due),
        "slots_on_time": on_time,
        "slots_on_time_pct": round(100 * on_time / max(1, len(due)), 1),
        "lateness_p50_s": round(statistics.median(lateness), 3) if lateness else None,
        "lateness_max_s": round(max(lateness), 3) if lateness else None,
        "killed_runs": len(killed_names),
        "takeover_after_kill_s": takeover(killed_names, t_kill),
        "frozen_runs": len(frozen_names),
        "frozen_inside_a_transaction": caught,
        "frozen_for_s": round(t_thaw - t_freeze, 1),
        "takeover_after_freeze_s": takeover(frozen_names, t_freeze),
        "takeover_bound_s": args.lease + SWEEP_SECONDS,
        "duplicates": len(doubled),
        "finished_at_thaw": len(thawed_ends),
        "losses": len(lost),
        "lease_s": args.lease,
        "runs_per_daemon": per_daemon,
    }
    for name in doubled:  # what the store says about each (the agents' records are the count)
        rows = store.query(
            "SELECT r.trigger, r.status, r.attempt, r.daemon_name, r.error_message FROM runs r JOIN jobs j"
            " ON j.id = r.job_id WHERE j.name = ? ORDER BY r.created_at",
            (name,),
        )
        marks_of = [(m.what, m.trigger, m.pid, round(m.at - t0, 1)) for m in all_marks if m.job == name]
        print(f"  {name}: store {[tuple(r) for r in rows]}; agents {marks_of}", file=sys.stderr)
    if args.json:
        print(json.dumps({**report, "doubled": doubled, "lost": lost}, indent=2))
    else:
        print(
            f"{report['slots']} slots over {args.seconds}s on 3 daemons (lease {args.lease}s); one SIGKILLed at"
            f" {kill_at - t0:.0f}s carrying {len(killed_names)} run(s), one frozen {report['frozen_for_s']}s at"
            f" {t_freeze - t0:.0f}s carrying {len(frozen_names)} run(s) (inside a transaction: {caught})"
        )
        print(
            f"  slots on time (started within 1 s): {on_time}/{len(due)} ({report['slots_on_time_pct']}%),"
            f" lateness p50 {report['lateness_p50_s']}s, max {report['lateness_max_s']}s"
        )
        print(
            f"  taken over after the kill: {report['takeover_after_kill_s']} s; after the freeze:"
            f" {report['takeover_after_freeze_s']} s (bound: lease + sweep interval = {report['takeover_bound_s']} s)"
        )
        print(
            f"  duplicates: {len(doubled)} (target 0) {doubled[:10]}, of which {len(thawed_ends)} finished as the"
            f" frozen host woke; losses: {len(lost)} (target 0) {lost[:10]}"
        )
        print(f"  runs per daemon (from the store): {dict(sorted(per_daemon.items()))}")
    sys.exit(1 if doubled or lost else 0)


if __name__ == "__main__":
    main()
