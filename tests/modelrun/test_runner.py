"""The runner's loop against the fake model server (127.0.0.1; the internet cannot be used in tests): tool
calls executed and answered, refusals, timeouts, retries of 429/500 within max_runtime, and clear errors."""

from __future__ import annotations

import json
import socket
import sys

import pytest
from fake_model_server import Turn
from model_helpers import KEY, agent, make_settings

PY = sys.executable


def tool(command: str, description: str = "a tool", **kw):
    return {"command": command, "description": description, **kw}


def _tool_results(req) -> list[dict]:
    """The tool results a request carries, whatever the API: [{id, content, is_error}]."""
    out = []
    for m in req.json()["messages"]:
        if req.api == "anthropic" and isinstance(m.get("content"), list):
            out += [
                {"id": b["tool_use_id"], "content": b["content"], "is_error": b.get("is_error", False)}
                for b in m["content"]
                if b.get("type") == "tool_result"
            ]
        elif m.get("role") == "tool":
            out.append({"id": m["tool_call_id"], "content": m["content"], "is_error": None})
    return out


@pytest.mark.parametrize("model,provider", [("claude-sonnet-4.5", "anthropic"), ("gpt-4o", "openai")])
def test_tool_call_is_executed_and_answered(server, run, tmp_path, model, provider):
    server.script(Turn.tool("greet", {"who": "ops team; rm -rf /"}, text="Let me check."), Turn.say("greeted\nsleep"))
    spec = agent(
        model,
        tools={
            "greet": tool(
                f'{PY} -c "import sys,json; a=json.load(sys.stdin); '
                f"print('hello', sys.argv[1], a['who']==sys.argv[1])\" {{who}}",
                parameters={"properties": {"who": {"type": "string"}}},
            )
        },
    )
    res, log, _ = run(spec, settings=make_settings(server, provider))
    assert res.ok, res.error_message
    assert res.output == "greeted\nsleep" and res.summary == "greeted"
    assert res.tool_calls == 1 and res.model_calls == 2
    second = server.requests[1]
    results = _tool_results(second)
    assert len(results) == 1
    # the argument arrived as one argv item and as JSON on stdin; no shell ever saw it
    assert results[0]["content"].strip() == "hello ops team; rm -rf / True"
    if provider == "anthropic":
        assert second.json()["messages"][1]["content"][0] == {"type": "text", "text": "Let me check."}
        assert second.json()["messages"][1]["content"][1]["type"] == "tool_use"
    else:
        assert second.json()["messages"][2]["tool_calls"][0]["function"]["name"] == "greet"
    assert "[tool call] greet" in log and "[tool result] greet: hello" in log


def test_tool_runs_in_the_context_dir(server, run, tmp_path):
    server.script(Turn.tool("where"), Turn.say("ok"))
    ctx = tmp_path / "the-context"
    res, _, _ = run(agent(tools={"where": tool("pwd")}), context_dir=ctx)
    assert res.ok
    assert _tool_results(server.requests[1])[0]["content"].strip() == str(ctx)


def test_tool_env_never_holds_the_model_key(server, run):
    server.script(Turn.tool("env"), Turn.say("ok"))
    res, _, _ = run(
        agent(tools={"env": tool("env")}),
        env={"ANTHROPIC_API_KEY": KEY, "PATH": "/usr/bin:/bin", "KEEP_ME": "yes"},
    )
    assert res.ok
    content = _tool_results(server.requests[1])[0]["content"]
    assert "KEEP_ME=yes" in content and "SYMBI_TOOL_NAME=env" in content
    assert KEY not in content and "ANTHROPIC_API_KEY" not in content


def test_tool_failure_is_told_to_the_model(server, run):
    server.script(Turn.tool("fail"), Turn.say("it failed, noted"))
    res, _, _ = run(agent(tools={"fail": tool(f"{PY} -c \"import sys; print('out'); sys.exit('boom')\"")}))
    assert res.ok
    r = _tool_results(server.requests[1])[0]
    assert r["is_error"] is True and "exited with status 1" in r["content"] and "boom" in r["content"]


def test_tool_timeout(server, run):
    server.script(Turn.tool("slow"), Turn.say("the tool was slow"))
    res, _, _ = run(agent(tools={"slow": tool("sleep 30", timeout="1s")}))
    assert res.ok, res.error_message
    r = _tool_results(server.requests[1])[0]
    assert r["is_error"] and "stopped after 1s (its timeout of 1s)" in r["content"]


