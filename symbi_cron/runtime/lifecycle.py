"""Run state transitions (SPEC §5). Every function works inside the caller's write transaction.

- :func:`claim_job`: a due job's slots become runs and ``next_run`` advances, in one transaction, before any
  agent starts. The UNIQUE(job_id, scheduled_for) constraint makes a second claim of a slot a no-op, which is what
  keeps each slot exactly-once across a crash and restart. Slots older than ``late_grace_ms`` were missed
  (daemon down, machine asleep): each is recorded ``missed`` (the most recent ``max_missed`` of them) and
  ``catchup: once`` adds one run with trigger ``catchup``. A slot that finds the job at its ``max_concurrent``
  is recorded ``skipped``. A run's start is delayed by its jitter through ``not_before``.
- :func:`begin_run`: a queued run passes the policy gate and becomes ``running`` (or ``denied``,
  ``pending_approval``, ``cancelled``).
- :func:`finish_run`: the outcome is recorded; the job's counters move; a failure is retried with doubling
  backoff or dead-letters the job; a one-shot completes.
- :func:`owner_alive`, :func:`lease_alive`: whether the process that owns a run still lives (its pid and identity
  on this host; its lease in the ``daemons`` table on a shared PostgreSQL store). Recovering the runs of dead
  owners is the supervisor's (it must first kill what the owner left running).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import FAILURE_RUN_STATUSES
from ..services.approvals import expire_pending, record_decision
from ..services.failure_policy import after_failure, max_retries_of
from ..services.jobs import FAILED, end_one_shot_if_done, next_fire
from ..services.runs import insert_unscheduled
from ..store import agents as agent_rows
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import from_ms, iso, to_ms

EXECUTED, DEAD_LETTERED = "CronJobExecuted", "CronJobDeadLettered"

#: How late a slot may start and still count as on time (a busy tick, a short suspend).
DEFAULT_LATE_GRACE_MS = 60_000
#: The most ``missed`` records written for one job at one catch-up (a year-old store must not explode).
DEFAULT_MAX_MISSED = 1000
#: Statuses that occupy one of a job's ``max_concurrent`` places.
OCCUPYING = ("queued", "running")
SCHEDULED_TRIGGERS = ("schedule", "catchup", "retry")
#: Repeats the partial index ``runs_open``'s condition word for word: SQLite uses a partial index only when the
#: query's WHERE names its condition, so every query over open runs starts with this (history may be millions).
OPEN_RUNS = "status IN ('queued', 'running', 'pending_approval')"


def owner_id(kind: str = "daemon") -> str:
    """An id for this supervisor instance, ``kind:pid:random:host:identity``: recovery knows whose runs it sees
    (the host matters on a shared store, where a pid means something only on its own machine; the identity, the
    boot and the process's start time, tells a live owner from a later process that got the same pid)."""
    from .control import process_identity

    ident = process_identity(os.getpid()) or "-"
    return f"{kind}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{host_name()}:{ident}"


def owner_kind(owner: str | None) -> str:
    return (owner or "").split(":", 1)[0]


def owner_alive(owner: str | None, me: str) -> bool:
    """Whether the process that owns a run (by its owner id) still runs; never true for a stale id of ours."""
    if not owner or owner == me:
        return owner == me
    parts = owner.split(":")
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False  # our pid, but not our id: a previous process that had the same pid
    from .control import pid_alive, process_identity

    if not pid_alive(pid):
        return False
    recorded = parts[4] if len(parts) > 4 else "-"
    if recorded != "-":
        current = process_identity(pid)
        if current is not None and current != recorded:
            return False  # the pid was reused (after a reboot, or by chance): the owner is gone
    return True


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
        for r in run_rows.with_status(conn, ("queued",), job_id=job["id"])
        if r["trigger"] == "retry" and r.get("not_before") is not None and to_ms(r["not_before"]) > now_ms
    ]
    slot = iso(from_ms(slot_ms))
    for run in waiting[:count]:
        detail = dict(run.get("detail") or {})
        detail["superseded_by_slot"] = slot
        run_rows.update(
            conn,
            run["id"],
            now_ms=now_ms,
            status="cancelled",
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
            trigger="schedule",
            status="queued",
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
    marks = ", ".join("?" for _ in OCCUPYING)
    rows = conn.execute(
        f"SELECT status, trigger, COUNT(*) FROM runs WHERE job_id = ? AND status IN ({marks}) GROUP BY status, trigger",
        (job_id, *OCCUPYING),
    ).fetchall()
    running = sum(r[2] for r in rows if r[0] == "running")
    retries = sum(r[2] for r in rows if r[0] == "queued" and r[1] == "retry")
    queued = sum(r[2] for r in rows if r[0] == "queued" and r[1] != "retry")
    words = [
        f"{running} running" if running else "",
        f"{retries} {'retry' if retries == 1 else 'retries'} waiting for {'its' if retries == 1 else 'their'} backoff"
        if retries
        else "",
        f"{queued} queued" if queued else "",
    ]
    return running + retries + queued, ", ".join(w for w in words if w)


def claim_job(
    conn, job: dict[str, Any], *, now_ms: int, daemon_id: str, rng: random.Random, limits: Limits, actor: str = "daemon"
) -> ClaimResult:
    """Turn a due job's slots into runs and advance its ``next_run``, inside the caller's transaction."""
    result = ClaimResult()
    first = _ms(job.get("next_run"))
    if first is None or first > now_ms or job.get("status") != "active":
        return result
    try:
        slots, total, nxt = due_slots(job, first, now_ms, limits.max_missed + 1)
    except Exception as exc:  # a schedule that no longer parses: stop the job rather than loop on it
        job_rows.set_state(conn, job["id"], now_ms=now_ms, status="failed", next_run=None)
        append_event(
            conn,
            at_ms=now_ms,
            type=FAILED,
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
            trigger="schedule",
            status="missed",
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
            trigger="schedule",
            scheduled_for=latest,
            now_ms=now_ms,
            rng=rng,
            limits=limits,
            daemon_id=daemon_id,
        )
    elif job.get("catchup", "once") == "once":
        _new_run(
            conn,
            job,
            result,
            trigger="catchup",
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
    if busy >= limit and trigger != "retry":
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
                status="skipped",
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
                status="skipped",
                now_ms=now_ms,
                finished=True,
                error_message=reason,
                detail=detail,
            )
            result.skipped.append("catchup")
        return
    not_before = base + _jitter_ms(job, limits, rng)
    if scheduled_for is not None:
        run_id = str(uuid.uuid4())
        if not run_rows.insert(
            conn,
            id=run_id,
            job_id=job["id"],
            trigger=trigger,
            status="queued",
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
            status="queued",
            now_ms=now_ms,
            input=job.get("input"),
            not_before=not_before,
            detail=detail,
        )
    run_rows.update(conn, run_id, now_ms=now_ms, daemon_id=daemon_id)
    result.queued.append(run_id)


# -- starting ------------------------------------------------------------------------------------------------------
def startable(conn, now_ms: int, limit: int, exclude_jobs: Collection[str] = ()) -> list[dict[str, Any]]:
    """Queued runs whose ``not_before`` has come, in order (earliest first), leaving out the runs of
    ``exclude_jobs`` (jobs found at their ``max_concurrent``: their runs must not hide the others')."""
    if limit <= 0:
        return []
    excluded = list(exclude_jobs)
    skip = f" AND job_id NOT IN ({', '.join('?' for _ in excluded)})" if excluded else ""
    rows = conn.execute(
        f"SELECT {run_rows.RUN_COLUMNS} FROM runs WHERE {OPEN_RUNS} AND status = 'queued'"
        f" AND COALESCE(not_before, 0) <= ?{skip}"
        " ORDER BY COALESCE(not_before, scheduled_for), created_at LIMIT ?",
        (now_ms, *excluded, limit),
    ).fetchall()
    return [run_rows.row_to_run(r) for r in rows]


def still_queued(conn, run_id: str) -> bool:
    """Whether the run is still ``queued`` (after :func:`begin_run` declined it: its job is at its limit)."""
    row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row is not None and row[0] == "queued"


def next_queued(conn, now_ms: int) -> int | None:
    """The soonest ``not_before`` after ``now_ms`` among queued runs (the tick loop wakes for it)."""
    row = conn.execute(
        f"SELECT MIN(not_before) FROM runs WHERE {OPEN_RUNS} AND status = 'queued' AND not_before > ?", (now_ms,)
    ).fetchone()
    return row[0] if row else None


def count_queued(conn) -> int:
    return conn.execute(f"SELECT COUNT(*) FROM runs WHERE {OPEN_RUNS} AND status = 'queued'").fetchone()[0]


@dataclass
class Begun:
    """A run that passed the gate and is now ``running``."""

    run: dict[str, Any]
    job: dict[str, Any]
    agent: dict[str, Any] | None


def begin_run(
    conn, run_id: str, *, now_ms: int, daemon_id: str, gate: Callable[[dict, dict | None], Any], actor: str = "daemon"
) -> Begun | None:
    """A queued run passes the policy gate and becomes ``running``; None when it did not start.

    ``gate(job, agent)`` returns a ``security.policy.Decision``. A run approved by a person is not asked for
    approval again (the other checks still apply). A job no longer active cancels its scheduled runs; a job at
    its ``max_concurrent`` leaves a manual run queued for later.
    """
    run = run_rows.get(conn, run_id)
    if run is None or run["status"] != "queued":
        return None
    job = job_rows.get(conn, run["job_id"])
    if job is None:
        return None
    if job["status"] != "active" and run["trigger"] in SCHEDULED_TRIGGERS:
        run_rows.update(
            conn,
            run_id,
            now_ms=now_ms,
            status="cancelled",
            finished_at=now_ms,
            error_message=f"job is {job['status']}: the run was not started",
        )
        return None
    if run_rows.count_running(conn, job["id"]) >= int(job.get("max_concurrent") or 1):
        return None
    agent = agent_rows.get(conn, job["agent_id"])
    decision = gate(job, agent)
    detail = dict(run.get("detail") or {})
    approved = (detail.get("approval") or {}).get("status") == "approved"
    if decision.kind == "require_approval" and approved:
        decision = None
    if decision is not None and decision.kind != "allow":
        detail["policy"] = decision.to_dict()
        if decision.kind == "deny":
            run_rows.update(
                conn,
                run_id,
                now_ms=now_ms,
                status="denied",
                finished_at=now_ms,
                error_message=f"denied by policy: {decision.reason}",
                detail=detail,
            )
        else:
            run_rows.update(conn, run_id, now_ms=now_ms, status="pending_approval", detail=detail)
        record_decision(conn, job=job, run_id=run_id, decision=decision, now_ms=now_ms, actor=actor)
        if decision.kind == "deny":
            end_one_shot_if_done(conn, job, now_ms=now_ms, ok=False, actor=actor)
        return None
    run_rows.update(conn, run_id, now_ms=now_ms, status="running", started_at=now_ms, daemon_id=daemon_id)
    run = run_rows.get(conn, run_id)
    assert run is not None
    return Begun(run=run, job=job, agent=agent)


# -- finishing -----------------------------------------------------------------------------------------------------
def finish_run(
    conn,
    run_id: str,
    *,
    status: str,
    now_ms: int,
    exit_code: int | None = None,
    output: str | None = None,
    summary: str | None = None,
    error_message: str | None = None,
    iterations: int | None = None,
    execution_time_ms: int | None = None,
    detail: dict[str, Any] | None = None,
    actor: str = "daemon",
) -> dict[str, Any] | None:
    """Record a run's outcome and move its job on (counters, retry, dead-letter, completion).

    Returns the run as stored, or None when it no longer exists (its job was removed meanwhile).
    """
    run = run_rows.get(conn, run_id)
    if run is None:
        return None
    if run["status"] not in ("running", "queued"):
        return run  # already final (e.g. recorded by another path): never count twice
    merged = dict(run.get("detail") or {})
    if detail:
        merged.update(detail)
    started = _ms(run.get("started_at"))
    if execution_time_ms is None and started is not None:
        execution_time_ms = max(0, now_ms - started)
    fields: dict[str, Any] = dict(
        status=status,
        finished_at=now_ms,
        exit_code=exit_code,
        output=output,
        summary=summary,
        error_message=error_message,
        detail=merged,
    )
    if execution_time_ms is not None:
        fields["execution_time_ms"] = execution_time_ms
    if iterations is not None:
        fields["iterations"] = iterations
    usage = merged.get("usage")  # model agents: tokens and cost, also kept as columns for status/metrics
    if isinstance(usage, dict):
        fields.update(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cost_usd=usage.get("cost_usd"),
        )
    run_rows.update(conn, run_id, now_ms=now_ms, **fields)
    job = job_rows.get(conn, run["job_id"])
    if job is None:
        return run_rows.get(conn, run_id)
    failed = status in FAILURE_RUN_STATUSES
    failure_count = job["failure_count"] + 1 if failed else (0 if status == "succeeded" else job["failure_count"])
    job_rows.set_state(
        conn,
        job["id"],
        now_ms=now_ms,
        run_count=job["run_count"] + 1,
        last_run=started if started is not None else now_ms,
        failure_count=failure_count,
    )
    details: dict[str, Any] = {
        "status": status,
        "trigger": run["trigger"],
        "attempt": run["attempt"],
        "scheduled_for": iso(run["scheduled_for"]),
        "exit_code": exit_code,
        "execution_time_ms": execution_time_ms,
    }
    if failed:
        details["error"] = error_message
    append_event(
        conn,
        at_ms=now_ms,
        type=FAILED if failed else EXECUTED,
        actor=actor,
        job_id=job["id"],
        job_name=job["name"],
        run_id=run_id,
        details=details,
    )
    if failed:
        _after_failure(conn, job, run, failure_count, now_ms=now_ms, actor=actor)
    elif status == "succeeded":
        end_one_shot_if_done(conn, job, now_ms=now_ms, ok=True, actor=actor)
    return run_rows.get(conn, run_id)


def _after_failure(
    conn, job: dict[str, Any], run: dict[str, Any], failure_count: int, *, now_ms: int, actor: str
) -> None:
    """Retry with doubling backoff, dead-letter the job, or leave it for its next slot (``on_failure:
    continue``): ``services.failure_policy.after_failure`` decides."""
    if job["status"] not in ("active",):
        return  # paused, completed or already dead-lettered: no retry
    max_retries = max_retries_of(job)
    action = after_failure(job, attempt=int(run.get("attempt") or 1), failure_count=failure_count)
    if action == "wait":  # like cron: the job stays active; a one-shot with no slot left ends `failed`
        end_one_shot_if_done(conn, job, now_ms=now_ms, ok=False, actor=actor, reason=run.get("error_message"))
        return
    if action == "dead_letter":
        job_rows.set_state(conn, job["id"], now_ms=now_ms, status="dead_letter", next_run=None)
        # No more runs start (SPEC §5): manual runs queued before this moment go too (new ones are refused until
        # `symbi cron reset`).
        for open_run in run_rows.with_status(conn, ("queued",), job_id=job["id"]):
            run_rows.update(
                conn,
                open_run["id"],
                now_ms=now_ms,
                status="cancelled",
                finished_at=now_ms,
                error_message="job dead-lettered",
            )
        append_event(
            conn,
            at_ms=now_ms,
            type=DEAD_LETTERED,
            actor=actor,
            job_id=job["id"],
            job_name=job["name"],
            run_id=run["id"],
            details={"failure_count": failure_count, "max_retries": max_retries, "last_status": run.get("status")},
        )
        return
    attempt = int(run.get("attempt") or 1)
    backoff_ms = int(job.get("retry_backoff_seconds", 60) or 0) * 1000 * (2 ** (attempt - 1))
    insert_unscheduled(
        conn,
        job_id=job["id"],
        trigger="retry",
        status="queued",
        now_ms=now_ms,
        attempt=attempt + 1,
        input=run.get("input"),
        not_before=now_ms + backoff_ms,
        detail={"retry_of": run["id"], "backoff_ms": backoff_ms},
    )


# -- leases (several daemons on one shared store) ------------------------------------------------------------------
def host_name() -> str:
    import socket

    return socket.gethostname()


def register_daemon(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> None:
    """Record this daemon and its first lease (until ``now_ms + lease_ms``)."""
    conn.execute(
        "INSERT INTO daemons (id, host, pid, started_at, lease_until) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        (daemon_id, host_name(), os.getpid(), now_ms, now_ms + lease_ms),
    )


def renew_lease(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> bool:
    """Extend this daemon's lease. False when it had lapsed (or was removed): the others may have taken its
    runs over, so the caller should say so; the lease is taken again either way."""
    cur = conn.execute(
        "UPDATE daemons SET lease_until = ? WHERE id = ? AND lease_until >= ?", (now_ms + lease_ms, daemon_id, now_ms)
    )
    if cur.rowcount == 1:
        return True
    register_daemon(conn, daemon_id, now_ms=now_ms, lease_ms=lease_ms)
    return False


def release_daemon(conn, daemon_id: str) -> None:
    """A clean stop: the daemon's row goes (its runs were drained and recorded)."""
    conn.execute("DELETE FROM daemons WHERE id = ?", (daemon_id,))


def lease_alive(conn, owner: str | None, me: str, now_ms: int) -> bool:
    """Whether the owner of a run is alive on a shared store: its daemon holds an unexpired lease. An owner with
    no lease row is a daemon that is gone, or a foreground ``symbi cron run``: that one is judged by its pid when
    it ran on this host, and left alone when it ran elsewhere (only its own host can tell)."""
    if not owner or owner == me:
        return owner == me
    row = conn.execute("SELECT lease_until, host FROM daemons WHERE id = ?", (owner,)).fetchone()
    if row is not None:
        return int(row[0]) >= now_ms
    if owner_kind(owner) == "daemon":
        return False
    parts = owner.split(":")
    if len(parts) > 3 and parts[3] != host_name():
        return True
    return owner_alive(owner, me)


def forget_lapsed(conn, *, me: str, now_ms: int) -> int:
    """Drop the lease rows of daemons and owners that lapsed and hold nothing any more (no running run, no owed
    delivery): their purpose is served. How many went."""
    cur = conn.execute(
        "DELETE FROM daemons WHERE lease_until < ? AND id <> ?"
        " AND id NOT IN (SELECT daemon_id FROM runs WHERE status = 'running' AND daemon_id IS NOT NULL)"
        " AND id NOT IN (SELECT owner FROM outbox)",
        (now_ms, me),
    )
    return cur.rowcount
