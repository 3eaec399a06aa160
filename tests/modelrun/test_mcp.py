"""MCP tools (issue 19, item 4): a model agent calls the tools of the stdio MCP servers it declares, each gated by
the agent's capabilities; the servers start with the run and are gone when it ends. The server is a real process
(tests/modelrun/mcp_server.py), the model the fake model server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fake_model_server import Turn
from model_helpers import agent

from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc

SERVER = Path(__file__).resolve().parent / "mcp_server.py"


def _servers(tmp_path: Path, **more) -> dict:
    return {
        "files": {
            "command": f"{sys.executable} {SERVER}",
            "env": {"MCP_PID_FILE": str(tmp_path / "mcp.pid"), "MCP_TOKEN": "${TOKEN}"},
            "tool_capabilities": {"secret": "read_secrets"},
            **more,
        }
    }


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _tool_results(request) -> list[str]:
    return [
        b["content"]
        for m in request.json()["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]


def test_mcp_tools_are_offered_called_gated_and_the_server_stops(server, run, tmp_path):
    server.script(
        Turn.tool("files__echo", {"text": "hello"}),
        Turn.tool("files__secret", {}),
        Turn.tool("files__whoami", {}),
        Turn.tool("files__fail", {}),
        Turn.say("done"),
    )
    spec = agent(mcp_servers=_servers(tmp_path))
    res, log, _ = run(spec, env={"ANTHROPIC_API_KEY": "sk-test-0123456789-secret", "TOKEN": "tok-1"})
    assert res.ok, res.error_message
    offered = {t["name"]: t for t in server.requests[0].json()["tools"]}
    assert {"files__echo", "files__whoami", "files__secret", "files__fail", "sleep"} == set(offered)  # both pages
    assert offered["files__echo"]["input_schema"]["required"] == ["text"]
    results = _tool_results(server.requests[-1])
    assert results[0] == "echo: hello"
    assert results[1] == (
        "refused: tool 'files__secret' needs the capability 'read_secrets', which agent 'monitor' does not have"
    )
    assert results[2].startswith(f"cwd={tmp_path / 'ctx'} token=tok-1 pid=")  # the run's directory, its env
    assert results[3] == "it broke"
    assert "[tool result error] files__fail: it broke" in log
    assert "[symbi] MCP server 'files': 4 tool(s)" in log
    pid = int((tmp_path / "mcp.pid").read_text())
    assert _gone(pid)  # stopped (and reaped) when the run ended


def test_a_capability_the_agent_holds_lets_the_call_through(server, run, tmp_path):
    server.script(Turn.tool("files__secret", {}), Turn.say("ok"))
    res, _, _ = run(agent(mcp_servers=_servers(tmp_path)), capabilities={"read_secrets"})
    assert res.ok and _tool_results(server.requests[-1]) == ["the secret"]


def test_a_server_that_cannot_start_fails_the_run(server, run, tmp_path):
    spec = agent(mcp_servers={"broken": {"command": f"{sys.executable} -c 'import sys; sys.exit(3)'"}})
    res, log, _ = run(spec)
    assert not res.ok and server.requests == []
    assert "MCP server 'broken' closed its output while answering initialize (exit 3)" in res.error_message
    missing = agent(mcp_servers={"gone": {"command": str(tmp_path / "no-such-server")}})
    res, _, _ = run(missing)
    assert "MCP server 'gone': cannot start" in res.error_message


def test_an_agent_with_mcp_servers_through_the_scheduler(app, sched, model_server, tmp_path):
    model_server.script(Turn.tool("files__echo", {"text": "from the daemon"}), Turn.say("all good"))
    agent_svc.add_agent(
        app,
        {
            "name": "mcp-agent",
            "model": "claude-sonnet-4.5",
            "system_prompt": "Use your tools.",
            "mcp_servers": _servers(tmp_path, timeout="10s"),
        },
    )
    job = job_svc.create_job(app, {"name": "mcp-job", "agent_id": "mcp-agent", "cron_expr": "*/10 * * * *"})
    sched.cycle(600)
    [run] = sched.runs(job["id"])
    assert run["status"] == "succeeded", run["error_message"]
    log = app.paths.run_log(run["id"]).read_text()
    assert "[tool result] files__echo: echo: from the daemon" in log
    assert _gone(int((tmp_path / "mcp.pid").read_text()))


def test_mcp_servers_are_for_model_agents_and_named_plainly():
    from pydantic import ValidationError

    from symbi_cron.models import AgentSpec

    with pytest.raises(ValidationError, match="mcp_servers"):
        AgentSpec(name="c", command="true", mcp_servers={"x": {"command": "srv"}})
    with pytest.raises(ValidationError, match="no double _"):
        AgentSpec(name="m", model="m", system_prompt="p", mcp_servers={"a__b": {"command": "srv"}})
