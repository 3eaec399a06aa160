"""Claiming due slots (SPEC §5): a due job's slots become runs and its ``next_run`` advances, in the caller's
write transaction, before any agent starts.

The UNIQUE(job_id, scheduled_for) constraint makes a second claim of a slot a no-op, which is what keeps each slot
exactly-once across a crash and restart. Slots older than ``late_grace_ms`` were missed (daemon down, machine
asleep): each is recorded ``missed`` (the most recent ``max_missed`` of them) and ``catchup: once`` adds one run
with trigger ``catchup``. A slot that finds the job at its ``max_concurrent`` is recorded ``skipped``, unless a
retry still waiting for its backoff holds the place: the retry is cancelled (superseded) and the slot runs. A
run's start is delayed by its jitter through ``not_before``. After the wall clock stepped back, wildcard jobs run
their repeated slots again (stamped a millisecond later).

Next step: ``services/start.py`` (the gate, and ``running`` under an owner).
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import from_ms, iso, to_ms
from ..vocab import OCCUPYING_RUN_STATUSES, Catchup, Event, JobStatus, RunStatus, Trigger
from .approvals import expire_pending
from .jobs import end_one_shot_if_done, next_fire
from .runs import insert_unscheduled

#: How late a slot may start and still count as on time (a busy tick, a short suspend).
DEFAULT_LATE_GRACE_MS = 60_000
#: The most ``missed`` records written for one job at one catch-up (a year-old store must not explode).
DEFAULT_MAX_MISSED = 1000
#: Statuses that occupy one of a job's ``max_concurrent`` places.
OCCUPYING = OCCUPYING_RUN_STATUSES


@dataclass
class Limits:
    """The scheduler settings the lifecycle needs (from ``Settings.scheduler``)."""

    max_jitter_seconds: int = 0
    late_grace_ms: int = DEFAULT_LATE_GRACE_MS
    max_missed: int = DEFAULT_MAX_MISSED
    #: After the wall clock stepped back: slots up to this instant may be run again by wildcard jobs.
    replay_until_ms: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        s = settings.scheduler
        return cls(max_jitter_seconds=s.max_jitter_seconds)


@dataclass
class ClaimResult:
    """What one claim did to one job."""

    queued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missed: int = 0
    missed_omitted: int = 0
    next_run: int | None = None


def _ms(dt: datetime | None) -> int | None:
    return to_ms(dt) if dt is not None else None


def due_slots(job: dict[str, Any], first_ms: int, now_ms: int, keep: int) -> tuple[list[int], int, int | None]:
    """The job's slots from ``first_ms`` up to ``now_ms``: the last ``keep`` of them, how many there were
    (estimated past ``2 * keep``: the schedule is jumped ahead rather than walked for a year), and the first slot
    after ``now_ms`` (None when there is none)."""
    slots: deque[int] = deque(maxlen=max(1, keep))
    total = 0
    cur: int | None = first_ms
    jumped = False
    while cur is not None and cur <= now_ms:
        slots.append(cur)
        total += 1
        if not jumped and total >= 2 * keep and total > 1:
            period = (cur - first_ms) / (total - 1)
            jump_to = now_ms - int(period * (keep + 2))
            if period > 0 and jump_to > cur:
                total += int((jump_to - cur) / period)
                jumped = True
                slots.clear()
                cur = _ms(next_fire(job, from_ms(jump_to)))  # type: ignore[arg-type]
                continue
        nxt = _ms(next_fire(job, from_ms(cur)))  # type: ignore[arg-type]
        cur = nxt if (nxt is not None and nxt > cur) else None
    return list(slots), total, cur


def _supersede_waiting_retries(conn, job: dict[str, Any], count: int, *, now_ms: int, slot_ms: int) -> int:
    """Cancel up to ``count`` of the job's queued retries whose backoff has not ended; how many."""
    waiting = [
        r
        for r in run_rows.with_status(conn, (RunStatus.queued,), job_id=job["id"])
        if r["trigger"] == Trigger.retry and r.get("not_before") is not None and to_ms(r["not_before"]) > now_ms
    ]
    slot = iso(from_ms(slot_ms))
    for run in waiting[:count]:
        detail = dict(run.get("detail") or {})
        detail["superseded_by_slot"] = slot
        run_rows.update(
            conn,
            run["id"],
            now_ms=now_ms,
            status=RunStatus.cancelled,
            finished_at=now_ms,
            error_message=f"superseded by the slot of {slot}: a new slot replaces a retry still waiting for its"
            " backoff",
            detail=detail,
        )
    return min(count, len(waiting))


