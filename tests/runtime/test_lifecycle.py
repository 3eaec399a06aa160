"""The run lifecycle (SPEC §5) on a FakeClock with real agents and a real store: exactly-once claims, catch-up,
concurrency limits, jitter, retries, dead-letter, reset, one-shots, missing agents."""

from __future__ import annotations

from datetime import timedelta

from symbi_cron.services import jobs as job_svc
from symbi_cron.services.claim import Limits, claim_job
from symbi_cron.store import jobs as job_rows
from symbi_cron.timeutil import to_ms

from .conftest import T0


def test_slot_runs_once_and_next_run_advances(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(input="hello")
    assert job["next_run"] == T0 + timedelta(minutes=1)
    sup = rt.supervisor()
    rt.cycle(sup)  # nothing due yet
    assert rt.runs(job["id"]) == []
    rt.cycle(sup, 60)
    runs = rt.runs(job["id"])
    assert [(r["status"], r["trigger"], r["scheduled_for"]) for r in runs] == [
        ("succeeded", "schedule", T0 + timedelta(minutes=1))
    ]
    assert runs[0]["output"] == "hello"
    assert runs[0]["exit_code"] == 0
    j = rt.get_job(job["id"])
    assert j["next_run"] == T0 + timedelta(minutes=2)
    assert (j["run_count"], j["failure_count"]) == (1, 0)
    rt.cycle(sup)  # the same instant again: nothing more
    assert len(rt.runs(job["id"])) == 1
    assert len(rt.events("CronJobExecuted")) == 1


def test_claim_of_a_claimed_slot_is_a_no_op(rt, clock):
    """A process that claimed a slot then died before advancing next_run cannot make it run twice."""
    rt.agent("a", "echo")
    job = rt.job()
    clock.advance(60)
    slot = to_ms(T0 + timedelta(minutes=1))
    with rt.app.store.write() as tx:
        res = claim_job(
            tx,
            job_rows.get(tx, job["id"]),
            now_ms=to_ms(clock.now()),
            daemon_id="d:1:x",
            rng=__import__("random").Random(1),
            limits=Limits(),
        )
        assert len(res.queued) == 1
        # Simulate the crash window: next_run put back as if the advance had not happened.
        job_rows.set_state(tx, job["id"], now_ms=slot, next_run=slot)
    with rt.app.store.write() as tx:
        res = claim_job(
            tx,
            job_rows.get(tx, job["id"]),
            now_ms=to_ms(clock.now()),
            daemon_id="d:2:y",
            rng=__import__("random").Random(1),
            limits=Limits(),
        )
        assert res.queued == []
    assert len(rt.runs(job["id"])) == 1


def test_catchup_once_records_missed_and_runs_once(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron="*/10 * * * *")
    sup = rt.supervisor()
    clock.advance(3600 + 5 * 60)  # down for an hour: slots 12:10 ... 13:00 missed, now 13:05
    rt.cycle(sup)
    runs = rt.runs(job["id"])
    missed = [r for r in runs if r["status"] == "missed"]
    assert [r["scheduled_for"] for r in missed] == [T0 + timedelta(minutes=m) for m in (10, 20, 30, 40, 50, 60)]
    catchup = [r for r in runs if r["trigger"] == "catchup"]
    assert len(catchup) == 1 and catchup[0]["status"] == "succeeded"
    assert catchup[0]["detail"]["catchup"]["missed"] == 6
    assert rt.get_job(job["id"])["next_run"] == T0 + timedelta(minutes=70)


def test_catchup_skip_records_missed_only(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron="*/10 * * * *", catchup="skip")
    sup = rt.supervisor()
    clock.advance(3600 + 5 * 60)
    rt.cycle(sup)
    runs = rt.runs(job["id"])
    assert {r["status"] for r in runs} == {"missed"} and len(runs) == 6


def test_missed_records_are_bounded(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron="* * * * *", catchup="skip")
    sup = rt.supervisor()
    sup.limits.max_missed = 50
    clock.advance(86400 * 30)  # a month of minutes
    rt.cycle(sup)
    runs = rt.runs(job["id"])
    # now is exactly a slot: it runs on time; of the 43,199 missed before it, the last 50 are recorded.
    assert [r["status"] for r in runs] == ["missed"] * 50 + ["succeeded"]
    assert runs[-2]["scheduled_for"] == clock.now() - timedelta(minutes=1)
    assert runs[0]["scheduled_for"] == clock.now() - timedelta(minutes=50)
    assert rt.get_job(job["id"])["next_run"] == clock.now() + timedelta(minutes=1)


def test_a_slightly_late_slot_is_not_missed(rt, clock):
    rt.agent("a", "echo")
    job = rt.job()
    sup = rt.supervisor()
    rt.cycle(sup, 60 + 20)  # 20 s late (busy machine): still the scheduled run
    runs = rt.runs(job["id"])
    assert [(r["status"], r["trigger"]) for r in runs] == [("succeeded", "schedule")]


def test_max_concurrent_gives_skipped(rt, clock):
    rt.agent("a", "sleep", "3")
    job = rt.job()
    sup = rt.supervisor()
    clock.advance(60)
    sup.tick()
    clock.advance(60)
    sup.tick()  # the first run still sleeps
    assert sup.wait_idle(30)
    runs = rt.runs(job["id"])
    assert [r["status"] for r in runs] == ["succeeded", "skipped"]
    assert runs[1]["error_message"] == "job at its max_concurrent limit of 1 (1 running)"


def test_a_new_slot_supersedes_a_retry_still_waiting_for_its_backoff(rt, clock):
    """A retry waiting out its backoff does not take the job's place from the next slot: the slot runs, and the
    retry is cancelled with the reason in history."""
    rt.agent("a", "fail")
    job = rt.job(retry_backoff_seconds=600, max_retries=5)
    sup = rt.supervisor()
    rt.cycle(sup, 60)  # the 12:01 slot fails; its retry waits 10 minutes
    rt.agent("a", "echo")
    rt.cycle(sup, 60)  # the 12:02 slot comes while the retry waits
    runs = rt.runs(job["id"])
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("schedule", "failed"),
        ("retry", "cancelled"),
        ("schedule", "succeeded"),
    ]
    retry = runs[1]
    assert retry["error_message"] == (
        "superseded by the slot of 2026-11-27T12:02:00+00:00: a new slot replaces a retry still waiting for its backoff"
    )
    assert retry["detail"]["superseded_by_slot"] == "2026-11-27T12:02:00+00:00"
    assert rt.get_job(job["id"])["failure_count"] == 0  # the slot's success resets the count


