"""The guide's /api/v1/schedule family: every endpoint with its status codes, and the guide's curl examples run
with the real curl binary, as written plus the Authorization header."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest

from symbi_cron.models import Job, Run

GUIDE_JOB = {
    "name": "hourly-report",
    "agent_id": "reporter",
    "cron_expr": "0 * * * *",
    "session_mode": "ephemeral_with_summary",
    "delivery": ["stdout"],
}

# The guide's examples, copied verbatim ("Endpoints de la API HTTP"); the tests add only -H Authorization.
GUIDE_CURLS = [
    """curl -X POST http://localhost:8080/api/v1/schedule \\
-H "Content-Type: application/json" \\
-d '{
"name": "hourly-report",
"agent_id": "reporter",
"cron_expr": "0 * * * *",
"session_mode": "ephemeral_with_summary",
"delivery": ["stdout"]
}'""",
    """curl "http://localhost:8080/api/v1/schedule?status=active&agent_id=reporter\"""",
    """curl http://localhost:8080/api/v1/schedule/job-123""",
    """curl -X PUT http://localhost:8080/api/v1/schedule/job-123 \\
-H "Content-Type: application/json" \\
-d '{"cron_expr": "0 */2 * * *"}'""",
    """curl -X POST http://localhost:8080/api/v1/schedule/job-123/pause""",
    """curl -X POST http://localhost:8080/api/v1/schedule/job-123/resume""",
    """curl -X POST http://localhost:8080/api/v1/schedule/job-123/run \\
-H "Content-Type: application/json" \\
-d '{"input": "Run with custom input"}'""",
    """curl "http://localhost:8080/api/v1/schedule/job-123/history?limit=20&status=failed\"""",
    """curl http://localhost:8080/api/v1/schedule/job-123/next_run""",
    """curl http://localhost:8080/api/v1/health/scheduler""",
    """curl -X DELETE http://localhost:8080/api/v1/schedule/job-123""",
]
EXPECTED = [201, 200, 200, 200, 200, 200, 202, 200, 200, 200, 200]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_every_curl_example_of_the_guide_works_as_written(http, server):
    # The guide's examples name the job "job-123": a job may be named by its name, so one exists by that name.
    assert http("POST", "/api/v1/schedule", {**GUIDE_JOB, "name": "job-123"}).status == 201
    base = f"http://127.0.0.1:{server.port}"
    for example, expected in zip(GUIDE_CURLS, EXPECTED, strict=True):
        argv = shlex.split(example.replace("\\\n", " ").replace("\n", " "))
        argv = [a.replace("http://localhost:8080", base) for a in argv]
        argv[1:1] = ["-sS", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {server.key}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, (example, out.stderr)
        body, _, code = out.stdout.rpartition("\n")
        assert int(code) == expected, (example, body)
        json.loads(body)  # every answer is JSON


def test_create_get_list_update_delete(http):
    r = http("POST", "/api/v1/schedule", GUIDE_JOB)
    assert r.status == 201
    job = Job.model_validate(r.body)
    assert job.name == "hourly-report" and job.status == "active" and job.next_run is not None

    r = http("GET", f"/api/v1/schedule/{job.id}")
    assert r.status == 200 and r.body["cron_expr"] == "0 * * * *"
    assert http("GET", f"/api/v1/schedule/{job.id[:8]}").body["id"] == job.id  # unique prefix
    assert http("GET", "/api/v1/schedule/hourly-report").body["id"] == job.id  # name

    assert [j["id"] for j in http("GET", "/api/v1/schedule?status=active&agent_id=reporter").body] == [job.id]
    assert http("GET", "/api/v1/schedule?status=paused").body == []
    assert http("GET", "/api/v1/schedule?agent_id=someone-else").body == []

    r = http("PUT", f"/api/v1/schedule/{job.id}", {"cron_expr": "0 */2 * * *", "delivery": ["log_file"]})
    assert r.status == 200 and r.body["cron_expr"] == "0 */2 * * *" and r.body["delivery"] == ["log_file"]

    r = http("DELETE", f"/api/v1/schedule/{job.id}")
    assert r.status == 200 and r.body == {"id": job.id, "name": "hourly-report", "deleted": True}
    assert http("GET", f"/api/v1/schedule/{job.id}").status == 404
    assert http("DELETE", f"/api/v1/schedule/{job.id}").status == 404


def test_create_conflict_and_invalid_fields(http):
    assert http("POST", "/api/v1/schedule", GUIDE_JOB).status == 201
    r = http("POST", "/api/v1/schedule", GUIDE_JOB)
    assert r.status == 409 and r.body["code"] == "conflict" and r.body["details"]["field"] == "name"

    cases = {
        "cron_expr": {**GUIDE_JOB, "name": "b", "cron_expr": "61 * * * *"},
        "session_mode": {**GUIDE_JOB, "name": "c", "session_mode": "forever"},
        "delivery": {**GUIDE_JOB, "name": "d", "delivery": ["pigeon"]},
        "timezone": {**GUIDE_JOB, "name": "e", "timezone": "Mars/Olympus"},
        "agent_id": {k: v for k, v in GUIDE_JOB.items() if k != "agent_id"},
        "colour": {**GUIDE_JOB, "name": "f", "colour": "red"},
        "max_concurrent": {**GUIDE_JOB, "name": "g", "max_concurrent": "many"},
    }
    for field, body in cases.items():
        r = http("POST", "/api/v1/schedule", body)
        assert r.status == 400, (field, r.body)
        assert set(r.body) == {"error", "code", "details"}
        assert field in r.body["error"] or field in json.dumps(r.body["details"]), (field, r.body)


def test_update_rules(http):
    job = http("POST", "/api/v1/schedule", GUIDE_JOB).body
    http("POST", "/api/v1/schedule", {**GUIDE_JOB, "name": "other"})
    r = http("PUT", f"/api/v1/schedule/{job['id']}", {"name": "other"})
    assert r.status == 409
    r = http("PUT", f"/api/v1/schedule/{job['id']}", {"status": "paused"})
    assert r.status == 400 and r.body["details"]["field"] == "status"
    r = http("PUT", f"/api/v1/schedule/{job['id']}", {"cron_expr": "not cron"})
    assert r.status == 400
    r = http("PUT", f"/api/v1/schedule/{job['id']}", {})
    assert r.status == 400
    assert http("PUT", "/api/v1/schedule/nope", {"input": "x"}).status == 404


def test_pause_resume_and_invalid_state(http):
    job = http("POST", "/api/v1/schedule", GUIDE_JOB).body
    r = http("POST", f"/api/v1/schedule/{job['id']}/pause")
    assert r.status == 200 and r.body["status"] == "paused"
    r = http("POST", f"/api/v1/schedule/{job['id']}/pause")
    assert r.status == 409 and r.body["code"] == "invalid_state"
    assert http("GET", f"/api/v1/schedule/{job['id']}/next_run").body["next_run"] is None
    r = http("POST", f"/api/v1/schedule/{job['id']}/resume")
    assert r.status == 200 and r.body["status"] == "active"
    assert http("POST", f"/api/v1/schedule/{job['id']}/resume").status == 409
    assert http("POST", "/api/v1/schedule/nope/pause").status == 404


def test_run_now_queues_a_manual_run(http):
    job = http("POST", "/api/v1/schedule", GUIDE_JOB).body
    r = http("POST", f"/api/v1/schedule/{job['id']}/run", {"input": "Run with custom input"})
    assert r.status == 202, r.body
    assert r.body["run_id"] == r.body["id"] and r.body["status"] == "queued" and r.body["trigger"] == "manual"
    assert r.body["input"] == "Run with custom input"
    r2 = http("POST", f"/api/v1/schedule/{job['id']}/run")  # no body at all is fine
    assert r2.status == 202
    runs = http("GET", f"/api/v1/schedule/{job['id']}/history").body
    assert {x["id"] for x in runs} == {r.body["id"], r2.body["id"]}
    for x in runs:
        Run.model_validate(x)
    assert http("POST", f"/api/v1/schedule/{job['id']}/run", {"inputs": "x"}).status == 400
    assert http("POST", "/api/v1/schedule/nope/run").status == 404


def test_history_filters_and_limits(http):
    job = http("POST", "/api/v1/schedule", GUIDE_JOB).body
    for _ in range(3):
        http("POST", f"/api/v1/schedule/{job['id']}/run")
    assert len(http("GET", f"/api/v1/schedule/{job['id']}/history?limit=2").body) == 2
    assert http("GET", f"/api/v1/schedule/{job['id']}/history?status=failed").body == []
    assert len(http("GET", f"/api/v1/schedule/{job['id']}/history?status=queued").body) == 3
    r = http("GET", f"/api/v1/schedule/{job['id']}/history?limit=zero")
    assert r.status == 400 and r.body["details"]["field"] == "limit"
    assert http("GET", f"/api/v1/schedule/{job['id']}/history?limit=0").status == 400
    r = http("GET", f"/api/v1/schedule/{job['id']}/history?status=exploded")
    assert r.status == 400 and r.body["details"]["field"] == "status"
    status = http("GET", f"/api/v1/schedule/{job['id']}?history=2").body
    assert len(status["recent_runs"]) == 2


def test_next_run(http, app):
    job = http("POST", "/api/v1/schedule", {**GUIDE_JOB, "timezone": "UTC"}).body
    r = http("GET", f"/api/v1/schedule/{job['id']}/next_run?count=3")
    assert r.status == 200
    # The fake clock stands at 2026-11-27 12:00 UTC: the next slots are the following hours.
    assert r.body["next_run"] == "2026-11-27T13:00:00+00:00"
    assert r.body["next_runs"] == [
        "2026-11-27T13:00:00+00:00",
        "2026-11-27T14:00:00+00:00",
        "2026-11-27T15:00:00+00:00",
    ]
    assert http("GET", f"/api/v1/schedule/{job['id']}/next_run?count=100000").status == 400


def test_scheduler_health_has_the_guides_shape(http):
    http("POST", "/api/v1/schedule", GUIDE_JOB)
    b = http("POST", "/api/v1/schedule", {**GUIDE_JOB, "name": "b"}).body
    http("POST", f"/api/v1/schedule/{b['id']}/pause")
    r = http("GET", "/api/v1/health/scheduler", auth=False)
    assert r.status == 200
    assert r.body["status"] == "healthy"
    assert r.body["active_jobs"] == 1 and r.body["paused_jobs"] == 1 and r.body["in_flight_jobs"] == 0
    assert set(r.body["metrics"]) == {"runs_total", "runs_succeeded", "runs_failed", "avg_execution_time_ms"}


def test_changes_are_audited_with_the_api_actor(http, app):
    job = http("POST", "/api/v1/schedule", GUIDE_JOB).body
    http("POST", f"/api/v1/schedule/{job['id']}/pause")
    rows = app.store.connection().execute("SELECT type, actor FROM audit ORDER BY seq").fetchall()
    assert [(t, a) for t, a in rows] == [("CronJobCreated", "api"), ("CronJobPaused", "api")]
