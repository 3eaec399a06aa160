"""The scheduler's tick loop (SPEC §3 daylight saving, §5 runs, §12 tick loop) through the real Supervisor on a
FakeClock with real agents and a real store: missed one-shots, DST changes, a machine asleep for a day, a clock
stepped back, pause and remove while a run is in flight, concurrency, retries, jitter, starvation, a restart.
(tests/runtime/test_lifecycle.py checks the run lifecycle's single steps.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from symbi_cron.services import jobs as job_svc

from .conftest import T0


def _ticks(rt, sup, clock, until: datetime, step: float = 60.0) -> None:
    """Tick the loop every ``step`` seconds of fake time up to ``until`` (as a sleeping daemon would)."""
    while clock.now() < until:
        clock.advance(min(step, (until - clock.now()).total_seconds()))
        sup.tick()
        assert sup.wait_idle(30)


def test_one_shot_cron_job_missed_with_catchup_skip_does_not_stay_active_forever(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(one_shot=True, catchup="skip")
    sup = rt.supervisor()
    rt.cycle(sup, 3600)  # the daemon was down when its only slot came
    runs = rt.runs(job["id"])
    assert [r["status"] for r in runs] == ["missed"]
    j = rt.get_job(job["id"])
    assert j["next_run"] is None
    assert j["status"] != "active", "a one-shot with no slot left and nothing to run must not stay active"


def test_at_job_missed_with_catchup_skip_does_not_stay_active_forever(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron=None, at=(T0 + timedelta(minutes=5)).isoformat(), catchup="skip")
    rt.cycle(rt.supervisor(), 3600)
    assert [r["status"] for r in rt.runs(job["id"])] == ["missed"]
    j = rt.get_job(job["id"])
    assert j["next_run"] is None and j["status"] != "active"


def test_at_job_missed_with_catchup_once_runs_once_and_completes(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron=None, at=(T0 + timedelta(minutes=5)).isoformat())
    sup = rt.supervisor()
    rt.cycle(sup, 3600)
    rt.cycle(sup, 3600)
    runs = rt.runs(job["id"])
    assert sorted((r["status"], r["trigger"]) for r in runs) == [("missed", "schedule"), ("succeeded", "catchup")]
    assert rt.get_job(job["id"])["status"] == "completed"


def test_spring_forward_fixed_time_job_runs_once_right_after_the_jump_in_the_tick_loop(rt, clock):
    rt.agent("a", "echo")
    clock.set(datetime(2027, 3, 13, 12, 0, tzinfo=timezone.utc))
    job = rt.job(cron="30 2 * * *", timezone="America/New_York")
    sup = rt.supervisor()
    _ticks(rt, sup, clock, datetime(2027, 3, 15, 12, 0, tzinfo=timezone.utc), step=300)
    runs = rt.runs(job["id"])
    # 2027-03-14 02:30 does not exist in New York: it runs at 03:00 EDT (07:00 UTC), then 02:30 EDT (06:30 UTC).
    assert [(r["scheduled_for"], r["status"], r["trigger"]) for r in runs] == [
        (datetime(2027, 3, 14, 7, 0, tzinfo=timezone.utc), "succeeded", "schedule"),
        (datetime(2027, 3, 15, 6, 30, tzinfo=timezone.utc), "succeeded", "schedule"),
    ]


def test_fall_back_fixed_time_once_and_every_half_hour_follows_the_clock(rt, clock):
    rt.agent("a", "echo")
    clock.set(datetime(2027, 11, 6, 12, 0, tzinfo=timezone.utc))
    fixed = rt.job("fixed", cron="30 1 * * *", timezone="America/New_York")
    every = rt.job("every", cron="*/30 1 * * *", timezone="America/New_York")
    sup = rt.supervisor()
    _ticks(rt, sup, clock, datetime(2027, 11, 7, 12, 0, tzinfo=timezone.utc), step=120)
    assert [r["scheduled_for"] for r in rt.runs(fixed["id"])] == [datetime(2027, 11, 7, 5, 30, tzinfo=timezone.utc)]
    assert [r["scheduled_for"].strftime("%H:%M") for r in rt.runs(every["id"])] == ["05:00", "05:30", "06:00", "06:30"]
    assert all(r["status"] == "succeeded" for r in rt.runs(every["id"]))


def test_machine_asleep_for_a_day_catches_up_once(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(cron="*/5 * * * *")
    sup = rt.supervisor()
    rt.cycle(sup, 300)
    rt.cycle(sup, 86400 + 90)  # asleep a day; wakes 90 s after a slot
    runs = rt.runs(job["id"])
    assert [r["status"] for r in runs if r["trigger"] == "catchup"] == ["succeeded"]
    assert sum(r["status"] == "missed" for r in runs) == 288
    assert rt.get_job(job["id"])["next_run"] == clock.now() - timedelta(seconds=90) + timedelta(minutes=5)
    assert len({r["scheduled_for"] for r in runs}) == len(runs)
    rt.cycle(sup)  # the same instant again: nothing more
    assert len(rt.runs(job["id"])) == len(runs)


def test_clock_stepped_back_wildcard_jobs_fire_on_the_real_clock_fixed_time_jobs_never_repeat(rt, clock):
    """Like cron after a backward time change: a job on a wildcard schedule runs again on the repeated wall times
    (its runs for instants it already ran are stamped a millisecond later and marked), a fixed-time job never
    repeats a slot it ran."""
    rt.agent("a", "echo")
    wild = rt.job("wild", cron="*/5 * * * *")
    fixed = rt.job("fixed", cron="5,10,15 12 * * *")
    sup = rt.supervisor()
    rt.cycle(sup, 300)
    rt.cycle(sup, 300)
    clock.advance(-600)  # NTP steps the clock back ten minutes
    _ticks(rt, sup, clock, T0 + timedelta(minutes=15))
    wild_runs = rt.runs(wild["id"])
    assert [r["status"] for r in wild_runs] == ["succeeded"] * 5
    assert [r["scheduled_for"] for r in wild_runs] == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=5, milliseconds=1),
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10, milliseconds=1),
        T0 + timedelta(minutes=15),
    ]
    assert [bool(r["detail"].get("clock_replay")) for r in wild_runs] == [False, True, False, True, False]
    assert [r["scheduled_for"] for r in rt.runs(fixed["id"])] == [T0 + timedelta(minutes=m) for m in (5, 10, 15)]


def test_pause_while_a_run_is_in_flight_lets_it_finish_without_retry(rt, clock):
    rt.agent("a", "fail")
    job = rt.job(max_retries=5, retry_backoff_seconds=1)
    sup = rt.supervisor()
    rt.agent("a", "sleep", "0.5")
    clock.advance(60)
    sup.tick()
    assert sup.in_flight() == 1
    job_svc.pause_job(rt.app, job["id"])
    assert sup.wait_idle(30)
    run = rt.runs(job["id"])[0]
    assert run["status"] == "succeeded"
    rt.cycle(sup, 600)
    assert len(rt.runs(job["id"])) == 1 and rt.get_job(job["id"])["status"] == "paused"
    j = job_svc.resume_job(rt.app, job["id"])
    assert j["next_run"] == clock.now().replace(second=0) + timedelta(minutes=1)


def test_remove_refused_while_in_flight_then_allowed(rt, clock):
    import pytest

    from symbi_cron.errors import InvalidState

    rt.agent("a", "sleep", "0.5")
    job = rt.job()
    sup = rt.supervisor()
    clock.advance(60)
    sup.tick()
    with pytest.raises(InvalidState):
        job_svc.delete_job(rt.app, job["id"])
    assert sup.wait_idle(30)
    job_svc.delete_job(rt.app, job["id"])
    rt.cycle(sup, 60)
    assert rt.app.store.query("SELECT COUNT(*) FROM runs")[0][0] == 0


def test_max_concurrent_two_with_slow_agents(rt, clock):
    rt.agent("a", "sleep", "2")
    job = rt.job(max_concurrent=2)
    sup = rt.supervisor()
    for _ in range(3):
        clock.advance(60)
        sup.tick()
    assert sup.in_flight() == 2
    assert sup.wait_idle(30)
    assert [r["status"] for r in rt.runs(job["id"])] == ["succeeded", "succeeded", "skipped"]


def test_retries_count_runs_attempts_and_triggers(rt, clock):
    rt.agent("a", "fail")
    job = rt.job(cron="0 * * * *", max_retries=4, retry_backoff_seconds=10)
    sup = rt.supervisor()
    _ticks(rt, sup, clock, T0 + timedelta(minutes=65), step=5)
    runs = rt.runs(job["id"])
    assert [(r["trigger"], r["attempt"], r["status"]) for r in runs] == [
        ("schedule", 1, "failed"),
        ("retry", 2, "failed"),
        ("retry", 3, "failed"),
        ("retry", 4, "failed"),
    ]
    gaps = [(b["started_at"] - a["finished_at"]).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps == [10, 20, 40]
    assert rt.get_job(job["id"])["status"] == "dead_letter"
    _ticks(rt, sup, clock, T0 + timedelta(hours=3), step=600)
    assert len(rt.runs(job["id"])) == 4


def test_jitter_stays_within_bounds(rt, clock):
    rt.agent("a", "echo")
    job = rt.job(jitter_seconds=20)
    sup = rt.supervisor(seed=11)
    for _ in range(30):
        clock.advance(60)
        sup.tick()
        for _ in range(25):
            clock.advance(1)
            sup.tick()
        assert sup.wait_idle(30)
        clock.advance(-25)
    runs = rt.runs(job["id"])
    assert len(runs) == 30 and all(r["status"] == "succeeded" for r in runs)
    delays = [(r["started_at"] - r["scheduled_for"]).total_seconds() for r in runs]
    assert all(0 <= d <= 21 for d in delays), delays
    assert len(set(delays)) > 5


def test_runs_blocked_by_their_jobs_limit_do_not_starve_other_jobs(rt, clock):
    from symbi_cron.services import runs as run_svc

    rt.agent("slow", "sleep", "3")
    rt.agent("a", "echo")
    busy = rt.job("busy", agent="slow", cron="0 0 1 1 *")
    other = rt.job("other", agent="a", cron="* * * * *")
    sup = rt.supervisor()
    for _ in range(40):  # queued by hand: they wait for the busy job's place, one at a time
        run_svc.queue_manual(rt.app, busy["id"])
    sup.tick()
    assert sup.in_flight() == 1
    clock.advance(60)
    sup.tick()
    other_runs = rt.runs(other["id"])
    assert [r["status"] for r in other_runs] in (["running"], ["succeeded"]), (
        "a due run of another job waited behind runs that cannot start"
    )
    assert sup.wait_idle(30)
    assert rt.runs(other["id"])[0]["status"] == "succeeded"
    assert [r["status"] for r in rt.runs(busy["id"])].count("queued") == 39  # still waiting their turn, not lost


def test_every_minute_job_across_a_restart_ten_minutes_down(rt, clock):
    rt.agent("a", "echo")
    once = rt.job("once", cron="* * * * *")
    skip = rt.job("skip", cron="* * * * *", catchup="skip")
    first = rt.supervisor(seed=1)
    first.recover()
    _ticks(rt, first, clock, T0 + timedelta(minutes=3), step=20)
    clock.advance(10 * 60 + 30)  # the daemon is down ten minutes; it comes back at 12:13:30
    second = rt.supervisor(seed=2)
    assert second.recover() == []
    _ticks(rt, second, clock, T0 + timedelta(minutes=15, seconds=30), step=20)
    for job in (once, skip):
        runs = rt.runs(job["id"])
        slots = [r["scheduled_for"] for r in runs]
        assert len(slots) == len(set(slots)), "a slot ran twice"
        assert [r["scheduled_for"] for r in runs if r["status"] == "missed"] == [
            T0 + timedelta(minutes=m) for m in range(4, 13)
        ]
        # 12:13 is 30 s late: it runs as the slot (it stands for the catch-up: one run, not two racing)
        assert [r["scheduled_for"] for r in runs if r["status"] == "succeeded"] == [
            T0 + timedelta(minutes=m) for m in (1, 2, 3, 13, 14, 15)
        ]
        assert not any(r["trigger"] == "catchup" for r in runs)
