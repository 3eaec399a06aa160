"""`cron validate` and `cron add` give the same answer (issue 15, item 10): an `at` in the past, an `at` without
an offset read in the job's zone, a webhook without webhook_url, an unknown custom channel, a malformed email
address. Through the real CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

AGENT = 'agent a { command: "true" }\n'


def schedule(**keys: str) -> str:
    body = "\n".join(f"  {k}: {v}" for k, v in {"name": '"job"', "agent": '"a"', **keys}.items())
    return AGENT + "schedule {\n" + body + "\n}\n"


CASES = {
    "at in the past": (
        {"at": '"2020-01-01T09:00:00Z"'},
        {"at": "2020-01-01T09:00:00Z"},
        "at",
        "is in the past",
        (5, 7),
    ),
    "webhook without url": (
        {"cron": '"0 9 * * *"', "delivery": '["webhook"]'},
        {"cron_expr": "0 9 * * *", "delivery": ["webhook"]},
        "webhook_url",
        "the webhook channel needs a webhook_url",
        (6, 13),
    ),
    "unknown custom channel": (
        {"cron": '"0 9 * * *"', "delivery": '["log_file", "custom:pager"]'},
        {"cron_expr": "0 9 * * *", "delivery": ["log_file", "custom:pager"]},
        "delivery",
        "unknown channel 'custom:pager'",
        (6, 13),
    ),
    "malformed email": (
        {"cron": '"0 9 * * *"', "delivery": '["email"]', "email_recipients": '["ops@example.com", "ops at example"]'},
        {"cron_expr": "0 9 * * *", "delivery": ["email"], "email_recipients": ["ops@example.com", "ops at example"]},
        "email_recipients.1",
        "'ops at example' is not an email address",
        (7, 21),
    ),
    "email without recipients": (
        {"cron": '"0 9 * * *"', "delivery": '["email"]'},
        {"cron_expr": "0 9 * * *", "delivery": ["email"]},
        "email_recipients",
        "the email channel needs at least one address",
        (6, 13),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_and_add_refuse_the_same_schedule(cli, home, tmp_path: Path, case: str) -> None:
    dsl_keys, json_fields, field, message, (line, col) = CASES[case]
    path = tmp_path / "jobs.symbi"
    path.write_text(schedule(**dsl_keys))

    checked = cli("cron", "validate", "--file", str(path))
    assert checked.exit_code == 1, checked.stdout
    assert f"{path}:{line}:{col}: error: " in checked.stderr and message in checked.stderr
    as_json = json.loads(cli("cron", "validate", "--file", str(path), "--format", "json").stdout)
    assert as_json["ok"] is False and message in as_json["problems"][0]["message"]

    added = cli("cron", "add", "--file", str(path), "--all")
    assert added.exit_code == 2 and f"{path}:{line}:{col}: " in added.stderr and message in added.stderr
    by_json = cli("cron", "add", "--json", json.dumps({"name": "job", "agent_id": "a", **json_fields}))
    assert by_json.exit_code == 2
    assert by_json.stderr.startswith(f"error: {field}: ") and message in by_json.stderr
    assert json.loads(cli("cron", "list", "--format", "json", ok=True).stdout) == []  # nothing written


def test_a_valid_file_is_ok_in_both(cli, home, tmp_path: Path) -> None:
    path = tmp_path / "jobs.symbi"
    at = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(
        schedule(
            at=f'"{at}"',
            delivery='["webhook", "email"]',
            webhook_url='"https://example.com/h"',
            email_recipients='["Ops <ops@example.com>", "${ONCALL_EMAIL}"]',
        )
    )
    assert cli("cron", "validate", "--file", str(path), ok=True).stdout.startswith("ok: ")
    cli("cron", "add", "--file", str(path), "--all", ok=True)


def test_an_at_without_offset_is_read_in_the_jobs_zone_in_both(cli, home, tmp_path: Path) -> None:
    year = datetime.now(timezone.utc).year + 1
    path = tmp_path / "jobs.symbi"
    path.write_text(schedule(at=f'"{year}-06-01T09:00"', timezone='"Europe/Madrid"'))
    assert cli("cron", "validate", "--file", str(path), ok=True).stdout.startswith("ok: ")
    cli("cron", "add", "--file", str(path), "--all", ok=True)
    [job] = json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)
    assert job["at"] == f"{year}-06-01T09:00:00+02:00"  # 09:00 in Madrid (summer time), not 09:00 UTC
    assert datetime.fromisoformat(job["next_run"]) == datetime(year, 6, 1, 9, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    # The same wall time in the past (last year) is refused by both, in the job's zone.
    path.write_text(schedule(at=f'"{year - 2}-06-01T09:00"', timezone='"Europe/Madrid"'))
    assert "+02:00 is in the past" in cli("cron", "validate", "--file", str(path)).stderr
    json_at = {"name": "j2", "agent_id": "a", "at": f"{year}-01-10T09:00", "timezone": "America/New_York"}
    cli("cron", "add", "--json", json.dumps(json_at), ok=True)
    job = json.loads(cli("cron", "status", "j2", "--format", "json", ok=True).stdout)
    assert job["at"] == f"{year}-01-10T09:00:00-05:00"


def test_add_file_checks_only_the_schedules_it_adds(cli, home, tmp_path: Path) -> None:
    path = tmp_path / "jobs.symbi"
    path.write_text(
        AGENT
        + 'schedule { name: "old", agent: "a", at: "2020-01-01T00:00:00Z" }\n'
        + 'schedule { name: "fine", agent: "a", cron: "@daily" }\n'
    )
    cli("cron", "add", "--file", str(path), "--schedule", "fine", ok=True)
    refused = cli("cron", "add", "--file", str(path), "--schedule", "old")
    assert refused.exit_code == 2 and ":2:" in refused.stderr and "in the past" in refused.stderr
