"""A crash campaign against a real daemon: SIGKILL it at many random moments while it runs a mixed workload, start
it again each time, then count what really executed from the agents' own records (not from the store).

Used by tests/runtime/test_crash_campaign.py (30+ kills) and bench/crash_campaign.py (as many as asked).

The workload, all on one SQLite store: one-shot ``at`` jobs due across the campaign, jobs whose next slot is made
due again and again (as a cron slot would come), manual runs queued at random; agents that sleep 0.2-2.5 s and
append ``start``/``end`` lines (run id, pid, time) to one file; half the jobs deliver to a webhook that records
each request's idempotency key.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from agents.daemon_helper import Daemon, agent_command, wait_for


@dataclass
class Report:
    kills: int
    seconds: float
    runs: int
    starts: int
    started_twice: list[str] = field(default_factory=list)
    overlapping: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    not_ended: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    one_shots: int = 0
    one_shots_not_once: list[str] = field(default_factory=list)
    deliveries_owed: int = 0
    receipts_missing: list[str] = field(default_factory=list)
    webhook_requests: int = 0
    webhook_repeats: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def problems(self) -> dict[str, list[str]]:
        return {
            k: v
            for k, v in {
                "started twice": self.started_twice,
                "overlapping": self.overlapping,
                "lost": self.lost,
                "not ended": self.not_ended,
                "dead-lettered": self.dead_lettered,
                "interrupted": self.interrupted,
                "one-shots not completed once": self.one_shots_not_once,
                "receipts missing": self.receipts_missing,
            }.items()
            if v
        }

    def summary(self) -> str:
        return (
            f"{self.kills} SIGKILLs in {self.seconds:.0f} s; {self.runs} runs ({self.starts} agent starts),"
            f" {self.one_shots} one-shots; started twice {len(self.started_twice)}, overlapping"
            f" {len(self.overlapping)}, lost {len(self.lost)}, dead-lettered {len(self.dead_lettered)}, interrupted"
            f" {len(self.interrupted)}; deliveries owed {self.deliveries_owed}, receipts missing"
            f" {len(self.receipts_missing)}, webhook requests {self.webhook_requests} ({self.webhook_repeats} repeats"
            f" dropped by their idempotency key); statuses {self.statuses}"
        )


def run_campaign(home: Path, marks: Path, hook_url: str, hook_requests, *, kills: int, seed: int) -> Report:
    """Run the campaign; ``hook_requests()`` returns the webhook server's requests so far."""
    rng = random.Random(seed)
    d = Daemon(home, tick_interval_seconds=0.2, max_concurrent_jobs=8, shutdown_timeout_seconds=30)
    try:
        return _campaign(d, marks, hook_url, hook_requests, rng, kills)
    finally:
        d.cleanup()


def _agent(d: Daemon, name: str, marks: Path, seconds: float) -> None:
    d.symbi("agent", "add", name, "--command", agent_command("mark", str(marks), str(seconds)), check=True)


def _campaign(d: Daemon, marks: Path, hook_url: str, hook_requests, rng: random.Random, kills: int) -> Report:
    for name, seconds in (("quick", 0.2), ("mid", 0.8), ("slow", 2.5)):
        _agent(d, name, marks, seconds)
    hook = {"delivery": ["webhook"], "webhook_url": hook_url}
    common = {"max_retries": 3, "retry_backoff_seconds": 1}
    recurring = [
        d.add_job(f"rec-{i}", ("quick", "mid", "slow")[i % 3], cron="0 0 1 1 *", **common, **(hook if i % 2 else {}))
        for i in range(6)
    ]
    manual = d.add_job("manual", "mid", cron="0 0 1 1 *", max_concurrent=3, **common, **hook)
    d.start()
    t0 = time.monotonic()
    window = kills * 1.2 + 5
    one_shots = []
    for i in range(max(12, kills)):
        at = time.time() + 2 + rng.uniform(0, window)
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}+00:00"
        spec = {"name": f"at-{i}", "agent_id": ("quick", "mid", "slow")[i % 3], "at": when, **common}
        if i % 2:
            spec.update(hook)
        one_shots.append(d.symbi("cron", "add", "--json", json.dumps(spec), check=True).stdout.strip())
    done_kills = 0
    while done_kills < kills:
        # Between kills: a recurring job's next slot comes, a manual run is asked for, time passes.
        for _ in range(rng.randint(0, 2)):
            job = rng.choice(recurring)
            row = d.query("SELECT next_run FROM jobs WHERE id = ?", (job,))
            if row and row[0]["next_run"] and row[0]["next_run"] > time.time() * 1000 + 60_000:
                d.make_due(job, in_seconds=rng.uniform(0, 1))
        if rng.random() < 0.5:
            d.symbi("cron", "run", manual)
        time.sleep(rng.uniform(0.05, 1.2))
        pid = d.pid
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                done_kills += 1
            except ProcessLookupError:
                pass
            wait_for(lambda pid=pid: not _alive(pid), what="the killed daemon to exit")
        d.start()
    # Settle: no more kills; everything due comes, runs and is delivered.
    deadline = time.time() + window + 90
    while time.time() < deadline:
        open_runs = d.query("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")[0][0]
        waiting = d.query(
            "SELECT COUNT(*) FROM jobs WHERE status = 'active' AND next_run IS NOT NULL AND next_run < ?",
            (int(time.time() * 1000) + 600_000,),
        )[0][0]
        owed = d.query("SELECT COUNT(*) FROM outbox")[0][0]
        if not open_runs and not waiting and not owed:
            break
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    d.symbi("cron", "daemon", "stop", timeout=60)
    return _count(d, marks, hook_requests, kills, seconds, one_shots)


