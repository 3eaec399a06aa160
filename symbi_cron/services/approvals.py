"""Approvals and the policy gate's side effects (SPEC §9).

The supervisor calls :func:`gate_run` before each run and :func:`record_decision` in the transaction that records
the run: a ``deny`` writes ``AgentPinVerificationFailed`` or ``CronRunPolicyDenied``, a ``require_approval``
writes ``CronRunApprovalRequested`` and the run waits in ``pending_approval``. People answer with
:func:`approve_run` (the run becomes ``queued`` and the supervisor starts it) or :func:`deny_run`. A request nobody
answers expires when the job's next slot comes (:func:`expire_pending`, also applied by ``approve_run`` so an
approval never starts a stale run even while the daemon is down).

Who may answer: the user names in the job's ``policy.approvers`` (checked against the current policy, by the
user name running the command); when that list is empty, anyone with access to the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import InvalidState, NotFound, PermissionDenied, SymbiError
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import iso, to_ms
from ..vocab import ApprovalStatus, Event, RunStatus
from .app import App, current_user
from .jobs import end_one_shot_if_done
from .runs import resolve_run

EXPIRED_MESSAGE = "approval expired at the next slot"


# -- the gate ----------------------------------------------------------------------------------------------------
def agentpin_verifier(app: App) -> Any:
    """This App's AgentPin verifier: one per App and settings, so its discovery cache outlives single runs and a
    reload with new ``[agentpin]`` settings starts a fresh one."""
    settings = app.settings.agentpin
    cached = vars(app).get("_agentpin_verifier")
    if cached is None or cached.settings is not settings:
        from ..security.agentpin import AgentPinVerifier

        cached = AgentPinVerifier(settings, app.clock)
        vars(app)["_agentpin_verifier"] = cached
    return cached


def gate_run(
    app: App, job: dict[str, Any], agent: dict[str, Any] | None, *, now: datetime | None = None, verifier: Any = None
) -> Any:
    """Evaluate the job's policy for a run starting ``now``; returns a ``security.policy.Decision``.

    The AgentPin check resolves the job's ``agent_pin_jwt`` (``${VAR}``) at this moment and is only done when the
    policy (or ``SYMBI_AGENTPIN_REQUIRED``) asks for it and every cheaper check passed.
    """
    from ..security.agentpin import credential_for_job
    from ..security.policy import evaluate

    settings = app.settings

    def verify_pin() -> None:
        v = verifier or agentpin_verifier(app)
        token = credential_for_job(job, app.env)
        name = agent.get("name") if agent else job.get("agent_id")
        v.verify(token, agent_name=str(name), agentpin_id=(agent or {}).get("agentpin_id"))

    return evaluate(
        job,
        agent,
        now=now or app.clock.now(),
        environment=settings.environment,
        agentpin_required_default=settings.agentpin.required,
        verify_pin=verify_pin,
    )


def record_decision(
    conn, *, job: dict[str, Any], run_id: str | None, decision: Any, now_ms: int, actor: str = "daemon"
) -> int | None:
    """Write the audit event a decision calls for (none for ``allow``); returns its seq."""
    if decision.kind == "deny":
        if decision.check == "agent_pin":
            return record_pin_failure(conn, job=job, run_id=run_id, reason=decision.reason, now_ms=now_ms, actor=actor)
        return append_event(
            conn,
            at_ms=now_ms,
            type=Event.run_policy_denied,
            actor=actor,
            job_id=job.get("id"),
            job_name=job.get("name"),
            run_id=run_id,
            details={"check": decision.check, "reason": decision.reason},
        )
    if decision.kind == "require_approval":
        return append_event(
            conn,
            at_ms=now_ms,
            type=Event.run_approval_requested,
            actor=actor,
            job_id=job.get("id"),
            job_name=job.get("name"),
            run_id=run_id,
            details={"approvers": list(decision.approvers)},
        )
    return None


def record_pin_failure(
    conn, *, job: dict[str, Any], run_id: str | None, reason: str | None, now_ms: int, actor: str = "daemon"
) -> int:
    """Append ``AgentPinVerificationFailed`` with the reason (never the credential)."""
    return append_event(
        conn,
        at_ms=now_ms,
        type=Event.agent_pin_failed,
        actor=actor,
        job_id=job.get("id"),
        job_name=job.get("name"),
        run_id=run_id,
        details={"reason": reason, "agent_id": job.get("agent_id")},
    )


# -- answering requests ------------------------------------------------------------------------------------------
def approval_deadline(job: dict[str, Any], run: dict[str, Any]) -> datetime | None:
    """When a pending run expires: the job's first slot after the run was requested (None: no next slot)."""
    from .jobs import next_fire

    created = run.get("created_at") or run["scheduled_for"]
    try:
        return next_fire(job, max(created, run["scheduled_for"]))
    except SymbiError:  # a job whose schedule no longer parses has no next slot to wait for
        return None


def _check_approver(job: dict[str, Any], user: str, verb: str) -> None:
    approvers = list((job.get("policy") or {}).get("approvers") or [])
    if approvers and user not in approvers:
        raise PermissionDenied(
            f"{user!r} may not {verb} runs of job {job['name']!r} (approvers: {', '.join(approvers)})"
        )


def _pending(tx, run_ref: str, verb: str) -> tuple[dict[str, Any], dict[str, Any]]:
    run = resolve_run(tx, run_ref)
    job = job_rows.get(tx, run["job_id"])
    if job is None:  # runs cascade with their job; this is a race with a delete
        raise NotFound(f"the job of run {run['id'][:8]} no longer exists")
    if run["status"] != RunStatus.pending_approval:
        raise InvalidState(
            f"run {run['id'][:8]} of job {job['name']!r} is {run['status']}, not pending_approval: nothing to {verb}"
        )
    return run, job


