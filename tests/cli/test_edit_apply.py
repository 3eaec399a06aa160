"""`symbi cron edit` and `symbi cron apply` (issue 15, item 4): export then apply changes nothing; apply plans
creates, updates and (with --prune) removals in one transaction, keeping unchanged jobs' ids and history; edit
opens $EDITOR on a real pty, reopens with the problems on top, aborts when the editor fails; `cron list --format
json` is accepted back by `cron add --json`. The real CLI."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from agents.terminal import Terminal, symbi_argv

FAKE_EDITOR = Path(__file__).resolve().parents[1] / "agents" / "fake_editor.py"


def _jobs(cli) -> dict[str, dict]:
    return {j["name"]: j for j in json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)}


@pytest.fixture
def store(cli, app, home):
    """Jobs of every shape: a paused one, a one-shot that ran (its `at` passed), a model agent with tools and a
    multi-line prompt, a job whose agent is not registered, one with history."""
    from symbi_cron.services import agents, jobs
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    agents.add_agent(app, {"name": "reporter", "command": "/usr/local/bin/report --daily", "env": {"T": "${TOKEN}"}})
    agents.add_agent(
        app,
        {
            "name": "mon",
            "model": "claude-sonnet-4.5",
            "system_prompt": "You watch the disks.\n  Indented line.\nAnswer `sleep` when done.",
            "tools": {"df": {"command": "df -h {path}", "description": "Disk usage", "timeout": "30s",
                             "parameters": {"properties": {"path": {"type": "string"}}}}},
            "temperature": 0.2,
        },
    )  # fmt: skip
    daily = jobs.create_job(
        app,
        {
            "name": "daily report",
            "agent_id": "reporter",
            "cron_expr": "0 9 * * MON-FRI",
            "timezone": "Europe/Madrid",
            "delivery": ["log_file", "webhook"],
            "webhook_url": "https://hooks.example.com/x",
            "webhook_headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
            "policy": {"max_runtime": "30m", "allowed_hours": {"start": "06:00", "end": "22:00"}},
            "delivery_on": "change",
            "input": 'quote " and backslash \\ and\nnew line',
        },
    )
    jobs.create_job(
        app, {"name": "watch", "agent_id": "mon", "cron_expr": "*/15 * * * *", "heartbeat": {"enabled": True}}
    )
    paused = jobs.create_job(app, {"name": "paused", "agent_id": "reporter", "cron_expr": "@daily"})
    jobs.pause_job(app, paused["id"])
    jobs.create_job(app, {"name": "orphan", "agent_id": "not-registered-yet", "cron_expr": "@hourly"})
    once = jobs.create_job(
        app, {"name": "once", "agent_id": "reporter", "at": (app.clock.now() + timedelta(minutes=5)).isoformat()}
    )
    with app.store.write() as tx:
        run_rows.insert(tx, id="run-1", job_id=daily["id"], trigger="schedule", status="succeeded",
                        scheduled_for=to_ms(app.clock.now()), now_ms=to_ms(app.clock.now()), finished=True)  # fmt: skip
    app.clock.advance(3600)  # the one-shot's time has passed
    del once
    return home


def _store_dump(home: Path) -> list:
    conn = sqlite3.connect(home / "symbi.db")
    try:
        return [sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in ("jobs", "runs", "agents")]
    finally:
        conn.close()


def test_export_then_apply_changes_nothing(store, cli, tmp_path: Path) -> None:
    text = cli("cron", "export", "--format", "symbi", ok=True).stdout
    assert 'agent mon {\n  model: "claude-sonnet-4.5"\n  system_prompt: """\n' in text  # readable prompt
    assert "# paused is paused" in text and 'max_runtime: "30m"' in text
    path = tmp_path / "jobs.symbi"
    path.write_text(text)
    before = _store_dump(store)
    out = cli("cron", "apply", str(path), ok=True)
    assert out.stdout.strip() == "applied: 0 added, 0 changed, 0 removed, 5 unchanged"
    assert _store_dump(store) == before  # not one row rewritten
    again = cli("cron", "apply", str(path), "--prune", "--format", "json", ok=True)
    assert json.loads(again.stdout)["summary"] == "0 to add, 0 to change, 0 to remove, 5 unchanged"


