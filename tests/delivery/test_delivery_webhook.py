"""The webhook channel against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.router import deliver
from tests.servers.http_recorder import Reply


def _job(srv, **over):
    return sample_job(webhook_url=srv.url("/hooks/run"), **over)


def test_success_posts_the_documented_body(http_server, make_ctx):
    ctx = make_ctx()
    payload = sample_payload(output="héllo wörld ✓\n", job=_job(http_server))
    [r] = deliver(payload, ["webhook"], ctx)
    assert r.ok and r.attempts == 1 and r.channel == "webhook"
    assert "HTTP 200" in r.detail
    [req] = http_server.requests
    assert req.method == "POST" and req.path == "/hooks/run"
    assert req.header("Content-Type") == "application/json; charset=utf-8"
    assert req.header("User-Agent").startswith("symbi-cron/")
    body = req.json()
    assert body == {
        "version": 1,
        "event": "run.finished",
        "job": {"id": payload.job["id"], "name": "nightly-report", "agent_id": "reporter", "timezone": "UTC"},
        "run": {
            "id": payload.run["id"],
            "status": "succeeded",
            "trigger": "schedule",
            "attempt": 1,
            "scheduled_for": "2026-11-27T12:00:00+00:00",
            "started_at": "2026-11-27T12:00:00.250000+00:00",
            "finished_at": "2026-11-27T12:00:01.500000+00:00",
            "execution_time_ms": 1250,
            "exit_code": 0,
            "iterations": 1,
            "summary": "3 reports written",
            "error_message": None,
        },
        "output": "héllo wörld ✓\n",
    }


def test_body_accepts_datetimes_and_epoch_ms(make_ctx):
    from datetime import datetime, timezone

    p = sample_payload(scheduled_for=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), started_at=1767323045000)
    run = json.loads(p.to_json())["run"]
    assert run["scheduled_for"] == "2026-01-02T03:04:05+00:00"
    assert run["started_at"] == "2026-01-02T03:04:05+00:00"


def test_500_then_200_is_retried_with_backoff(http_server, make_ctx, sleeps):
    http_server.script(Reply(500, "boom"), Reply(502, "bad gateway"), Reply(200))
    ctx = make_ctx(webhook_retry_attempts=3, webhook_retry_backoff_seconds=0.5)
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert r.ok and r.attempts == 3
    assert len(http_server.requests) == 3
    assert sleeps == [0.5, 1.0]  # doubling
    # the same body each time
    assert len({req.body for req in http_server.requests}) == 1


def test_retries_exhausted_is_a_failure_naming_the_status(http_server, make_ctx, sleeps):
    http_server.default = Reply(503, "down for maintenance")
    ctx = make_ctx(webhook_retry_attempts=2, webhook_retry_backoff_seconds=1)
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert not r.ok and r.attempts == 3
    assert "HTTP 503" in r.detail and "down for maintenance" in r.detail and "gave up after 3 attempts" in r.detail
    assert sleeps == [1, 2]


def test_404_is_not_retried(http_server, make_ctx, sleeps):
    http_server.default = Reply(404, "no such hook")
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], make_ctx(webhook_retry_attempts=3))
    assert not r.ok and r.attempts == 1
    assert "HTTP 404" in r.detail
    assert len(http_server.requests) == 1 and sleeps == []


def test_429_honours_retry_after(http_server, make_ctx, sleeps):
    http_server.script(Reply(429, "slow down", {"Retry-After": "7"}), Reply(204))
    ctx = make_ctx(webhook_retry_attempts=2, webhook_retry_backoff_seconds=1)
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert r.ok and r.attempts == 2 and sleeps == [7.0]


def test_redirect_is_a_failure_not_followed(http_server, make_ctx):
    http_server.default = Reply(302, "", {"Location": http_server.url("/elsewhere")})
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], make_ctx())
    assert not r.ok and "HTTP 302" in r.detail and r.attempts == 1
    assert [q.path for q in http_server.requests] == ["/hooks/run"]


def test_timeout_is_a_failed_receipt(http_server, make_ctx, sleeps):
    http_server.default = Reply(200, "late", delay=1.0)
    ctx = make_ctx(webhook_timeout_seconds=0.2, webhook_retry_attempts=1, webhook_retry_backoff_seconds=0)
    [r] = deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert not r.ok and r.attempts == 2
    assert "timed out after 0.2s" in r.detail


def test_connection_refused_is_a_failed_receipt(make_ctx):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    job = sample_job(webhook_url=f"http://127.0.0.1:{port}/x")
    [r] = deliver(sample_payload(job=job), ["webhook"], make_ctx(webhook_retry_attempts=0))
    assert not r.ok and "connection failed" in r.detail


def test_headers_expand_env_at_send_time(http_server, make_ctx):
    job = _job(http_server, webhook_headers={"X-Api-Key": "${HOOK_KEY}", "X-Team": "ops-${TEAM}"})
    ctx = make_ctx(env={"HOOK_KEY": "k-123456", "TEAM": "blue"})
    [r] = deliver(sample_payload(job=job), ["webhook"], ctx)
    assert r.ok
    req = http_server.requests[0]
    assert req.header("X-Api-Key") == "k-123456"
    assert req.header("X-Team") == "ops-blue"
    assert req.header("Authorization") is None


def test_auth_header_from_settings_or_env_unless_the_job_sets_one(http_server, make_ctx):
    ctx = make_ctx(env={"SYMBI_WEBHOOK_AUTH_HEADER": "Bearer from-env-token"}, webhook_auth_header="Bearer cfg")
    deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert http_server.requests[-1].header("Authorization") == "Bearer from-env-token"

    ctx = make_ctx(webhook_auth_header="Bearer ${CFG_TOKEN}", env={"CFG_TOKEN": "cfg-token-1"})
    deliver(sample_payload(job=_job(http_server)), ["webhook"], ctx)
    assert http_server.requests[-1].header("Authorization") == "Bearer cfg-token-1"

    job = _job(http_server, webhook_headers={"authorization": "Token job-own"})
    deliver(sample_payload(job=job), ["webhook"], ctx)
    assert http_server.requests[-1].header("Authorization") == "Token job-own"


def test_no_webhook_url_is_a_failed_receipt(make_ctx):
    [r] = deliver(sample_payload(), ["webhook"], make_ctx())
    assert not r.ok and r.detail == "the job has no webhook_url"


@pytest.mark.parametrize(
    "job_fields, delivery, names",
    [
        (
            {"webhook_headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}},
            {},
            ("webhook header Authorization", "HOOK_TOKEN"),
        ),
        ({"webhook_headers": {"X-Team": "ops-${TEAM}"}}, {}, ("webhook header X-Team", "TEAM")),
        ({}, {"webhook_auth_header": "Bearer ${CFG_TOKEN}"}, ("scheduler.delivery.webhook_auth_header", "CFG_TOKEN")),
        ({"path": "/hooks/${PATH_TOKEN}"}, {}, ("webhook_url", "PATH_TOKEN")),
    ],
)
def test_an_unset_variable_is_a_failed_receipt_naming_it_and_nothing_is_sent(
    http_server, make_ctx, job_fields, delivery, names
):
    fields = dict(job_fields)
    job = _job(http_server)
    if "path" in fields:
        job["webhook_url"] = http_server.url(fields.pop("path"))
    job.update(fields)
    [r] = deliver(sample_payload(job=job), ["webhook"], make_ctx(env={}, **delivery))
    where, var = names
    assert not r.ok
    assert r.detail == f"{where}: environment variable {var} is not set (nothing was sent)"
    assert http_server.requests == []  # never "Authorization: Bearer " with success recorded
