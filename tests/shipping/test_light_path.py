"""Every read command starts as light as `cron list` (issue 15, item 12): no pydantic, no models, no HTTP
modules are imported by `cron list|status|history|next|pending`, `logs`, `audit query`, `agent list`, `usage` or a Tab
press. The real CLI in a subprocess, its imports read from `python -X importtime`. (bench/startup.py measures the
time each takes.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("pydantic", "symbi_cron.models", "symbi_cron.http", "symbi_cron.config", "jwt", "cryptography")


@pytest.fixture
def store(home, cli):
    """A job with one run, an agent, audit events, a daemon log: something for every read command to read."""
    cli("agent", "add", "reporter", "--command", "true", ok=True)
    spec = {"name": "report", "agent_id": "reporter", "cron_expr": "0 9 * * *", "timezone": "Europe/Madrid"}
    cli("cron", "add", "--json", json.dumps(spec), ok=True)
    cli("cron", "run", "report", ok=True)
    (home / "daemon.log").write_text("2026-11-27 12:00:00,000 INFO symbi.daemon: started\n")
    return home


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "symbi_cron", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, (args, proc.stderr[-2000:])
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


READ_COMMANDS = [
    ["cron", "list"],
    ["cron", "list", "--format", "json"],
    ["cron", "status", "report"],
    ["cron", "history", "report"],
    ["cron", "next", "0 9 * * *", "--tz", "Europe/Madrid"],
    ["cron", "pending"],
    ["logs"],
    ["audit", "query", "--since", "2 hours ago"],
    ["agent", "list"],
    ["usage", "--by", "model"],
]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_stay_on_the_light_path(store, args: list[str]) -> None:
    env = dict(os.environ, SYMBI_DEFAULT_TIMEZONE="UTC")
    modules = imported(args, env)
    assert "symbi_cron.cli" in modules  # the measure works
    heavy = sorted(m for m in modules if m.startswith(HEAVY))
    assert heavy == [], f"{' '.join(args)} imports {heavy[:5]}"


def test_a_tab_press_stays_on_the_light_path(store) -> None:
    env = dict(os.environ, _SYMBI_COMPLETE="bash_complete", COMP_WORDS="symbi cron status re", COMP_CWORD="3")
    modules = imported([], env)
    assert not [m for m in modules if m.startswith(HEAVY)]
