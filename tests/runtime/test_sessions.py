"""Sessions and heartbeat (SPEC §7) end to end through the supervisor with a script agent: the three session
modes, the three heartbeat context modes, `sleep` ending a wake, max_iterations failing it, iterations counted."""

from __future__ import annotations

import json

import pytest


def _outputs(rt, job_id):
    return [json.loads(r["output"]) for r in rt.runs(job_id) if r["status"] == "succeeded"]


def test_ephemeral_with_summary_hands_the_summary_over(rt, clock):
    rt.agent("a", "memory")
    job = rt.job(session_mode="ephemeral_with_summary")
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    rt.cycle(sup, 60)
    first, second = _outputs(rt, job["id"])
    assert (first["count"], first["previous"]) == (1, "")
    assert (second["count"], second["previous"]) == (1, "run 1")  # fresh directory, summary handed over
    assert first["cwd"] != second["cwd"]
    assert rt.runs(job["id"])[1]["summary"] == "run 1"
    # ephemeral directories are removed after the run
    assert not any((rt.app.paths.contexts_dir / job["id"]).glob("*/count"))


def test_shared_persistent_keeps_one_directory(rt, clock):
    rt.agent("a", "memory")
    job = rt.job(session_mode="shared_persistent")
    sup = rt.supervisor()
    for _ in range(3):
        rt.cycle(sup, 60)
    outs = _outputs(rt, job["id"])
    assert [o["count"] for o in outs] == [1, 2, 3]
    assert len({o["cwd"] for o in outs}) == 1
    assert (rt.app.paths.context_dir(job["id"]) / "count").read_text() == "3"


def test_fully_ephemeral_hands_nothing_over(rt, clock):
    rt.agent("a", "memory")
    job = rt.job(session_mode="fully_ephemeral")
    sup = rt.supervisor()
    rt.cycle(sup, 60)
    rt.cycle(sup, 60)
    assert [(o["count"], o["previous"]) for o in _outputs(rt, job["id"])] == [(1, ""), (1, "")]


def _heartbeat_job(rt, context_mode, stop_at, max_iterations=10):
    rt.agent("hb", "heartbeat", str(stop_at))
    return rt.job(
        "monitor",
        agent="hb",
        cron="*/5 * * * *",
        heartbeat={"enabled": True, "context_mode": context_mode, "max_iterations": max_iterations},
    )


@pytest.mark.parametrize("mode", ["ephemeral_with_summary", "shared_persistent", "fully_ephemeral"])
def test_heartbeat_wake_ends_on_sleep(rt, clock, mode):
    job = _heartbeat_job(rt, mode, stop_at=3)
    rt.cycle(rt.supervisor(), 300)
    runs = rt.runs(job["id"])
    assert len(runs) == 1  # one run record per wake
    run = runs[0]
    assert (run["status"], run["iterations"]) == ("succeeded", 3)
    assert run["summary"] == "checked 3"
    its = run["detail"]["heartbeat"]["iterations"]
    assert [i["iteration"] for i in its] == [1, 2, 3] and its[-1]["sleep"]
    lines = [line for line in run["output"].splitlines() if line.startswith("iteration")]
    previous = [line.split("previous=")[1].split(" cwd=")[0] for line in lines]
    cwds = [line.split(" cwd=")[1] for line in lines]
    if mode == "fully_ephemeral":
        assert previous == ["''", "''", "''"]
        assert len(set(cwds)) == 3
    elif mode == "ephemeral_with_summary":
        assert previous == ["''", "'checked 1'", "'checked 2'"]
        assert len(set(cwds)) == 3
    else:
        assert previous == ["''", "'checked 1'", "'checked 2'"]
        assert len(set(cwds)) == 1


def test_heartbeat_max_iterations_fails_the_run(rt, clock):
    job = _heartbeat_job(rt, "ephemeral_with_summary", stop_at=0, max_iterations=4)
    rt.cycle(rt.supervisor(), 300)
    run = rt.runs(job["id"])[0]
    assert (run["status"], run["iterations"]) == ("failed", 4)
    assert "max_iterations (4)" in run["error_message"]
    assert rt.get_job(job["id"])["failure_count"] == 1


def test_heartbeat_nonzero_exit_ends_the_wake(rt, clock):
    rt.agent("hb", "fail", "9")
    job = rt.job("monitor", agent="hb", heartbeat={"enabled": True, "max_iterations": 5})
    rt.cycle(rt.supervisor(), 60)
    run = rt.runs(job["id"])[0]
    assert (run["status"], run["iterations"], run["exit_code"]) == ("failed", 1, 9)
    assert run["error_message"].startswith("iteration 1: agent exited with status 9")


def test_guide_heartbeat_example_runs_end_to_end(rt, clock, tmp_path):
    """The guide's `system-monitor` schedule (heartbeat every 5 minutes, max 100 iterations) from a .symbi file."""
    from symbi_cron.services.importing import add_from_file

    from .conftest import agent_command

    src = tmp_path / "monitor.symbi"
    src.write_text(f'''
agent heartbeat-agent {{
  command: "{agent_command("heartbeat", "2")}"
}}
schedule {{
  name: "system-monitor"
  agent: "heartbeat-agent"
  cron: "*/5 * * * *"   # wake every 5 minutes
  heartbeat: {{
    enabled: true
    context_mode: "ephemeral_with_summary"
    max_iterations: 100   # safety limit
  }}
}}
''')
    result = add_from_file(rt.app, str(src), schedules=["system-monitor"])
    job = result["jobs"][0]
    sup = rt.supervisor()
    rt.cycle(sup, 300)
    rt.cycle(sup, 300)
    runs = rt.runs(job["id"])
    assert [(r["status"], r["iterations"]) for r in runs] == [("succeeded", 2), ("succeeded", 2)]
    # the second wake's first iteration saw the first wake's summary
    assert "previous='checked 2'" in runs[1]["output"].splitlines()[0]