def test_a_slot_still_skipped_behind_a_running_run_says_so(rt, clock):
    rt.agent("a", "sleep", "1")
    job = rt.job()
    sup = rt.supervisor()
    clock.advance(60)
    sup.tick()  # the 12:01 run is running
    clock.advance(60)
    sup.tick()  # 12:02: the job is at its limit with a run in flight (not a waiting retry): skipped
    assert sup.wait_idle(30)
    skipped = [r for r in rt.runs(job["id"]) if r["status"] == "skipped"]
    assert skipped and skipped[0]["error_message"] == "job at its max_concurrent limit of 1 (1 running)"


def test_global_limit_queues_in_order(rt, clock, settings):
    settings.scheduler.max_concurrent_jobs = 1
    rt.agent("a", "sleep", "0.3")
    jobs = [rt.job(f"j{i}") for i in range(3)]
    sup = rt.supervisor()
    clock.advance(60)
    sup.tick()
    assert sup.in_flight() == 1
    assert rt.app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'queued'")[0][0] == 2
    order = []
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sup.tick()
        rows = rt.app.store.query(
            "SELECT job_id FROM runs WHERE status IN ('running', 'succeeded') ORDER BY started_at, rowid"
        )
        order = [r[0] for r in rows]
        if len(rt.app.store.query("SELECT 1 FROM runs WHERE status = 'succeeded'")) == 3:
            break
        assert sup.in_flight() <= 1
        time.sleep(0.05)
    assert sorted(order) == sorted(j["id"] for j in jobs)
    assert rt.app.store.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'")[0][0] == 3


