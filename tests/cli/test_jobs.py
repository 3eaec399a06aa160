"""The job commands through the real CLI on a real store (SPEC §11, issue 2 items 5 and 7), as shells and scripts use
them: usage mistakes, huge counts, a reader that stops early, names with blanks around them."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

GUIDE_ADD = """{
"name": "quick-task",
"agent_id": "agent-123",
"cron_expr": "0 * * * *"
}"""


def add(cli, **fields):
    spec = {"agent_id": "agent", "cron_expr": "0 9 * * *", **fields}
    result = cli("cron", "add", "--json", json.dumps(spec), ok=True)
    return result.stdout.strip()


def store_dump(home):
    import sqlite3

    conn = sqlite3.connect(home / "symbi.db")
    try:
        return [sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in ("jobs", "runs", "audit")]
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def test_the_guides_add_example_works_verbatim(cli):
    before = datetime.now(timezone.utc)  # the job's creation lies in between: the hour may turn meanwhile
    result = cli("cron", "add", "--json", GUIDE_ADD)
    after = datetime.now(timezone.utc)
    assert result.exit_code == 0, result.stderr
    job_id = result.stdout.strip()
    assert len(job_id) == 36
    assert "agent-123" in result.stderr and "not registered" in result.stderr  # a warning, not an error
    listed = json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)
    assert [j["id"] for j in listed] == [job_id]
    job = listed[0]
    assert (job["name"], job["agent_id"], job["cron_expr"], job["status"]) == (
        "quick-task",
        "agent-123",
        "0 * * * *",
        "active",
    )
    assert job["timezone"] == "UTC" and job["max_retries"] == 3 and job["session_mode"] == "ephemeral_with_summary"
    nxt = datetime.fromisoformat(job["next_run"])
    assert nxt.minute == 0 and before < nxt <= after + timedelta(hours=1)


def test_add_prints_the_whole_job_with_format_json(cli):
    result = cli("cron", "add", "--json", GUIDE_ADD, "--format", "json", ok=True)
    job = json.loads(result.stdout)
    assert job["name"] == "quick-task" and set(job) >= {"id", "next_run", "created_at", "policy", "heartbeat"}


def test_json_on_stdin(cli):
    result = cli("cron", "add", "--json", "-", input=GUIDE_ADD)
    assert result.exit_code == 0, result.stderr


def test_list_filters_and_formats(cli):
    add(cli, name="a", agent_id="reporter-agent")
    add(cli, name="b", agent_id="other")
    cli("cron", "pause", "b", ok=True)
    by_agent = json.loads(cli("cron", "list", "--agent", "reporter-agent", "--format", "json", ok=True).stdout)
    assert [j["name"] for j in by_agent] == ["a"]
    paused = json.loads(cli("cron", "list", "--status", "paused", "--format", "json", ok=True).stdout)
    assert [j["name"] for j in paused] == ["b"]
    table = cli("cron", "list", ok=True).stdout
    assert "NAME" in table and "reporter-agent" in table and "paused" in table
    rows = list(csv.DictReader(io.StringIO(cli("cron", "list", "--format", "csv", ok=True).stdout)))
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["status"] == "paused"


def test_jobs_are_named_by_id_prefix_or_name(cli):
    job_id = add(cli, name="by-any-name")
    for ref in (job_id, job_id[:8], "by-any-name"):
        status = json.loads(cli("cron", "status", ref, "--format", "json", ok=True).stdout)
        assert status["id"] == job_id


def test_remove_asks_unless_forced(cli):
    add(cli, name="doomed")
    refused = cli("cron", "remove", "doomed")  # stdin is not a terminal
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert cli("cron", "remove", "--name", "doomed", "--force", ok=True).stdout.startswith("removed doomed")
    assert json.loads(cli("cron", "list", "--format", "json").stdout) == []
    gone = cli("cron", "remove", "--name", "doomed", "--force")
    assert gone.exit_code == 3


def test_pause_resume_recomputes_next_run_from_now(app, clock):
    from symbi_cron.services import jobs

    job = jobs.create_job(app, {"name": "p", "agent_id": "a", "cron_expr": "0 * * * *"})
    assert job["next_run"] == datetime(2026, 11, 27, 13, tzinfo=timezone.utc)
    paused = jobs.pause_job(app, "p")
    assert (paused["status"], paused["next_run"]) == ("paused", None)  # no stale "next run" while paused
    clock.advance(5 * 3600 + 60)  # 17:01, five slots passed while paused
    resumed = jobs.resume_job(app, "p")
    assert resumed["status"] == "active"
    assert resumed["next_run"] == datetime(2026, 11, 27, 18, tzinfo=timezone.utc)
    events = [r[0] for r in app.store.query("SELECT type FROM audit ORDER BY seq")]
    assert events == ["CronJobCreated", "CronJobPaused", "CronJobResumed"]


def test_reset_returns_a_dead_lettered_job_to_active(app, clock):
    from symbi_cron.services import jobs
    from symbi_cron.store import jobs as job_rows
    from symbi_cron.timeutil import to_ms

    job = jobs.create_job(app, {"name": "flaky-job", "agent_id": "a", "cron_expr": "0 * * * *"})
    with app.store.write() as tx:
        job_rows.set_state(
            tx, job["id"], now_ms=to_ms(clock.now()), status="dead_letter", failure_count=3, next_run=None
        )
    clock.advance(3600 * 2 + 5)
    back = jobs.reset_job(app, "flaky-job")
    assert (back["status"], back["failure_count"]) == ("active", 0)
    assert back["next_run"] == datetime(2026, 11, 27, 15, tzinfo=timezone.utc)


def test_status_and_history_show_runs(cli, app, clock):
    from symbi_cron.services import jobs
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    job = jobs.create_job(app, {"name": "reporter", "agent_id": "a", "cron_expr": "0 * * * *"})
    base = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)
    with app.store.write() as tx:
        for i, status in enumerate(["succeeded", "failed", "succeeded"]):
            slot = to_ms(base + timedelta(hours=i))
            run_rows.insert(
                tx, id=f"run-{i}", job_id=job["id"], trigger="schedule", status=status, scheduled_for=slot, now_ms=slot
            )
            run_rows.update(
                tx,
                f"run-{i}",
                now_ms=slot,
                execution_time_ms=1200 + i,
                exit_code=0 if i != 1 else 2,
                output=f"out {i}\n=SUM(A1:A2)",
                error_message="exit 2" if i == 1 else None,
            )
    hist = json.loads(cli("cron", "history", "reporter", "--format", "json", ok=True).stdout)
    assert [r["id"] for r in hist] == ["run-2", "run-1", "run-0"]
    assert hist[0]["output"].startswith("out 2") and hist[1]["error_message"] == "exit 2"
    failed = json.loads(cli("cron", "history", "reporter", "--status", "failed", "--format", "json").stdout)
    assert [r["id"] for r in failed] == ["run-1"]
    limited = json.loads(cli("cron", "history", "reporter", "--limit", "1", "--format", "json").stdout)
    assert len(limited) == 1
    text = cli("cron", "history", "reporter", "--format", "csv", ok=True).stdout
    assert text.startswith("id,job_id,job_name,trigger,status")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["output"] == "out 2\n=SUM(A1:A2)"  # multi-line cell quoted, kept whole
    status = cli("cron", "status", "reporter", "--history", "2", ok=True).stdout
    assert "Next run:" in status and "run-2"[:8] in status and "run-0" not in status
    as_json = json.loads(cli("cron", "status", "reporter", "--history", "10", "--format", "json").stdout)
    assert len(as_json["recent_runs"]) == 3 and as_json["next_run"].startswith("2026-11-27T13:00")


def test_csv_neutralises_formulas():
    from symbi_cron.cli.common import _csv_value

    assert _csv_value('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert _csv_value("-5") == "-5" and _csv_value("@cmd") == "'@cmd"


BAD_INPUTS = [
    pytest.param(['{"name": "x", "agent_id": "a", "cron_expr": "61 * * * *"}'], 2, "minute", id="bad-cron"),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "0 0 30 2 *"}'], 2, "cron_expr: day of month", id="never-fires"
    ),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "0 9 * * *", "timezone": "Mars/Olympus"}'],
        2,
        "timezone: unknown time zone",
        id="unknown-zone",
    ),
    pytest.param(['{"name": "x", "agent_id": "a", "at": "2001-01-01T00:00:00Z"}'], 2, "at: ", id="at-in-past"),
    pytest.param(['{"name": "x", "agent_id": "a", "at": "tomorrow"}'], 2, "at: ", id="at-not-iso"),
    pytest.param(['{"name": "x", "agent_id": "a"}'], 2, "exactly one of cron_expr and at", id="no-schedule"),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "at": "2099-01-01T00:00:00Z"}'],
        2,
        "exactly one",
        id="both-schedules",
    ),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "max_concurrent": "two"}'],
        2,
        "max_concurrent",
        id="wrong-type",
    ),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "max_retries": -1}'], 2, "max_retries", id="negative"
    ),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "delivery": ["pigeon"]}'],
        2,
        "delivery",
        id="unknown-channel",
    ),
    pytest.param(
        ['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "cron": "x"}'],
        2,
        "cron: unknown field",
        id="unknown-field",
    ),
    pytest.param(['{"name": "x", "agent_id": "a", "cron_expr": "* * * * *"'], 2, "not valid JSON", id="bad-json"),
    pytest.param(["[1, 2]"], 2, "JSON object", id="not-an-object"),
    pytest.param(['{"name": "taken", "agent_id": "a", "cron_expr": "* * * * *"}'], 4, "exists", id="duplicate"),
]


@pytest.mark.parametrize("args, code, message", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_changes_nothing(cli, home, args, code, message):
    add(cli, name="taken")
    before = store_dump(home)
    result = cli("cron", "add", "--json", *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert store_dump(home) == before


@pytest.mark.parametrize(
    "args, code",
    [
        (["cron", "status", "nope"], 3),
        (["cron", "pause", "nope"], 3),
        (["cron", "history", "nope"], 3),
        (["cron", "history", "taken", "--limit", "-1"], 2),
        (["cron", "history", "taken", "--limit", "0"], 2),
        (["cron", "history", "taken", "--status", "exploded"], 2),
        (["cron", "status", "taken", "--history", "-3"], 2),
        (["cron", "list", "--status", "sleeping"], 2),
        (["cron", "resume", "taken"], 4),
        (["cron", "add"], 2),
        (["cron", "frobnicate"], 2),
    ],
)
def test_command_errors_have_documented_exit_codes(cli, home, args, code):
    add(cli, name="taken")
    before = store_dump(home)
    result = cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.strip()
    assert store_dump(home) == before


def test_ambiguous_prefix_is_a_conflict(app):
    from symbi_cron.errors import Conflict
    from symbi_cron.services import jobs
    from symbi_cron.store import jobs as job_rows

    with app.store.write() as tx:
        for suffix in ("1", "2"):
            job_rows.insert(
                tx,
                id=f"abcdef00-0000-0000-0000-00000000000{suffix}",
                spec={"name": f"j{suffix}", "agent_id": "a", "cron_expr": "0 9 * * *", "timezone": "UTC"},
                status="active",
                next_run=None,
                now_ms=0,
            )
    with pytest.raises(Conflict, match="matches several jobs"):
        jobs.get_job(app, "abcdef00")
    assert jobs.get_job(app, "abcdef00-0000-0000-0000-000000000002")["name"] == "j2"


def test_update_recomputes_schedule_and_rejects_scheduler_fields(app, clock):
    from symbi_cron.errors import InvalidInput
    from symbi_cron.services import jobs

    jobs.create_job(app, {"name": "u", "agent_id": "a", "cron_expr": "0 9 * * *"})
    updated = jobs.update_job(app, "u", {"cron_expr": "0 */2 * * *"})
    assert updated["next_run"] == datetime(2026, 11, 27, 14, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput, match="status"):
        jobs.update_job(app, "u", {"status": "active"})
    switched = jobs.update_job(app, "u", {"at": "2026-12-01T10:00:00Z"})
    assert switched["cron_expr"] is None and switched["next_run"] == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)


def test_the_cli_as_a_real_subprocess(run_symbi):
    added = run_symbi("cron", "add", "--json", GUIDE_ADD)
    assert added.returncode == 0, added.stderr
    listed = run_symbi("cron", "list", "--format", "json")
    assert json.loads(listed.stdout)[0]["name"] == "quick-task"
    bad = run_symbi("cron", "add", "--json", "{oops")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    version = run_symbi("--version")
    assert version.returncode == 0 and version.stdout.startswith("symbi ")


def test_status_watch_redraws_until_interrupted(run_symbi, home):
    import os

    assert run_symbi("cron", "add", "--json", GUIDE_ADD).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "symbi_cron", "cron", "status", "quick-task", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        # SIGINT as a terminal delivers it: a suite run in the background ignores it, and children inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        seen = ""
        deadline = time.monotonic() + 20
        while seen.count("Job:") < 2 and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert seen.count("Job:") >= 2, seen
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()


def test_a_commands_exit_code_passes_through_main(monkeypatch):
    """ctx.exit(n) inside a command must reach the shell (click returns it in non-standalone mode)."""
    import click

    from symbi_cron import cli as cli_module

    @click.command()
    def probe():
        click.get_current_context().exit(7)

    monkeypatch.setattr(cli_module, "cli", probe)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main([])
    assert exit_info.value.code == 7


def test_add_warns_of_an_unset_variable_in_a_webhook_header(cli, monkeypatch):
    monkeypatch.delenv("HOOK_TOKEN_Y", raising=False)
    spec = {
        "name": "hooked",
        "agent_id": "reporter",
        "cron_expr": "0 * * * *",
        "delivery": ["webhook"],
        "webhook_url": "https://hooks.example.com/${HOOK_PATH_Y}",
        "webhook_headers": {"Authorization": "Bearer ${HOOK_TOKEN_Y}"},
    }
    result = cli("cron", "add", "--json", json.dumps(spec))
    assert result.exit_code == 0, result.stderr  # a warning: the daemon's environment may well have it
    assert "webhook header Authorization refers to ${HOOK_TOKEN_Y}, which is not set here" in result.stderr
    assert "job field webhook_url refers to ${HOOK_PATH_Y}" in result.stderr


@pytest.fixture
def echoer(cli):
    cli("agent", "add", "echoer", "--command", "echo hello", ok=True)


BIG = str(10**20)


def test_a_huge_count_means_all_instead_of_an_internal_error(cli, echoer):
    add(cli, name="j", agent_id="echoer")
    cli("cron", "run", "j", "--wait", ok=True)
    for args in (
        ("cron", "history", "j", "--limit", BIG),
        ("cron", "status", "j", "--history", BIG),
        ("audit", "query", "--limit", BIG),
    ):
        r = cli(*args, "--format", "json")
        assert r.exit_code == 0, (args, r.stderr)
        assert json.loads(r.stdout)


@pytest.mark.parametrize(
    "args, words",
    [
        (("cron", "list", "--bogus"), "--bogus"),
        (("cron", "status"), "JOB"),
        (("cron", "history", "x", "--limit", "0"), "--limit"),
        (("cron", "list", "--format", "yaml"), "--format"),
        (("cron", "history", "x", "--limit", "ten"), "--limit"),
    ],
)
def test_a_usage_mistake_is_one_error_line_with_exit_2(cli, args, words):
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert "--help" in lines[0]


def test_a_group_alone_still_shows_its_help(cli):
    r = cli("cron")
    assert r.exit_code == 2 and "Commands:" in r.stderr + r.stdout


def test_a_reader_that_stops_early_is_not_an_error(app, home):
    # `symbi cron list --format json | head -1` under `set -o pipefail`: click turned EPIPE into exit 1.
    from symbi_cron.services import jobs

    for i in range(150):  # ~250 kB of JSON: more than a pipe holds, so the writer meets the closed pipe
        jobs.create_job(app, {"name": f"bulk-{i}", "agent_id": "echoer", "cron_expr": "@hourly"})
    for fmt in ("json", "csv", "table"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "symbi_cron", "cron", "list", "--format", fmt],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, (fmt, err)
        # Nothing but the note that no daemon runs (tests/cli/test_no_daemon_warning.py): no EPIPE traceback.
        assert [line for line in err.splitlines() if not line.startswith(b"warning: no daemon")] == [], (fmt, err)


def test_json_on_stdin_with_a_byte_order_mark_is_read(cli):
    spec = json.dumps({"name": "bom", "agent_id": "echoer", "cron_expr": "@daily"})
    cli("cron", "add", "--json", "-", input="\ufeff" + spec, ok=True)


def test_update_changes_only_the_given_fields_and_keeps_the_state(cli, echoer):
    job_id = add(cli, name="nightly", agent_id="echoer", delivery=["log_file", "stdout"], input="hi")
    cli("cron", "pause", "nightly", ok=True)
    r = cli("cron", "update", "nightly", "--cron", "*/30 * * * *", "--format", "json", ok=True)
    job = json.loads(r.stdout)
    assert job["id"] == job_id and job["cron_expr"] == "*/30 * * * *"
    assert job["status"] == "paused" and job["delivery"] == ["log_file", "stdout"] and job["input"] == "hi"
    r = cli("cron", "update", job_id[:8], "--json", '{"input": "new"}', ok=True)
    assert r.stdout.startswith("updated nightly (") and "paused" in r.stdout
    resumed = json.loads(cli("cron", "resume", "nightly", "--format", "json", ok=True).stdout)
    assert resumed["input"] == "new" and resumed["next_run"].endswith(("00:00+00:00", "30:00+00:00"))
    events = json.loads(cli("audit", "query", "--type", "CronJobUpdated", "--format", "json", ok=True).stdout)
    assert len(events) == 2


@pytest.mark.parametrize(
    "args, code",
    [
        ((), 2),  # nothing to change
        (("--json", '{"status": "active"}'), 2),  # kept by the scheduler
        (("--json", '{"cron_expr": "61 * * * *"}'), 2),  # bad expression, named
        (("--json", "[1]"), 2),
        (("--json", '{"nam": "x"}'), 2),  # unknown field
        (("--json", '{"name": "other"}'), 4),  # taken
    ],
)
def test_update_refuses_bad_changes_with_the_documented_codes(cli, echoer, args, code):
    add(cli, name="one", agent_id="echoer")
    add(cli, name="other", agent_id="echoer")
    r = cli("cron", "update", "one", *args)
    assert r.exit_code == code and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert cli("cron", "update", "nosuch", "--cron", "@daily").exit_code == 3


def test_a_job_name_with_blanks_around_it_finds_the_job_it_created(cli, echoer):
    # The name is stored trimmed, so `cron status "  padded  "` (as added) said "no job".
    job_id = add(cli, name="  padded  ", agent_id="echoer")
    for args in (("cron", "status", "  padded  "), ("cron", "pause", "padded "), ("cron", "resume", " padded")):
        r = cli(*args, "--format", "json", ok=True)
        assert json.loads(r.stdout)["id"] == job_id
    assert cli("cron", "status", "   ").exit_code == 2
    cli("cron", "remove", "--name", " padded ", "--force", ok=True)
