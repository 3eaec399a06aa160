"""Budgets (issue 19, item 1): a model agent's run stops before the model call a budget does not allow, recorded
``budget_exceeded`` with the reason, an audit event and a delivery; ``symbi cron status`` shows what was spent.
Against the fake model server (a real HTTP server on 127.0.0.1) and the token counts it answers with."""

from __future__ import annotations

import json

import pytest
from fake_model_server import Turn
from model_helpers import agent, make_settings

from symbi_cron.modelrun.budget import Limit
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.audit import query_events

DISK_TOOL = {
    "disk": {
        "command": "echo 91%",
        "description": "Disk usage",
        "parameters": {"type": "object", "properties": {}},
    }
}


def test_a_run_stops_before_the_call_that_would_pass_its_budget(server, run):
    server.script(
        Turn.tool("disk", {}, input_tokens=600, output_tokens=100),
        Turn.say("never asked", input_tokens=1, output_tokens=1),
    )
    limit = Limit("run", "job 'disks' per run", tokens=1000)
    res, log, _ = run(agent(tools=DISK_TOOL), settings=make_settings(server, "anthropic"), budget=[limit])
    assert res.exit_code == 1 and res.model_calls == 1
    assert len(server.requests) == 1  # the second call would re-send at least 700 tokens: 1400 > 1000
    assert res.budget_exceeded == {
        "scope": "run",
        "label": "job 'disks' per run",
        "unit": "tokens",
        "limit": 1000.0,
        "used": 700,
        "next_call": 700,
    }
    assert res.error_message == (
        "model agent 'monitor': budget exceeded: job 'disks' per run budget of 1,000 tokens (700 tokens used, and"
        " the next model call would add at least 700 tokens); stopped before model call 2"
    )
    assert res.usage["input_tokens"] == 600 and res.tool_calls == 1  # the tool call was answered first
    assert "[symbi] budget (spent before this run): job 'disks' per run: 0 of 1,000 tokens" in log


def test_a_budget_already_spent_stops_the_run_before_its_first_call(server, run):
    spent = Limit("day", "job 'disks' per day", tokens=5000, used_tokens=5000)
    res, _, _ = run(budget=[spent])
    assert res.model_calls == 0 and server.requests == []
    assert res.budget_exceeded["scope"] == "day" and res.budget_exceeded["used"] == 5000
    assert "stopped before model call 1" in res.error_message