def _expire(tx, job: dict[str, Any], run: dict[str, Any], now: datetime, actor: str) -> None:
    now_ms = to_ms(now)
    detail = dict(run.get("detail") or {})
    detail["approval"] = {"status": "expired", "at": iso(now)}
    run_rows.update(
        tx,
        run["id"],
        now_ms=now_ms,
        status=RunStatus.cancelled,
        finished_at=now_ms,
        error_message=EXPIRED_MESSAGE,
        detail=detail,
    )
    append_event(
        tx,
        at_ms=now_ms,
        type=Event.run_approval_expired,
        actor=actor,
        job_id=job["id"],
        job_name=job["name"],
        run_id=run["id"],
        details={"scheduled_for": iso(run["scheduled_for"])},
    )
    end_one_shot_if_done(tx, job, now_ms=now_ms, ok=False, actor=actor, reason=f"its run: {EXPIRED_MESSAGE}")


def approve_run(app: App, run_ref: str, *, user: str | None = None) -> dict[str, Any]:
    """Approve a pending run: it becomes ``queued`` to start at once. Returns the run."""
    user = user or current_user()
    now = app.clock.now()
    with app.store.write() as tx:
        run, job = _pending(tx, run_ref, "approve")
        _check_approver(job, user, "approve")
        deadline = approval_deadline(job, run)
        if deadline is not None and now >= deadline:
            _expire(tx, job, run, now, app.actor)
            expired = True
        else:
            expired = False
            now_ms = to_ms(now)
            detail = dict(run.get("detail") or {})
            detail["approval"] = {"status": ApprovalStatus.approved, "by": user, "at": iso(now)}
            run_rows.update(tx, run["id"], now_ms=now_ms, status=RunStatus.queued, not_before=now_ms, detail=detail)
            append_event(
                tx,
                at_ms=now_ms,
                type=Event.run_approved,
                actor=app.actor,
                job_id=job["id"],
                job_name=job["name"],
                run_id=run["id"],
                details={"approver": user, "scheduled_for": iso(run["scheduled_for"])},
            )
        app.changed()
        out = run_rows.get(tx, run["id"])
    if expired:
        # Committed above: the expiry stands even though the approval is refused.
        raise InvalidState(
            f"run {run['id'][:8]} of job {job['name']!r}: {EXPIRED_MESSAGE} ({iso(deadline)}); it was cancelled"
        )
    assert out is not None
    out["job_name"] = job["name"]
    return out


def deny_run(app: App, run_ref: str, reason: str | None = None, *, user: str | None = None) -> dict[str, Any]:
    """Deny a pending run: it becomes ``denied`` with the reason. Returns the run."""
    user = user or current_user()
    reason = (reason or "").strip() or "no reason given"
    now = app.clock.now()
    now_ms = to_ms(now)
    with app.store.write() as tx:
        run, job = _pending(tx, run_ref, "deny")
        _check_approver(job, user, "deny")
        detail = dict(run.get("detail") or {})
        detail["approval"] = {"status": ApprovalStatus.denied, "by": user, "at": iso(now), "reason": reason}
        run_rows.update(
            tx,
            run["id"],
            now_ms=now_ms,
            status=RunStatus.denied,
            finished_at=now_ms,
            error_message=f"denied by {user}: {reason}",
            detail=detail,
        )
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.run_denied,
            actor=app.actor,
            job_id=job["id"],
            job_name=job["name"],
            run_id=run["id"],
            details={"approver": user, "reason": reason},
        )
        end_one_shot_if_done(
            tx, job, now_ms=now_ms, ok=False, actor=app.actor, reason=f"its run was denied by {user}: {reason}"
        )
        app.changed()
        out = run_rows.get(tx, run["id"])
    assert out is not None
    out["job_name"] = job["name"]
    return out


def expire_pending(conn, job_id: str, now: datetime, *, actor: str = "daemon") -> list[str]:
    """Inside the caller's write transaction: cancel the job's pending runs whose next slot has come.

    Returns the ids of the runs expired (each gets ``CronRunApprovalExpired``).
    """
    job = job_rows.get(conn, job_id)
    if job is None:
        return []
    expired = []
    for run in run_rows.with_status(conn, (RunStatus.pending_approval,), job_id=job_id):
        deadline = approval_deadline(job, run)
        if deadline is not None and now >= deadline:
            _expire(conn, job, run, now, actor)
            expired.append(run["id"])
    return expired


def pending_runs(app: App) -> list[dict[str, Any]]:
    """Runs waiting for approval, oldest first: job, run, scheduled_for, approvers, age and expiry."""
    now = app.clock.now()
    out = []
    with app.store.read() as conn:
        for run in run_rows.with_status(conn, (RunStatus.pending_approval,)):
            job = job_rows.get(conn, run["job_id"])
            if job is None:
                continue
            detail = run.get("detail") or {}
            approvers = (
                (detail.get("policy") or {}).get("approvers") or (job.get("policy") or {}).get("approvers") or []
            )
            requested = run.get("created_at") or run["scheduled_for"]
            out.append(
                {
                    "run_id": run["id"],
                    "job_id": job["id"],
                    "job_name": job["name"],
                    "agent_id": job["agent_id"],
                    "timezone": job.get("timezone"),
                    "trigger": run["trigger"],
                    "scheduled_for": run["scheduled_for"],
                    "requested_at": requested,
                    "approvers": list(approvers),
                    "age_seconds": max(0, int((now - requested).total_seconds())),
                    "expires_at": approval_deadline(job, run),
                }
            )
    return out