def test_apply_plans_creates_updates_and_prunes_in_one_transaction(store, cli, tmp_path: Path) -> None:
    ids = {n: j["id"] for n, j in _jobs(cli).items()}
    text = cli("cron", "export", "--format", "symbi", ok=True).stdout
    text = text.replace('cron: "0 9 * * MON-FRI"', 'cron: "30 8 * * MON-FRI"')
    text = text.replace('delivery_on: "change"', 'delivery_on: "failure"')
    text += '\nschedule {\n  name: "new-one"\n  agent: "reporter"\n  cron: "@weekly"\n}\n'
    start = text.index('schedule {\n  name: "orphan"')
    text = text[:start] + text[text.index("}\n", start) + 2 :]  # the orphan job's block is gone
    path = tmp_path / "jobs.symbi"
    path.write_text(text)
    before = _store_dump(store)
    dry = cli("cron", "apply", str(path), "--prune", "--dry-run", ok=True).stdout.splitlines()
    assert dry == [
        '  ~ job daily report: cron "0 9 * * MON-FRI" -> "30 8 * * MON-FRI", delivery_on "change" -> "failure"',
        "  + job new-one",
        "  - job orphan (and its history: 0 runs)",
        "dry run: 1 to add, 1 to change, 1 to remove, 3 unchanged; nothing written",
    ]
    assert _store_dump(store) == before
    no_prune = cli("cron", "apply", str(path), "--dry-run", ok=True).stdout
    assert "orphan" not in no_prune
    cli("cron", "apply", str(path), "--prune", ok=True)
    after = _jobs(cli)
    assert sorted(after) == ["daily report", "new-one", "once", "paused", "watch"]
    assert (
        after["daily report"]["id"] == ids["daily report"] and after["daily report"]["cron_expr"] == "30 8 * * MON-FRI"
    )
    assert after["paused"]["status"] == "paused" and after["paused"]["id"] == ids["paused"]
    history = json.loads(cli("cron", "history", "daily report", "--format", "json", ok=True).stdout)
    assert [r["id"] for r in history] == ["run-1"]  # history kept


def test_a_failed_apply_writes_nothing(store, cli, app, tmp_path: Path) -> None:
    from symbi_cron.store import runs as run_rows
    from symbi_cron.timeutil import to_ms

    orphan = _jobs(cli)["orphan"]
    with app.store.write() as tx:  # a run in flight: the job cannot be removed
        run_rows.insert(tx, id="run-live", job_id=orphan["id"], trigger="manual", status="running",
                        scheduled_for=to_ms(app.clock.now()) + 1, now_ms=to_ms(app.clock.now()))  # fmt: skip
    path = tmp_path / "jobs.symbi"
    path.write_text(
        'agent brand-new { command: "true" }\nschedule { name: "fresh", agent: "brand-new", cron: "@daily" }\n'
    )
    before = _store_dump(store)
    out = cli("cron", "apply", str(path), "--prune")
    assert out.exit_code == 4 and "orphan" in out.stderr and "in progress" in out.stderr
    assert _store_dump(store) == before  # not the agent, not the new job, no removal
    path.write_text('schedule { name: "fresh", agent: "reporter", cron: "@daily", timezon: "UTC" }\n')
    bad = cli("cron", "apply", str(path))
    assert bad.exit_code == 2 and "unknown key `timezon`" in bad.stderr and _store_dump(store) == before


def test_list_json_items_are_accepted_back_by_add(store, cli, tmp_path: Path, monkeypatch) -> None:
    # (the one-shot whose time has passed would be refused, as any `at` in the past is)
    listed = json.dumps(
        [j for j in json.loads(cli("cron", "list", "--format", "json", ok=True).stdout) if j["name"] != "once"]
    )
    one = json.dumps(json.loads(listed)[0])
    monkeypatch.setenv("SYMBI_HOME", str(tmp_path / "other"))
    cli("agent", "add", "reporter", "--command", "true", ok=True)
    single = cli("cron", "add", "--json", one)
    assert single.exit_code == 0, single.stderr
    assert "note: ignored what the scheduler keeps: id, status, next_run, last_run, run_count" in single.stderr
    every = cli("cron", "add", "--json", "-", "--replace", input=listed)
    assert every.exit_code == 0, every.stderr
    copied = _jobs(cli)
    originals = {j["name"]: j for j in json.loads(listed)}
    assert sorted(copied) == sorted(originals)
    for name, job in originals.items():
        kept = ("id", "status", "next_run", "last_run", "run_count", "failure_count", "created_at", "updated_at")
        spec = {k: v for k, v in job.items() if k not in kept and k != "at"}
        assert {k: copied[name][k] for k in spec} == spec, name
    bad = cli(
        "cron", "add", "--json", json.dumps([{"name": "x", "agent_id": "a", "cron_expr": "@daily"}, {"name": "y"}])
    )
    assert bad.exit_code == 2 and "[1].agent_id" in bad.stderr and "x" not in _jobs(cli)  # all or nothing


