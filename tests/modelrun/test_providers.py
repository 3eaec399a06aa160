"""What goes over the wire: both APIs' request shapes and the parsing of their answers.

The model server is the fake one on 127.0.0.1 (the internet cannot be used in tests); it checks requests the
way the real APIs document them and answers in their documented shapes.
"""

from __future__ import annotations

import pytest
from fake_model_server import Turn
from model_helpers import KEY, agent, make_settings

from symbi_cron.modelrun import providers
from symbi_cron.modelrun.providers import ModelError

DISK_TOOL = {
    "disk": {
        "command": "echo used {path}",
        "description": "Disk usage of a path",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
}


def test_anthropic_request_shape(server, run):
    server.script(Turn.say("all fine\nsleep"))
    res, _, _ = run(agent(tools=DISK_TOOL, max_tokens=777, temperature=0.2))
    assert res.ok, res.error_message
    req = server.requests[0]
    assert req.path == "/v1/messages"
    assert req.header("x-api-key") == KEY
    assert req.header("anthropic-version") == "2023-06-01"
    assert req.header("authorization") is None
    body = req.json()
    assert body["model"] == "claude-sonnet-4-5"  # the guide's dotted name, as the API spells it
    assert body["system"] == "You are a monitor. Return 'sleep' when done."
    assert body["max_tokens"] == 777 and body["temperature"] == 0.2
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "check the disks"}]}]
    from symbi_cron.modelrun.tools import sleep_schema

    sleep = sleep_schema()
    assert body["tools"] == [
        {
            "name": "disk",
            "description": "Disk usage of a path",
            "input_schema": DISK_TOOL["disk"]["parameters"],
        },
        {"name": "sleep", "description": sleep["description"], "input_schema": sleep["parameters"]},  # built in
    ]
    assert res.output == "all fine\nsleep"


def test_openai_request_shape(server, run):
    server.script(Turn.say("done"))
    res, _, _ = run(agent("gpt-4o-mini", tools=DISK_TOOL), settings=make_settings(server, max_tokens=100))
    assert res.ok, res.error_message
    req = server.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.header("authorization") == f"Bearer {KEY}"
    assert req.header("x-api-key") is None
    body = req.json()
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][0] == {
        "role": "system",
        "content": "You are a monitor. Return 'sleep' when done.",
    }
    assert body["messages"][1] == {"role": "user", "content": "check the disks"}
    assert "system" not in body
    from symbi_cron.modelrun.tools import sleep_schema

    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "disk",
                "description": "Disk usage of a path",
                "parameters": DISK_TOOL["disk"]["parameters"],
            },
        },
        {"type": "function", "function": sleep_schema()},  # built in: ends a heartbeat wake
    ]
    assert body["max_tokens"] == 100


def test_default_max_tokens_is_sent_to_anthropic_only_as_needed(server, run):
    server.script(Turn.say("a"), Turn.say("b"))
    run(agent())
    run(agent("gpt-4o"), settings=make_settings(server, provider="openai"))
    assert server.requests[0].json()["max_tokens"] == 4096  # required by the Messages API
    assert server.requests[1].json()["max_tokens"] == 4096


@pytest.mark.parametrize("api_model,provider", [("claude-sonnet-4.5", "anthropic"), ("gpt-4o", "openai")])
def test_usage_and_cost(server, run, api_model, provider):
    server.script(
        Turn.tool("disk", {"path": "/"}, input_tokens=1000, output_tokens=50),
        Turn.say("ok", input_tokens=2000, output_tokens=100),
    )
    prices = {
        "claude-sonnet-4-5": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
        "gpt-*": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
    }
    res, log, _ = run(agent(api_model, tools=DISK_TOOL), settings=make_settings(server, provider, prices=prices))
    assert res.ok, res.error_message
    assert res.usage["input_tokens"] == 3000 and res.usage["output_tokens"] == 150
    per = prices["claude-sonnet-4-5"] if provider == "anthropic" else prices["gpt-*"]
    assert res.usage["cost_usd"] == pytest.approx((3000 * per["input_per_mtok"] + 150 * per["output_per_mtok"]) / 1e6)
    assert "3000 tokens in, 150 out" in log


def test_no_price_no_cost(server, run):
    server.script(Turn.say("ok", input_tokens=10, output_tokens=2))
    res, _, _ = run(settings=make_settings(server, "anthropic", builtin_prices=False))
    assert res.usage == {"input_tokens": 10, "output_tokens": 2, "cost_usd": None, "model": "claude-sonnet-4-5"}


def test_a_model_no_price_names_takes_the_builtin_table(server, run):
    from symbi_cron.modelrun.pricing import BUILTIN_PRICES

    server.script(Turn.say("ok", input_tokens=1_000_000, output_tokens=100_000))
    res, _, _ = run()  # claude-sonnet-4.5, sent as claude-sonnet-4-5: the table's claude-sonnet-4-5*
    tin, tout = BUILTIN_PRICES["claude-sonnet-4-5*"]
    assert res.usage["cost_usd"] == pytest.approx(tin + tout / 10)
    server.script(Turn.say("ok", input_tokens=1_000_000, output_tokens=0))
    prices = {"claude-sonnet-4-5": {"input_per_mtok": 1.0, "output_per_mtok": 1.0}}
    res, _, _ = run(settings=make_settings(server, "anthropic", prices=prices))
    assert res.usage["cost_usd"] == pytest.approx(1.0)  # the configured price wins


