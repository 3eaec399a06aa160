"""`symbi cron approve|deny|pending` through the real CLI on a real store; the approver is the name of the process's
real uid, whatever $USER and $LOGNAME say."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from symbi_cron.services import jobs
from symbi_cron.services.app import current_user
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms

ME = current_user()


@pytest.fixture
def as_user(monkeypatch):
    """Claim a user name through the environment (getpass would have believed it; the CLI must not)."""

    def set_user(name: str) -> None:
        for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
            monkeypatch.setenv(var, name)

    return set_user


def waiting_run(app, *, approvers=()) -> tuple[dict, str]:
    """A job requiring approval and one run of it waiting, created at the real current time."""
    job = jobs.create_job(
        app,
        {
            "name": f"deploy-{uuid.uuid4().hex[:6]}",
            "agent_id": "deployer",
            "cron_expr": "0 0 1 1 *",
            "timezone": "UTC",
            "policy": {"require_approval": True, "approvers": list(approvers)},
        },
    )
    now = datetime.now(timezone.utc)
    run_id = str(uuid.uuid4())
    with app.store.write() as tx:
        run_rows.insert(
            tx,
            id=run_id,
            job_id=job["id"],
            trigger="manual",
            status="pending_approval",
            scheduled_for=to_ms(now),
            now_ms=to_ms(now),
            detail={"policy": {"decision": "require_approval", "approvers": list(approvers)}},
        )
    app.store.close()
    return job, run_id


def test_pending_lists_what_waits(cli, app):
    job, run_id = waiting_run(app, approvers=["alice", "bob"])
    out = cli("cron", "pending", ok=True).stdout
    assert run_id[:8] in out and job["name"] in out and "alice, bob" in out
    rows = json.loads(cli("cron", "pending", "--format", "json", ok=True).stdout)
    assert rows[0]["run_id"] == run_id and rows[0]["approvers"] == ["alice", "bob"]
    assert rows[0]["age_seconds"] >= 0 and rows[0]["expires_at"].startswith(str(datetime.now().year + 1))


def test_pending_empty(cli, home):
    r = cli("cron", "pending", ok=True)
    assert r.stdout == "" and "no runs are waiting" in r.stderr


def test_approve_as_an_approver(cli, app, as_user):
    import os
    import pwd

    assert ME == pwd.getpwuid(os.getuid()).pw_name
    job, run_id = waiting_run(app, approvers=[ME])
    as_user("someone-else")  # the environment's claim changes nothing
    r = cli("cron", "approve", run_id[:8], ok=True)
    assert r.stdout.strip() == f"approved run {run_id} of job {job['name']}: queued"
    events = json.loads(cli("audit", "query", "--type", "CronRunApproved", "--format", "json", ok=True).stdout)
    assert events[0]["actor"] == f"cli:{ME}" and events[0]["run_id"] == run_id
    assert events[0]["details"]["approver"] == ME
    r = cli("cron", "approve", run_id)
    assert r.exit_code == 4 and "queued, not pending_approval" in r.stderr


def test_approve_refused_for_others_even_when_the_environment_claims_an_approver(cli, app, as_user):
    _job, run_id = waiting_run(app, approvers=["alice"])
    as_user("alice")  # USER=alice LOGNAME=alice symbi cron approve ... once passed the policy
    r = cli("cron", "approve", run_id)
    assert r.exit_code == 4
    assert r.stderr.strip() == f"error: {ME!r} may not approve runs of job {_job['name']!r} (approvers: alice)"
    assert cli("cron", "deny", run_id).exit_code == 4


def test_deny_with_reason(cli, app, as_user):
    _job, run_id = waiting_run(app)
    as_user("carol")
    r = cli("cron", "deny", run_id, "--reason", "change freeze", "--format", "json", ok=True)
    run = json.loads(r.stdout)
    assert run["status"] == "denied" and run["error_message"] == f"denied by {ME}: change freeze"
    events = json.loads(cli("audit", "query", "--type", "CronRunDenied", "--format", "json", ok=True).stdout)
    assert events[0]["details"] == {"approver": ME, "reason": "change freeze"}


def test_unknown_run(cli, home):
    r = cli("cron", "approve", "deadbeef")
    assert r.exit_code == 3 and "no run with id or id prefix 'deadbeef'" in r.stderr