def _replayed(
    conn,
    job: dict[str, Any],
    run_id: str,
    slot_ms: int,
    now_ms: int,
    not_before: int,
    limits: Limits,
    detail: dict[str, Any] | None,
) -> bool:
    """After the wall clock stepped back, a job on a wildcard schedule (``*/5 * * * *``) fires again on the
    repeated wall time, like cron: its run for an instant it already ran is stamped a millisecond later (slots are
    unique per job and instant). Fixed-time jobs never get here: their next run was moved past the last slot they
    ran (``Supervisor._clock_stepped_back``)."""
    if limits.replay_until_ms is None or slot_ms > limits.replay_until_ms or not job.get("cron_expr"):
        return False
    from ..timing import parse

    try:
        if parse(job["cron_expr"]).is_fixed_time():
            return False
    except Exception:
        return False
    marked = dict(detail or {})
    marked["clock_replay"] = True
    for offset in range(1, 1000):
        if run_rows.insert(
            conn,
            id=run_id,
            job_id=job["id"],
            trigger=Trigger.schedule,
            status=RunStatus.queued,
            scheduled_for=slot_ms + offset,
            now_ms=now_ms,
            input=job.get("input"),
            not_before=not_before,
            detail=marked,
        ):
            return True
    return False


def _jitter_ms(job: dict[str, Any], limits: Limits, rng: random.Random) -> int:
    jitter = job.get("jitter_seconds")
    if jitter is None:
        jitter = limits.max_jitter_seconds
    if not jitter:
        return 0
    return int(rng.uniform(0, float(jitter)) * 1000)


def _occupancy(conn, job_id: str) -> tuple[int, str]:
    """How many of the job's places are taken, and by what, in words ("1 running, 1 retry waiting for its
    backoff"): a skipped slot's reason must say why, and a waiting retry is not "in flight"."""
    rows = run_rows.occupancy(conn, job_id, OCCUPYING)
    running = sum(r[2] for r in rows if r[0] == RunStatus.running)
    retries = sum(r[2] for r in rows if r[0] == RunStatus.queued and r[1] == Trigger.retry)
    queued = sum(r[2] for r in rows if r[0] == RunStatus.queued and r[1] != Trigger.retry)
    words = [
        f"{running} running" if running else "",
        f"{retries} {'retry' if retries == 1 else 'retries'} waiting for {'its' if retries == 1 else 'their'} backoff"
        if retries
        else "",
        f"{queued} queued" if queued else "",
    ]
    return running + retries + queued, ", ".join(w for w in words if w)


