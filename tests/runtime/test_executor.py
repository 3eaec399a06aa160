"""The subprocess protocol (SPEC §6) with real processes: argv without a shell, process group, cwd, stdin, the
SYMBI_* environment, output cap and log file, stderr capture, max_runtime (TERM, grace, KILL to the group); and
agents that misbehave: processes left behind, huge output, input never read, bytes that are not UTF-8."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

from symbi_cron.runtime.executor import ExecRequest, agent_argv, agent_env, env_secrets, execute, read_summary

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
    # A model agent is not a command: execute_agent (runtime/execute.py) runs it through its own child process.
    res = execute(_req(tmp_path, agent={"name": "m", "model": "claude", "system_prompt": "x"}))
    assert res.status == "failed" and res.error_message == "agent 'm' has no command"


def test_summary_file_or_tail(tmp_path):
    req = _req(tmp_path, "summary", "all good")
    res = execute(req)
    assert read_summary(tmp_path / "ctx" / ".sum", res) == "all good"
    res = execute(_req(tmp_path, agent={"name": "t", "command": "echo last words"}))
    assert read_summary(tmp_path / "nothing", res) == "last words"


def _alive(pid: int) -> bool:
    from symbi_cron.processes import pid_alive

    return pid_alive(pid)


def _env_of(tmp_path: Path, agent: dict, base: dict, withheld=()) -> dict:
    env = agent_env(agent, {"SYMBI_RUN_ID": "r1"}, base, withheld=withheld)
    res = execute(ExecRequest(agent=agent, input_text="", cwd=tmp_path / "ctx", env=env, log_path=tmp_path / "r.log"))
    assert res.status == "succeeded", res.error_message
    return json.loads(res.output)


DAEMON_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/home/op",
    "USER": "op",
    "LOGNAME": "op",
    "SHELL": "/bin/bash",
    "LANG": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "TZ": "Europe/Madrid",
    "TMPDIR": "/tmp",
    "SMTP_PASSWORD": "smtp-pass-value",  # referenced by config.toml: smtp_password = "${SMTP_PASSWORD}"
    "MY_API_KEY": "api-key-value",  # referenced by config.toml: [api] key = "${MY_API_KEY}"
    "AWS_PROFILE": "prod",  # just something in the daemon's environment
    "SYMBI_HOME": "/srv/symbi",
}


def test_an_agent_gets_cron_s_minimal_environment_plus_what_it_declares(tmp_path):
    agent = {"name": "t", "command": agent_command("allenv"), "env": {"TOKEN": "${MY_API_KEY}", "MODE": "x"}}
    env = _env_of(tmp_path, agent, DAEMON_ENV, withheld={"SMTP_PASSWORD", "MY_API_KEY"})
    for name in ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_TIME", "TZ", "TMPDIR"):
        assert env[name] == DAEMON_ENV[name]
    assert env["MODE"] == "x" and env["SYMBI_RUN_ID"] == "r1"
    assert env["TOKEN"] == "***"  # declared: it gets the value, which is masked where the run records it
    for name in ("SMTP_PASSWORD", "MY_API_KEY", "AWS_PROFILE", "SYMBI_HOME"):
        assert name not in env


def test_inherit_env_gives_the_daemon_s_environment_less_what_the_configuration_refers_to(tmp_path):
    agent = {"name": "t", "command": agent_command("allenv"), "inherit_env": True, "env": {"PW": "${SMTP_PASSWORD}"}}
    env = _env_of(tmp_path, agent, DAEMON_ENV, withheld={"SMTP_PASSWORD", "MY_API_KEY"})
    assert env["AWS_PROFILE"] == "prod" and env["HOME"] == "/home/op"
    assert "MY_API_KEY" not in env and "SMTP_PASSWORD" not in env and "SYMBI_HOME" not in env
    assert env["PW"] == "***"  # named in its own env: it gets it (masked in the record)


def test_a_daemon_without_path_gives_agents_cron_s(tmp_path):
    env = agent_env({"name": "t", "command": "true"}, {}, {"HOME": "/h"})
    assert env == {"HOME": "/h", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def test_the_summary_file_is_masked_like_the_output(tmp_path, monkeypatch):
    monkeypatch.setenv("SUM_SECRET", "hunter2-secret")
    agent = {
        "name": "t",
        "command": agent_command("summary", "the key is hunter2-secret"),
        "env": {"K": "${SUM_SECRET}"},
    }
    env = agent_env(agent, {"SYMBI_SUMMARY_FILE": str(tmp_path / "ctx" / ".sum")})
    secrets = env_secrets(agent, env, os.environ)
    res = execute(ExecRequest(agent=agent, input_text="", cwd=tmp_path / "ctx", env=env, log_path=tmp_path / "r.log"))
    assert read_summary(tmp_path / "ctx" / ".sum", res, secrets) == "the key is ***"


# -- agents that misbehave ---------------------------------------------------------------------------------------

ESCAPER = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()  # leaves the agent's process group, keeps stdout and stderr open
    time.sleep(120)
    os._exit(0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(pid))
print("parent done", flush=True)
"""