@pytest.mark.parametrize(
    "stop,expected",
    [
        ("end_turn", "end"),
        ("stop_sequence", "end"),
        ("max_tokens", "max_tokens"),
        ("tool_use", "tool_use"),
        ("refusal", "other"),
    ],
)
def test_anthropic_stop_reasons(stop, expected):
    ep = providers.Endpoint("anthropic", "http://x/v1/messages", "k", "m")
    content = (
        [{"type": "tool_use", "id": "t1", "name": "n", "input": {}}]
        if stop == "tool_use"
        else [{"type": "text", "text": "hi"}]
    )
    reply = providers.parse_reply(
        ep,
        {
            "content": content,
            "stop_reason": stop,
            "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 3},
        },
    )
    assert reply.stop == expected and reply.raw_stop == stop
    assert (reply.input_tokens, reply.output_tokens) == (8, 7)


@pytest.mark.parametrize(
    "finish,expected",
    [("stop", "end"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "other")],
)
def test_openai_finish_reasons(finish, expected):
    ep = providers.Endpoint("openai", "http://x/v1/chat/completions", "k", "m")
    msg = {"role": "assistant", "content": None if finish == "tool_calls" else "hi"}
    if finish == "tool_calls":
        msg["tool_calls"] = [{"id": "c1", "type": "function", "function": {"name": "n", "arguments": '{"a": 1}'}}]
    reply = providers.parse_reply(
        ep,
        {
            "choices": [{"message": msg, "finish_reason": finish}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2},
        },
    )
    assert reply.stop == expected
    if finish == "tool_calls":
        assert reply.tool_calls[0].arguments == {"a": 1} and reply.text == ""


def test_answer_not_in_documented_shape_is_a_clear_error():
    ep = providers.Endpoint("openai", "http://x/v1/chat/completions", "k", "m")
    with pytest.raises(ModelError, match="documented shape"):
        providers.parse_reply(ep, {"choices": []})


@pytest.mark.parametrize(
    "model,configured,base,env,expected",
    [
        ("claude-sonnet-4.5", None, None, {}, "anthropic"),
        ("gpt-4o", None, None, {}, "openai"),
        ("o3-mini", None, None, {}, "openai"),
        ("llama3.1:8b", None, "http://127.0.0.1:11434", {}, "openai"),
        ("mystery", None, None, {"ANTHROPIC_API_KEY": "k"}, "anthropic"),
        ("claude-opus-4", "openai", None, {}, "openai"),
        ("anthropic/some-model", None, None, {}, "anthropic"),
    ],
)
def test_provider_choice(model, configured, base, env, expected):
    assert providers.provider_for(model, configured, base, env) == expected


def test_provider_unknown_names_the_setting():
    with pytest.raises(ModelError, match=r"\[models\] provider"):
        providers.provider_for("x", "bard", None, {})
    with pytest.raises(ModelError, match="cannot tell which API"):
        providers.provider_for("mystery", None, None, {})


@pytest.mark.parametrize(
    "provider,base,url",
    [
        ("anthropic", "https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("anthropic", "http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1/messages"),
        ("openai", "https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
        ("openai", "http://127.0.0.1:11434", "http://127.0.0.1:11434/v1/chat/completions"),
        ("openai", "http://127.0.0.1:8000/openai/v1", "http://127.0.0.1:8000/openai/v1/chat/completions"),
    ],
)
def test_request_url(provider, base, url):
    assert providers.request_url(provider, base) == url


@pytest.mark.parametrize(
    "name,provider,expected",
    [
        ("claude-sonnet-4.5", "anthropic", "claude-sonnet-4-5"),
        ("claude-3.5-sonnet", "anthropic", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5-20250929"),
        ("anthropic/claude-opus-4.1", "anthropic", "claude-opus-4-1"),
        ("llama3.1:8b", "openai", "llama3.1:8b"),
    ],
)
def test_api_model_name(name, provider, expected):
    assert providers.api_model_name(name, provider) == expected


def test_key_from_config_reference_wins(server, run):
    server.script(Turn.say("ok"))
    settings = make_settings(server, "anthropic", api_key="${MY_MODEL_KEY}")
    res, _, _ = run(settings=settings, env={"MY_MODEL_KEY": KEY, "ANTHROPIC_API_KEY": "wrong"})
    assert res.ok, res.error_message
    assert server.requests[0].header("x-api-key") == KEY


def test_base_url_from_environment(server, run):
    server.script(Turn.say("ok"))
    res, _, _ = run(
        settings=make_settings(None, "anthropic"),
        env={"ANTHROPIC_API_KEY": KEY, "SYMBI_MODEL_BASE_URL": server.url},
    )
    assert res.ok, res.error_message
    assert len(server.requests) == 1


def test_local_openai_server_needs_no_key(tmp_path):
    import io

    from fake_model_server import FakeModelServer
    from model_helpers import StepClock

    from symbi_cron.modelrun import run_model_agent

    with FakeModelServer(key=None) as srv:
        srv.script(Turn.say("local answer"))
        clock = StepClock()
        res = run_model_agent(
            agent("llama3.1:8b"),
            input_text="hi",
            context_dir=tmp_path,
            session_mode="fully_ephemeral",
            previous_summary=None,
            settings=make_settings(srv),
            env={},
            deadline=None,
            log=io.StringIO(),
            allowed_capabilities=set(),
            clock=clock,
            sleep=clock.sleep,
        )
        assert res.ok, res.error_message
        assert res.output == "local answer"
        assert srv.requests[0].header("authorization") is None
