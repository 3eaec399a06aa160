"""`symbi cron validate --file` and `symbi cron add --file` through the real CLI on a real store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

FIX = Path(__file__).resolve().parent.parent / "fixtures"
OPS, BROKEN = str(FIX / "ops.symbi"), str(FIX / "broken.symbi")


def table_rows(home: Path, table: str) -> list:
    db = home / "symbi.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(f"SELECT * FROM {table}"))
    finally:
        conn.close()


def test_validate_ok_prints_a_summary_and_writes_nothing(cli, home):
    r = cli("cron", "validate", "--file", OPS)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "ok: 2 agents, 3 schedules"
    assert not (home / "symbi.db").exists()


def test_validate_lists_every_problem_compiler_style(cli, home):
    r = cli("cron", "validate", "--file", BROKEN)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    errors = [ln for ln in lines if ": error: " in ln]
    assert errors == [
        f"{BROKEN}:2:3: error: unknown key `comand` in agent backup (did you mean `command`?)",
        (f"{BROKEN}:9:3: error: unknown key `max_concurent` in schedule block (did you mean `max_concurrent`?)"),
        (
            f"{BROKEN}:14:10: error: schedule 'other' names agent 'ghost', which is neither defined in this "
            "file nor registered (define it with `agent NAME { }` or `symbi agent add`)"
        ),
        f"{BROKEN}:15:9: error: bad cron expression '0 25 * * *': 25 is out of range 0-23",
    ]
    # Each error is followed by its source line and a caret under the column.
    i = lines.index(errors[0])
    assert lines[i + 1] == '      comand: "/bin/echo"' and lines[i + 2] == "      ^"
    assert lines[-1] == f"4 problems in {BROKEN}"
    assert r.stdout == ""
    assert not (home / "symbi.db").exists()


def test_validate_json(cli):
    r = cli("cron", "validate", "--file", BROKEN, "--format", "json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and [p["line"] for p in out["problems"]] == [2, 9, 14, 15]
    assert out["problems"][0]["hint"] == "did you mean `command`?"
    ok = json.loads(cli("cron", "validate", "--file", OPS, "--format", "json", ok=True).stdout)
    assert ok == {
        "ok": True,
        "file": OPS,
        "agents": ["backup", "reporter"],
        "schedules": ["nightly-backup", "daily-report", "hourly-report"],
    }


def test_validate_checks_agents_against_the_store(cli, tmp_path):
    f = tmp_path / "uses.symbi"
    f.write_text('schedule {\n  name: "x"\n  agent: "registered-one"\n  cron: "@daily"\n}\n')
    assert cli("cron", "validate", "--file", str(f)).exit_code == 1
    cli("agent", "add", "registered-one", "--command", "/bin/true", ok=True)
    assert cli("cron", "validate", "--file", str(f)).stdout.strip() == "ok: 0 agents, 1 schedule"


def test_validate_missing_file_is_a_usage_error(cli, tmp_path):
    r = cli("cron", "validate", "--file", str(tmp_path / "nope.symbi"))
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_add_one_schedule_registers_only_the_agents_it_uses(cli, home):
    r = cli("cron", "add", "--file", OPS, "--schedule", "daily-report", "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert [a["name"] for a in out["agents"]] == ["reporter"]
    (job,) = out["jobs"]
    assert job["name"] == "daily-report" and job["policy"]["max_runtime"] == 300
    assert job["delivery"] == ["stdout", "log_file"]
    names = [a["name"] for a in json.loads(cli("agent", "list", "--format", "json", ok=True).stdout)]
    assert names == ["reporter"]
    # The same file again for another schedule: the identical agent is not a conflict.
    cli("cron", "add", "--file", OPS, "--schedule", "hourly-report", ok=True)


def test_add_all_and_env_reference_kept(cli, monkeypatch):
    monkeypatch.setenv("BACKUP_TOKEN", "s3cret-value")
    cli("cron", "add", "--file", OPS, "--all", ok=True)
    jobs = json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)
    assert sorted(j["name"] for j in jobs) == ["daily-report", "hourly-report", "nightly-backup"]
    nightly = next(j for j in jobs if j["name"] == "nightly-backup")
    assert nightly["timezone"] == "Europe/Madrid"
    agent = json.loads(cli("agent", "show", "backup", "--format", "json", ok=True).stdout)
    assert agent["env"] == {"TOKEN": "${BACKUP_TOKEN}"}


def test_add_is_all_or_nothing_and_conflicts_need_replace(cli, home, tmp_path):
    cli("agent", "add", "backup", "--command", "/bin/false", ok=True)
    before = (table_rows(home, "jobs"), table_rows(home, "agents"))
    r = cli("cron", "add", "--file", OPS, "--all")
    assert r.exit_code == 4
    assert f"{OPS}:2:1: an agent named 'backup' exists" in r.stderr
    assert (table_rows(home, "jobs"), table_rows(home, "agents")) == before  # nothing half-made
    cli("cron", "add", "--file", OPS, "--all", "--replace", ok=True)
    shown = json.loads(cli("agent", "show", "backup", "--format", "json").stdout)
    assert shown["command"] == "/bin/echo backup done"
    r = cli("cron", "add", "--file", OPS, "--schedule", "hourly-report")
    assert r.exit_code == 4 and f"{OPS}:28:9: a job named 'hourly-report' exists" in r.stderr


def test_add_unknown_schedule_lists_the_file_names(cli):
    r = cli("cron", "add", "--file", OPS, "--schedule", "weekly")
    assert r.exit_code == 3
    assert "has no schedule named 'weekly' (it has: nightly-backup, daily-report, hourly-report)" in r.stderr


def test_add_invalid_file_writes_nothing(cli, home):
    r = cli("cron", "add", "--file", BROKEN, "--all")
    assert r.exit_code == 2 and f"{BROKEN}:2:3: unknown key `comand`" in r.stderr
    assert "2 more" in r.stderr  # the unknown agent is only checked for the schedules being added
    assert table_rows(home, "jobs") == []


def test_add_a_store_only_check_is_placed_in_the_file(cli):
    # The guide's one-shot is in the past by now: the error points at its `at` value.
    cli("agent", "add", "health-checker", "--command", "/bin/true", ok=True)
    r = cli("cron", "add", "--file", str(FIX / "guide" / "deployment_check.symbi"), "--all")
    assert r.exit_code == 2
    assert "deployment_check.symbi:4:5: bad value for `at`" in r.stderr and "in the past" in r.stderr


def test_an_empty_file_name_is_named_as_such(cli):
    for args in (("cron", "validate", "--file", ""), ("cron", "import", "--crontab", "")):
        r = cli(*args)
        assert r.exit_code == 2 and "no file name given" in r.stderr and "directory" not in r.stderr


def test_add_from_a_file_suggests_the_agent_meant(cli, tmp_path):
    f = tmp_path / "jobs.symbi"
    f.write_text(
        'agent reporter { command: "echo r" }\n'
        'schedule {\n  name: "daily"\n  agent: "reportr"\n  cron: "0 9 * * *"\n}\n'
    )
    r = cli("cron", "add", "--file", str(f), "--schedule", "daily")
    assert r.exit_code == 2 and "jobs.symbi:4:10:" in r.stderr and "did you mean `reporter`?" in r.stderr


def test_a_symbi_file_with_crlf_tabs_and_a_bom_gives_the_same_jobs(cli, tmp_path):
    # A multi-line system prompt kept its carriage returns ("line one\r\nline two\r").
    text = (
        'agent m {\n\tmodel: "claude-x"\n\tsystem_prompt: """\n\t\tline one\n\t\tline two\n\t\t"""\n}\n'
        'schedule {\n\tname: "s",  agent: "m",\n\tcron: "0 9 * * *"   \t\n\tinput: "a\\tb"\n}\n'
    )
    f = tmp_path / "win.symbi"
    f.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    cli("cron", "validate", "--file", str(f), ok=True)
    out = json.loads(cli("cron", "add", "--file", str(f), "--all", "--format", "json", ok=True).stdout)
    assert out["agents"][0]["system_prompt"] == "line one\nline two"
    assert out["jobs"][0]["input"] == "a\tb" and out["jobs"][0]["cron_expr"] == "0 9 * * *"
