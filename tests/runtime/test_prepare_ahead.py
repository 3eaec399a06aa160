"""Runs prepared ahead of their time (``scheduler.prepare_ahead_seconds``): claimed, begun and handed to their owner
before their slot, started at the slot, never before; a pause in that last moment still stops the run, and a stop
puts it back in the queue unstarted."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from agents.daemon_helper import Daemon, wait_for

from symbi_cron.services import jobs as job_svc

from .conftest import T0

SLOT = T0 + timedelta(minutes=1)  # the first slot of a `* * * * *` job created at T0


def _starts(path) -> list[list[str]]:
    try:
        return [line.split() for line in path.read_text().splitlines() if line.startswith("start ")]
    except FileNotFoundError:
        return []


def _prepared(rt, clock, settings, marks) -> tuple[dict, object]:
    """A `* * * * *` job whose agent marks its start in ``marks``, ticked half a second before its first slot
    with one second of preparation: its run is begun and waits. Returns the job and the supervisor."""
    settings.scheduler.prepare_ahead_seconds = 1
    rt.agent("a", "mark", str(marks))
    job = rt.job()
    sup = rt.supervisor()
    clock.advance(59.5)  # half a second before the slot
    sup.tick()
    assert rt.runs(job["id"])[0]["status"] == "running"
    return job, sup


def _daemon_with_a_job_due(tmp_path, *, ahead: float, in_seconds: float, sleep: str | None = None):
    """A real daemon preparing runs ``ahead`` seconds early, with a job whose agent marks its start in the returned
    marks file (and sleeps ``sleep`` seconds), due at the whole second ``in_seconds`` from now. Returns the
    daemon, the marks file, the job id and the slot (epoch ms); the caller cleans the daemon up."""
    d = Daemon(tmp_path / "home", prepare_ahead_seconds=ahead)
    marks = tmp_path / "marks"
    d.add_agent("m", "mark", str(marks), *([sleep] if sleep else []))
    job = d.add_job("j", "m")
    d.start()
    slot_ms = d.make_due(job, in_seconds=in_seconds)
    return d, marks, job, slot_ms


def test_a_run_due_within_the_window_is_begun_ahead_and_its_agent_starts_at_its_time(rt, clock, settings, tmp_path):
    marks = tmp_path / "marks"
    job, sup = _prepared(rt, clock, settings, marks)
    run = rt.runs(job["id"])[0]
    assert run["scheduled_for"] == SLOT and run["started_at"] == SLOT  # recorded as starting at its slot
    assert rt.get_job(job["id"])["next_run"] == SLOT + timedelta(minutes=1)  # the slot is claimed
    assert not sup.wait_idle(0.6)  # its owner waits for the slot ...
    assert _starts(marks) == []  # ... and the agent has not started
    clock.advance(0.5)
    assert sup.wait_idle(30)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "succeeded"
    assert len(_starts(marks)) == 1


def test_a_job_paused_before_the_slot_of_its_prepared_run_does_not_run_it(rt, clock, settings, tmp_path):
    marks = tmp_path / "marks"
    job, sup = _prepared(rt, clock, settings, marks)
    job_svc.pause_job(rt.app, job["id"])
    clock.advance(0.5)
    assert sup.wait_idle(30)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "cancelled"
    assert run["error_message"] == "job is paused: the run was not started"
    assert _starts(marks) == []
    # Recorded like a queued run cancelled by a pause: it never started, ended at its slot, owes no delivery and
    # is not counted as a run of the job.
    assert (run["started_at"], run["finished_at"]) == (None, SLOT)
    assert rt.app.store.query("SELECT * FROM outbox WHERE run_id = ?", (run["id"],)) == []
    assert rt.get_job(job["id"])["run_count"] == 0


@pytest.mark.parametrize("why", ["workdir", "agent"])
def test_a_prepared_run_whose_agent_cannot_start_fails_at_its_slot_not_before(rt, clock, settings, tmp_path, why):
    """A run that is bound to fail (its agent's workdir is missing, its agent was removed with --force) is still
    recorded at its slot: never ended before it started, its retry counted from its slot."""
    from symbi_cron.services import agents as agent_svc

    settings.scheduler.prepare_ahead_seconds = 1
    rt.agent("a", "mark", str(tmp_path / "marks"), workdir=str(tmp_path / "missing"))
    job = rt.job(delivery=["log_file"])
    if why == "agent":
        agent_svc.remove_agent(rt.app, "a", force=True)
    sup = rt.supervisor()
    clock.advance(59.5)
    sup.tick()
    assert not sup.wait_idle(0.6)  # it waits for its slot like any prepared run
    assert rt.runs(job["id"])[0]["status"] == "running"
    clock.advance(0.5)
    assert sup.wait_idle(30)
    run = next(r for r in rt.runs(job["id"]) if r["trigger"] == "schedule")
    assert run["status"] == "failed"
    assert run["started_at"] == SLOT and run["finished_at"] >= SLOT, (run["started_at"], run["finished_at"])


def test_an_owner_stopped_before_the_slot_puts_its_run_back_in_the_queue_unstarted(rt, clock, settings, tmp_path):
    marks = tmp_path / "marks"
    job, sup = _prepared(rt, clock, settings, marks)
    sup.cancel.set()  # the drain's signal to the owners
    assert sup.wait_idle(30)
    run = rt.runs(job["id"])[0]
    assert (run["status"], run["started_at"], run["daemon_id"]) == ("queued", None, None)
    assert _starts(marks) == []
    # The next daemon starts it (once), at or after its slot.
    sup.cancel.clear()
    rt.cycle(sup, 0.5)
    runs = rt.runs(job["id"])
    assert [r["status"] for r in runs] == ["succeeded"]
    assert len(_starts(marks)) == 1


def test_a_burst_prepared_by_a_real_daemon_starts_on_the_second_never_before_and_once(tmp_path):
    """Twenty one-shot jobs due at the same whole second: each agent's own clock says it started at or after the
    slot, within a second of it, and exactly once; the daemon log says they were prepared ahead."""
    d = Daemon(tmp_path / "home", max_concurrent_jobs=20)
    marks = tmp_path / "marks"
    d.add_agent("m", "mark", str(marks))
    ids = [d.add_job(f"j{i}", "m") for i in range(20)]
    d.start()
    try:
        slot_ms = int((time.time() + 3) * 1000)
        slot_ms -= slot_ms % 1000
        conn = d.db()
        try:  # one transaction: all twenty due at the same slot
            conn.executemany("UPDATE jobs SET next_run = ? WHERE id = ?", [(slot_ms, i) for i in ids])
            conn.commit()
        finally:
            conn.close()
        d.symbi("cron", "daemon", "reload")
        done = "SELECT COUNT(*) FROM runs WHERE status = 'succeeded'"
        wait_for(lambda: d.query(done)[0][0] >= 20, timeout=30, what="the twenty runs")
        starts = _starts(marks)
        assert len(starts) == 20 and len({s[1] for s in starts}) == 20  # each run started once
        delays = sorted(float(s[3]) - slot_ms / 1000 for s in starts)
        assert delays[0] >= 0, f"an agent started {-delays[0]:.3f}s before its slot"
        assert delays[-1] < 1.0, delays
        assert "prepared to start at" in d.log()
    finally:
        d.cleanup()


def test_a_daemon_stopped_while_runs_wait_for_their_slot_leaves_them_queued_and_the_next_runs_them(tmp_path):
    d, marks, job, slot_ms = _daemon_with_a_job_due(tmp_path, ahead=5, in_seconds=4)
    try:
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["running"], timeout=10, what="the prepared run")
        d.symbi("cron", "daemon", "stop", check=True)
        run = d.runs(job)[0]
        assert (run["status"], run["started_at"], run["daemon_id"]) == ("queued", None, None)
        assert "go back to the queue" in d.log()
        assert "Traceback" not in d.log()  # a stop is no error (the fork server forking as the daemon leaves)
        d.start()
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], timeout=20, what="the run, once")
        starts = _starts(marks)
        assert len(starts) == 1
        assert float(starts[0][3]) >= slot_ms / 1000
    finally:
        d.cleanup()


def test_a_prepared_run_cancelled_or_whose_owner_dies_before_its_slot_is_not_a_failure(tmp_path):
    """Through a real daemon: `symbi cron cancel` of a run waiting for its slot records it cancelled, never started,
    owing nothing; an owner killed before the slot leaves its run queued again, unstarted (its agent never ran: no
    failure, no retry), and it then runs at its slot, once."""
    import os
    import signal

    d = Daemon(tmp_path / "home", prepare_ahead_seconds=6)
    marks = tmp_path / "marks"
    d.add_agent("m", "mark", str(marks))
    cancelled, killed = d.add_job("cancelled", "m"), d.add_job("killed", "m")
    d.start()
    try:
        slot_ms = int((time.time() + 5) * 1000)  # room for a busy machine to prepare both, then cancel and kill
        slot_ms -= slot_ms % 1000
        conn = d.db()
        try:
            conn.executemany("UPDATE jobs SET next_run = ? WHERE id = ?", [(slot_ms, cancelled), (slot_ms, killed)])
            conn.commit()
        finally:
            conn.close()
        d.symbi("cron", "daemon", "reload", check=True)
        both = "SELECT COUNT(*) FROM runs WHERE status = 'running'"
        wait_for(lambda: d.query(both)[0][0] == 2, timeout=10, what="the two prepared runs")
        d.symbi("cron", "cancel", d.runs(cancelled)[0]["id"], check=True)
        os.kill(int(d.runs(killed)[0]["daemon_id"].split(":")[1]), signal.SIGKILL)
        assert time.time() * 1000 < slot_ms - 500, "too slow to test the moment before the slot"
        wait_for(lambda: [r["status"] for r in d.runs(killed)] == ["succeeded"], timeout=20, what="the killed one")
        assert time.time() * 1000 >= slot_ms
        [c] = d.runs(cancelled)
        assert (c["status"], c["started_at"]) == ("cancelled", None)
        assert c["finished_at"] < slot_ms and d.query("SELECT * FROM outbox WHERE run_id = ?", (c["id"],)) == []
        [k] = d.runs(killed)
        # At its slot when the daemon saw the death before it; a daemon too busy to see it by then begins it again
        # after the slot (its owner's mark says the agent was never released), started when it really started.
        assert k["started_at"] >= slot_ms and k["finished_at"] >= k["started_at"]
        job = d.query("SELECT failure_count, run_count FROM jobs WHERE id = ?", (killed,))[0]
        assert (job["failure_count"], job["run_count"]) == (0, 1)
        starts = _starts(marks)
        assert [s[1] for s in starts] == [k["id"]] and float(starts[0][3]) >= slot_ms / 1000
        assert "its owner is gone (dead, or its lease lapsed)" in d.log() and "queued again, unstarted" in d.log()
    finally:
        d.cleanup()


def test_an_owner_that_gets_a_prepared_run_after_its_slot_still_checks_its_job(rt, clock, settings, tmp_path):
    """However late the owner takes the run (a busy machine), a run begun before its slot is not started when its
    job was paused in between."""
    from symbi_cron.runtime.owner import RunOwner
    from symbi_cron.services.start import begin_run
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    marks = tmp_path / "marks"
    rt.agent("a", "mark", str(marks))
    job = rt.job()
    from symbi_cron.services.runs import queue_manual

    run = queue_manual(rt.app, job["id"])
    run_id = run["id"]
    with rt.app.store.write() as tx:
        begun = begin_run(
            tx,
            run_id,
            now_ms=to_ms(clock.now()),
            daemon_id="owner:1:late:host:-",
            gate=lambda j, a: None,
            start_ms=to_ms(clock.now()) + 500,
        )
        # A manual run is not stopped by a pause; a scheduled one is: make it one.
        tx.execute("UPDATE runs SET trigger = 'schedule', scheduled_for = ? WHERE id = ?", (to_ms(SLOT), run_id))
    assert begun is not None
    job_svc.pause_job(rt.app, job["id"])
    clock.advance(1)  # the slot has passed when the owner gets the run
    RunOwner(rt.app, "owner:1:late:host:-").carry(run_id)
    run = run_rows.get(rt.app.store.connection(), run_id)
    assert (run["status"], run["error_message"]) == ("cancelled", "job is paused: the run was not started")
    assert _starts(marks) == []


def test_an_owner_whose_prepared_run_was_taken_over_before_its_slot_does_not_start_it(rt, clock, tmp_path):
    """An owner frozen while it waits for the slot (its lease lapsed on a shared store, another daemon recorded the
    run and queued its retry) looks at the run again at its time: it is no longer its own, so it starts nothing (the
    slot runs once, as the retry)."""
    from symbi_cron.runtime.owner import RunOwner
    from symbi_cron.services.record import finish_run
    from symbi_cron.services.runs import queue_manual
    from symbi_cron.services.start import begin_run
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    marks = tmp_path / "marks"
    rt.agent("a", "mark", str(marks))
    job = rt.job()
    run_id = queue_manual(rt.app, job["id"])["id"]
    owner = "owner:1:frozen:host:-"
    with rt.app.store.write() as tx:
        begun = begin_run(
            tx,
            run_id,
            now_ms=to_ms(clock.now()),
            daemon_id=owner,
            gate=lambda j, a: None,
            start_ms=to_ms(clock.now()) + 500,
        )
    assert begun is not None
    with rt.app.store.write() as tx:  # another daemon judged the owner dead
        finish_run(tx, run_id, status="interrupted", now_ms=to_ms(clock.now()), error_message="taken over")
    clock.advance(1)
    assert RunOwner(rt.app, owner).carry(run_id, begun) is None
    assert _starts(marks) == []
    run = run_rows.get(rt.app.store.connection(), run_id)
    assert (run["status"], run["error_message"]) == ("interrupted", "taken over")


def test_a_retry_due_just_after_the_next_slot_still_gives_its_place_to_that_slot(rt, clock, settings):
    """A minutely job whose run fails at once, with a backoff of a minute: its retry falls due just after the next
    slot. Prepared ahead, it must not take that slot's place: the new slot replaces a retry still waiting for its
    backoff (docs/operations.md, "Limits"), as without preparation."""
    settings.scheduler.prepare_ahead_seconds = 1
    rt.agent("a", "fail", "3")
    job = rt.job(max_concurrent=1, max_retries=3, retry_backoff_seconds=60)
    sup = rt.supervisor()
    rt.cycle(sup, 60.1)  # the first slot, late by 0.1 s: it fails, its retry is due at the next slot + 0.1 s
    [retry] = [r for r in rt.runs(job["id"]) if r["trigger"] == "retry"]
    assert retry["not_before"] == SLOT + timedelta(seconds=60.1)
    clock.advance(59.4)  # half a second before the next slot: the retry is within the window
    sup.tick()
    clock.advance(0.5)  # the slot
    sup.tick()
    clock.advance(0.5)
    assert sup.wait_idle(30)
    rt.cycle(sup)
    runs = {r["id"]: r for r in rt.runs(job["id"])}
    assert runs[retry["id"]]["status"] == "cancelled", runs[retry["id"]]
    assert "superseded by the slot" in runs[retry["id"]]["error_message"]
    slot2 = [
        r for r in runs.values() if r["scheduled_for"] == SLOT + timedelta(minutes=1) and r["trigger"] == "schedule"
    ]
    assert [r["status"] for r in slot2] == ["failed"]


def test_a_job_with_no_free_place_is_claimed_at_its_slot_not_ahead_so_a_run_ending_meanwhile_costs_no_slot(
    rt, clock, settings, tmp_path
):
    from symbi_cron.services.runs import queue_manual

    settings.scheduler.prepare_ahead_seconds = 1
    marks = tmp_path / "marks"
    rt.agent("a", "mark", str(marks))
    job = rt.job(max_concurrent=1)
    sup = rt.supervisor()
    clock.advance(59.5)
    queue_manual(rt.app, job["id"])  # takes the job's only place half a second before its slot
    sup.tick()
    assert [r["trigger"] for r in rt.runs(job["id"])] == ["manual"]  # the slot is left for its time
    assert rt.get_job(job["id"])["next_run"] == SLOT
    assert sup.wait_idle(30)  # the manual run ends before the slot
    rt.cycle(sup, 0.5)
    runs = rt.runs(job["id"])
    assert sorted((r["trigger"], r["status"]) for r in runs) == [("manual", "succeeded"), ("schedule", "succeeded")]


def test_a_stand_down_reaches_only_an_owner_whose_agent_has_not_started(tmp_path):
    """A stopping daemon tells the owners of runs waiting for their slot to stand down (SIGUSR2); an owner whose
    agent started in the meantime ignores it: the run goes on and succeeds."""
    import os
    import signal

    d, marks, job, _slot = _daemon_with_a_job_due(tmp_path, ahead=3, in_seconds=2, sleep="1.5")
    try:
        wait_for(lambda: _starts(marks), timeout=15, what="the agent's start")
        (run,) = d.runs(job)
        os.kill(int(run["daemon_id"].split(":")[1]), signal.SIGUSR2)
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], timeout=15, what="the run's success")
        assert len(_starts(marks)) == 1
    finally:
        d.cleanup()


def test_a_flag_takes_a_stand_down_only_while_its_run_waits():
    from symbi_cron.runtime.owner import Flag

    flag = Flag()
    flag.stand_down()
    assert not flag.is_set()  # no run waiting: nothing to stand down
    flag.waiting = True
    flag.stand_down()
    assert flag.is_set() and flag.reason == "stand_down"


def test_an_owner_frozen_across_the_slot_records_when_its_agent_really_started(tmp_path):
    import os
    import signal

    d, marks, job, slot_ms = _daemon_with_a_job_due(tmp_path, ahead=3, in_seconds=2)
    try:
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["running"], timeout=10, what="the prepared run")
        owner = int(d.runs(job)[0]["daemon_id"].split(":")[1])
        os.kill(owner, signal.SIGSTOP)
        try:
            wait_for(lambda: time.time() * 1000 > slot_ms + 2000, timeout=10, what="two seconds past the slot")
        finally:
            os.kill(owner, signal.SIGCONT)
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], timeout=15, what="the run's success")
        (start,) = _starts(marks)
        (run,) = d.runs(job)
        assert run["started_at"] >= slot_ms + 1500, (run["started_at"], slot_ms)  # not the slot it waited for
        assert abs(run["started_at"] / 1000 - float(start[3])) < 0.5  # the agent's own clock agrees
    finally:
        d.cleanup()


def _held_by(owner_pid: int) -> list[int]:
    """The stopped children of ``owner_pid`` (the agent it holds, not yet released)."""
    from pathlib import Path

    held = []
    for task in Path(f"/proc/{owner_pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in children:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
                    held.append(int(pid))
            except OSError:
                pass
    return held


def test_an_owner_that_died_holding_its_agent_leaves_its_run_queued_even_when_recovered_after_the_slot(tmp_path):
    """The daemon and then the owner holding a prepared run's agent are SIGKILLed before the slot; the next daemon
    starts only after the slot. The agent never ran (the kernel ended the held shell): the run is queued again,
    unstarted, and runs once -- not recorded interrupted (a failure, retried later) because its time has passed."""
    import os
    import signal

    from symbi_cron.processes import pid_alive

    d, marks, job, slot_ms = _daemon_with_a_job_due(tmp_path, ahead=3, in_seconds=3)
    try:
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["running"], timeout=10, what="the prepared run")
        owner = int(d.runs(job)[0]["daemon_id"].split(":")[1])
        [held] = wait_for(lambda: _held_by(owner), timeout=10, what="the held agent")
        d.kill9()
        os.kill(owner, signal.SIGKILL)
        wait_for(lambda: not pid_alive(held), timeout=5, what="the held agent to die with its owner")
        assert time.time() * 1000 < slot_ms, "too slow to kill the owner before the slot"
        wait_for(lambda: time.time() * 1000 >= slot_ms + 200, timeout=5, what="the slot")
        d.start()
        wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], timeout=20, what="the run, once")
        starts = _starts(marks)
        assert len(starts) == 1 and float(starts[0][3]) >= slot_ms / 1000
        row = d.query("SELECT failure_count, run_count FROM jobs WHERE id = ?", (job,))[0]
        assert (row["failure_count"], row["run_count"]) == (0, 1)
        assert "while it held the run's agent, unreleased: queued again, unstarted" in d.log()
        assert not list((d.home / "logs" / "runs").glob("*.held"))
    finally:
        d.cleanup()


def test_removing_a_job_whose_run_waits_for_its_slot_says_so_and_a_pause_lets_it_go(rt, clock, settings, tmp_path):
    from symbi_cron.errors import InvalidState

    job, sup = _prepared(rt, clock, settings, tmp_path / "marks")
    with pytest.raises(InvalidState, match="has a run prepared to start at .* \\(not started yet\\); pause the job"):
        job_svc.delete_job(rt.app, job["id"])
    job_svc.pause_job(rt.app, job["id"])
    clock.advance(0.5)
    assert sup.wait_idle(30)
    assert rt.runs(job["id"])[0]["status"] == "cancelled"
    job_svc.delete_job(rt.app, job["id"])
    assert _starts(tmp_path / "marks") == []
