"""`symbi usage` (issue 19, item 2): tokens and cost by job, agent, model and day, as a table with bars, JSON or
CSV, from runs recorded in a real store; a read command on the light path."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

from symbi_cron.cli.usage_cmd import bar
from symbi_cron.services import agents, jobs
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms


def record(app, job_id, at, *, model, tokens, cost):
    with app.store.write() as tx:
        run_id = str(uuid.uuid4())
        run_rows.insert(
            tx, id=run_id, job_id=job_id, trigger="manual", status="running", scheduled_for=to_ms(at), now_ms=to_ms(at)
        )
        run_rows.update(
            tx,
            run_id,
            now_ms=to_ms(at),
            status="succeeded",
            finished_at=to_ms(at),
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cost_usd=cost,
            model=model,
        )


def usage_store(app, clock):
    agents.add_agent(app, {"name": "writer", "model": "claude-sonnet-4.5", "system_prompt": "Write."})
    agents.add_agent(app, {"name": "local", "model": "llama3.1:8b", "system_prompt": "Write."})
    digest = jobs.create_job(app, {"name": "digest", "agent_id": "writer", "cron_expr": "0 3 * * *"})
    notes = jobs.create_job(app, {"name": "notes", "agent_id": "local", "cron_expr": "0 4 * * *"})
    now = clock.now()
    record(app, digest["id"], now - timedelta(days=1), model="claude-sonnet-4-5", tokens=(1000, 100), cost=0.0045)
    record(app, digest["id"], now, model="claude-sonnet-4-5", tokens=(3000, 300), cost=0.0135)
    record(app, notes["id"], now, model="llama3.1:8b", tokens=(500, 50), cost=None)
    return now


def test_usage_by_model_as_json(app, clock, cli):
    usage_store(app, clock)
    out = json.loads(cli("usage", "--since", "2026-11-01", "--by", "model", "--format", "json", ok=True).stdout)
    assert out["by"] == ["model"]
    by_model = {r["model"]: r for r in out["rows"]}
    assert by_model["claude-sonnet-4-5"]["runs"] == 2 and by_model["claude-sonnet-4-5"]["tokens"] == 4400
    assert by_model["claude-sonnet-4-5"]["cost_usd"] == 0.018
    assert by_model["llama3.1:8b"]["unpriced_runs"] == 1 and by_model["llama3.1:8b"]["cost_usd"] == 0
    assert out["total"]["runs"] == 3 and out["total"]["tokens"] == 4950


def test_usage_table_has_bars_and_a_total(app, clock, cli):
    usage_store(app, clock)
    text = cli("usage", "--since", "2026-11-01", "--by", "job", ok=True).stdout
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["JOB", "RUNS", "IN", "OUT", "COST", "UNPRICED"]
    digest = next(line for line in lines if line.startswith("digest"))
    notes = next(line for line in lines if line.startswith("notes"))
    assert "$0.0180" in digest and digest.endswith("█" * 24)  # the costliest job: a full bar
    assert "█" not in notes  # no cost at all: no bar (bars measure cost when any row has one)
    assert lines[-1].startswith("TOTAL") and "$0.0180" in lines[-1]


def test_usage_by_day_and_job_as_csv(app, clock, cli):
    now = usage_store(app, clock)
    text = cli("usage", "--since", "2026-11-01", "--by", "job", "--by", "day", "--format", "csv", ok=True).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "day",
        "job",
        "runs",
        "input_tokens",
        "output_tokens",
        "tokens",
        "cost_usd",
        "unpriced_runs",
    ]
    assert [(r["day"], r["job"], r["tokens"]) for r in rows] == [
        ((now - timedelta(days=1)).date().isoformat(), "digest", "1100"),
        (now.date().isoformat(), "digest", "3300"),
        (now.date().isoformat(), "notes", "550"),
    ]


def test_usage_filters_and_errors(app, clock, cli):
    usage_store(app, clock)
    out = json.loads(cli("usage", "--since", "2026-11-01", "--job", "notes", "--format", "json", ok=True).stdout)
    assert out["total"]["runs"] == 1
    assert "no model runs since" in cli("usage", "--since", "2026-11-01", "--agent", "nobody", ok=True).stdout
    bad = cli("usage", "--since", "not a time at all")
    assert bad.exit_code == 2 and "since" in bad.stderr
    assert cli("usage", "--by", "week").exit_code == 2


def test_bar_widths():
    assert bar(0, 10) == "" and bar(10, 10) == "█" * 24
    assert bar(5, 10) == "█" * 12
    assert bar(0.01, 10) == "▏"  # something is never nothing
