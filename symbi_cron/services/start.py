"""Starting a run (SPEC §5, §9): a queued run passes the policy gate and becomes ``running`` under its owner's id,
in the caller's write transaction (or ``denied``, ``pending_approval``, ``cancelled``; or stays queued while its
job is at its ``max_concurrent``). The tick loop finds the candidates with ``store.runs.startable``.

The gate is asked first, outside any transaction (:func:`gate_queued`: AgentPin may fetch a discovery document
over HTTPS), and its answer applied inside the write only if the job and its agent are still what was gated; the
write locks the run's job, then the run (``runs.get_for_start``), so a job's ``max_concurrent`` is counted by one
transaction at a time on every backend.

Previous step: ``services/claim.py``. Next: the owner executes it (``runtime/owner.py``), then
``services/record.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import agents as agent_rows
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..vocab import SCHEDULED_TRIGGERS, ApprovalStatus, JobStatus, RunStatus
from .approvals import record_decision
from .jobs import end_one_shot_if_done

#: A job's fields the scheduler changes as it goes: not part of what the gate judged.
_SCHEDULER_STATE = ("next_run", "last_run", "run_count", "failure_count", "updated_at")


def _judged(job: dict[str, Any], agent: dict[str, Any] | None) -> str:
    """A fingerprint of what the gate judges: the job (less its scheduler state) and its agent."""
    spec = {k: v for k, v in job.items() if k not in _SCHEDULER_STATE}
    text = json.dumps([spec, agent], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Gated:
    """What the policy gate said about a queued run, asked before the write that starts it."""

    run_id: str
    judged: str
    decision: Any


def gate_queued(conn, run_id: str, gate: Callable[[dict, dict | None], Any]) -> Gated | None:
    """Ask the gate about a queued run, outside any write transaction (the gate may do network I/O: AgentPin's key
    discovery). None when the run is no longer queued or its job is gone; a job no longer active is not gated (its
    scheduled runs are cancelled by :func:`begin_run`)."""
    run = run_rows.get(conn, run_id)
    if run is None or run["status"] != RunStatus.queued:
        return None
    job = job_rows.get(conn, run["job_id"])
    if job is None:
        return None
    agent = agent_rows.get(conn, job["agent_id"])
    if job["status"] != JobStatus.active and run["trigger"] in SCHEDULED_TRIGGERS:
        return Gated(run_id, _judged(job, agent), None)
    return Gated(run_id, _judged(job, agent), gate(job, agent))


@dataclass
class Begun:
    """A run that passed the gate and is now ``running``."""

    run: dict[str, Any]
    job: dict[str, Any]
    agent: dict[str, Any] | None
    #: The summary handed to the run (the job's last one), read in the same transaction.
    previous_summary: str | None = None
    #: How many runs the daemon prepared to start at the same time as this one (itself included): a burst.
    together: int = 1


def begin_run(
    conn,
    run_id: str,
    *,
    now_ms: int,
    daemon_id: str,
    gate: Gated | Callable[[dict, dict | None], Any],
    actor: str = "daemon",
    daemon_name: str | None = None,
    fence: int | None = None,
    skip_locked: bool = False,
    start_ms: int | None = None,
) -> Begun | None:
    """A queued run passes the policy gate and becomes ``running``, carrying ``fence`` (its owner's lease token);
    None when it did not start. ``start_ms``: a run prepared ahead of its time (``prepare_ahead_seconds``) is
    recorded as starting then, and its owner waits for that instant (:func:`requeue_unstarted` when it stops first).

    ``gate`` is the gate's answer asked beforehand (:func:`gate_queued`; a job or agent changed since leaves the
    run queued, to be gated again), or ``gate(job, agent)`` returning a ``security.policy.Decision``, asked here
    (only where no other writer waits on this transaction). A run approved by a person is not asked for approval
    again (the other checks still apply). A job no longer active cancels its scheduled runs; a job at its
    ``max_concurrent`` leaves a manual run queued for later. With ``skip_locked``, a run whose job another
    transaction holds is left for later (None).
    """
    run = run_rows.get_for_start(conn, run_id, skip_locked=skip_locked)
    if run is None or run["status"] != RunStatus.queued:
        return None
    job = job_rows.get(conn, run["job_id"])
    if job is None:
        return None
    if job["status"] != JobStatus.active and run["trigger"] in SCHEDULED_TRIGGERS:
        run_rows.update(
            conn,
            run_id,
            now_ms=now_ms,
            status=RunStatus.cancelled,
            finished_at=now_ms,
            error_message=f"job is {job['status']}: the run was not started",
        )
        return None
    if run_rows.count_running(conn, job["id"]) >= int(job.get("max_concurrent") or 1):
        return None
    agent = agent_rows.get(conn, job["agent_id"])
    if isinstance(gate, Gated):
        if gate.judged != _judged(job, agent):
            return None  # changed since it was gated: gated again at the next look
        decision = gate.decision
    else:
        decision = gate(job, agent)
    detail = dict(run.get("detail") or {})
    approved = (detail.get("approval") or {}).get("status") == ApprovalStatus.approved
    if decision is not None and decision.kind == "require_approval" and approved:
        decision = None
    if decision is not None and decision.kind != "allow":
        detail["policy"] = decision.to_dict()
        if decision.kind == "deny":
            run_rows.update(
                conn,
                run_id,
                now_ms=now_ms,
                status=RunStatus.denied,
                finished_at=now_ms,
                error_message=f"denied by policy: {decision.reason}",
                detail=detail,
            )
        else:
            run_rows.update(conn, run_id, now_ms=now_ms, status=RunStatus.pending_approval, detail=detail)
        record_decision(conn, job=job, run_id=run_id, decision=decision, now_ms=now_ms, actor=actor)
        if decision.kind == "deny":
            end_one_shot_if_done(conn, job, now_ms=now_ms, ok=False, actor=actor)
        return None
    run_rows.begin(
        conn, run_id, owner=daemon_id, daemon_name=daemon_name, now_ms=now_ms, fence=fence, start_ms=start_ms
    )
    run = run_rows.get(conn, run_id)
    assert run is not None
    prev = run_rows.previous_summary(conn, job["id"], before_run=run_id)
    return Begun(run=run, job=job, agent=agent, previous_summary=prev)


def requeue_unstarted(conn, run_id: str, *, owner: str, now_ms: int) -> bool:
    """A run begun ahead of its start time whose owner was stopped before that time (the daemon's drain) goes back
    to ``queued``, unstarted: the next daemon starts it (late) rather than the slot being lost or the run counted
    as interrupted. False when the run is no longer ``running`` under ``owner`` (someone recorded it meanwhile)."""
    if _prepared_under(conn, run_id, owner) is None:
        return False
    run_rows.unbegin(conn, run_id, now_ms=now_ms)
    return True


def cancel_unstarted(conn, run_id: str, *, owner: str, now_ms: int, reason: str) -> dict[str, Any] | None:
    """A run begun ahead of its start time that must not start after all (cancelled on request, its job paused
    before that time) is ``cancelled`` as a queued run would be (:func:`begin_run`, ``symbi cron cancel``): never
    started (no ``started_at``), no delivery owed, not counted as a run of its job. Returns the run as stored; None
    when it is no longer ``running`` under ``owner`` (someone recorded it meanwhile)."""
    if _prepared_under(conn, run_id, owner) is None:
        return None
    run_rows.update(
        conn,
        run_id,
        now_ms=now_ms,
        status=RunStatus.cancelled,
        started_at=None,
        finished_at=now_ms,
        error_message=reason,
    )
    return run_rows.get(conn, run_id)


def _prepared_under(conn, run_id: str, owner: str) -> dict[str, Any] | None:
    """The run, locked for this write, when it is still ``running`` under ``owner``; else None."""
    run = run_rows.get_for_finish(conn, run_id)
    if run is None or run["status"] != RunStatus.running or run.get("daemon_id") != owner:
        return None
    return run