def test_a_dollar_budget_counts_at_the_models_price_and_the_earlier_iterations(server, run):
    # $3 / $15 per million: 100k in + 10k out = $0.45; the wake's earlier iterations spent $0.50 of $1.
    prices = {"claude-sonnet-4-5": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}
    server.script(
        Turn.tool("disk", {}, input_tokens=100_000, output_tokens=10_000),
        Turn.say("never asked"),
    )
    res, _, _ = run(
        agent(tools=DISK_TOOL),
        settings=make_settings(server, "anthropic", prices=prices),
        budget=[Limit("run", "job 'x' per run", usd=1.0)],
        usage_before={"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.5},
    )
    assert res.model_calls == 1 and len(server.requests) == 1
    over = res.budget_exceeded
    assert over["unit"] == "usd" and over["used"] == pytest.approx(0.95)
    assert over["next_call"] == pytest.approx(110_000 * 3.0 / 1e6)  # the next call re-sends 110k input tokens
    assert "budget of $1 ($0.95 used" in res.error_message


def test_under_budget_nothing_changes(server, run):
    server.script(Turn.say("fine", input_tokens=10, output_tokens=2))
    res, _, _ = run(budget=[Limit("run", "r", tokens=1000), Limit("model_day", "m", usd=5.0, used_usd=1.0)])
    assert res.ok and res.budget_exceeded is None


def _budget_job(app, name: str, budget: dict, **extra) -> dict:
    agent_svc.add_agent(app, {"name": f"{name}-agent", "model": "claude-sonnet-4.5", "system_prompt": "Report."})
    spec = {"name": name, "agent_id": f"{name}-agent", "cron_expr": "*/10 * * * *", "budget": budget, **extra}
    return job_svc.create_job(app, spec)


def test_a_jobs_daily_budget_through_the_scheduler(app, sched, model_server, cli, capsys):
    from tests.servers.http_recorder import RecordingHTTPServer

    model_server.script(Turn.say("report 1", input_tokens=1200, output_tokens=40))
    with RecordingHTTPServer() as hook:
        job = _budget_job(
            app,
            "digest",
            {"per_day": {"tokens": 1000}},
            delivery=["webhook"],
            webhook_url=hook.url("/hook"),
            delivery_on="failure",
        )
        sched.cycle(600)  # the first run spends 1240 tokens: nothing stops a first call
        sched.cycle(600)  # the second finds the day's budget spent: stopped before any call
        first, second = sched.runs(job["id"])
        assert first["status"] == "succeeded"
        assert second["status"] == "budget_exceeded"
        assert len(model_server.requests) == 1
        assert "job 'digest' per day budget of 1,000 tokens (1,240 tokens used)" in second["error_message"]
        # delivered as a failure (delivery_on: failure), the reason in the payload
        [sent] = hook.wait_for(1)
        payload = sent.json()
        assert payload["run"]["status"] == "budget_exceeded" and "budget exceeded" in payload["run"]["error_message"]

    stored = job_svc.get_job(app, job["id"])
    assert stored["status"] == "active" and stored["failure_count"] == 0  # not toward dead-letter
    assert [r["status"] for r in sched.runs(job["id"])] == ["succeeded", "budget_exceeded"]  # no retry queued
    [event] = query_events(app, types=["CronRunBudgetExceeded"], job=job["id"])
    assert event["run_id"] == second["id"]
    assert event["details"]["budget"]["scope"] == "day" and event["details"]["counts_as_failure"] is False

    history = json.loads(cli("cron", "history", "digest", "--format", "json", ok=True).stdout)
    assert history[0]["status"] == "budget_exceeded" and "budget exceeded" in history[0]["error_message"]
    # `symbi cron status`: the CLI's own App reads the wall clock, this store lives on the test's clock
    status = job_svc.job_status(app, "digest")
    assert status["budget"]["per_day"] == {"tokens": 1000, "usd": None}
    assert status["budget_used"] == [
        {
            "scope": "day",
            "label": "job 'digest' per day",
            "tokens": 1000,
            "usd": None,
            "used_tokens": 1240,
            "used_usd": pytest.approx((1200 * 3.0 + 40 * 15.0) / 1e6),
        }
    ]
    from symbi_cron.cli.cron_jobs import _print_status
    from symbi_cron.cli.when import TimeView

    _print_status(status, TimeView(utc=True))
    assert "Budget per day:       1,240 of 1,000 tokens (124%) (today UTC)" in capsys.readouterr().out
    assert "budget_used" in cli("cron", "status", "digest", "--format", "json", ok=True).stdout

    app.clock.advance(86_400)  # a new UTC day: the budget is fresh
    model_server.script(Turn.say("report 3", input_tokens=10, output_tokens=2))
    sched.cycle(600)
    assert sched.runs(job["id"])[-1]["status"] == "succeeded"


def test_counts_as_failure_dead_letters_the_job(app, sched, model_server):
    job = _budget_job(
        app, "strict", {"per_run": {"tokens": 100}, "counts_as_failure": True}, max_retries=0, heartbeat={}
    )
    model_server.script(Turn.tool("nope", {}, input_tokens=90, output_tokens=20))
    sched.cycle(600)
    [only] = sched.runs(job["id"])
    assert only["status"] == "budget_exceeded"
    assert job_svc.get_job(app, job["id"])["status"] == "dead_letter"


def test_a_heartbeat_wake_counts_its_iterations_as_one_run(app, sched, model_server):
    model_server.responder = lambda req: Turn.say("working", input_tokens=1000, output_tokens=500)
    job = _budget_job(app, "wake", {"per_run": {"tokens": 4000}}, heartbeat={"enabled": True, "max_iterations": 10})
    sched.cycle(600)
    [wake] = sched.runs(job["id"])
    # Each iteration starts a fresh conversation (ephemeral_with_summary), so its size is known only once made:
    # 1500, 3000, 4500 tokens; the fourth iteration finds the run's budget spent and stops before its call.
    assert wake["status"] == "budget_exceeded" and wake["iterations"] == 4
    assert len(model_server.requests) == 3
    assert wake["input_tokens"] + wake["output_tokens"] == 4500
    assert wake["error_message"].startswith("iteration 4: model agent 'wake-agent': budget exceeded: job 'wake'")
    assert "per run budget of 4,000 tokens (4,500 tokens used)" in wake["error_message"]


def test_a_models_daily_budget_spans_jobs(app, sched, model_server):
    from symbi_cron.config import ModelBudget

    app.settings.models.budgets = {"claude-sonnet-*": ModelBudget(tokens_per_day=1500)}
    model_server.responder = lambda req: Turn.say("done", input_tokens=1000, output_tokens=500)
    first = _budget_job(app, "first", {})
    sched.cycle(600)
    assert sched.runs(first["id"])[-1]["status"] == "succeeded"
    job_svc.pause_job(app, first["id"])
    second = _budget_job(app, "second", {})
    sched.cycle(600)
    [run] = sched.runs(second["id"])
    assert run["status"] == "budget_exceeded" and len(model_server.requests) == 1
    assert "model claude-sonnet-4-5 per day budget of 1,500 tokens (1,500 tokens used)" in run["error_message"]