def test_tool_counts_against_max_runtime(server, run):
    server.script(Turn.tool("slow"), Turn.say("never asked"))
    res, _, _ = run(agent(tools={"slow": tool("sleep 30", timeout="10m")}), max_runtime=1.0)
    assert res.exit_code == 1 and res.timed_out
    assert "max_runtime reached while tool 'slow' ran" in res.error_message
    assert len(server.requests) == 1


def test_tool_needing_a_capability_the_agent_lacks_is_refused(server, run, tmp_path):
    marker = tmp_path / "ran"
    server.script(Turn.tool("restart"), Turn.say("could not restart"))
    spec = agent(tools={"restart": tool(f"touch {marker}", capability="service_restart")})
    res, _, _ = run(spec, capabilities={"read_metrics"})
    assert res.ok
    r = _tool_results(server.requests[1])[0]
    assert r["is_error"] and "needs the capability 'service_restart'" in r["content"]
    assert not marker.exists()


def test_tool_with_the_capability_runs(server, run, tmp_path):
    marker = tmp_path / "ran"
    server.script(Turn.tool("restart"), Turn.say("restarted"))
    res, _, _ = run(
        agent(tools={"restart": tool(f"touch {marker}", capability="service_restart")}),
        capabilities={"service_restart"},
    )
    assert res.ok and marker.exists()


def test_unknown_tool_and_missing_argument(server, run):
    server.script(Turn.tool("nope"), Turn.tool("echo", {}), Turn.say("fine"))
    spec = agent(tools={"echo": tool("echo {text}", parameters={"properties": {"text": {"type": "string"}}})})
    res, _, _ = run(spec)
    assert res.ok
    assert "there is no tool named 'nope' (tools: echo)" in _tool_results(server.requests[1])[0]["content"]
    assert "missing argument 'text'" in _tool_results(server.requests[2])[-1]["content"]


def test_openai_invalid_tool_arguments(server, run):
    server.script(Turn.tool("echo", raw_arguments="{not json"), Turn.say("sorry"))
    res, _, _ = run(agent("gpt-4o", tools={"echo": tool("echo hi")}), settings=make_settings(server, "openai"))
    assert res.ok
    assert "not a JSON object" in _tool_results(server.requests[1])[0]["content"]


def test_endless_tool_calls_stop_at_max_steps(server, run):
    server.responder = lambda req: Turn.tool("echo")
    res, _, _ = run(agent(tools={"echo": tool("echo hi")}), settings=make_settings(server, "anthropic", max_steps=3))
    assert res.exit_code == 1 and "after 3 model calls" in res.error_message
    assert len(server.requests) == 3


# -- retries and errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_429_with_retry_after_is_retried(server, run, provider):
    server.script(Turn.error(429, "rate_limit_error", "slow down", retry_after="7"), Turn.say("ok"))
    model = "claude-sonnet-4.5" if provider == "anthropic" else "gpt-4o"
    res, log, clock = run(agent(model), settings=make_settings(server, provider))
    assert res.ok, res.error_message
    assert clock.sleeps == [7.0]
    assert len(server.requests) == 2
    assert "HTTP 429: rate_limit_error: slow down; retry 1 of 4 in 7s" in log


def test_500_is_retried_with_backoff(server, run):
    server.script(Turn.error(500, "api_error", "oops"), Turn.error(529, "overloaded_error", "busy"), Turn.say("ok"))
    res, _, clock = run()
    assert res.ok, res.error_message
    assert clock.sleeps == [1.0, 2.0]


def test_retries_give_up_with_a_clear_error(server, run):
    server.responder = lambda req: Turn.error(503, "api_error", "down")
    res, _, clock = run(settings=make_settings(server, "anthropic", max_retries=2), max_runtime=None)
    assert res.exit_code == 1 and not res.timed_out
    assert "HTTP 503: api_error: down (gave up after 3 attempts)" in res.error_message
    assert len(server.requests) == 3


def test_4xx_is_not_retried(server, run):
    server.script(Turn.error(400, "invalid_request_error", "bad thing"))
    res, _, clock = run()
    assert res.exit_code == 1 and clock.sleeps == []
    assert "HTTP 400: invalid_request_error: bad thing" in res.error_message


def test_wrong_key_is_a_clear_error_without_the_key(server, run):
    res, log, _ = run(env={"ANTHROPIC_API_KEY": "sk-wrong-secret"})
    assert res.exit_code == 1
    assert "HTTP 401" in res.error_message and "check ANTHROPIC_API_KEY" in res.error_message
    assert "sk-wrong-secret" not in res.error_message + log


