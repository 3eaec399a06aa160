"""The runtime family /api/v1/schedules, driven by the published symbiont-sdk package's ``client.schedules``.

The SDK's response classes are dataclasses built with ``**data``: an extra or missing field raises TypeError, so
every call succeeding proves our field names are exactly the ones it expects.
"""

from __future__ import annotations

import pytest

symbiont = pytest.importorskip("symbiont")
from symbiont.schedules import (  # noqa: E402
    CreateScheduleRequest,
    SchedulerHealthResponse,
    UpdateScheduleRequest,
)


@pytest.fixture
def sdk(server, monkeypatch):
    from symbiont import Client

    # The SDK builds a local JWT signer it never uses with an API key, and refuses to start without a secret
    # for it: give it a throwaway one (nothing is signed or sent). No retries: a failure should show at once.
    monkeypatch.setenv("SYMBIONT_AUTH_JWT_SECRET_KEY", "unused-by-api-key-auth")
    monkeypatch.setenv("SYMBIONT_AUTH_ENABLE_REFRESH_TOKENS", "false")
    monkeypatch.setenv("SYMBIONT_MAX_RETRIES", "0")
    return Client(api_key=server.key, base_url=f"{server.url}/api/v1")


def test_sdk_schedules_methods_round_trip(sdk, http):
    s = sdk.schedules
    created = s.create_schedule(
        CreateScheduleRequest(
            name="nightly", cron_expression="0 3 * * *", agent_name="backup", timezone="Europe/Madrid"
        )
    )
    assert created.status == "active" and created.next_run.startswith("2026-11-28T02:00:00")
    job_id = created.job_id

    listed = s.list_schedules()
    assert [x.job_id for x in listed] == [job_id] and listed[0].enabled is True

    detail = s.get_schedule(job_id)
    assert detail.name == "nightly" and detail.cron_expression == "0 3 * * *" and detail.timezone == "Europe/Madrid"
    assert detail.one_shot is False and detail.run_count == 0 and detail.failure_count == 0

    updated = s.update_schedule(job_id, UpdateScheduleRequest(cron_expression="30 4 * * *", one_shot=True))
    assert updated.cron_expression == "30 4 * * *" and updated.one_shot is True

    nxt = s.get_schedule_next_runs(job_id, count=3)
    assert nxt.job_id == job_id and len(nxt.next_runs) == 3 and nxt.next_runs[0].startswith("2026-11-28T03:30")

    paused = s.pause_schedule(job_id)
    assert (paused.action, paused.status) == ("pause", "paused")
    assert s.get_schedule(job_id).enabled is False
    resumed = s.resume_schedule(job_id)
    assert (resumed.action, resumed.status) == ("resume", "active")

    triggered = s.trigger_schedule(job_id)
    assert (triggered.job_id, triggered.action, triggered.status) == (job_id, "trigger", "queued")
    hist = s.get_schedule_history(job_id, limit=10)
    assert hist.job_id == job_id and len(hist.history) == 1
    entry = hist.history[0]
    assert entry.status == "queued" and entry.completed_at is None and entry.started_at

    # The same job is visible to the guide's family (one store, two vocabularies).
    assert http("GET", f"/api/v1/schedule/{job_id}").body["agent_id"] == "backup"

    deleted = s.delete_schedule(job_id)
    assert deleted.job_id == job_id and deleted.deleted is True
    assert s.list_schedules() == []


def test_sdk_errors(sdk):
    from symbiont.exceptions import APIError, NotFoundError

    with pytest.raises(NotFoundError):
        sdk.schedules.get_schedule("no-such-job")
    with pytest.raises(APIError) as exc:
        sdk.schedules.create_schedule(CreateScheduleRequest(name="x", cron_expression="70 * * * *", agent_name="a"))
    assert exc.value.status_code == 400 and "cron_expression" in exc.value.response_text


def test_policy_ids_name_config_policies(app, http):
    app.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    app.paths.config_file.write_text(
        '[policies.business-hours]\nallowed_hours = { start = "09:00", end = "17:00" }\n'
        '[policies.short]\nmax_runtime = "5m"\n'
    )
    app._settings = None
    from symbi_cron.http.server import start_api

    handle = start_api(app, None, port=0)
    try:
        from api_helpers import Http

        call = Http(handle)
        r = call(
            "POST",
            "/api/v1/schedules",
            {
                "name": "p",
                "cron_expression": "0 9 * * 1-5",
                "agent_name": "a",
                "policy_ids": ["business-hours", "short"],
            },
        )
        assert r.status == 201, r.body
        job = call("GET", f"/api/v1/schedule/{r.body['job_id']}").body
        assert job["policy"]["allowed_hours"] == {"start": "09:00", "end": "17:00"}
        assert job["policy"]["max_runtime"] == 300
        r = call(
            "POST",
            "/api/v1/schedules",
            {"name": "q", "cron_expression": "0 9 * * *", "agent_name": "a", "policy_ids": ["nope"]},
        )
        assert r.status == 400 and r.body["details"]["field"] == "policy_ids" and "business-hours" in r.body["error"]
    finally:
        handle.close()


def test_runtime_health_shape_matches_the_sdk(http):
    # GET /api/v1/health/scheduler keeps the guide's shape (SPEC §13); ?format=runtime gives the SDK's.
    body = http("GET", "/api/v1/health/scheduler?format=runtime", auth=False).body
    health = SchedulerHealthResponse(**body)
    assert health.store_accessible is True and health.jobs_total == 0