def claim_job(
    conn,
    job: dict[str, Any],
    *,
    now_ms: int,
    daemon_id: str,
    rng: random.Random,
    limits: Limits,
    actor: str = "daemon",
    until_ms: int | None = None,
) -> ClaimResult:
    """Turn a due job's slots into runs and advance its ``next_run``, inside the caller's transaction.
    ``until_ms`` (later than ``now_ms``): a job whose next slot comes by then is claimed ahead of it, that slot
    only (its run is queued for its time: the daemon prepares runs ``prepare_ahead_seconds`` early), unless all its
    ``max_concurrent`` places are taken now: then it is claimed at its slot, as without ``until_ms`` (a run ending
    in that last moment must not cost the next slot)."""
    result = ClaimResult()
    first = _ms(job.get("next_run"))
    if first is None or first > max(now_ms, until_ms or now_ms) or job.get("status") != JobStatus.active:
        return result
    if first > now_ms and _occupancy(conn, job["id"])[0] >= int(job.get("max_concurrent") or 1):
        return result  # ahead of its slot, a job with no free place waits for the slot: its run may end by then
    try:
        slots, total, nxt = due_slots(job, first, max(now_ms, first), limits.max_missed + 1)
    except Exception as exc:  # a schedule that no longer parses: stop the job rather than loop on it
        job_rows.set_state(conn, job["id"], now_ms=now_ms, status=JobStatus.failed, next_run=None)
        append_event(
            conn,
            at_ms=now_ms,
            type=Event.job_failed,
            actor=actor,
            job_id=job["id"],
            job_name=job["name"],
            details={"error": f"schedule cannot be computed: {getattr(exc, 'message', exc)}"},
        )
        return result
    if job.get("one_shot") or not job.get("cron_expr"):
        nxt = None  # one slot only: the first
        slots, total = slots[:1], min(total, 1)
    latest = slots[-1]
    on_time = now_ms - latest <= limits.late_grace_ms
    missed = slots[:-1] if on_time else slots
    result.missed = len(missed)
    result.missed_omitted = max(0, total - len(slots))
    for s in missed:
        run_rows.insert(
            conn,
            id=str(uuid.uuid4()),
            job_id=job["id"],
            trigger=Trigger.schedule,
            status=RunStatus.missed,
            scheduled_for=s,
            now_ms=now_ms,
            finished=True,
            error_message="the scheduler was not running at this time",
        )
    # Approval requests expire when the job's next slot comes (SPEC §9).
    expire_pending(conn, job["id"], from_ms(now_ms), actor=actor)  # type: ignore[arg-type]
    if on_time:
        _new_run(
            conn,
            job,
            result,
            trigger=Trigger.schedule,
            scheduled_for=latest,
            now_ms=now_ms,
            rng=rng,
            limits=limits,
            daemon_id=daemon_id,
        )
    elif job.get("catchup", Catchup.once) == Catchup.once:
        _new_run(
            conn,
            job,
            result,
            trigger=Trigger.catchup,
            scheduled_for=None,
            now_ms=now_ms,
            rng=rng,
            limits=limits,
            daemon_id=daemon_id,
            detail={
                "catchup": {
                    "missed": result.missed + result.missed_omitted,
                    "first": iso(from_ms(slots[0])),
                    "last": iso(from_ms(latest)),
                }
            },
        )
    job_rows.set_state(conn, job["id"], now_ms=now_ms, next_run=nxt)
    result.next_run = nxt
    if nxt is None and not result.queued:  # a one-shot whose only slot was missed (catchup: skip) or skipped
        end_one_shot_if_done(
            conn,
            job,
            now_ms=now_ms,
            ok=False,
            actor=actor,
            reason="its only slot was missed or skipped and no run was started",
        )
    return result


def _new_run(
    conn,
    job: dict[str, Any],
    result: ClaimResult,
    *,
    trigger: str,
    scheduled_for: int | None,
    now_ms: int,
    rng: random.Random,
    limits: Limits,
    daemon_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    base = scheduled_for if scheduled_for is not None else now_ms
    limit = int(job.get("max_concurrent") or 1)
    busy, taken_by = _occupancy(conn, job["id"])
    if busy >= limit and trigger != Trigger.retry:
        # A retry still waiting for its backoff gives its place to the new slot (a later slot is a fresher attempt
        # at the same work): cancelled, with the reason in history, rather than the slot skipped.
        freed = _supersede_waiting_retries(conn, job, busy - limit + 1, now_ms=now_ms, slot_ms=base)
        if freed:
            busy, taken_by = _occupancy(conn, job["id"])
    if busy >= limit:
        reason = f"job at its max_concurrent limit of {limit} ({taken_by})"
        if scheduled_for is not None:
            run_rows.insert(
                conn,
                id=str(uuid.uuid4()),
                job_id=job["id"],
                trigger=trigger,
                status=RunStatus.skipped,
                scheduled_for=scheduled_for,
                now_ms=now_ms,
                finished=True,
                error_message=reason,
                detail=detail,
            )
            result.skipped.append("slot")
        else:
            insert_unscheduled(
                conn,
                job_id=job["id"],
                trigger=trigger,
                status=RunStatus.skipped,
                now_ms=now_ms,
                finished=True,
                error_message=reason,
                detail=detail,
            )
            result.skipped.append(Trigger.catchup)
        return
    not_before = base + _jitter_ms(job, limits, rng)
    if scheduled_for is not None:
        run_id = str(uuid.uuid4())
        if not run_rows.insert(
            conn,
            id=run_id,
            job_id=job["id"],
            trigger=trigger,
            status=RunStatus.queued,
            scheduled_for=scheduled_for,
            now_ms=now_ms,
            input=job.get("input"),
            not_before=not_before,
            detail=detail,
        ):
            if not _replayed(conn, job, run_id, scheduled_for, now_ms, not_before, limits, detail):
                return  # already claimed: exactly once
    else:
        run_id = insert_unscheduled(
            conn,
            job_id=job["id"],
            trigger=trigger,
            status=RunStatus.queued,
            now_ms=now_ms,
            input=job.get("input"),
            not_before=not_before,
            detail=detail,
        )
    run_rows.update(conn, run_id, now_ms=now_ms, daemon_id=daemon_id)
    result.queued.append(run_id)
