"""Sample jobs, runs and payloads for the delivery tests."""

from __future__ import annotations

from typing import Any

from symbi_cron.delivery.base import DeliveryPayload


def sample_job(**over: Any) -> dict[str, Any]:
    job = {
        "id": "6f1c2b9e-0000-4000-8000-000000000001",
        "name": "nightly-report",
        "agent_id": "reporter",
        "timezone": "UTC",
        "delivery": ["log_file"],
        "webhook_url": None,
        "webhook_headers": {},
        "slack_channel": None,
        "email_recipients": [],
        "custom": {},
    }
    job.update(over)
    return job


def sample_run(**over: Any) -> dict[str, Any]:
    run = {
        "id": "0b7e9d1a-0000-4000-8000-0000000000aa",
        "status": "succeeded",
        "trigger": "schedule",
        "scheduled_for": "2026-11-27T12:00:00+00:00",
        "started_at": "2026-11-27T12:00:00.250000+00:00",
        "finished_at": "2026-11-27T12:00:01.500000+00:00",
        "execution_time_ms": 1250,
        "exit_code": 0,
        "summary": "3 reports written",
        "error_message": None,
        "iterations": 1,
        "attempt": 1,
    }
    run.update(over)
    return run


def sample_payload(output: str = "all good\nline 2\n", job: dict | None = None, **run: Any) -> DeliveryPayload:
    return DeliveryPayload(job=job or sample_job(), run=sample_run(**run), output=output)
