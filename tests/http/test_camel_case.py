"""camelCase aliases on the guide's family (SPEC §13): the guide's JavaScript body is accepted, and a caller that
writes camelCase is answered in camelCase; free-form maps keep their keys."""

from __future__ import annotations

import jsonschema

# The guide's JavaScript example ("SDK de JavaScript"), as its client.schedule.create sends it.
GUIDE_JS_JOB = {
    "name": "daily-backup",
    "agentId": "backup-agent",
    "cronExpr": "0 2 * * *",
    "sessionMode": "ephemeral_with_summary",
    "delivery": ["webhook"],
    "webhookUrl": "https://backup.example.com/notify",
}


def _schema(doc: dict, path: str, method: str, status: str, *, request: bool = False) -> jsonschema.Validator:
    op = doc["paths"][path][method]
    content = op["requestBody"]["content"] if request else op["responses"][status]["content"]
    return jsonschema.Draft202012Validator({**content["application/json"]["schema"], "components": doc["components"]})


def test_the_guides_javascript_body_is_accepted_and_answered_in_camel_case(http):
    r = http("POST", "/api/v1/schedule", GUIDE_JS_JOB)
    assert r.status == 201, r.body
    job = r.body
    assert job["agentId"] == "backup-agent" and job["cronExpr"] == "0 2 * * *"
    assert job["sessionMode"] == "ephemeral_with_summary" and job["webhookUrl"] == "https://backup.example.com/notify"
    assert {"nextRun", "runCount", "failureCount", "createdAt", "maxRetries"} <= set(job)
    assert "agent_id" not in job and "next_run" not in job
    assert job["policy"]["requireApproval"] is False and job["heartbeat"]["maxIterations"] == 10
    # the same job read without a body (GET) is in SPEC §4's snake_case, as the guide's getStatus reads it
    got = http("GET", f"/api/v1/schedule/{job['id']}").body
    assert got["agent_id"] == "backup-agent" and got["next_run"] == job["nextRun"]

    doc = http("GET", "/api/v1/openapi.json").body
    _schema(doc, "/api/v1/schedule", "post", "201", request=True).validate(GUIDE_JS_JOB)
    _schema(doc, "/api/v1/schedule", "post", "201").validate(job)


def test_update_in_camel_case_with_nested_models_and_free_maps(http):
    job = http("POST", "/api/v1/schedule", GUIDE_JS_JOB).body
    change = {
        "cronExpr": "*/30 * * * *",
        "webhookHeaders": {"X-Trace_id": "abc", "authorization": "${BACKUP_TOKEN}"},
        "policy": {"requireApproval": True, "maxRuntime": "5m", "allowedHours": {"start": "01:00", "end": "05:00"}},
        "heartbeat": {"enabled": True, "contextMode": "fully_ephemeral", "maxIterations": 3},
        "maxConcurrent": 2,
    }
    r = http("PUT", f"/api/v1/schedule/{job['id']}", change)
    assert r.status == 200, r.body
    out = r.body
    assert out["cronExpr"] == "*/30 * * * *" and out["maxConcurrent"] == 2
    assert out["webhookHeaders"] == {"X-Trace_id": "abc", "authorization": "${BACKUP_TOKEN}"}  # the user's keys
    assert out["policy"]["maxRuntime"] == 300 and out["policy"]["allowedHours"] == {"start": "01:00", "end": "05:00"}
    assert out["heartbeat"] == {"enabled": True, "contextMode": "fully_ephemeral", "maxIterations": 3}
    snake = http("GET", f"/api/v1/schedule/{job['id']}").body
    assert snake["policy"]["max_runtime"] == 300 and snake["heartbeat"]["context_mode"] == "fully_ephemeral"
    # a snake_case caller is answered in snake_case
    r = http("PUT", f"/api/v1/schedule/{job['id']}", {"max_concurrent": 3})
    assert r.body["max_concurrent"] == 3 and "maxConcurrent" not in r.body


def test_camel_case_errors_name_the_callers_field(http):
    r = http("POST", "/api/v1/schedule", {**GUIDE_JS_JOB, "cronExpr": "0 25 * * *"})
    assert r.status == 400 and r.body["code"] == "invalid_cron" and r.body["details"]["field"] == "cronExpr"
    assert r.body["error"].startswith("cronExpr: ")
    r = http("POST", "/api/v1/schedule", {**GUIDE_JS_JOB, "policy": {"maxRuntime": "soon"}})
    assert r.status == 400 and r.body["details"]["field"] == "policy.maxRuntime"
    r = http("POST", "/api/v1/schedule", {**GUIDE_JS_JOB, "agent_id": "other"})
    assert r.status == 400 and "same field" in r.body["error"] and r.body["details"]["field"] == "agent_id"
    r = http("POST", "/api/v1/schedule", {**GUIDE_JS_JOB, "agentID": "x"})
    assert r.status == 400 and r.body["details"]["field"] == "agentID"  # not an alias: an unknown field


def test_the_list_filter_takes_agentId(http):
    http("POST", "/api/v1/schedule", GUIDE_JS_JOB)
    http("POST", "/api/v1/schedule", {**GUIDE_JS_JOB, "name": "other", "agentId": "someone"})
    assert [j["name"] for j in http("GET", "/api/v1/schedule?agentId=backup-agent").body] == ["daily-backup"]
    assert http("GET", "/api/v1/schedule?agentId=backup-agent&agent_id=someone").body == []  # a and b: none
    assert len(http("GET", "/api/v1/schedule?agentId=someone&agent_id=someone").body) == 1
