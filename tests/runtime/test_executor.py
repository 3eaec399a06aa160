"""The subprocess protocol (SPEC §6) with real processes: argv without a shell, process group, cwd, stdin, the
SYMBI_* environment, output cap and log file, stderr capture, max_runtime (TERM, grace, KILL to the group)."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

from symbi_cron.runtime.executor import ExecRequest, agent_argv, agent_env, execute, read_summary

from .conftest import agent_command


def _req(tmp_path: Path, *args: str, agent: dict | None = None, **kw) -> ExecRequest:
    agent = agent or {"name": "t", "command": agent_command(*args)}
    env = agent_env(agent, {"SYMBI_RUN_ID": "r1", "SYMBI_SUMMARY_FILE": str(tmp_path / "ctx" / ".sum")})
    base = dict(agent=agent, input_text="", cwd=tmp_path / "ctx", env=env, log_path=tmp_path / "logs" / "r1.log")
    base.update(kw)
    return ExecRequest(**base)


def test_stdin_stdout_cwd_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_TOKEN_SRC", "s3cret")
    monkeypatch.setenv("SYMBI_API_KEY", "never-inherited")
    agent = {
        "name": "t",
        "command": agent_command("env"),
        "env": {"AGENT_TOKEN": "${AGENT_TOKEN_SRC}", "AGENT_PLAIN": "x"},
    }
    env = agent_env(agent, {"SYMBI_RUN_ID": "r1"})
    res = execute(
        ExecRequest(agent=agent, input_text="the input", cwd=tmp_path / "ctx", env=env, log_path=tmp_path / "r1.log")
    )
    assert res.status == "succeeded" and res.exit_code == 0
    data = json.loads(res.output)
    assert data["stdin"] == "the input"
    assert data["cwd"] == str(tmp_path / "ctx")
    # The agent got the secret; printed, it is masked in what the run records (SPEC §4).
    assert data["AGENT_TOKEN"] == "***" and data["AGENT_PLAIN"] == "x"
    assert data["SYMBI_RUN_ID"] == "r1"
    assert "SYMBI_API_KEY" not in data
    assert stat.S_IMODE(os.stat(tmp_path / "r1.log").st_mode) == 0o600


def test_no_shell_unless_asked(tmp_path):
    res = execute(_req(tmp_path, agent={"name": "t", "command": "echo $HOME ; echo done"}))
    assert res.output.strip() == "$HOME ; echo done"  # argv, not a shell
    res = execute(_req(tmp_path, agent={"name": "t", "command": "echo one; echo two", "shell": True}))
    assert res.output.split() == ["one", "two"]
    assert agent_argv({"name": "t", "command": "a 'b c' d"}) == ["a", "b c", "d"]


def test_failure_keeps_stderr_in_log_and_message(tmp_path):
    req = _req(tmp_path, "fail", "5")
    res = execute(req)
    assert (res.status, res.exit_code) == ("failed", 5)
    assert "something broke" in res.error_message
    log = req.log_path.read_text()
    assert "about to fail" in log and "[stderr] something broke" in log
    assert "something broke" not in res.output


def test_output_is_capped_in_memory_and_whole_in_the_log(tmp_path):
    req = _req(tmp_path, "big", "200000", output_cap=1024)
    res = execute(req)
    assert res.ok and res.truncated and res.output_bytes == 200000
    assert res.output.startswith("x" * 1024)
    assert "output truncated at 1024 bytes of 200000" in res.output
    assert res.last_line().endswith("xEND")
    assert req.log_path.read_bytes().startswith(b"x" * (200000 - 4) + b"END\n[symbi] succeeded")


def test_max_runtime_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    req = _req(tmp_path, "spawn", str(pidfile), deadline=time.monotonic() + 1.0, max_runtime=1.0, kill_grace=1.0)
    started = time.monotonic()
    res = execute(req)
    assert res.status == "timed_out"
    assert "max_runtime of 1s" in res.error_message
    assert time.monotonic() - started < 6
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the agent's child survived the timeout"


def test_term_is_followed_by_kill_after_the_grace(tmp_path):
    req = _req(tmp_path, "ignore-term", deadline=time.monotonic() + 0.5, max_runtime=0.5, kill_grace=0.5)
    res = execute(req)
    assert res.status == "timed_out"
    assert res.exit_code == -9


def test_cancel_interrupts(tmp_path):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    res = execute(_req(tmp_path, "sleep", "30", cancel=cancel, kill_grace=1.0))
    assert res.status == "interrupted"


def test_missing_command_and_model_agent(tmp_path):
    res = execute(_req(tmp_path, agent={"name": "t", "command": "/no/such/binary"}))
    assert res.status == "failed" and res.exit_code == 127 and "command not found" in res.error_message
    res = execute(_req(tmp_path, agent={"name": "m", "model": "claude", "system_prompt": "x"}))
    assert res.status == "failed" and "model agents are not supported yet" in res.error_message


def test_summary_file_or_tail(tmp_path):
    req = _req(tmp_path, "summary", "all good")
    res = execute(req)
    assert read_summary(tmp_path / "ctx" / ".sum", res) == "all good"
    res = execute(_req(tmp_path, agent={"name": "t", "command": "echo last words"}))
    assert read_summary(tmp_path / "nothing", res) == "last words"


def _alive(pid: int) -> bool:
    from symbi_cron.runtime.control import pid_alive

    return pid_alive(pid)