def _alive(pid: int) -> bool:
    from symbi_cron.processes import pid_alive

    return pid_alive(pid)


def _count(d: Daemon, marks: Path, hook_requests, kills: int, seconds: float, one_shots: list[str]) -> Report:
    runs = {r["id"]: r for r in d.query("SELECT * FROM runs")}
    starts: dict[str, list[tuple[float, int]]] = defaultdict(list)
    ends: dict[str, list[float]] = defaultdict(list)
    for line in marks.read_text().splitlines() if marks.exists() else []:
        kind, run_id, pid, at = line.split()
        (starts if kind == "start" else ends)[run_id].append(
            (float(at), int(pid)) if kind == "start" else float(at)  # type: ignore[arg-type]
        )
    report = Report(kills=kills, seconds=seconds, runs=len(runs), starts=sum(len(v) for v in starts.values()))
    report.statuses = dict(Counter(r["status"] for r in runs.values()))
    report.started_twice = [r for r, v in starts.items() if len(v) > 1]
    report.not_ended = [r for r in starts if not ends.get(r)]
    executed = {"succeeded", "failed", "timed_out", "interrupted"}
    report.lost = [r["id"] for r in runs.values() if r["status"] in executed and r["id"] not in starts]
    report.lost += [r["id"] for r in runs.values() if r["status"] in ("queued", "running")]
    report.interrupted = [r["id"] for r in runs.values() if r["status"] == "interrupted"]
    by_job: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run_id, v in starts.items():
        run = runs.get(run_id)
        if run is not None and ends.get(run_id):
            by_job[run["job_id"]].append((v[0][0], ends[run_id][0]))
    limits = {j["id"]: json.loads(j["spec"]).get("max_concurrent", 1) for j in d.query("SELECT id, spec FROM jobs")}
    for job_id, spans in by_job.items():
        spans.sort()
        for i, (s, _e) in enumerate(spans):
            at_once = sum(1 for s2, e2 in spans[: i + 1] if e2 > s)
            if at_once > limits.get(job_id, 1):
                report.overlapping.append(job_id)
                break
    report.dead_lettered = [j["name"] for j in d.query("SELECT name FROM jobs WHERE status = 'dead_letter'")]
    report.one_shots = len(one_shots)
    for job_id in one_shots:
        job_runs = [r for r in runs.values() if r["job_id"] == job_id]
        ran = [r for r in job_runs if r["id"] in starts]
        status = d.query("SELECT status FROM jobs WHERE id = ?", (job_id,))[0]["status"]
        if status != "completed" or len(ran) != 1 or [r["status"] for r in ran] != ["succeeded"]:
            report.one_shots_not_once.append(f"{job_id[:8]}:{status}:{[r['status'] for r in job_runs]}")
    hooked = {
        j["id"] for j in d.query("SELECT id, spec FROM jobs") if "webhook" in json.loads(j["spec"]).get("delivery", [])
    }
    receipts = {r["run_id"] for r in d.query("SELECT run_id FROM deliveries WHERE channel = 'webhook' AND ok = 1")}
    finished = [r for r in runs.values() if r["job_id"] in hooked and r["status"] in executed]
    report.deliveries_owed = len(finished)
    report.receipts_missing = [r["id"] for r in finished if r["id"] not in receipts]
    keys = [req.header("Idempotency-Key") for req in hook_requests()]
    report.webhook_requests = len(keys)
    report.webhook_repeats = len(keys) - len(set(keys))
    missing_sends = [r["id"] for r in finished if r["id"] not in set(keys)]
    report.receipts_missing += [f"never sent:{r}" for r in missing_sends]
    return report