# -- cron edit on a real terminal -----------------------------------------------------------------------------
def _edit(home: Path, tmp_path: Path, steps: list[dict], *args: str):
    steps_path = tmp_path / "steps.json"
    steps_path.write_text(json.dumps(steps))
    import os

    env = dict(os.environ, EDITOR=f"{sys.executable} {FAKE_EDITOR}", FAKE_EDITOR_STEPS=str(steps_path))
    env.pop("VISUAL", None)
    result = Terminal(symbi_argv("cron", "edit", *args), columns=100, env=env).wait()
    seen = (tmp_path / "steps.json.seen").read_text().split("\n====\n")[:-1]
    return result, seen


def test_edit_applies_what_was_changed(store, cli, tmp_path: Path) -> None:
    ids = {n: j["id"] for n, j in _jobs(cli).items()}
    result, seen = _edit(store, tmp_path, [{"replace": ['cron: "@hourly"', 'cron: "*/10 * * * *"']}])
    assert result.exit_code == 0, result.output
    assert seen[0].startswith("# symbi cron edit: your jobs and the agents they run")
    assert '  ~ job orphan: cron "@hourly" -> "*/10 * * * *"' in result.lines
    assert "applied: 0 added, 1 changed, 0 removed, 4 unchanged" in result.output
    assert _jobs(cli)["orphan"]["cron_expr"] == "*/10 * * * *" and _jobs(cli)["orphan"]["id"] == ids["orphan"]


def test_edit_reopens_with_the_problems_on_top_then_applies_the_fix(store, cli, tmp_path: Path) -> None:
    steps = [
        {"replace": ['cron: "@hourly"', 'cron: "@hourly"\n  jiter_seconds: 5']},
        {"expect": "error: unknown key `jiter_seconds`", "replace": ["jiter_seconds: 5", "jitter_seconds: 5"]},
    ]
    result, seen = _edit(store, tmp_path, steps)
    assert result.exit_code == 0, result.output
    assert "1 problem(s) in the file: opening it again" in result.output
    top = seen[1].splitlines()[1]
    assert top.startswith("#! jobs.symbi:") and "unknown key `jiter_seconds`" in top
    number = int(top.split(":")[1])
    assert "jiter_seconds" in seen[1].splitlines()[number - 1]  # the line number is the line the editor shows
    assert "applied: 0 added, 1 changed" in result.output and _jobs(cli)["orphan"]["jitter_seconds"] == 5


def test_edit_aborts_when_the_editor_fails_or_nothing_is_fixed(store, cli, tmp_path: Path) -> None:
    before = _store_dump(store)
    result, _seen = _edit(
        store,
        tmp_path,
        [
            {"replace": ['cron: "@hourly"', 'cron: "@daily"']},
        ],
    )
    assert result.exit_code == 0 and _store_dump(store) != before  # (a change does apply)
    before = _store_dump(store)
    failed, _seen = _edit(store, tmp_path, [{"exit": 1}])
    assert failed.exit_code == 1 and "the editor exited with status 1: nothing changed" in failed.output
    broken, _seen = _edit(store, tmp_path, [{"append": "schedule {"}, {}])
    assert broken.exit_code == 1 and "nothing changed (the file still has problems)" in broken.output
    same, _seen = _edit(store, tmp_path, [{}])
    assert same.exit_code == 0 and "no changes" in same.output
    assert _store_dump(store) == before


def test_edit_name_opens_only_those_jobs_and_a_deleted_block_removes_only_that_job(store, cli, tmp_path) -> None:
    result, seen = _edit(
        store,
        tmp_path,
        [{"replace": ['schedule {\n  name: "orphan"', 'schedule {\n  name: "orphan-2"']}],
        "--name",
        "orphan",
    )
    assert result.exit_code == 0, result.output
    assert '"daily report"' not in seen[0] and 'name: "orphan"' in seen[0]
    assert "  - job orphan (and its history: 0 runs)" in result.lines and "  + job orphan-2" in result.lines
    assert sorted(_jobs(cli)) == ["daily report", "once", "orphan-2", "paused", "watch"]