def _command_req(tmp_path: Path, command: str, **kw) -> ExecRequest:
    agent = {"name": "t", "command": command}
    base = dict(
        agent=agent,
        input_text="",
        cwd=tmp_path / "ctx",
        env=agent_env(agent, {}),
        log_path=tmp_path / "logs" / "r1.log",
        kill_grace=1.0,
    )
    base.update(kw)
    return ExecRequest(**base)


def test_a_grandchild_outside_the_group_holding_stdout_does_not_hang_the_run(tmp_path):
    script = tmp_path / "escaper.py"
    script.write_text(ESCAPER)
    pidfile = tmp_path / "grandchild.pid"
    req = _command_req(tmp_path, f"{sys.executable} {script} {pidfile}")
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(res=execute(req)), daemon=True)
    t.start()
    try:
        t.join(timeout=20)  # the grandchild lives 120 s: the run must not wait for it
        assert not t.is_alive(), "the run waited for a process that escaped the agent's group"
        res = box["res"]
        assert res.status == "succeeded" and res.output == "parent done\n"
        assert "[symbi] succeeded" in req.log_path.read_text()
    finally:
        if pidfile.exists():
            gc = int(pidfile.read_text())
            if _alive(gc):
                os.kill(gc, signal.SIGKILL)


def test_fifty_megabytes_of_output_is_capped_and_whole_in_the_log(tmp_path):
    req = _command_req(
        tmp_path,
        f"{sys.executable} -c \"import sys; [sys.stdout.buffer.write(b'y' * 1048575 + b'\\n')"
        f" for _ in range(50)]; sys.stdout.buffer.write(b'\\xff\\xfe tail \\xc3\\n')\"",
        output_cap=4096,
    )
    res = execute(req)
    assert res.ok and res.truncated and res.output_bytes == 50 * 1048576 + 10
    assert res.output.startswith("y" * 4096) and "output truncated at 4096 bytes" in res.output
    assert len(res.tail.encode("utf-8")) < 20_000  # only the tail is kept in memory
    assert "\ufffd" in res.tail  # invalid UTF-8 is replaced, not an error
    assert req.log_path.stat().st_size > 50 * 1048576
    with open(req.log_path, "rb") as fh:
        fh.seek(50 * 1048576 - 2)
        assert fh.read(12) == b"y\n\xff\xfe tail \xc3\n"


def test_a_large_input_the_agent_never_reads_does_not_deadlock(tmp_path):
    for command in ("true", f"{sys.executable} -c \"import sys; sys.stdin.read(10); print('ok')\""):
        started = time.monotonic()
        res = execute(
            _command_req(tmp_path, command, input_text="x" * 5_000_000, deadline=time.monotonic() + 20, max_runtime=20)
        )
        assert res.ok, (command, res.error_message)
        assert time.monotonic() - started < 15
