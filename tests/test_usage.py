"""Usage of model agents (services/usage.py): tokens and cost per UTC day, job, agent and model, since a date;
rolled up by any of those keys; runs that used no model are not counted."""

from __future__ import annotations

import uuid
from datetime import timedelta

from symbi_cron.services import agents, jobs, usage
from symbi_cron.store import runs as run_rows
from symbi_cron.timeutil import to_ms


def _run(app, job_id, at, *, model, tokens, cost):
    with app.store.write() as tx:
        run_id = str(uuid.uuid4())
        run_rows.insert(
            tx, id=run_id, job_id=job_id, trigger="manual", status="running", scheduled_for=to_ms(at), now_ms=to_ms(at)
        )
        fields = dict(status="succeeded", finished_at=to_ms(at))
        if tokens is not None:
            fields.update(input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=cost, model=model)
        run_rows.update(tx, run_id, now_ms=to_ms(at), **fields)


def test_usage_per_day_job_agent_and_model(app, clock):
    agents.add_agent(app, {"name": "writer", "model": "claude-x", "system_prompt": "Write."})
    agents.add_agent(app, {"name": "shell", "command": "true"})
    a = jobs.create_job(app, {"name": "digest", "agent_id": "writer", "cron_expr": "0 3 * * *"})
    b = jobs.create_job(app, {"name": "notes", "agent_id": "writer", "cron_expr": "0 4 * * *"})
    c = jobs.create_job(app, {"name": "backup", "agent_id": "shell", "cron_expr": "0 5 * * *"})
    now = clock.now()
    day1, day2 = now - timedelta(days=1), now
    _run(app, a["id"], day1, model="claude-x", tokens=(100, 10), cost=0.5)
    _run(app, a["id"], day2, model="claude-x", tokens=(200, 20), cost=None)  # no price configured
    _run(app, a["id"], day2 + timedelta(seconds=1), model="gpt-y", tokens=(1, 2), cost=0.25)
    _run(app, b["id"], day2, model="claude-x", tokens=(5, 5), cost=0.1)
    _run(app, c["id"], day2, model=None, tokens=None, cost=None)  # a command agent: no usage
    _run(app, a["id"], now - timedelta(days=40), model="claude-x", tokens=(999, 999), cost=9.0)  # before `since`

    rows = usage.usage(app, since=now - timedelta(days=7))
    assert {(r["day"], r["job"], r["model"], r["runs"]) for r in rows} == {
        (day1.date().isoformat(), "digest", "claude-x", 1),
        (day2.date().isoformat(), "digest", "claude-x", 1),
        (day2.date().isoformat(), "digest", "gpt-y", 1),
        (day2.date().isoformat(), "notes", "claude-x", 1),
    }
    by_model = {r["model"]: r for r in usage.rollup(rows, ("model",))}
    assert by_model["claude-x"]["input_tokens"] == 305 and by_model["claude-x"]["unpriced_runs"] == 1
    assert by_model["claude-x"]["cost_usd"] == 0.6
    assert usage.totals(rows)["runs"] == 4 and usage.totals(rows)["output_tokens"] == 37
    assert [r["job"] for r in usage.usage(app, since=now - timedelta(days=7), job="notes")] == ["notes"]
    assert {r["model"] for r in usage.usage(app, since=now - timedelta(days=7), model="gpt-y")} == {"gpt-y"}
    assert usage.usage(app, since=now - timedelta(days=7), agent="shell") == []
