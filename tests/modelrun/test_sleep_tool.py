"""Model agents get a built-in `sleep` tool: a call ends the heartbeat wake as a last line `sleep` does (issue
15, item 11). Through the real CLI against the fake model server (a real HTTP server on 127.0.0.1 standing in
for the provider's API, which tests cannot reach)."""

from __future__ import annotations

import json

import pytest
from fake_model_server import FakeModelServer, Turn
from model_helpers import KEY


@pytest.fixture
def model_server():
    with FakeModelServer(key=KEY) as srv:
        yield srv


def _model_heartbeat(d, model_server, *, tools: dict | None = None) -> None:
    d.env.update(ANTHROPIC_API_KEY=KEY, SYMBI_MODEL_BASE_URL=model_server.url)
    d.env.pop("OPENAI_API_KEY", None)
    d.env.pop("SYMBI_MODEL_PROVIDER", None)
    spec = {"name": "mon", "model": "claude-sonnet-4.5", "system_prompt": "Watch the disks.", "tools": tools or {}}
    app_env = dict(d.env)
    from symbi_cron.services import agents
    from symbi_cron.services.app import open_app

    app = open_app(app_env, notify=False)
    agents.add_agent(app, spec)
    app.store.close()
    job = {
        "name": "watch",
        "agent_id": "mon",
        "cron_expr": "0 0 1 1 *",
        "heartbeat": {"enabled": True, "max_iterations": 5},
        "max_retries": 0,
    }
    d.symbi("cron", "add", "--json", json.dumps(job), check=True)


def test_calling_sleep_ends_the_wake_with_its_summary(d, model_server) -> None:
    model_server.script(Turn.tool("sleep", {"summary": "Disks at 40%, nothing to do."}, text="Checked."))
    _model_heartbeat(d, model_server)
    ran = d.symbi("cron", "run", "watch")
    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(d.symbi("cron", "history", "watch", "--format", "json", check=True).stdout)
    assert (run["status"], run["iterations"]) == ("succeeded", 1)
    assert run["summary"] == "Checked.\nDisks at 40%, nothing to do."
    [request] = model_server.requests  # one model call: the wake ended at the tool call
    assert "sleep" in [t["name"] for t in request.json()["tools"]]


def test_sleep_tool_alongside_another_tool_answers_both_and_the_conversation_stays_valid(d, model_server) -> None:
    """A later run of a shared_persistent job sends the stored conversation: the sleep call has its answer (a
    plain run, not a heartbeat: there the tool ends the run)."""
    model_server.script(
        Turn(tool_calls=[("disk", {}), ("sleep", {})]),
        Turn.say("All fine.\nsleep"),
    )
    tools = {"disk": {"command": "echo 40%", "description": "Disk usage"}}
    _model_heartbeat(d, model_server, tools=tools)
    d.symbi(
        "cron",
        "update",
        "watch",
        "--json",
        json.dumps({"session_mode": "shared_persistent", "heartbeat": {"enabled": False}}),
        check=True,
    )
    assert d.symbi("cron", "run", "watch").returncode == 0
    assert d.symbi("cron", "run", "watch").returncode == 0  # the fake server checks every tool_use has a result
    second = model_server.requests[1].json()["messages"]
    results = [
        b
        for m in second
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b.get("type") == "tool_result"
    ]
    assert len(results) == 2 and "wake ends here" in json.dumps(results)
    assert {"role": "assistant", "content": [{"type": "text", "text": "sleep"}]} in second


def test_an_agents_own_sleep_tool_wins(d, model_server) -> None:
    model_server.script(Turn.tool("sleep", {}), Turn.say("done\nsleep"))
    tools = {"sleep": {"command": "echo napping", "description": "My own sleep"}}
    _model_heartbeat(d, model_server, tools=tools)
    assert d.symbi("cron", "run", "watch").returncode == 0
    assert len(model_server.requests) == 2  # the agent's tool ran; the model answered after it
    names = [t["name"] for t in model_server.requests[0].json()["tools"]]
    assert names == ["sleep"] and model_server.requests[0].json()["tools"][0]["description"] == "My own sleep"
