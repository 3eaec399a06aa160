"""Recording a run's outcome (SPEC §5): the run's final state, the job's counters, and what follows a failure
(retry with doubling backoff, dead-letter, or the next slot, per ``services/failure_policy.py``) or a success (a
one-shot completes), with the audit event, all in the caller's write transaction.

Previous step: the owner executed the run (``runtime/owner.py``). Next: ``services/delivery.py`` (the deliveries
it owes, written to the outbox in the same transaction by the owner).
"""

from __future__ import annotations

from typing import Any

from ..models import FAILURE_RUN_STATUSES
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import iso, to_ms
from ..vocab import Event, JobStatus, RunStatus, Trigger
from .failure_policy import after_failure, max_retries_of
from .jobs import end_one_shot_if_done
from .runs import insert_unscheduled

__all__ = ["finish_locked", "finish_run", "max_retries_of"]


def finish_run(conn, run_id: str, **outcome: Any) -> dict[str, Any] | None:
    """Record a run's outcome (``status``, ``now_ms`` and the fields of :func:`finish_locked`) and move its job on
    (counters, retry, dead-letter, completion).

    Returns the run as stored, or None when it no longer exists (its job was removed meanwhile).
    """
    run = run_rows.get_for_finish(conn, run_id)  # locked, its job first: one recorder at a time
    if run is None:
        return None
    if run["status"] not in (RunStatus.running, RunStatus.queued):
        return run  # already final (e.g. recorded by another path): never count twice
    return finish_locked(conn, run, **outcome)[0]


def finish_locked(
    conn,
    run: dict[str, Any],
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
    started_ms: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """:func:`finish_run` for a run the caller read with ``runs.get_for_finish`` in this transaction and found not
    final (an owner checks it is still its own first). ``started_ms``: when the run really started, if not when it
    was begun for (a run prepared ahead whose owner was late). Returns the run as stored and its job as it was
    before the outcome moved it on (None when the job is gone)."""
    run_id = run["id"]
    merged = dict(run.get("detail") or {})
    if detail:
        merged.update(detail)
    started = to_ms(run["started_at"]) if run.get("started_at") is not None else None
    if started_ms is not None:  # a prepared run that started late: when it really started
        started = started_ms
    if execution_time_ms is None and started is not None:
        execution_time_ms = max(0, now_ms - started)
    fields: dict[str, Any] = dict(
        finished_at=now_ms,
        exit_code=exit_code,
        output=output,
        summary=summary,
        error_message=error_message,
        detail=merged,
    )
    if execution_time_ms is not None:
        fields["execution_time_ms"] = execution_time_ms
    if started_ms is not None:
        fields["started_at"] = started_ms
    if iterations is not None:
        fields["iterations"] = iterations
    usage = merged.get("usage")  # model agents: tokens and cost, also kept as columns for status/metrics
    if isinstance(usage, dict):
        fields.update(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cost_usd=usage.get("cost_usd"),
            model=usage.get("model"),
        )
    run_rows.finish(conn, run_id, now_ms=now_ms, status=status, **fields)
    job = job_rows.get(conn, run["job_id"])
    if job is None:
        return run_rows.get(conn, run_id), None  # type: ignore[return-value]
    over_budget = status == RunStatus.budget_exceeded
    # A budget stop is a failure of the run (delivered as one), but it moves the job toward retries and
    # dead-letter only when the job says so: tomorrow's budget is fresh, and a retry now would stop again.
    failed = status in FAILURE_RUN_STATUSES and (not over_budget or counts_budget_as_failure(job))
    failure_count = (
        job["failure_count"] + 1 if failed else (0 if status == RunStatus.succeeded else job["failure_count"])
    )
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
    if failed or over_budget:
        details["error"] = error_message
    if over_budget:
        details["budget"] = merged.get("budget_exceeded")
        details["counts_as_failure"] = failed
    append_event(
        conn,
        at_ms=now_ms,
        type=Event.run_budget_exceeded if over_budget else Event.job_failed if failed else Event.job_executed,
        actor=actor,
        job_id=job["id"],
        job_name=job["name"],
        run_id=run_id,
        details=details,
    )
    if failed:
        _after_failure(conn, job, run, failure_count, now_ms=now_ms, actor=actor)
    elif status == RunStatus.succeeded:
        end_one_shot_if_done(conn, job, now_ms=now_ms, ok=True, actor=actor)
    return run_rows.get(conn, run_id), job  # type: ignore[return-value]


def counts_budget_as_failure(job: dict[str, Any]) -> bool:
    """The job's ``budget.counts_as_failure``: a budget_exceeded run counts toward retries and dead-letter."""
    return bool((job.get("budget") or {}).get("counts_as_failure"))


def _after_failure(
    conn, job: dict[str, Any], run: dict[str, Any], failure_count: int, *, now_ms: int, actor: str
) -> None:
    """Retry with doubling backoff, dead-letter the job, or leave it for its next slot (``on_failure:
    continue``): ``services.failure_policy.after_failure`` decides."""
    if job["status"] not in (JobStatus.active,):
        return  # paused, completed or already dead-lettered: no retry
    max_retries = max_retries_of(job)
    action = after_failure(job, attempt=int(run.get("attempt") or 1), failure_count=failure_count)
    if action == "wait":  # like cron: the job stays active; a one-shot with no slot left ends `failed`
        end_one_shot_if_done(conn, job, now_ms=now_ms, ok=False, actor=actor, reason=run.get("error_message"))
        return
    if action == "dead_letter":
        job_rows.set_state(conn, job["id"], now_ms=now_ms, status=JobStatus.dead_letter, next_run=None)
        # No more runs start (SPEC §5): manual runs queued before this moment go too (new ones are refused until
        # `symbi cron reset`).
        for open_run in run_rows.with_status(conn, (RunStatus.queued,), job_id=job["id"]):
            run_rows.update(
                conn,
                open_run["id"],
                now_ms=now_ms,
                status=RunStatus.cancelled,
                finished_at=now_ms,
                error_message="job dead-lettered",
            )
        append_event(
            conn,
            at_ms=now_ms,
            type=Event.job_dead_lettered,
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
        trigger=Trigger.retry,
        status=RunStatus.queued,
        now_ms=now_ms,
        attempt=attempt + 1,
        input=run.get("input"),
        not_before=now_ms + backoff_ms,
        detail={"retry_of": run["id"], "backoff_ms": backoff_ms},
    )
