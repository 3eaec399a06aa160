"""Live output (issue 19, item 3): answers are streamed (server-sent events, Anthropic's and OpenAI's documented
shapes, from the fake model server on 127.0.0.1) and reach the run log a line at a time while the answer is
still arriving; a server that answers plain JSON keeps working."""

from __future__ import annotations

import threading
import time

import pytest
from fake_model_server import FakeModelServer, Turn
from model_helpers import KEY, agent, make_settings

from symbi_cron.modelrun import run_model_agent

DISK_TOOL = {
    "disk": {
        "command": "echo 91% used",
        "description": "Disk usage",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    }
}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_streamed_answer_with_a_tool_call(server, run, provider):
    model = "claude-sonnet-4.5" if provider == "anthropic" else "gpt-4o"
    server.script(
        Turn.tool("disk", {"path": "/var"}, text="Let me look.", input_tokens=300, output_tokens=20),
        Turn.say("Disk /var at 91%.\nRotate the logs.\nsleep", input_tokens=400, output_tokens=30),
    )
    res, log, _ = run(agent(model, tools=DISK_TOOL), settings=make_settings(server, provider))
    assert res.ok, res.error_message
    assert res.output == "Disk /var at 91%.\nRotate the logs.\nsleep"
    assert (res.usage["input_tokens"], res.usage["output_tokens"]) == (700, 50)  # usage from the stream's events
    first = server.requests[0].json()
    assert first["stream"] is True
    if provider == "openai":
        assert first["stream_options"] == {"include_usage": True}
    second = server.requests[1].json()["messages"]
    assert "91% used" in str(second[-1])  # the tool's result went back, its arguments were read from the deltas
    assert '[tool call] disk {"path": "/var"}' in log
    assert "[assistant] Let me look.\n" in log
    assert "[assistant] Disk /var at 91%.\nRotate the logs.\nsleep\n" in log
    assert log.count("Rotate the logs.") == 1  # written as it came, not again at the end


def test_the_log_shows_the_answer_while_it_arrives(tmp_path, server):
    gate = threading.Event()
    server.script(Turn.say("Checking the disks...\nAll fine.", gate=gate))
    log_path = tmp_path / "run.log"
    box: dict = {}

    def go() -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            box["res"] = run_model_agent(
                agent(),
                input_text="go",
                context_dir=tmp_path,
                session_mode="fully_ephemeral",
                previous_summary=None,
                settings=make_settings(server, "anthropic"),
                env={"ANTHROPIC_API_KEY": KEY},
                deadline=None,
                log=log,
            )

    worker = threading.Thread(target=go)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "[assistant] Checking the disks..." not in log_path.read_text() if log_path.exists() else True:
            assert time.monotonic() < deadline, "the first line never reached the log"
            time.sleep(0.02)
        assert "All fine." not in log_path.read_text()  # the rest of the answer has not been sent yet
        assert worker.is_alive()
    finally:
        gate.set()
        worker.join(15)
    assert box["res"].ok and box["res"].output == "Checking the disks...\nAll fine."
    assert "[assistant] Checking the disks...\nAll fine.\n" in log_path.read_text()


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_server_that_does_not_stream_still_works(run, provider):
    with FakeModelServer(key=KEY, streams=False) as plain:
        plain.script(Turn.say("plain answer", input_tokens=5, output_tokens=1))
        model = "claude-sonnet-4.5" if provider == "anthropic" else "gpt-4o"
        res, log, _ = run(agent(model), settings=make_settings(plain, provider))
    assert res.ok and res.output == "plain answer" and res.usage["input_tokens"] == 5
    assert log.count("[assistant] plain answer") == 1


def test_stream_false_asks_for_a_whole_answer(server, run):
    server.script(Turn.say("whole"))
    res, log, _ = run(settings=make_settings(server, "anthropic", stream=False))
    assert res.ok and "stream" not in server.requests[0].json()
    assert "[assistant] whole" in log


def test_an_error_event_in_the_stream_is_retried(server, run):
    from symbi_cron.modelrun import providers

    ep = providers.Endpoint("anthropic", "http://x/v1/messages", "k", "m")
    events = iter([("error", '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}')])
    with pytest.raises(providers.ModelError) as err:
        providers._anthropic_stream(ep, events, lambda kind, text: None)
    assert err.value.retryable and "overloaded_error: Overloaded" in err.value.message
    cut = iter([("message_start", '{"type": "message_start", "message": {"usage": {"input_tokens": 3}}}')])
    with pytest.raises(providers.ModelError, match="ended before message_stop") as err:
        providers._anthropic_stream(ep, cut, lambda kind, text: None)
    assert err.value.retryable
