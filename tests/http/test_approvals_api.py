"""Approving through the API: POST /api/v1/runs/{id}/approve|deny act as the identity bound to the key
(``api.identity`` for the main key, a name of ``[api.keys]`` for the others), never as a name the request claims."""

from __future__ import annotations

import uuid

import pytest
from api_helpers import Http

from symbi_cron.http.server import start_api
from symbi_cron.services import jobs
from symbi_cron.services.audit import query_events
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms

ALICE_KEY = "alice-key-" + "x" * 24


@pytest.fixture
def api(app, monkeypatch):
    monkeypatch.setenv("ALICE_API_KEY", ALICE_KEY)
    app.settings.api.identity = "ops-bot"
    app.settings.api.keys = {"alice": "${ALICE_API_KEY}"}
    handle = start_api(app, None, port=0)
    main = Http(handle)
    alice = Http(handle)
    alice.key = ALICE_KEY
    yield main, alice
    handle.close()


def waiting_run(app, approvers: list[str]) -> str:
    job = jobs.create_job(
        app,
        {
            "name": f"deploy-{uuid.uuid4().hex[:6]}",
            "agent_id": "deployer",
            "cron_expr": "0 0 1 1 *",
            "policy": {"require_approval": True, "approvers": approvers},
        },
    )
    now = to_ms(app.clock.now())
    run_id = str(uuid.uuid4())
    with app.store.write() as tx:
        run_rows.insert(
            tx, id=run_id, job_id=job["id"], trigger="manual", status="pending_approval", scheduled_for=now, now_ms=now
        )
    return run_id


def test_a_key_bound_to_an_approver_approves_as_it(app, api):
    main, alice = api
    run_id = waiting_run(app, ["alice"])
    # the main key is "ops-bot": not an approver, whatever the request says about itself
    r = main("POST", f"/api/v1/runs/{run_id}/approve", headers={"X-User": "alice", "From": "alice"})
    assert r.status == 403 and r.body["code"] == "forbidden" and "'ops-bot' may not approve" in r.body["error"]
    r = alice("POST", f"/api/v1/runs/{run_id[:8]}/approve")
    assert r.status == 200, r.body
    assert r.body["id"] == run_id and r.body["status"] == "queued"
    [event] = query_events(app, types=["CronRunApproved"])
    assert event["actor"] == "api:alice" and event["details"]["approver"] == "alice"
    again = alice("POST", f"/api/v1/runs/{run_id}/approve")
    assert again.status == 409 and "not pending_approval" in again.body["error"]


def test_deny_with_a_reason_as_the_main_keys_identity(app, api):
    main, _ = api
    run_id = waiting_run(app, [])  # no approvers listed: anyone with a key
    r = main("POST", f"/api/v1/runs/{run_id}/deny", {"reason": "change freeze"})
    assert r.status == 200 and r.body["status"] == "denied"
    assert r.body["error_message"] == "denied by ops-bot: change freeze"
    [event] = query_events(app, types=["CronRunDenied"])
    assert event["actor"] == "api" and event["details"] == {"approver": "ops-bot", "reason": "change freeze"}


def test_every_key_is_checked_and_an_unset_key_variable_stops_the_api(app, api, monkeypatch):
    main, alice = api
    assert main("GET", "/api/v1/schedule").status == 200 and alice("GET", "/api/v1/schedule").status == 200
    wrong = Http(main.handle)
    wrong.key = ALICE_KEY + "x"
    assert wrong("GET", "/api/v1/schedule").status == 401
    monkeypatch.delenv("ALICE_API_KEY")
    from symbi_cron.errors import SymbiError

    with pytest.raises(SymbiError, match=r"api.keys.alice is '\$\{ALICE_API_KEY\}', which is empty or unset"):
        start_api(app, None, port=0)


def test_the_python_client_approves_and_denies_as_its_keys_identity(app, api):
    from symbi_cron.client import PermissionError_, SymbiontClient

    main, _ = api
    alice = SymbiontClient(base_url=main.handle.url, api_key=ALICE_KEY)
    ops = SymbiontClient(base_url=main.handle.url, api_key=main.key)
    first, second = waiting_run(app, ["alice"]), waiting_run(app, ["alice"])
    with pytest.raises(PermissionError_) as exc:
        ops.runs.approve(first)
    assert exc.value.status == 403 and exc.value.code == "forbidden"
    assert alice.runs.approve(first).status == "queued"
    denied = alice.runs.deny(second, reason="not today")
    assert denied.status == "denied" and denied.error_message == "denied by alice: not today"
