"""Three real daemons (``symbi cron daemon start``, each with its own SYMBI_HOME and pidfile, the API off) share
one PostgreSQL database: every due slot runs exactly once, whichever daemon claims it; then the daemon running a
slow job is killed with SIGKILL and the other two take over: its interrupted run is retried once, the slots that
come due afterwards run once, nothing is lost and nothing is doubled.

The host is killed as a whole (``cluster.Host.kill``: every process of it stopped first, then killed), never one
process after another: a daemon that saw its run's owner die before its own turn came would record the run
interrupted and start the retry itself, on the host about to die. The slow job's first attempt outlasts however
long the test takes to kill it (its retry is quick). The daemons share this machine's host name, so the others
must leave the live daemons' owners alone (tests/pg/test_adoption_pg.py) and take over by the lease. On failure
the runs, the leases, the agents' marks and each daemon's log are printed.

Each agent appends ``job slot trigger pid`` to a shared file when it starts, so an agent started twice for one
slot would show even if the store recorded it once. Slots are set to now + a few seconds directly in the store
(``next_run``), and a NOTIFY wakes the daemons, as ``App.changed`` does for the CLI and the API.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

from .cluster import Host, set_due, wait_for

pytestmark = pytest.mark.slow

LEASE_SECONDS = 3


def _marks(path) -> list[tuple[str, str, str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        name, slot, trigger, pid = line.split()
        out.append((name, slot, trigger, int(pid)))
    return out


def _explain(store, hosts: list[Host], marks) -> str:
    """What the store, the agents and the daemons say, printed when the test fails: the leases, the runs that did
    not simply succeed and the slow job's, the audit events other than creations and successes, the agents' marks
    and the tail of each daemon's log."""
    out = []
    for title, sql in (
        ("daemons", "SELECT id, parent, name, lease_until, renewed_at, token FROM daemons ORDER BY started_at"),
        (
            "runs (not succeeded, or the slow job's)",
            "SELECT j.name, r.trigger, r.attempt, r.status, r.scheduled_for, r.started_at, r.finished_at,"
            " r.daemon_id, r.error_message FROM runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.status <> 'succeeded' OR j.name = 'slow' ORDER BY r.created_at",
        ),
        ("the slow job", "SELECT status, next_run, run_count, failure_count FROM jobs WHERE name = 'slow'"),
        (
            "audit",
            "SELECT at, type, actor, job_name, run_id, details FROM audit WHERE type NOT IN"
            " ('AgentRegistered', 'CronJobCreated', 'CronJobExecuted', 'CronJobCompleted') ORDER BY seq",
        ),
    ):
        try:
            rows = store.query(sql)
        except Exception as exc:  # the dump must never hide the failure
            out.append(f"-- {title}: {exc!r}")
            continue
        out.append(f"-- {title}:")
        out.extend(f"   {tuple(r)}" for r in rows)
    out.append("-- agents' marks (job slot trigger pid):")
    out.extend(f"   {line}" for line in (marks.read_text().splitlines() if marks.exists() else []))
    for h in hosts:
        out.append(f"-- {h.name} (daemon pid {h.pid}), the end of daemon.log:")
        out.extend(f"   {line}" for line in h.log().splitlines()[-60:])
    return "\n".join(out)


