"""Starting a run (SPEC §5, §9): a queued run passes the policy gate and becomes ``running`` under its owner's id,
in the caller's write transaction (or ``denied``, ``pending_approval``, ``cancelled``; or stays queued while its
job is at its ``max_concurrent``). The tick loop finds the candidates with ``store.runs.startable``.

Previous step: ``services/claim.py``. Next: the owner executes it (``runtime/owner.py``), then
``services/record.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import agents as agent_rows
from ..store import jobs as job_rows
from ..store import runs as run_rows
from .approvals import record_decision
from .jobs import end_one_shot_if_done

SCHEDULED_TRIGGERS = ("schedule", "catchup", "retry")


@dataclass
class Begun:
    """A run that passed the gate and is now ``running``."""

    run: dict[str, Any]
    job: dict[str, Any]
    agent: dict[str, Any] | None


def begin_run(
    conn,
    run_id: str,
    *,
    now_ms: int,
    daemon_id: str,
    gate: Callable[[dict, dict | None], Any],
    actor: str = "daemon",
    daemon_name: str | None = None,
) -> Begun | None:
    """A queued run passes the policy gate and becomes ``running``; None when it did not start.

    ``gate(job, agent)`` returns a ``security.policy.Decision``. A run approved by a person is not asked for
    approval again (the other checks still apply). A job no longer active cancels its scheduled runs; a job at
    its ``max_concurrent`` leaves a manual run queued for later.
    """
    run = run_rows.get_for_start(conn, run_id)
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
    run_rows.begin(conn, run_id, owner=daemon_id, daemon_name=daemon_name, now_ms=now_ms)
    run = run_rows.get(conn, run_id)
    assert run is not None
    return Begun(run=run, job=job, agent=agent)