def test_jitter_delays_start_but_keeps_scheduled_for(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(jitter_seconds=30)
    sup = rt.supervisor(seed=7)
    clock.advance(60)
    sup.tick()
    run = rt.runs(job["id"])[0]
    assert run["status"] == "queued"
    delay = (run["not_before"] - run["scheduled_for"]).total_seconds()
    import random

    assert delay == int(random.Random(7).uniform(0, 30) * 1000) / 1000
    assert 0 <= delay <= 30
    rt.cycle(sup, delay - 0.5)
    assert rt.runs(job["id"])[0]["status"] == "queued"
    rt.cycle(sup, 0.5)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "succeeded"
    assert run["scheduled_for"] == T0 + timedelta(minutes=1)
    assert run["started_at"] == run["not_before"]


def test_retries_double_then_dead_letter_then_reset(rt, clock, caplog):
    caplog.set_level("WARNING", logger="symbi.scheduler")
    rt.agent("a", "fail", "4")
    job = rt.job(max_retries=3, retry_backoff_seconds=10)
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    runs = rt.runs(job["id"])
    assert runs[0]["status"] == "failed" and runs[0]["exit_code"] == 4
    assert "something broke" in runs[0]["error_message"]
    retry = [r for r in runs if r["trigger"] == "retry"][0]
    assert retry["attempt"] == 2
    assert retry["not_before"] == clock.now() + timedelta(seconds=10)
    assert rt.get_job(job["id"])["failure_count"] == 1
    rt.cycle(sup, 10)
    retry3 = [r for r in rt.runs(job["id"]) if r["attempt"] == 3][0]
    assert retry3["not_before"] == clock.now() + timedelta(seconds=20)
    # The next slot (12:02) comes before the second retry is due: it fails too (3 consecutive).
    clock.set(T0 + timedelta(minutes=2))
    rt.cycle(sup)
    j = rt.get_job(job["id"])
    assert (j["status"], j["failure_count"], j["next_run"]) == ("dead_letter", 3, None)
    assert len(rt.events("CronJobDeadLettered")) == 1
    assert len(rt.events("CronJobFailed")) == 3
    said = [r.getMessage() for r in caplog.records if "dead-lettered after" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("job job dead-lettered after 3 consecutive failures (max_retries 3)")
    # No more runs start: the pending retry is cancelled, later slots are not claimed.
    rt.cycle(sup, 3600)
    statuses = [r["status"] for r in rt.runs(job["id"])]
    assert statuses.count("failed") == 3 and "queued" not in statuses and "running" not in statuses
    # reset: active, count zero, fresh next_run
    rt.agent("a", "echo")
    j = job_svc.reset_job(rt.app, job["id"])
    assert (j["status"], j["failure_count"]) == ("active", 0)
    rt.cycle(sup, 60)
    assert rt.runs(job["id"])[-1]["status"] == "succeeded"


def test_dead_letter_cancels_manual_runs_already_queued(rt, clock):
    from symbi_cron.services import runs as run_svc

    rt.agent("a", "fail")
    job = rt.job(max_retries=1, retry_backoff_seconds=10)
    first = run_svc.queue_manual(rt.app, job["id"])
    second = run_svc.queue_manual(rt.app, job["id"])  # waits behind the first (max_concurrent 1)
    rt.cycle(rt.supervisor(), 1)
    by_id = {r["id"]: r for r in rt.runs(job["id"])}
    assert rt.get_job(job["id"])["status"] == "dead_letter"
    assert by_id[first["id"]]["status"] == "failed"
    assert (by_id[second["id"]]["status"], by_id[second["id"]]["error_message"]) == ("cancelled", "job dead-lettered")


def test_success_resets_failure_count(rt, clock):
    rt.agent("a", "fail")
    job = rt.job(max_retries=5, retry_backoff_seconds=1)
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    assert rt.get_job(job["id"])["failure_count"] == 1
    rt.agent("a", "echo")
    rt.cycle(sup, 1)
    j = rt.get_job(job["id"])
    assert (j["failure_count"], j["run_count"], j["status"]) == (0, 2, "active")


def test_one_shot_at_job_completes(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron=None, at=(T0 + timedelta(seconds=30)).isoformat())
    sup = rt.supervisor()
    rt.cycle(sup, 30)
    j = rt.get_job(job["id"])
    assert j["status"] == "completed" and j["next_run"] is None
    assert [r["status"] for r in rt.runs(job["id"])] == ["succeeded"]


def test_one_shot_cron_job_completes(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(one_shot=True)
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    rt.cycle(sup, 120)
    j = rt.get_job(job["id"])
    assert j["status"] == "completed"
    assert len(rt.runs(job["id"])) == 1


def test_missing_agent_fails_with_a_clear_error(rt, clock):
    job = rt.job(agent="ghost", max_retries=1)
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "failed"
    assert "agent 'ghost' is not registered" in run["error_message"]
    assert rt.get_job(job["id"])["status"] == "dead_letter"


def test_missing_executable_fails_clearly(rt, clock):
    from symbi_cron.services import agents as agent_svc

    agent_svc.add_agent(rt.app, {"name": "a", "command": "/nonexistent/agent --flag"})
    job = rt.job()
    rt.cycle(rt.supervisor(), 60)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "failed" and run["exit_code"] == 127
    assert "command not found: /nonexistent/agent" in run["error_message"]


def test_model_agent_without_a_key_is_a_clear_run_error(rt, clock, monkeypatch):
    from symbi_cron.services import agents as agent_svc

    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "SYMBI_MODEL_BASE_URL", "SYMBI_MODEL_PROVIDER"):
        monkeypatch.delenv(var, raising=False)  # never reach the internet from a test
    agent_svc.add_agent(rt.app, {"name": "a", "model": "claude-sonnet-4.5", "system_prompt": "hi"})
    job = rt.job()
    rt.cycle(rt.supervisor(), 60)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "failed"
    assert "no API key for the anthropic API" in run["error_message"]


def test_interrupted_recovery_counts_as_failure_and_retries(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(retry_backoff_seconds=5)
    clock.advance(60)
    with rt.app.store.write() as tx:
        claim_job(
            tx,
            job_rows.get(tx, job["id"]),
            now_ms=to_ms(clock.now()),
            daemon_id="daemon:999999:dead",
            rng=__import__("random").Random(1),
            limits=Limits(),
        )
        run = rt.runs(job["id"])[0]
        from symbi_cron.store import runs as run_rows

        run_rows.update(
            tx,
            run["id"],
            now_ms=to_ms(clock.now()),
            status="running",
            started_at=to_ms(clock.now()),
            daemon_id="daemon:999999:dead",
        )
    sup = rt.supervisor()
    assert sup.recover() == [run["id"]]
    runs = rt.runs(job["id"])
    assert runs[0]["status"] == "interrupted"
    assert rt.get_job(job["id"])["failure_count"] == 1
    assert [r["trigger"] for r in runs if r["status"] == "queued"] == ["retry"]
    assert sup.recover() == []  # once only


def test_policy_deny_is_not_a_failure(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(policy={"allowed_environments": ["production"]})
    rt.cycle(rt.supervisor(), 60)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "denied" and "allowed_environments" in run["error_message"]
    j = rt.get_job(job["id"])
    assert (j["failure_count"], j["status"]) == (0, "active")


def test_require_approval_waits_then_runs(rt, clock):
    from symbi_cron.services import approvals

    rt.agent("a", "echo")
    job = rt.job(policy={"require_approval": True}, input="approved!")
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "pending_approval"
    approvals.approve_run(rt.app, run["id"])
    rt.cycle(sup, 1)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "succeeded" and run["output"] == "approved!"


def test_paused_job_cancels_its_queued_scheduled_run(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(jitter_seconds=30)
    sup = rt.supervisor(seed=3)
    clock.advance(60)
    sup.tick()
    job_svc.pause_job(rt.app, job["id"])
    rt.cycle(sup, 31)
    assert rt.runs(job["id"])[0]["status"] == "cancelled"


def test_one_shot_whose_run_a_person_denies_ends_failed(rt, clock):
    """The same end as a one-shot denied by the policy gate: nothing is left to run, so it is not active."""
    from symbi_cron.services import approvals

    rt.agent("a", "echo")
    job = rt.job(cron=None, at=(T0 + timedelta(seconds=30)).isoformat(), policy={"require_approval": True})
    rt.cycle(rt.supervisor(), 30)
    [run] = rt.runs(job["id"])
    assert run["status"] == "pending_approval"
    approvals.deny_run(rt.app, run["id"], "not today", user="alice")
    j = rt.get_job(job["id"])
    assert (j["status"], j["next_run"]) == ("failed", None)
    assert rt.events("CronJobFailed")[-1]["job_id"] == job["id"]


def test_one_shot_whose_approval_expires_ends_failed(rt, clock):
    import pytest

    from symbi_cron.errors import InvalidState
    from symbi_cron.services import approvals

    rt.agent("a", "echo")
    job = rt.job(one_shot=True, policy={"require_approval": True})
    rt.cycle(rt.supervisor(), 60)
    [run] = rt.runs(job["id"])
    clock.advance(60)  # the cron expression's next slot: the request has expired
    with pytest.raises(InvalidState, match="expired"):
        approvals.approve_run(rt.app, run["id"], user="alice")
    assert rt.get_job(job["id"])["status"] == "failed"
