"""Session modes as the model server sees them (SPEC §7), and the conversation file kept in the context
directory.

The server is the fake model server on 127.0.0.1 (the internet cannot be used in tests)."""

from __future__ import annotations

import json

import pytest
from fake_model_server import Turn

from symbi_cron.modelrun import conversation
from symbi_cron.modelrun.conversation import DEFAULT_PROMPT, SUMMARY_HEADER


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("ephemeral_with_summary", f"{SUMMARY_HEADER}\nyesterday: disk at 80%\n\ncheck the disks"),
        ("fully_ephemeral", "check the disks"),
        ("shared_persistent", "check the disks"),  # the history itself is the memory
    ],
)
def test_first_prompt_per_session_mode(server, run, tmp_path, mode, expected):
    server.script(Turn.say("ok"))
    res, _, _ = run(session_mode=mode, previous_summary="yesterday: disk at 80%", context_dir=tmp_path / mode)
    assert res.ok, res.error_message
    assert server.requests[0].user_texts() == [expected]


def test_no_input_gets_the_default_prompt(server, run):
    server.script(Turn.say("ok"))
    run(input_text="   ")
    assert server.requests[0].user_texts() == [DEFAULT_PROMPT]


@pytest.mark.parametrize("model,provider", [("claude-sonnet-4.5", "anthropic"), ("gpt-4o", "openai")])
def test_shared_persistent_history_with_tool_calls_replays_in_both_apis(server, run, tmp_path, model, provider):
    from model_helpers import agent, make_settings

    ctx = tmp_path / "shared"
    spec = agent(model, tools={"now": {"command": "echo 12:00", "description": "the time"}})
    settings = make_settings(server, provider)
    server.script(Turn.tool("now"), Turn.say("it is noon"), Turn.say("still noon"))
    assert run(spec, session_mode="shared_persistent", context_dir=ctx, settings=settings)[0].ok
    res, _, _ = run(spec, input_text="and now?", session_mode="shared_persistent", context_dir=ctx, settings=settings)
    assert res.ok, res.error_message  # the server checked that every tool result answers a tool call
    third = server.requests[2].json()["messages"]
    roles = [m["role"] for m in third]
    if provider == "anthropic":
        assert roles == ["user", "assistant", "user", "assistant", "user"]
        assert third[2]["content"][0]["type"] == "tool_result"
    else:
        assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    stored = json.loads((ctx / "conversation.json").read_text())["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert oct((ctx / "conversation.json").stat().st_mode & 0o777) == "0o600"


def test_a_run_that_died_mid_turn_leaves_no_dangling_tool_call(tmp_path):
    conversation.save(
        tmp_path,
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "t", "name": "x", "arguments": {}}]},
        ],
        model="m",
    )
    msgs = conversation.start(tmp_path, "shared_persistent", "d", None, max_history_chars=10_000)
    assert [m["content"] for m in msgs] == ["a", "b", "d"]


def test_a_corrupt_conversation_file_starts_fresh_and_is_kept_aside(tmp_path):
    (tmp_path / "conversation.json").write_text("{not json")
    msgs = conversation.start(tmp_path, "shared_persistent", "hello", None, max_history_chars=10_000)
    assert msgs == [{"role": "user", "content": "hello"}]
    assert (tmp_path / "conversation.json.corrupt").read_text() == "{not json"


def test_long_history_is_trimmed_by_whole_turns(tmp_path):
    old = []
    for i in range(50):
        old += [
            {"role": "user", "content": f"q{i} " + "x" * 100},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": f"t{i}", "name": "n", "arguments": {}}],
            },
            {"role": "tool", "tool_call_id": f"t{i}", "name": "n", "content": "r", "is_error": False},
            {"role": "assistant", "content": f"a{i}"},
        ]
    conversation.save(tmp_path, old, model="m")
    msgs = conversation.start(tmp_path, "shared_persistent", "latest", None, max_history_chars=2_000)
    assert msgs[0]["role"] == "user" and msgs[0]["content"].startswith("q")
    assert msgs[-1] == {"role": "user", "content": "latest"}
    assert len(json.dumps(msgs)) <= 2_000
    ids = {m["tool_call_id"] for m in msgs if m["role"] == "tool"}
    calls = {c["id"] for m in msgs for c in m.get("tool_calls") or []}
    assert ids == calls
