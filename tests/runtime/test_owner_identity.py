"""A run's owner is a process, not a pid: a reused pid (after a reboot, or by chance) must not keep a dead daemon's
run `running` forever, with every later slot of its job `skipped`."""

from __future__ import annotations

import os
import subprocess
import sys

from symbi_cron import processes
from symbi_cron.processes import process_identity
from symbi_cron.services.claim import Limits, claim_job


def test_process_identity_names_a_process_not_a_pid():
    me = process_identity(os.getpid())
    assert me is not None and me == process_identity(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        other = process_identity(child.pid)
        assert other is not None and other != me
    finally:
        child.kill()
        child.wait()
    assert process_identity(child.pid) is None


def test_an_owner_whose_pid_now_belongs_to_another_process_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ident = process_identity(child.pid)
        alive = f"daemon:{child.pid}:abcd1234:{processes.host_name()}:{ident}"
        reused = f"daemon:{child.pid}:abcd1234:{processes.host_name()}:{ident.split('.')[0]}.1"
        legacy = f"daemon:{child.pid}:abcd1234:{processes.host_name()}"  # ids written before identities
        assert processes.owner_alive(alive, "daemon:me") is True
        assert processes.owner_alive(reused, "daemon:me") is False
        assert processes.owner_alive(legacy, "daemon:me") is True
    finally:
        child.kill()
        child.wait()


def test_our_own_ids_carry_the_identity():
    oid = processes.owner_id("daemon")
    kind, pid, _rand, host, ident = oid.split(":")
    assert (kind, int(pid), host) == ("daemon", os.getpid(), processes.host_name())
    assert ident == process_identity(os.getpid())


def test_recovery_interrupts_a_run_whose_owner_pid_was_reused(rt, clock):
    from symbi_cron.store import jobs as job_rows
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    rt.agent("a", "echo")
    job = rt.job(retry_backoff_seconds=5)
    clock.advance(60)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stale_owner = f"daemon:{child.pid}:dead0000:{processes.host_name()}:0000.1"  # a live pid, not that process
        with rt.app.store.write() as tx:
            claim_job(
                tx,
                job_rows.get(tx, job["id"]),
                now_ms=to_ms(clock.now()),
                daemon_id=stale_owner,
                rng=__import__("random").Random(1),
                limits=Limits(),
            )
            run = rt.runs(job["id"])[0]
            run_rows.update(
                tx,
                run["id"],
                now_ms=to_ms(clock.now()),
                status="running",
                started_at=to_ms(clock.now()),
                daemon_id=stale_owner,
            )
        assert rt.supervisor().recover() == [run["id"]]
        assert {r["id"]: r["status"] for r in rt.runs(job["id"])}[run["id"]] == "interrupted"
    finally:
        child.kill()
        child.wait()


def test_an_owner_known_to_be_exiting_is_waited_for_not_reported_as_outliving_its_kill():
    """The daemon reads an owner's end of file while the killed owner is still exiting (its files are closed before
    it is gone): the recovery waits for it (a live owner is never killed otherwise), and then finds its session
    empty, instead of deferring the run's recovery to a later sweep (past the slot of a prepared run, which was then
    recorded interrupted instead of queued again, unstarted)."""
    owner = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True, stdout=subprocess.DEVNULL
    )
    try:
        ident = process_identity(owner.pid)
        assert processes.kill_session(owner.pid, ident, timeout=0.2) == [owner.pid]  # a live owner is left alone
        assert processes.pid_alive(owner.pid)
        # As the pool thread sees it: not reaped yet (its parent has not waited), so it exits meanwhile.
        assert processes.kill_session(owner.pid, ident, timeout=5, exiting=True) == []
        assert not processes.pid_alive(owner.pid)
    finally:
        owner.kill()
        owner.wait()