def test_three_daemons_run_each_slot_once_and_take_over_after_a_kill(tmp_path, home, pg_url):
    marks = tmp_path / "marks.log"
    store = PgStore(pg_url)
    app = App(paths=resolve(), store=store, actor="test")
    mark = f'echo "$SYMBI_JOB_NAME $SYMBI_SCHEDULED_FOR $SYMBI_TRIGGER $$" >> {marks}'
    agent_svc.add_agent(app, {"name": "quick", "command": mark, "shell": True})
    # The first attempt runs until its host is killed, however long that takes; the retry is quick.
    slow_cmd = f'{mark}; if [ "$SYMBI_TRIGGER" = retry ]; then sleep 1; else sleep 600; fi'
    agent_svc.add_agent(app, {"name": "slow", "command": slow_cmd, "shell": True})
    far = "2099-01-01T00:00:00+00:00"
    at_jobs = [job_svc.create_job(app, {"name": f"at-{i}", "agent_id": "quick", "at": far})["id"] for i in range(24)]
    cron_jobs = [
        job_svc.create_job(app, {"name": f"cron-{i}", "agent_id": "quick", "cron_expr": "* * * * *"})["id"]
        for i in range(6)
    ]
    slow = job_svc.create_job(
        app, {"name": "slow", "agent_id": "slow", "at": far, "retry_backoff_seconds": 0, "max_retries": 3}
    )["id"]
    later = [job_svc.create_job(app, {"name": f"later-{i}", "agent_id": "quick", "at": far})["id"] for i in range(10)]

    daemons: list[Host] = []
    try:
        for n in range(3):
            d = Host(tmp_path / f"host{n}", pg_url, lease_seconds=LEASE_SECONDS, separate=False)
            daemons.append(d)
            d.start()
        # (the daemons' leases: a cron job's own minute may come due already, and its owner hold a lease too)
        assert store.query("SELECT COUNT(*) FROM daemons WHERE parent IS NULL")[0][0] == 3

        # -- phase 1: 30 slots due within a few seconds, three daemons racing for them -----------------------------
        t0 = time.monotonic()
        due = set_due(store, at_jobs + cron_jobs, first_in=2, spread=4)

        def all_done() -> bool:
            # These slots, not a count of runs: a cron job's own minute may come due too (before the slots were set,
            # while the daemons started, or meanwhile) and its run would make up for a slot not yet run.
            rows = store.query("SELECT job_id, scheduled_for FROM runs WHERE status = 'succeeded'")
            done = {(r["job_id"], r["scheduled_for"]) for r in rows}
            return all((j, s) in done for j, s in due.items())

        wait_for(all_done, timeout=30, what="every due slot to run")
        phase1 = time.monotonic() - t0
        runs = store.query("SELECT job_id, scheduled_for, status, daemon_id FROM runs")
        per_slot = Counter((r["job_id"], r["scheduled_for"]) for r in runs)
        # (a cron job's next minute may come due meanwhile: it too must have exactly one run)
        assert all((j, s) in per_slot for j, s in due.items()), "a due slot has no run"
        assert set(per_slot.values()) == {1}, "a slot has several runs"
        assert {r["status"] for r in runs} <= {"succeeded", "queued", "running"}
        started = Counter((name, slot) for name, slot, _t, _p in _marks(marks))
        assert len(started) >= len(due) and set(started.values()) == {1}, "an agent started twice for a slot"
        owners = Counter(r["daemon_id"] for r in runs)

        # -- phase 2: kill the daemon running the slow job; the others take over ---------------------------------
        set_due(store, [slow], first_in=0.5, spread=0)
        running = wait_for(
            lambda: store.query("SELECT id, daemon_id FROM runs WHERE job_id = ? AND status = 'running'", (slow,)),
            timeout=15,
            what="the slow run",
        )
        # `running` is recorded just before the agent starts: kill only once the agent has really started, or the
        # retry would be its first start and the "started once, retried once" check below would race.
        wait_for(
            lambda: any(name == "slow" for name, _s, _t, _p in _marks(marks)),
            timeout=15,
            what="the slow agent to start",
        )
        # A whole host dies: its daemon, its fork server, the run's owner and the agent (a daemon alone dying
        # leaves the run to its owner, which finishes it: tests/runtime/test_faults.py), all at once.
        owner_pid = int(running[0]["daemon_id"].split(":")[1])
        victim = next(d for d in daemons if owner_pid in d.processes())
        victim_pids = set(victim.processes())
        victim_daemon_pid = victim.pid
        victim.kill()
        victim_pid = owner_pid
        t_kill = time.monotonic()
        due_later = set_due(store, later, first_in=1, spread=3)

        wait_for(
            lambda: store.query("SELECT 1 FROM runs WHERE job_id = ? AND status = 'interrupted'", (slow,)),
            timeout=LEASE_SECONDS + 10,
            what="the killed daemon's run recorded interrupted",
        )
        detected = time.monotonic() - t_kill

        def taken_over():
            rows = store.query(
                "SELECT status, trigger, daemon_id FROM runs WHERE job_id = ? ORDER BY created_at", (slow,)
            )
            return (
                rows
                if [(r["status"], r["trigger"]) for r in rows] == [("interrupted", "schedule"), ("succeeded", "retry")]
                else None
            )

        slow_runs = wait_for(taken_over, timeout=LEASE_SECONDS + 20, what="the interrupted run's retry")
        takeover = time.monotonic() - t_kill
        assert slow_runs[1]["daemon_id"] != slow_runs[0]["daemon_id"]
        assert int(slow_runs[1]["daemon_id"].split(":")[1]) != victim_pid
        placeholders = ",".join("?" * len(later))
        wait_for(
            lambda: (
                store.query(
                    f"SELECT COUNT(*) FROM runs WHERE job_id IN ({placeholders}) AND status = 'succeeded'",
                    tuple(later),
                )[0][0]
                == len(later)
            ),
            timeout=20,
            what="the slots due after the kill",
        )
        later_runs = store.query(
            f"SELECT job_id, scheduled_for, daemon_id FROM runs WHERE job_id IN ({placeholders})",
            tuple(later),
        )
        assert Counter((r["job_id"], r["scheduled_for"]) for r in later_runs) == Counter(due_later.items())
        assert all(int(r["daemon_id"].split(":")[1]) not in victim_pids for r in later_runs)
        slow_marks = [(t, p) for name, _s, t, p in _marks(marks) if name == "slow"]
        assert [t for t, _p in slow_marks] == ["schedule", "retry"]  # started once, retried once: no double
        job = store.query("SELECT status, failure_count FROM jobs WHERE id = ?", (slow,))[0]
        assert job["status"] == "completed" and job["failure_count"] == 0
        print(
            f"\nphase 1: {len(due)} slots in {phase1:.1f}s over {len(owners)} owner(s) {sorted(owners.values())};"
            f" after SIGKILL: interrupted in {detected:.1f}s, retry done in {takeover:.1f}s (lease {LEASE_SECONDS}s,"
            " the retry sleeps 1 s)"
        )

        # The survivors forget the dead daemon's lease once it lapsed (at their next sweep: every 5 s), then stop
        # cleanly and give their own back.
        wait_for(
            lambda: not store.query("SELECT id FROM daemons WHERE pid = ?", (victim_daemon_pid,)),
            timeout=LEASE_SECONDS + 15,
            what="the killed daemon's lapsed lease to be forgotten",
        )
        for d in daemons:
            if d is not victim:
                d.daemon.symbi("cron", "daemon", "stop", check=True, timeout=30)
        # An owner gives its lease back once its run is recorded and delivered, by itself: the daemon that
        # started it may have stopped already.
        wait_for(lambda: not store.query("SELECT id FROM daemons"), timeout=10, what="every lease given back")
    except BaseException:
        explanation = _explain(store, daemons, marks)
        (tmp_path / "failure.txt").write_text(explanation)
        print(explanation)
        raise
    finally:
        for d in daemons:
            d.cleanup()
        for _name, _s, _t, pid in _marks(marks):  # the killed daemon's orphaned agent (its own process group)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        store.close()
