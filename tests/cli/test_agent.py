"""`symbi agent add|list|show|remove` through the real CLI on a real store."""

from __future__ import annotations

import csv
import io
import json

import pytest


def test_add_show_list_remove(cli, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cret-value")
    r = cli(
        "agent",
        "add",
        "backup",
        "--command",
        "/usr/local/bin/backup.sh --full",
        "--capability",
        "fs_read",
        "--capability",
        "net",
        "--env",
        "TOKEN=${API_TOKEN}",
        "--env",
        "MODE=full",
        "--workdir",
        "/srv",
        "--format",
        "json",
        ok=True,
    )
    agent = json.loads(r.stdout)
    assert agent["name"] == "backup" and agent["capabilities"] == ["fs_read", "net"]
    assert agent["env"] == {"TOKEN": "${API_TOKEN}", "MODE": "full"}  # the reference, never the value
    assert "s3cret-value" not in r.stdout
    shown = json.loads(cli("agent", "show", "backup", "--format", "json", ok=True).stdout)
    assert shown["command"] == "/usr/local/bin/backup.sh --full" and shown["workdir"] == "/srv"
    table = cli("agent", "show", "backup", ok=True).stdout
    assert "env: MODE, TOKEN" in table and "${API_TOKEN}" not in table  # names only in tables

    cli("agent", "add", "monitor", "--model", "claude-sonnet-4.5", "--system-prompt", "You watch.", ok=True)
    rows = json.loads(cli("agent", "list", "--format", "json", ok=True).stdout)
    assert [a["name"] for a in rows] == ["backup", "monitor"]
    listing = cli("agent", "list", ok=True).stdout
    assert "backup" in listing and "model" in listing and "claude-sonnet-4.5" in listing
    reader = csv.DictReader(io.StringIO(cli("agent", "list", "--format", "csv", ok=True).stdout))
    assert [row["name"] for row in reader] == ["backup", "monitor"]

    assert cli("agent", "remove", "monitor", ok=True).stdout.strip() == "agent monitor removed"
    r = cli("agent", "show", "monitor")
    assert r.exit_code == 3 and "no agent named 'monitor'" in r.stderr


def test_add_conflict_unless_replace(cli):
    cli("agent", "add", "a", "--command", "/bin/true", ok=True)
    r = cli("agent", "add", "a", "--command", "/bin/false")
    assert r.exit_code == 4 and "--replace" in r.stderr
    cli("agent", "add", "a", "--command", "/bin/false", "--replace", ok=True)
    assert json.loads(cli("agent", "show", "a", "--format", "json").stdout)["command"] == "/bin/false"


def test_bad_input_is_one_clear_error(cli):
    r = cli("agent", "add", "a", "--command", "x", "--env", "NOEQUALS")
    assert r.exit_code == 2 and "--env: expected NAME=VALUE" in r.stderr
    r = cli("agent", "add", "a", "--command", "x", "--env", "1BAD=x")
    assert r.exit_code == 2 and "not an environment variable name" in r.stderr
    r = cli("agent", "add", "a")
    assert r.exit_code == 2 and "needs a command" in r.stderr
    r = cli("agent", "add", "a", "--model", "m")
    assert r.exit_code == 2 and "system_prompt" in r.stderr
    r = cli("agent", "add", "bad name", "--command", "x")
    assert r.exit_code == 2 and "name" in r.stderr
    assert "Traceback" not in r.stderr


def test_remove_refused_while_jobs_use_it(cli):
    cli("agent", "add", "worker", "--command", "/bin/true", ok=True)
    spec = {"name": "j", "agent_id": "worker", "cron_expr": "@daily"}
    cli("cron", "add", "--json", json.dumps(spec), ok=True)
    r = cli("agent", "remove", "worker")
    assert r.exit_code == 4 and "used by 1 job" in r.stderr
    cli("agent", "remove", "worker", "--force", ok=True)
    assert json.loads(cli("agent", "list", "--format", "json").stdout) == []


@pytest.mark.parametrize("command, words", [("", "empty"), ("   ", "empty"), ('echo "x', "No closing quotation")])
def test_an_agent_that_could_never_run_is_refused_when_registered(cli, tmp_path, command, words):
    # It was registered, and every run of every job using it failed hours later.
    r = cli("agent", "add", "broken", "--command", command)
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and words in r.stderr, r.stderr
    assert cli("agent", "show", "broken").exit_code == 3
    f = tmp_path / "a.symbi"
    f.write_text(f"agent broken {{\n  command: {json.dumps(command)}\n}}\n")
    v = cli("cron", "validate", "--file", str(f))
    assert v.exit_code == 1 and words in v.stderr
    # A shell command is the shell's to parse.
    cli("agent", "add", "shelly", "--shell", "--command", 'echo "x', ok=True)
