"""Failures are loud and cron-like where the user came from cron (issue 15, item 5): an imported job's failed
run never stops its following slots (`on_failure: continue`, usable by any job), MAILTO becomes email delivery
of failed runs (or a warning naming the line), `delivery_on: always | failure | change`, and crontab export then
import keeps the job names. Real daemon, real SMTP server on 127.0.0.1, the real CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from agents.daemon_helper import wait_for

from symbi_cron.services.delivery import wants_delivery
from symbi_cron.services.failure_policy import after_failure


def _job(d, name: str) -> dict:
    return json.loads(d.symbi("cron", "status", name, "--format", "json", "--history", "0", check=True).stdout)


def _new_slot(d, job_id: str, after_ms: int) -> int:
    """Make the job due now, in a slot after ``after_ms`` (slots are whole seconds, and each has one run)."""
    at = d.make_due(job_id)
    if at <= after_ms:
        at = d.make_due(job_id, in_seconds=(after_ms + 1000) / 1000 - time.time())
    return at


def _import(d, text: str, *args: str):
    return d.symbi("cron", "import", "--crontab", "-", *args, input=text)


# -- the decisions ------------------------------------------------------------------------------------------
def test_after_failure_decides_retry_dead_letter_or_wait() -> None:
    dead = {"max_retries": 3}
    assert [after_failure(dead, attempt=a, failure_count=a) for a in (1, 2, 3)] == ["retry", "retry", "dead_letter"]
    assert after_failure({"max_retries": 0}, attempt=1, failure_count=1) == "dead_letter"
    cron = {"max_retries": 0, "on_failure": "continue"}
    assert after_failure(cron, attempt=1, failure_count=57) == "wait"  # never stops, however many in a row
    cont = {"max_retries": 2, "on_failure": "continue"}
    assert after_failure(cont, attempt=1, failure_count=9) == "retry"  # each slot gets its own retries
    assert after_failure(cont, attempt=2, failure_count=10) == "wait"


@pytest.mark.parametrize(
    "delivery_on, status, previous, wanted",
    [
        ("always", "succeeded", "succeeded", True),
        ("failure", "succeeded", "failed", False),
        ("failure", "failed", "failed", True),
        ("failure", "timed_out", None, True),
        ("change", "succeeded", None, True),
        ("change", "succeeded", "succeeded", False),
        ("change", "failed", "succeeded", True),
        ("change", "succeeded", "failed", True),
    ],
)
def test_wants_delivery(delivery_on: str, status: str, previous: str | None, wanted: bool) -> None:
    assert wants_delivery({"delivery_on": delivery_on}, status, previous) is wanted


# -- crontab import: cron's behaviour ----------------------------------------------------------------------
def test_an_imported_job_that_fails_keeps_running_its_slots(d) -> None:
    out = _import(d, "* * * * * false\n")
    assert out.returncode == 0, out.stderr
    assert "note: the imported jobs keep cron's behaviour: a failed run is not retried and never stops" in out.stdout
    job = _job(d, "false")
    assert (job["on_failure"], job["max_retries"], job["catchup"]) == ("continue", 0, "skip")
    d.start()
    slot_at = 0
    for slot in (1, 2, 3):
        slot_at = _new_slot(d, job["id"], slot_at)
        wait_for(lambda n=slot: len([r for r in d.runs(job["id"]) if r["status"] == "failed"]) == n, what=f"run {slot}")
    runs = d.runs(job["id"])
    assert [r["trigger"] for r in runs] == ["schedule"] * 3  # no retries, as under cron
    job = _job(d, "false")
    assert job["status"] == "active" and job["failure_count"] == 3 and job["next_run"] is not None
    assert "failures never stop this job" in d.symbi("cron", "status", "false", check=True).stdout


def test_any_job_can_continue_after_its_retries(d) -> None:
    d.add_agent("failer", "fail", "4")
    job_id = d.add_job("flaky", "failer", max_retries=2, retry_backoff_seconds=0, on_failure="continue")
    d.start()
    first = _new_slot(d, job_id, 0)
    wait_for(lambda: len(d.runs(job_id)) == 2 and d.runs(job_id)[-1]["status"] == "failed", what="the retry")
    _new_slot(d, job_id, first)  # the job is still active: its next slot runs, with a retry of its own
    wait_for(lambda: len([r for r in d.runs(job_id) if r["status"] == "failed"]) == 4, what="the second slot")
    in_order = sorted(d.runs(job_id), key=lambda r: r["created_at"])  # a slot may be earlier than a late retry
    assert [(r["trigger"], r["attempt"]) for r in in_order] == [
        ("schedule", 1),
        ("retry", 2),
        ("schedule", 1),
        ("retry", 2),
    ]
    assert _job(d, "flaky")["status"] == "active"
    # The default stays dead-lettering.
    other = d.add_job("strict", "failer", max_retries=1)
    d.make_due(other)
    wait_for(lambda: _job(d, "strict")["status"] == "dead_letter", what="the dead-letter")


# -- MAILTO ------------------------------------------------------------------------------------------------
CRONTAB_WITH_MAILTO = """\
MAILTO=ops@example.com,oncall@example.com
0 3 * * * /bin/true
0 4 * * * /bin/false
MAILTO=""
0 5 * * * /bin/echo quiet
"""


@pytest.fixture
def smtp(tmp_path: Path):
    from tests.servers.smtp_server import SMTPTestServer

    with SMTPTestServer(tmp_path / "smtp-cert", users={"symbi-bot": "correct horse"}) as srv:
        yield srv


def test_mailto_becomes_email_of_failed_runs_when_smtp_is_configured(d, smtp) -> None:
    with open(d.home / "config.toml", "a") as fh:
        fh.write(
            "[scheduler.delivery]\n"
            f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nsmtp_ca_file = "{smtp.ca_file}"\n'
            'smtp_username = "symbi-bot"\nsmtp_password = "correct horse"\nemail_from = "symbi@example.com"\n'
        )
    out = _import(d, CRONTAB_WITH_MAILTO)
    assert out.returncode == 0, out.stderr
    assert "MAILTO" not in out.stderr  # nothing to warn about
    for name in ("true", "false"):
        job = _job(d, name)
        assert job["delivery"] == ["log_file", "email"] and job["delivery_on"] == "failure"
        assert job["email_recipients"] == ["ops@example.com", "oncall@example.com"]
    assert _job(d, "echo")["delivery"] == ["log_file"]  # MAILTO="" turned mail off
    assert d.symbi("cron", "run", "true").returncode == 0  # in the foreground: delivered before it returns
    assert smtp.messages == []
    assert d.symbi("cron", "run", "false").returncode == 1
    [mail] = smtp.wait_for(1)
    assert sorted(mail.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    assert "false" in mail.message()["Subject"]
    [succeeded] = json.loads(d.symbi("cron", "history", "true", "--format", "json", check=True).stdout)
    assert succeeded["deliveries"] == []  # delivery_on: failure: nothing sent for a success


def test_mailto_without_smtp_is_a_warning_naming_the_line(d) -> None:
    out = _import(d, CRONTAB_WITH_MAILTO)
    assert out.returncode == 0, out.stderr
    assert "warning: line 1: MAILTO=ops@example.com,oncall@example.com is not mailed: email is not configured" in (
        out.stderr
    )
    assert _job(d, "false")["delivery"] == ["log_file"]
    dry = _import(d, CRONTAB_WITH_MAILTO, "--dry-run")
    assert "warning: line 1: MAILTO=" in dry.stderr


# -- delivery_on --------------------------------------------------------------------------------------------
def test_delivery_on_change_and_failure(d, tmp_path: Path) -> None:
    code = tmp_path / "exit-code"
    d.symbi("agent", "add", "switch", "--command", f"exit $(cat {code})", "--shell", check=True)
    for name, when in (("on-change", "change"), ("on-failure", "failure"), ("always", "always")):
        spec = {
            "name": name,
            "agent_id": "switch",
            "cron_expr": "0 0 1 1 *",
            "delivery_on": when,
            "max_retries": 0,
            "on_failure": "continue",
        }
        d.symbi("cron", "add", "--json", json.dumps(spec), check=True)
    delivered: dict[str, list[bool]] = {"on-change": [], "on-failure": [], "always": []}
    for exit_code in ("0", "0", "1", "1", "0"):
        code.write_text(exit_code)
        for name, seen in delivered.items():
            d.symbi("cron", "run", name)
            newest = json.loads(d.symbi("cron", "history", name, "--limit", "1", "--format", "json").stdout)[0]
            seen.append(bool(newest["deliveries"]))
    assert delivered == {
        "on-change": [True, False, True, False, True],
        "on-failure": [False, False, True, True, False],
        "always": [True] * 5,
    }


def test_delivery_on_in_the_dsl_and_refused_when_unknown(d, tmp_path: Path) -> None:
    path = tmp_path / "jobs.symbi"
    path.write_text(
        'agent a { command: "true" }\n'
        'schedule { name: "j", agent: "a", cron: "@daily", delivery_on: "change", on_failure: "continue" }\n'
    )
    d.symbi("cron", "add", "--file", str(path), "--all", check=True)
    job = _job(d, "j")
    assert (job["delivery_on"], job["on_failure"]) == ("change", "continue")
    path.write_text(
        'agent a { command: "true" }\nschedule { name: "k", agent: "a", cron: "@daily", delivery_on: "never" }\n'
    )
    bad = d.symbi("cron", "validate", "--file", str(path))
    assert (
        bad.returncode == 1 and "delivery_on" in bad.stderr and "must be one of always, failure, change" in bad.stderr
    )


# -- export then import keeps the names ----------------------------------------------------------------------
def test_crontab_export_then_import_keeps_the_job_names(d, tmp_path: Path) -> None:
    d.symbi("agent", "add", "backup-agent", "--command", "/usr/local/bin/backup.sh --full", check=True)
    for name, cron in (("nightly backup", "0 3 * * *"), ("weekly-backup", "0 4 * * 0")):
        d.add_job(name, "backup-agent", cron)
    exported = d.symbi("cron", "export", check=True).stdout
    assert "# job nightly backup (agent backup-agent)" in exported
    other = type(d)(tmp_path / "other-home")
    out = other.symbi("cron", "import", "--crontab", "-", input=exported)
    assert out.returncode == 0, out.stderr
    jobs = json.loads(other.symbi("cron", "list", "--format", "json", check=True).stdout)
    assert sorted((j["name"], j["agent_id"], j["cron_expr"]) for j in jobs) == [
        ("nightly backup", "backup-agent", "0 3 * * *"),
        ("weekly-backup", "backup-agent", "0 4 * * 0"),
    ]
    agents = json.loads(other.symbi("agent", "list", "--format", "json", check=True).stdout)
    assert [a["name"] for a in agents] == ["backup-agent"]  # one agent for both lines, as exported
    again = other.symbi("cron", "export", check=True).stdout
    assert again.replace("\n", "") and "# job weekly-backup (agent backup-agent)" in again
