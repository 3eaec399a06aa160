"""`symbi cron import --crontab` and `symbi cron export --format crontab` through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "crontab"
USER, MIXED = str(FIX / "user.crontab"), str(FIX / "mixed.crontab")


def count(home: Path, table: str) -> int:
    db = home / "symbi.db"
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_dry_run_shows_the_plan_and_writes_nothing(cli, home):
    r = cli("cron", "import", "--crontab", USER, "--dry-run", "--prefix", "ct-", ok=True)
    assert "would create:" in r.stdout and "ct-backup-sh-2" in r.stdout
    assert "dry run: 3 jobs and 3 agents would be created; nothing written" in r.stdout
    assert count(home, "jobs") == 0 and count(home, "agents") == 0
    r = cli("cron", "import", "--crontab", USER, "--dry-run", "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert out["dry_run"] is True
    assert [j["name"] for j in out["jobs"]] == ["backup-sh", "backup-sh-2", "sync-py"]
    assert out["jobs"][2]["timezone"] == "America/New_York"


def test_import_creates_agents_and_jobs(cli, home):
    out = json.loads(cli("cron", "import", "--crontab", USER, "--format", "json", ok=True).stdout)
    assert [j["name"] for j in out["jobs"]] == ["backup-sh", "backup-sh-2", "sync-py"]
    jobs = {j["name"]: j for j in json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)}
    assert jobs["backup-sh"]["cron_expr"] == "0 3 * * *" and jobs["backup-sh"]["timezone"] == "Europe/Madrid"
    assert jobs["backup-sh"]["next_run"] is not None
    agent = json.loads(cli("agent", "show", "sync-py", "--format", "json", ok=True).stdout)
    assert agent["shell"] is True and agent["command"] == "cd /srv/app && ./sync.py"
    assert agent["env"]["PATH"] == "/usr/local/bin:/usr/bin:/bin" and agent["env"]["TZ"] == "America/New_York"
    # Importing again: the names exist -> conflict, nothing changes.
    r = cli("cron", "import", "--crontab", USER)
    assert r.exit_code == 4 and "crontab line 6" in r.stderr
    assert count(home, "jobs") == 3
    cli("cron", "import", "--crontab", USER, "--replace", ok=True)
    assert count(home, "jobs") == 3


def test_unconvertible_lines_block_the_import_unless_skipped(cli, home):
    r = cli("cron", "import", "--crontab", MIXED)
    assert r.exit_code == 2
    assert f"{MIXED}:3: not converted: @reboot" in r.stderr
    assert f"{MIXED}:4: not converted: `%` in the command" in r.stderr
    assert f"{MIXED}:5: not converted: bad schedule" in r.stderr
    assert "nothing was written" in r.stderr
    assert count(home, "jobs") == 0 and count(home, "agents") == 0
    r = cli("cron", "import", "--crontab", MIXED, "--skip-invalid", ok=True)
    assert "1 job and 1 agent created" in r.stdout and "not converted:" in r.stdout
    agent = json.loads(cli("agent", "show", "true", "--format", "json", ok=True).stdout)
    assert agent["command"] == "/bin/bash -c /usr/bin/true" and agent["shell"] is False


def test_import_from_stdin_and_export(cli):
    crontab = "CRON_TZ=Asia/Tokyo\n30 2 * * 1-5 /usr/bin/backup --all\n"
    cli("cron", "import", "--crontab", "-", input=crontab, ok=True)
    cli("agent", "add", "thinker", "--model", "claude", "--system-prompt", "think", ok=True)
    cli("cron", "add", "--json", json.dumps({"name": "ponder", "agent_id": "thinker", "cron_expr": "@daily"}), ok=True)
    text = cli("cron", "export", "--format", "crontab", ok=True).stdout
    lines = text.splitlines()
    i = lines.index("CRON_TZ=Asia/Tokyo")
    assert lines[i + 2] == "30 2 * * 1-5 /usr/bin/backup --all"
    assert "# ponder: left out: agent 'thinker' is a model agent, not a command" in lines


def test_empty_crontab_is_an_error(cli):
    r = cli("cron", "import", "--crontab", "-", input="# nothing\n")
    assert r.exit_code == 2 and "no job lines" in r.stderr


def test_a_crontab_macro_followed_by_a_tab_is_imported(cli, tmp_path):
    tab = tmp_path / "tab"
    tab.write_text("@daily\techo daily   \t\n0\t3 * *\t1-5\techo weekday\n")
    r = cli("cron", "import", "--crontab", str(tab), "--dry-run", "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert out["skipped"] == []
    assert [j["cron_expr"] for j in out["jobs"]] == ["@daily", "0 3 * * 1-5"]
    assert [a["command"] for a in out["agents"]] == ["echo daily", "echo weekday"]


def test_a_crontab_with_a_byte_order_mark_and_crlf_imports_its_first_line(cli, tmp_path):
    tab = tmp_path / "tab"
    tab.write_bytes(b"\xef\xbb\xbf0 * * * * echo hi\r\n")
    for source, stdin in ((str(tab), None), ("-", tab.read_bytes().decode("utf-8"))):
        r = cli("cron", "import", "--crontab", source, "--dry-run", "--format", "json", input=stdin, ok=True)
        out = json.loads(r.stdout)
        assert out["skipped"] == [] and [j["cron_expr"] for j in out["jobs"]] == ["0 * * * *"], out
