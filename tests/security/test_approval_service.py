"""Approvals, expiry and the gate's audit events, on a real store with a fake clock."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from pinkit import DOMAIN, Issuer

from symbi_cron.errors import InvalidState, NotFound, PermissionDenied
from symbi_cron.services import approvals, jobs
from symbi_cron.services.audit import query_events
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms

T0 = datetime.fromisoformat("2026-11-27T12:00:00+00:00")


@pytest.fixture
def clock():
    from symbi_cron.clock import FakeClock

    return FakeClock(T0)


def make_job(app, **policy) -> dict:
    return jobs.create_job(
        app, {"name": "deploy", "agent_id": "deployer", "cron_expr": "0 * * * *", "timezone": "UTC", "policy": policy}
    )


def pending_run(app, job: dict, slot: datetime) -> str:
    """What the supervisor does when the gate says require_approval."""
    run_id = str(uuid.uuid4())
    decision = approvals.gate_run(app, job, None, now=slot)
    assert decision.needs_approval
    with app.store.write() as tx:
        run_rows.insert(
            tx,
            id=run_id,
            job_id=job["id"],
            trigger="schedule",
            status="pending_approval",
            scheduled_for=to_ms(slot),
            now_ms=to_ms(app.clock.now()),
            detail={"policy": decision.to_dict()},
        )
        approvals.record_decision(tx, job=job, run_id=run_id, decision=decision, now_ms=to_ms(slot))
    return run_id


def types(app) -> list[str]:
    return [e["type"] for e in reversed(query_events(app))]


def test_approve_by_a_listed_approver(app, monkeypatch):
    job = make_job(app, require_approval=True, approvers=["alice", "bob"])
    run_id = pending_run(app, job, T0)
    [row] = approvals.pending_runs(app)
    assert row["run_id"] == run_id and row["approvers"] == ["alice", "bob"]
    assert row["expires_at"] == T0 + timedelta(hours=1)
    app.clock.advance(90)
    assert approvals.pending_runs(app)[0]["age_seconds"] == 90

    run = approvals.approve_run(app, run_id[:8], user="bob")
    assert run["status"] == "queued" and run["detail"]["approval"]["by"] == "bob"
    assert types(app)[-2:] == ["CronRunApprovalRequested", "CronRunApproved"]
    event = query_events(app, types=["CronRunApproved"])[0]
    assert event["actor"] == "test" and event["details"]["approver"] == "bob" and event["run_id"] == run_id
    assert approvals.pending_runs(app) == []
    with pytest.raises(InvalidState, match="queued, not pending_approval"):
        approvals.approve_run(app, run_id, user="bob")


def test_only_approvers_may_answer(app):
    job = make_job(app, require_approval=True, approvers=["alice"])
    run_id = pending_run(app, job, T0)
    with pytest.raises(PermissionDenied, match="'mallory' may not approve.*approvers: alice"):
        approvals.approve_run(app, run_id, user="mallory")
    with pytest.raises(PermissionDenied):
        approvals.deny_run(app, run_id, "no", user="mallory")
    assert approvals.pending_runs(app)[0]["run_id"] == run_id  # nothing changed


def test_no_approvers_means_anyone(app):
    job = make_job(app, require_approval=True)
    run_id = pending_run(app, job, T0)
    assert approvals.approve_run(app, run_id, user="whoever")["status"] == "queued"


def test_deny_with_reason(app):
    job = make_job(app, require_approval=True, approvers=["alice"])
    run_id = pending_run(app, job, T0)
    run = approvals.deny_run(app, run_id, "change freeze", user="alice")
    assert run["status"] == "denied" and run["error_message"] == "denied by alice: change freeze"
    assert run["finished_at"] == T0
    assert query_events(app, types=["CronRunDenied"])[0]["details"] == {"approver": "alice", "reason": "change freeze"}


def test_unknown_and_ambiguous_run_refs(app):
    with pytest.raises(NotFound):
        approvals.approve_run(app, "ffffffff", user="x")
    with pytest.raises(NotFound, match="at least 4"):
        approvals.approve_run(app, "ab", user="x")


def test_expire_pending_at_the_next_slot(app):
    job = make_job(app, require_approval=True)
    run_id = pending_run(app, job, T0)
    with app.store.write() as tx:
        assert approvals.expire_pending(tx, job["id"], T0 + timedelta(minutes=59, seconds=59)) == []
    with app.store.write() as tx:
        assert approvals.expire_pending(tx, job["id"], T0 + timedelta(hours=1)) == [run_id]
    run = run_rows.get(app.store.connection(), run_id)
    assert run["status"] == "cancelled" and run["error_message"] == "approval expired at the next slot"
    assert types(app)[-1] == "CronRunApprovalExpired"


def test_approving_after_the_next_slot_expires_instead(app):
    """Even with no daemon to expire it, a stale request cannot be approved into a run."""
    job = make_job(app, require_approval=True)
    run_id = pending_run(app, job, T0)
    app.clock.advance(3600)
    with pytest.raises(InvalidState, match="approval expired at the next slot"):
        approvals.approve_run(app, run_id, user="x")
    assert run_rows.get(app.store.connection(), run_id)["status"] == "cancelled"
    assert types(app)[-1] == "CronRunApprovalExpired"


def test_gate_records_policy_denials(app, monkeypatch):
    job = make_job(app, allowed_environments=["production"])
    monkeypatch.setenv("SYMBI_ENV", "staging")
    app.settings = None  # reload settings with the environment
    decision = approvals.gate_run(app, job, None)
    assert decision.denied
    with app.store.write() as tx:
        approvals.record_decision(tx, job=job, run_id="r1", decision=decision, now_ms=to_ms(T0))
    event = query_events(app, types=["CronRunPolicyDenied"])[0]
    assert event["details"]["check"] == "allowed_environments" and "'staging'" in event["details"]["reason"]


def test_gate_with_real_agentpin(app, home, monkeypatch, tmp_path):
    """require_agent_pin end to end: ${ENV} credential, discovery_dir, audit event on failure without the token."""
    issuer = Issuer()
    issuer.declare("deployer")
    d = tmp_path / "disc"
    d.mkdir()
    (d / f"{DOMAIN}.json").write_text(json.dumps(issuer.document()))
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[agentpin]\ndomain = "{DOMAIN}"\ndiscovery_dir = "{d}"\n')
    good = issuer.token("deployer", now=T0)
    monkeypatch.setenv("DEPLOY_PIN", good)
    app.settings = None
    job = jobs.create_job(
        app,
        {
            "name": "secure",
            "agent_id": "deployer",
            "cron_expr": "0 * * * *",
            "agent_pin_jwt": "${DEPLOY_PIN}",
            "policy": {"require_agent_pin": True},
        },
    )
    agent = {"name": "deployer", "capabilities": []}
    assert approvals.gate_run(app, job, agent).allowed

    bad = issuer.token("deployer", now=T0 - timedelta(days=1))
    monkeypatch.setenv("DEPLOY_PIN", bad)
    decision = approvals.gate_run(app, job, agent)
    assert decision.denied and decision.check == "agent_pin" and "expired" in decision.reason
    with app.store.write() as tx:
        approvals.record_decision(tx, job=job, run_id="r2", decision=decision, now_ms=to_ms(T0))
    event = query_events(app, types=["AgentPinVerificationFailed"])[0]
    assert "expired" in event["details"]["reason"] and event["run_id"] == "r2"
    raw = app.store.connection().execute("SELECT group_concat(details) FROM audit").fetchone()[0]
    assert bad not in raw and good not in raw
    # The stored job keeps the reference, never the credential.
    spec = app.store.connection().execute("SELECT spec FROM jobs WHERE id = ?", (job["id"],)).fetchone()[0]
    assert "${DEPLOY_PIN}" in spec and good not in spec


def test_required_by_default_from_config(app, monkeypatch):
    monkeypatch.setenv("SYMBI_AGENTPIN_REQUIRED", "true")
    app.settings = None
    job = make_job(app)
    decision = approvals.gate_run(app, job, None)
    assert decision.denied and decision.check == "agent_pin" and "no agent_pin_jwt" in decision.reason
