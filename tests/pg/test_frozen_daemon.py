"""A frozen daemon delays only its own rows (issue 17, items 1 and 2).

Three real daemons share one PostgreSQL database, each under a host name of its own. The host running a slow job
is frozen with SIGSTOP (its daemon, fork server, owners and agents: a paused VM) at a moment its daemon is inside a
write transaction, for four leases (a lease to lapse, a sweep to see it, the retry to run). Meanwhile slots come due
every second: the two others run every one of them on time, record the frozen host's run ``interrupted`` and run
its retry. When the frozen host wakes, its owner stops the agent of the run taken over and its outcome is refused
(and logged), its daemon renews its lease before it claims again, and the slots due afterwards run once each.
Counted from the agents' own records (tests/pg/cluster.py).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.app import App
from symbi_cron.store.postgres import PgStore

from .cluster import (
    Host,
    freeze_inside_a_transaction,
    mark_command,
    read_marks,
    separate_hosts_possible,
    set_due,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(separate_hosts_possible()), reason=str(separate_hosts_possible())),
]

LEASE_SECONDS = 3
FREEZE_SECONDS = 4 * LEASE_SECONDS
#: A slot due while a daemon is frozen starts this late at most: a row the frozen daemon locked is freed by the
#: server's idle_in_transaction_session_timeout (PgStore), then the next tick claims it.
ON_TIME_SECONDS = 7.0


def test_a_frozen_daemon_delays_nobody_and_its_run_is_taken_over(tmp_path, home, pg_url):
    marks = tmp_path / "marks.log"
    store = PgStore(pg_url)
    app = App(paths=resolve(), store=store, actor="test")
    agent_svc.add_agent(app, {"name": "quick", "command": mark_command(marks), "shell": True})
    # The first attempt outlasts the freeze (the woken owner must stop it); the retry is quick.
    slow_cmd = mark_command(marks, 'if [ "$SYMBI_TRIGGER" = retry ]; then sleep 1; else sleep 60; fi')
    agent_svc.add_agent(app, {"name": "slow", "command": slow_cmd, "shell": True})
    far = "2099-01-01T00:00:00+00:00"

    def jobs(prefix: str, n: int, agent: str = "quick", **extra) -> list[str]:
        return [
            job_svc.create_job(app, {"name": f"{prefix}-{i}", "agent_id": agent, "at": far, **extra})["id"]
            for i in range(n)
        ]

    busy, during, after = jobs("busy", 12), jobs("during", 10), jobs("after", 6)
    (slow,) = jobs("slow", 1, agent="slow", retry_backoff_seconds=0, max_retries=3)
    hosts = [Host(tmp_path / f"host{n}", pg_url, lease_seconds=LEASE_SECONDS) for n in range(3)]
    try:
        for h in hosts:
            h.start()

        set_due(store, [slow], first_in=0.5, spread=0)
        (running,) = wait_for(
            lambda: store.query("SELECT id, daemon_id FROM runs WHERE job_id = ? AND status = 'running'", (slow,)),
            timeout=15,
            what="the slow run",
        )
        wait_for(lambda: any(m.job == "slow-0" for m in read_marks(marks)), what="the slow agent to start")
        owner_pid = int(running["daemon_id"].split(":")[1])
        victim = next(h for h in hosts if owner_pid in h.processes())

        # Slots keep every daemon busy while we wait for the victim's daemon to be inside a transaction.
        set_due(store, busy, first_in=0, spread=4)
        caught = freeze_inside_a_transaction(victim, store)
        t_freeze = time.time()
        due = set_due(store, during, first_in=1, spread=FREEZE_SECONDS - 3)
        names = {j: store.query("SELECT name FROM jobs WHERE id = ?", (j,))[0][0] for j in during}

        def started(job_names) -> dict[str, float]:
            return {m.job: m.at for m in read_marks(marks) if m.what == "start" and m.job in job_names}

        wait_for(
            lambda: len(started(set(names.values()))) == len(during),
            timeout=FREEZE_SECONDS,
            what="every slot due during the freeze to start",
        )
        late = {names[j]: started(set(names.values()))[names[j]] - due[j] / 1000 for j in during}
        assert max(late.values()) <= ON_TIME_SECONDS, f"slots ran late while a daemon was frozen: {late}"

        # Its run is taken over: recorded interrupted, retried by another daemon, while it is still frozen.
        def taken_over():
            rows = store.query(
                "SELECT status, trigger, daemon_id FROM runs WHERE job_id = ? ORDER BY created_at", (slow,)
            )
            return rows if [r["status"] for r in rows] == ["interrupted", "succeeded"] else None

        slow_runs = wait_for(taken_over, timeout=FREEZE_SECONDS, what="the frozen host's run to be taken over")
        taken_after = time.time() - t_freeze
        assert not any(m.job == "slow-0" and m.what == "end" and m.trigger == "schedule" for m in read_marks(marks))
        assert victim.frozen, "the victim must still be frozen when its run is taken over"
        assert int(slow_runs[1]["daemon_id"].split(":")[1]) not in victim.processes()
        remaining = FREEZE_SECONDS - (time.time() - t_freeze)
        if remaining > 0:
            time.sleep(remaining)  # the freeze itself is the point: it lasts three leases
        victim.thaw()

        # Awake: the owner's outcome is refused, the daemon renews its lease before claiming again.
        wait_for(
            lambda: f"run {running['id'][:8]}" in victim.log() and "refused" in victim.log(),
            timeout=15,
            what="the woken owner's refused outcome in its log",
        )
        wait_for(lambda: "lease had lapsed" in victim.log(), timeout=10, what="the woken daemon to renew its lease")
        due_after = set_due(store, after, first_in=1, spread=2)
        wait_for(
            lambda: (
                store.query(
                    "SELECT COUNT(*) FROM runs WHERE status = 'succeeded' AND job_id IN ("
                    + ",".join("?" * len(after))
                    + ")",
                    tuple(after),
                )[0][0]
                == len(after)
            ),
            timeout=20,
            what="the slots due after the thaw",
        )

        # Every slot ran once, from the agents' own records: nothing doubled, nothing lost.
        all_marks = read_marks(marks)
        starts = Counter((m.job, m.trigger) for m in all_marks if m.what == "start")
        expected = {**due, **due_after}
        for job_id in expected:
            name = store.query("SELECT name FROM jobs WHERE id = ?", (job_id,))[0][0]
            assert starts[(name, "schedule")] == 1, (name, starts)
        assert starts[("slow-0", "schedule")] == 1 and starts[("slow-0", "retry")] == 1
        ends = Counter(m.job for m in all_marks if m.what == "end")
        assert ends["slow-0"] == 1, "the frozen host's agent must not finish a run taken over"
        rows = store.query("SELECT job_id, scheduled_for, COUNT(*) FROM runs GROUP BY job_id, scheduled_for")
        assert all(r[2] == 1 for r in rows)
        print(
            f"\nfrozen {FREEZE_SECONDS}s (caught inside a transaction: {caught}); slots during the freeze late by"
            f" at most {max(late.values()):.1f}s; its run taken over after {taken_after:.1f}s (lease"
            f" {LEASE_SECONDS}s)"
        )
    finally:
        for h in hosts:
            h.cleanup()
        store.close()
