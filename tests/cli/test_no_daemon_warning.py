"""`list`, `status`, `add`, `resume` and `run` say in one stderr line when no daemon serves the store (issue 15,
item 3), and say nothing once one does. Real daemon, real CLI processes."""

from __future__ import annotations

import json

from agents.daemon_helper import agent_command

WARNING = "warning: no daemon is running"


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(WARNING)]


def test_each_command_warns_once_without_a_daemon_and_never_with_one(d) -> None:
    d.symbi("agent", "add", "echoer", "--command", agent_command("echo"), check=True)
    spec = {"name": "hourly", "agent_id": "echoer", "cron_expr": "0 * * * *"}
    added = d.symbi("cron", "add", "--json", json.dumps(spec), check=True)
    assert len(warnings_in(added.stderr)) == 1, added.stderr
    assert "symbi cron daemon start" in added.stderr
    for args in (("cron", "list"), ("cron", "list", "--format", "json"), ("cron", "status", "hourly")):
        out = d.symbi(*args, check=True)
        assert len(warnings_in(out.stderr)) == 1, (args, out.stderr)
    json.loads(d.symbi("cron", "list", "--format", "json", check=True).stdout)  # stdout stays clean JSON
    d.symbi("cron", "pause", "hourly", check=True)
    assert warnings_in(d.symbi("cron", "list", check=True).stderr) == []  # nothing active: nothing to miss
    resumed = d.symbi("cron", "resume", "hourly", check=True)
    assert len(warnings_in(resumed.stderr)) == 1
    ran = d.symbi("cron", "run", "hourly")
    assert ran.returncode == 0, ran.stderr
    assert len(warnings_in(ran.stderr)) == 1 and "this run is executed here" in ran.stderr

    d.start()
    for args in (
        ("cron", "list"),
        ("cron", "status", "hourly"),
        ("cron", "add", "--json", json.dumps({**spec, "name": "second"})),
        ("cron", "pause", "second"),
        ("cron", "resume", "second"),
        ("cron", "run", "hourly"),
    ):
        out = d.symbi(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert warnings_in(out.stderr) == [], (args, out.stderr)
