"""Model agents through the real scheduler: the guide's ``heartbeat_monitor`` file imported with the DSL, run
by the Supervisor and its executor on a real store, against the fake model server and a Slack-shaped server
(both real HTTP servers on 127.0.0.1, standing in for api.anthropic.com and slack.com, which tests cannot
reach)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_model_server import Turn
from model_helpers import KEY

from symbi_cron.modelrun.conversation import DEFAULT_PROMPT, SUMMARY_HEADER
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc
from symbi_cron.services.importing import add_from_file

GUIDE_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "guide" / "heartbeat_monitor.symbi"


def test_guide_heartbeat_monitor_end_to_end(app, sched, model_server, slack, cli):
    app.settings.scheduler.delivery.slack_webhook_url = slack.hook_url
    answers = iter(
        [
            Turn.say("CPU 12%, memory 40%. Disk /var at 91%: rotating logs.", input_tokens=1200, output_tokens=40),
            Turn.say("Logs rotated, /var at 60%. All healthy.\nsleep", input_tokens=1300, output_tokens=30),
            Turn.say("Still healthy.\nSLEEP", input_tokens=1250, output_tokens=10),
        ]
    )
    model_server.responder = lambda req: next(answers)
    result = add_from_file(app, GUIDE_FILE, schedules=None)
    job = result["jobs"][0]
    assert job["heartbeat"]["enabled"] and job["heartbeat"]["max_iterations"] == 50

    sched.cycle(600)  # the first */10 slot after T0
    [run] = sched.runs(job["id"])
    assert run["status"] == "succeeded", run["error_message"]
    assert run["iterations"] == 2
    assert run["output"] == (
        "CPU 12%, memory 40%. Disk /var at 91%: rotating logs.\nLogs rotated, /var at 60%. All healthy.\nsleep"
    )
    assert run["summary"] == "Logs rotated, /var at 60%. All healthy."
    assert (run["input_tokens"], run["output_tokens"]) == (2500, 70)
    assert run["cost_usd"] == pytest.approx((2500 * 3.0 + 70 * 15.0) / 1e6)

    first, second = model_server.requests
    assert first.json()["model"] == "claude-sonnet-4-5"
    assert first.json()["system"].startswith("You are a system monitoring agent.")
    assert first.user_texts() == [DEFAULT_PROMPT]  # no input, nothing before the first wake
    # context_mode ephemeral_with_summary: iteration 2 starts fresh with iteration 1's summary
    assert second.user_texts() == [
        f"{SUMMARY_HEADER}\nCPU 12%, memory 40%. Disk /var at 91%: rotating logs.\n\n{DEFAULT_PROMPT}"
    ]
    assert "Logs rotated" in slack.last_message()["text"] + json.dumps(slack.last_message())

    sched.cycle(600)  # the next wake hands over the previous wake's summary (session_mode default)
    runs = sched.runs(job["id"])
    assert runs[1]["status"] == "succeeded" and runs[1]["iterations"] == 1
    assert (
        model_server.requests[2]
        .user_texts()[0]
        .startswith(f"{SUMMARY_HEADER}\nLogs rotated, /var at 60%. All healthy.")
    )

    history = json.loads(cli("cron", "history", job["id"], "--format", "json", ok=True).stdout)
    assert [(r["input_tokens"], r["output_tokens"]) for r in history] == [(1250, 10), (2500, 70)]
    table = cli("cron", "history", job["id"], ok=True).stdout
    assert "2500/70" in table
    run_log = app.paths.run_log(run["id"]).read_text()
    assert "[assistant] Logs rotated" in run_log and KEY not in run_log

    from symbi_cron.http.metrics import MetricsExporter

    text = MetricsExporter(app).render()[0].decode()
    assert 'symbiont_cron_model_tokens_total{direction="input",job_name="heartbeat-monitor"} 3750.0' in text
    assert 'symbiont_cron_model_tokens_total{direction="output",job_name="heartbeat-monitor"} 80.0' in text
    cost = (3750 * 3.0 + 80 * 15.0) / 1e6
    line = next(x for x in text.splitlines() if x.startswith("symbiont_cron_model_cost_usd_total{"))
    assert float(line.split()[-1]) == pytest.approx(cost)


def test_heartbeat_without_sleep_hits_max_iterations(app, sched, model_server):
    model_server.responder = lambda req: Turn.say("still working")
    agent_svc.add_agent(app, {"name": "m", "model": "claude-sonnet-4.5", "system_prompt": "Work."})
    job = job_svc.create_job(
        app,
        {
            "name": "hb",
            "agent_id": "m",
            "cron_expr": "*/10 * * * *",
            "heartbeat": {"enabled": True, "max_iterations": 3},
            "max_retries": 0,
        },
    )
    sched.cycle(600)
    [run] = sched.runs(job["id"])
    assert run["status"] == "failed" and run["iterations"] == 3
    assert "max_iterations (3)" in run["error_message"]
    assert run["input_tokens"] > 0


def test_shared_persistent_carries_the_whole_conversation_across_runs(app, sched, model_server):
    model_server.script(Turn.say("first answer"), Turn.say("second answer"))
    agent_svc.add_agent(app, {"name": "m", "model": "claude-sonnet-4.5", "system_prompt": "Remember things."})
    job = job_svc.create_job(
        app,
        {
            "name": "mem",
            "agent_id": "m",
            "cron_expr": "*/10 * * * *",
            "session_mode": "shared_persistent",
            "input": "report",
        },
    )
    sched.cycle(600)
    sched.cycle(600)
    assert [r["status"] for r in sched.runs(job["id"])] == ["succeeded", "succeeded"]
    msgs = model_server.requests[1].json()["messages"]
    assert [(m["role"], m["content"][0]["text"]) for m in msgs] == [
        ("user", "report"),
        ("assistant", "first answer"),
        ("user", "report"),
    ]
    stored = json.loads((app.paths.context_dir(job["id"]) / "conversation.json").read_text())
    assert [m["content"] for m in stored["messages"]] == ["report", "first answer", "report", "second answer"]


def test_max_runtime_of_a_model_agent_is_timed_out(app, sched, model_server):
    model_server.script(Turn.say("late", delay=3))
    agent_svc.add_agent(app, {"name": "m", "model": "claude-sonnet-4.5", "system_prompt": "Be quick."})
    job = job_svc.create_job(
        app,
        {
            "name": "slow",
            "agent_id": "m",
            "cron_expr": "*/10 * * * *",
            "policy": {"max_runtime": 1},
            "max_retries": 0,
        },
    )
    sched.cycle(600)
    [run] = sched.runs(job["id"])
    assert run["status"] == "timed_out"
    assert "max_runtime reached while waiting for the model" in run["error_message"]


def test_a_model_agent_prepared_ahead_counts_its_time_from_its_start(app, sched, model_server):
    """A run prepared ahead waits for its slot in its owner: its execution time is the agent's, not the wait's."""
    import time

    app.settings.scheduler.prepare_ahead_seconds = 5
    agent_svc.add_agent(app, {"name": "m", "model": "claude-sonnet-4.5", "system_prompt": "Be quick."})
    job = job_svc.create_job(app, {"name": "quick", "agent_id": "m", "cron_expr": "*/10 * * * *"})
    app.clock.advance(600 - 4)  # four seconds before the first slot
    sched.sup.tick()
    assert not sched.sup.wait_idle(1.5)  # the owner waits for the slot (over a second and a half)
    app.clock.advance(4)
    at_slot = time.monotonic()
    assert sched.sup.wait_idle(30)
    ran_ms = (time.monotonic() - at_slot) * 1000
    [run] = sched.runs(job["id"])
    assert run["status"] == "succeeded", run["error_message"]
    assert run["execution_time_ms"] <= ran_ms, (run["execution_time_ms"], ran_ms)


def test_symbi_run_a_model_agent(d, model_server):
    """`symbi run AGENT` runs a model agent once, as the scheduler would: its answer on stdout, exit 0."""
    model_server.responder = lambda req: Turn.say("Disks fine.\nsleep")
    d.env.update(ANTHROPIC_API_KEY=KEY, SYMBI_MODEL_BASE_URL=model_server.url)
    d.symbi("agent", "add", "mon", "--model", "claude-sonnet-4.5", "--system-prompt", "Watch.", check=True)
    proc = d.symbi("run", "mon", "--input", "check the disks")
    assert (proc.returncode, proc.stdout) == (0, "Disks fine.\nsleep\n"), proc.stderr
    [request] = model_server.requests
    assert request.user_texts() == ["check the disks"]
    assert not d.query("SELECT * FROM runs")  # outside the scheduler: nothing recorded