def test_retry_after_past_the_deadline_fails_as_timed_out(server, run):
    server.script(Turn.error(429, "rate_limit_error", "later", retry_after="60"))
    res, _, clock = run(max_runtime=10)
    assert res.exit_code == 1 and res.timed_out
    assert "would start after the deadline" in res.error_message
    assert clock.sleeps == []


def test_slow_server_hits_the_deadline(server, run):
    server.script(Turn.say("too late", delay=3))
    res, _, _ = run(max_runtime=0.5)
    assert res.exit_code == 1 and res.timed_out
    assert "max_runtime reached while waiting for the model" in res.error_message


def test_request_timeout_is_retried(server, run):
    server.script(Turn.say("too late", delay=2), Turn.say("in time"))
    res, _, clock = run(settings=make_settings(server, "anthropic", timeout_seconds=0.3), max_runtime=None)
    assert res.ok, res.error_message
    assert res.output == "in time" and clock.sleeps == [1.0]


def test_a_redirect_is_an_error_that_says_so_and_is_not_followed(server, run):
    location = {"Location": "http://127.0.0.1:9/v1/messages"}
    server.script(Turn(status=302, error_type="moved", error_message="elsewhere", headers=location))
    res, _, clock = run()
    assert res.exit_code == 1 and clock.sleeps == [] and len(server.requests) == 1
    assert "answered HTTP 302: moved: elsewhere (redirects are not followed; check [models] base_url)" in (
        res.error_message
    )


def test_a_model_server_on_any_loopback_address_is_never_reached_through_a_proxy(run, monkeypatch):
    from fake_model_server import FakeModelServer

    from tests.servers.http_recorder import RecordingHTTPServer

    for var in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with RecordingHTTPServer() as proxy, FakeModelServer(key=KEY, host="127.0.0.2") as local:
        monkeypatch.setenv("http_proxy", proxy.url())
        local.script(Turn.say("direct"))
        res, _, _ = run(settings=make_settings(local, "anthropic"))
        assert res.ok and res.output == "direct", res.error_message
        assert len(local.requests) == 1 and proxy.requests == []


def test_missing_key_is_a_clear_error(server, run):
    res, log, _ = run(env={})
    assert res.exit_code == 1 and res.output == ""
    assert res.error_message == (
        "model agent 'monitor': no API key for the anthropic API (model 'claude-sonnet-4.5'):"
        ' set ANTHROPIC_API_KEY in the daemon\'s environment, or [models] api_key = "${VAR}"'
        " in config.toml"
    )
    assert server.requests == []
    assert res.error_message in log


def test_no_server_is_a_clear_error(run, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from symbi_cron.config import ModelSettings, Settings

    settings = Settings(models=ModelSettings(provider="anthropic", base_url=f"http://127.0.0.1:{port}", max_retries=1))
    res, _, clock = run(settings=settings)
    assert res.exit_code == 1
    assert f"cannot reach the anthropic API at http://127.0.0.1:{port}/v1/messages" in res.error_message
    assert "(gave up after 2 attempts)" in res.error_message


def test_transcript_is_logged_without_the_key(server, run):
    server.script(Turn.say("all quiet\nsleep"))
    res, log, _ = run()
    assert "[user] check the disks" in log and "[assistant] all quiet" in log
    assert KEY not in log
    assert json.dumps(KEY) not in log


def test_shutdown_stops_the_run_between_steps(server, tmp_path):
    import io
    import threading

    from model_helpers import StepClock

    from symbi_cron.modelrun import run_model_agent

    cancel = threading.Event()
    server.script(Turn.error(503, "api_error", "down"))

    def sleep(seconds: float) -> None:  # the shutdown arrives while the runner waits to retry
        cancel.set()

    clock = StepClock()
    res = run_model_agent(
        agent(),
        input_text="x",
        context_dir=tmp_path,
        session_mode="fully_ephemeral",
        previous_summary=None,
        settings=make_settings(server, "anthropic"),
        env={"ANTHROPIC_API_KEY": KEY},
        deadline=None,
        log=io.StringIO(),
        allowed_capabilities=set(),
        clock=clock,
        sleep=sleep,
        cancel=cancel,
    )
    assert res.exit_code == 1 and res.interrupted
    assert "stopped by the supervisor's shutdown" in res.error_message
    assert len(server.requests) == 1
