"""Job tables for people (issue 15, items 1 and 2): times in the job's own zone with the time left or passed,
`--utc`, history with real start and end, tables that fit the terminal (`--wide`), `--sort`. Through the real
CLI on a real pty where the terminal matters."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from agents.terminal import Terminal, run_in_terminal, symbi_argv

from symbi_cron.cli.table import Fit, display_width, format_table, truncate
from symbi_cron.cli.when import relative, span, stamp

MADRID = ZoneInfo("Europe/Madrid")


def add(cli, **fields) -> str:
    spec = {"agent_id": "reporter", "cron_expr": "0 9 * * *", **fields}
    return cli("cron", "add", "--json", json.dumps(spec), ok=True).stdout.strip()


def table_lines(run) -> list[str]:
    """The table a pty showed, without the stderr warning that no daemon runs (tests/cli/test_no_daemon_warning.py)."""
    return [line for line in run.lines if not line.startswith("warning: no daemon is running")]


def next_nine_in_madrid(now: datetime) -> datetime:
    local = now.astimezone(MADRID)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine > local else (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


# -- the pieces --------------------------------------------------------------------------------------------------
def test_span_and_relative_read_like_systemd() -> None:
    now = datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc)
    assert [span(s) for s in (0, 45, 750, 21 * 3600, 2 * 3600 + 300 + 59, 3 * 86400 + 4 * 3600 + 59)] == [
        "0s",
        "45s",
        "12min 30s",
        "21h",
        "2h 5min",
        "3d 4h",
    ]
    assert relative(now + timedelta(hours=21, seconds=30), now) == "in 21h"
    assert relative(now - timedelta(seconds=3725), now) == "1h 2min ago"
    assert relative(now, now) == "now"


def test_stamp_uses_the_zones_abbreviation_or_its_offset() -> None:
    nine_madrid = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    assert stamp(nine_madrid, MADRID) == "Mon 2026-11-30 09:00 CET"
    assert stamp(nine_madrid) == "Mon 2026-11-30 08:00 UTC"
    assert stamp(nine_madrid, ZoneInfo("America/Sao_Paulo")) == "Mon 2026-11-30 05:00 -03:00"
    summer = datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc)
    assert stamp(summer, MADRID, seconds=True) == "Wed 2026-07-01 09:00:00 CEST"


def test_a_table_too_wide_cuts_free_text_then_drops_then_cuts_names_and_never_wraps() -> None:
    rows = [["a-very-long-job-name-indeed", "0 9 * * *", "active", "12", "x" * 40]]
    headers = ["NAME", "SCHEDULE", "STATUS", "RUNS", "NOTE"]
    fits = [Fit(shrink=10), Fit(), Fit(), Fit(drop=1), Fit(shrink=8, drop=2, early=True)]
    full = format_table(rows, headers, fits=fits)
    assert "a-very-long-job-name-indeed" in full and "x" * 40 in full
    at70 = format_table(rows, headers, width=70, fits=fits).splitlines()  # the note is cut, nothing dropped
    assert at70[0].split() == headers and "a-very-long-job-name-indeed" in at70[2] and "x…" in at70[2]
    assert all(display_width(line) <= 70 for line in at70)
    at56 = format_table(rows, headers, width=56, fits=fits).splitlines()  # RUNS goes first
    assert at56[0].split() == ["NAME", "SCHEDULE", "STATUS", "NOTE"]
    at50 = format_table(rows, headers, width=50, fits=fits).splitlines()  # then NOTE; the name stays whole
    assert at50[0].split() == ["NAME", "SCHEDULE", "STATUS"] and "a-very-long-job-name-indeed" in at50[2]
    at30 = format_table(rows, headers, width=30, fits=fits).splitlines()  # only then is the name cut
    assert at30[2].startswith("a-very-lon…  0 9") and all(display_width(line) <= 30 for line in at30)
    at12 = format_table(rows, headers, width=12, fits=fits).splitlines()  # nothing more to give: lines are cut
    assert all(display_width(line) <= 12 for line in at12)
    assert truncate("日本語テキスト", 7) == "日本語…" and display_width(truncate("日本語テキスト", 7)) == 7


# -- through the real CLI ---------------------------------------------------------------------------------------
@pytest.fixture
def madrid_jobs(cli, home):
    """A Madrid job due at 09:00, a one-shot 21h away (Madrid), a UTC job with a long name."""
    now = datetime.now(timezone.utc)
    add(cli, name="madrid-report", timezone="Europe/Madrid")
    at = (now + timedelta(hours=21, seconds=40)).replace(microsecond=0)
    add(cli, name="one-shot", cron_expr=None, at=at.isoformat(), timezone="Europe/Madrid")
    add(cli, name="nightly-database-backup-of-the-customer-archive", cron_expr="30 2 * * *", timezone="UTC")
    return {"now": now, "at": at}


def test_list_shows_next_and_left_in_the_jobs_own_zone(madrid_jobs, home) -> None:
    before = datetime.now(timezone.utc)
    out = run_in_terminal(symbi_argv("cron", "list"), columns=160)
    after = datetime.now(timezone.utc)
    assert out.exit_code == 0, out.output
    lines = table_lines(out)
    header = lines[0].split()
    assert header[:4] == ["ID", "NAME", "AGENT", "SCHEDULE"] and "NEXT" in header and "LEFT" in header
    assert "PASSED" in header and "LAST" in header
    row = next(line for line in lines if "madrid-report" in line)
    expected = {stamp(next_nine_in_madrid(t), MADRID) for t in (before, after)}
    assert any(e in row for e in expected), (row, expected)
    assert re.search(r"CES?T\s+in \d+(h|min|s)", row), row
    one_shot = next(line for line in lines if "one-shot" in line)
    assert stamp(madrid_jobs["at"], MADRID) in one_shot
    assert re.search(r"\sin 21h\s", one_shot), one_shot  # 21h and 40 s: minutes are not shown when zero
    assert "UTC" in next(line for line in lines if "nightly-database" in line)


def test_utc_shows_every_instant_in_utc(madrid_jobs, cli) -> None:
    out = cli("cron", "list", "--utc", "--wide", ok=True).stdout
    one_shot = next(line for line in out.splitlines() if "one-shot" in line)
    assert stamp(madrid_jobs["at"]) in one_shot and "CET" not in out and "CEST" not in out
    status = cli("cron", "status", "one-shot", "--utc", ok=True).stdout
    assert f"Next run:             {stamp(madrid_jobs['at'], seconds=True)} (in 21h)" in status


def test_status_shows_times_in_the_jobs_zone_with_time_left(madrid_jobs, cli) -> None:
    out = cli("cron", "status", "one-shot", ok=True).stdout
    assert f"Next run:             {stamp(madrid_jobs['at'], MADRID, seconds=True)} (in 21h)" in out
    assert "Last run:             -" in out


def test_list_fits_80_columns_and_wide_shows_everything(madrid_jobs, home) -> None:
    narrow = run_in_terminal(symbi_argv("cron", "list"), columns=80)
    assert narrow.exit_code == 0
    assert all(display_width(line) <= 80 for line in narrow.lines), narrow.output
    header = table_lines(narrow)[0].split()
    assert {"NAME", "SCHEDULE", "STATUS", "NEXT", "LEFT"} <= set(header)
    assert "RUNS" not in header and "TZ" not in header
    assert "nightly-database-backup-of-the-customer-archive" not in narrow.output
    assert "…" in next(line for line in narrow.lines if line.startswith("nightly"))
    wide = run_in_terminal(symbi_argv("cron", "list", "--wide"), columns=80)
    assert "nightly-database-backup-of-the-customer-archive" in wide.output
    assert {"TZ", "RUNS", "FAILS", "LAST", "PASSED"} <= set(table_lines(wide)[0].split())
    assert max(display_width(line) for line in table_lines(wide)) > 80
    # Not a terminal (a pipe): every column but the --wide ones, whole.
    # (os.environ, not the process's C environment: readline, imported by a test tool, sets COLUMNS there)
    piped = subprocess.run(symbi_argv("cron", "list"), capture_output=True, text=True, check=True, env=dict(os.environ))
    assert "nightly-database-backup-of-the-customer-archive" in piped.stdout and "RUNS" in piped.stdout


def test_json_and_csv_do_not_depend_on_the_width(madrid_jobs, home) -> None:
    for fmt in ("json", "csv"):
        narrow = table_lines(run_in_terminal(symbi_argv("cron", "list", "--format", fmt), columns=40))
        wide = table_lines(run_in_terminal(symbi_argv("cron", "list", "--format", fmt), columns=250))
        assert narrow == wide and "nightly-database-backup-of-the-customer-archive" in "\n".join(narrow)


def test_sort_orders_by_next_name_status_or_last(madrid_jobs, cli) -> None:
    def names(*args: str) -> list[str]:
        return [j["name"] for j in json.loads(cli("cron", "list", *args, "--format", "json", ok=True).stdout)]

    assert names() == sorted(names())
    by_next = json.loads(cli("cron", "list", "--sort", "next", "--format", "json", ok=True).stdout)
    times = [j["next_run"] for j in by_next]
    assert times == sorted(times)
    cli("cron", "pause", "madrid-report", ok=True)
    by_status = names("--sort", "status")
    assert by_status[-1] == "madrid-report"  # active first, then paused
    bad = cli("cron", "list", "--sort", "age")
    assert bad.exit_code == 2 and "--sort" in bad.stderr


def test_history_shows_when_a_run_really_started_and_ended(app, cli) -> None:
    """A retry that started at 06:01:21 for the 06:00 slot reads 06:01:21, not only 06:00."""
    from symbi_cron.services import jobs
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    job = jobs.create_job(
        app, {"name": "morning", "agent_id": "reporter", "cron_expr": "0 6 * * *", "timezone": "Europe/Madrid"}
    )
    slot = datetime(2026, 11, 27, 6, 0, tzinfo=MADRID)
    started = slot + timedelta(minutes=1, seconds=21)
    with app.store.write() as tx:
        run_rows.insert(
            tx,
            id="aaaaaaaa-1",
            job_id=job["id"],
            trigger="retry",
            status="running",
            scheduled_for=to_ms(slot),
            now_ms=to_ms(slot),
            attempt=2,
        )
        run_rows.update(
            tx,
            "aaaaaaaa-1",
            now_ms=to_ms(started),
            status="succeeded",
            started_at=to_ms(started),
            finished_at=to_ms(started + timedelta(seconds=2)),
            execution_time_ms=2000,
            exit_code=0,
        )
    out = cli("cron", "history", "morning", ok=True).stdout.splitlines()
    assert out[0].split()[:4] == ["RUN", "SLOT", "STARTED", "ENDED"]
    assert out[2].split()[:7] == ["aaaaaaaa", "Fri", "2026-11-27", "06:00", "CET", "06:01:21", "06:01:23"]
    utc = cli("cron", "history", "morning", "--utc", ok=True).stdout.splitlines()
    assert utc[2].split()[1:7] == ["Fri", "2026-11-27", "05:00", "UTC", "05:01:21", "05:01:23"]
    assert json.loads(cli("cron", "history", "morning", "--format", "json", ok=True).stdout)[0]["started_at"] == (
        started.astimezone(timezone.utc).isoformat()
    )


def test_pending_shows_the_slot_in_the_jobs_zone(app, cli) -> None:
    from symbi_cron.services import jobs
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    job = jobs.create_job(
        app,
        {
            "name": "gated",
            "agent_id": "reporter",
            "cron_expr": "0 6 * * *",
            "timezone": "Europe/Madrid",
            "policy": {"require_approval": True},
        },
    )
    slot = datetime(2026, 11, 27, 6, 0, tzinfo=MADRID)
    with app.store.write() as tx:
        run_rows.insert(
            tx,
            id="bbbbbbbb-1",
            job_id=job["id"],
            trigger="schedule",
            status="pending_approval",
            scheduled_for=to_ms(slot),
            now_ms=to_ms(slot),
        )
    out = cli("cron", "pending", ok=True).stdout
    assert "Fri 2026-11-27 06:00 CET" in out
    assert "Fri 2026-11-27 05:00 UTC" in cli("cron", "pending", "--utc", ok=True).stdout


def test_status_watch_redraws_in_the_terminal_until_ctrl_c(madrid_jobs, home) -> None:
    term = Terminal(symbi_argv("cron", "status", "one-shot", "--watch", "--interval", "0.2"), columns=100)
    term.read_until("(in 21h)")
    term.read_until("Ctrl-C to stop")
    term.interrupt()
    result = term.wait()
    assert result.exit_code == 0
    assert all(display_width(line) <= 100 for line in result.lines if "\x1b" not in line)


def test_audit_query_and_agent_list_fit_the_terminal_too(cli, home) -> None:
    cli(
        "agent",
        "add",
        "long-one",
        "--command",
        "/usr/local/bin/a-rather-long-program --with --many --flags " * 2,
        ok=True,
    )
    add(cli, name="a-job-with-a-long-name-to-fill-the-columns", agent_id="long-one", input="x" * 200)
    for args in (("audit", "query"), ("agent", "list")):
        narrow = run_in_terminal(symbi_argv(*args), columns=80)
        assert narrow.exit_code == 0, narrow.output
        assert all(display_width(line) <= 80 for line in narrow.lines), narrow.output
        wide = run_in_terminal(symbi_argv(*args, "--wide"), columns=80)
        assert max(display_width(line) for line in wide.lines) > 80
