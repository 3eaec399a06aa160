"""The agent of a run prepared ahead is started before its time and held, stopped, just before its ``exec``
(``runtime/executor.py`` ``HeldProcess``): at its time only the ``exec`` is left. Held, it has not run; released, it
is the agent with its own argv, environment and input; abandoned, or left by its owner's death, it never runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from symbi_cron.runtime.executor import ExecRequest, HeldProcess, Launch, NotStarted, agent_env, execute

from .conftest import agent_command


def _children_held() -> list[tuple[int, str]]:
    """This process's children that are stopped: (pid, their command line)."""
    held = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if state == "T":
                held.append((int(pid), cmdline))
    return held


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _prepared(tmp_path: Path, *args: str, ready, input_text: str = "", **agent) -> ExecRequest:
    agent = {"name": "t", "command": agent_command(*args), **agent}
    env = agent_env(agent, {"SYMBI_RUN_ID": "r1"})
    return ExecRequest(
        agent=agent,
        input_text=input_text,
        cwd=tmp_path / "ctx",
        env=env,
        log_path=tmp_path / "r1.log",
        new_session=False,
        ready=ready,
    )


def test_a_prepared_agent_waits_stopped_before_its_exec_and_runs_with_its_own_input_and_environment(tmp_path):
    seen: list[list[tuple[int, str]]] = []
    res = execute(_prepared(tmp_path, "allenv", ready=lambda: seen.append(_children_held()), input_text="x"))
    assert res.status == "succeeded", res.error_message
    # While the run waited for its time, its process was there, stopped, not yet the agent.
    ((pid, cmdline),) = seen[0]
    assert cmdline.startswith("/bin/sh -c ") and res.pid == pid  # the same process became the agent
    env = json.loads(res.output)
    assert "PWD" not in env  # the shell that held it adds nothing to the agent's environment
    assert env["SYMBI_RUN_ID"] == "r1"


def test_a_held_agent_gets_its_input_on_stdin(tmp_path):
    text = "line one\nline two\n" * 5000  # more than a pipe holds: the rest is written once it runs
    req = _prepared(tmp_path, "echo", ready=lambda: None, input_text=text)
    req.output_cap = 1 << 20
    res = execute(req)
    assert res.status == "succeeded" and res.output == text


def test_a_held_agent_that_must_not_start_never_runs(tmp_path):
    marks = tmp_path / "marks"
    held: list[list[tuple[int, str]]] = []

    def ready() -> None:
        held.append(_children_held())
        raise NotStarted("job is paused: the run was not started", requeue=False)

    with pytest.raises(NotStarted):
        execute(_prepared(tmp_path, "mark", str(marks), ready=ready))
    ((pid, _),) = held[0]
    assert _gone(pid) and _children_held() == []
    assert not marks.exists()


def test_a_command_that_cannot_be_found_is_not_held_and_fails_the_usual_way(tmp_path):
    req = _prepared(tmp_path, ready=lambda: None)
    req.agent = {"name": "t", "command": "/no/such/binary"}
    res = execute(req)
    assert res.status == "failed" and res.exit_code == 127 and "command not found" in res.error_message
    assert HeldProcess.start(Launch(["no-such-binary-anywhere"], b"", {"PATH": "/usr/bin"}, tmp_path), False) is None


def test_a_held_agent_whose_owner_dies_is_killed_by_the_kernel_never_started(tmp_path):
    """The owner holds the agent and is SIGKILLed before its time: the agent's process group is orphaned while
    stopped, and the kernel's SIGHUP ends it (owners handle SIGHUP, so the held shell gets its default)."""
    marks = tmp_path / "marks"
    owner = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from symbi_cron.runtime.executor import HeldProcess, Launch
        from symbi_cron.runtime.owner import ignore_signals
        ignore_signals(signal.SIGINT, signal.SIGHUP)
        argv = {[sys.executable, str(Path(__file__).parent.parent / "agents" / "agent.py"), "mark", str(marks)]!r}
        held = HeldProcess.start(Launch(argv, b"", {{"PATH": os.environ["PATH"]}}, Path({str(tmp_path)!r})), False)
        print(held.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        held_pid = int(proc.stdout.readline())
        assert Path(f"/proc/{held_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
        proc.kill()
        proc.wait()
        _wait(lambda: _gone(held_pid), "the held agent to end with its owner")
    finally:
        proc.kill()
    time.sleep(0.2)  # had it been started, the agent would have marked its start by now
    assert not marks.exists()


@pytest.mark.parametrize("how", ["deleted", "made not executable"])
def test_a_held_agent_whose_command_goes_away_before_its_time_fails_with_the_usual_message(tmp_path, how):
    """The held shell's ``exec`` fails (the binary was deleted, or lost its x bit, while the run waited): the run
    fails like an agent Popen cannot start, naming the command -- not with the holding shell's message."""
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)

    def ready() -> None:
        assert _children_held()  # it was held
        script.unlink() if how == "deleted" else script.chmod(0o644)

    req = _prepared(tmp_path, ready=ready)
    req.agent = {"name": "t", "command": str(script)}
    res = execute(req)
    code, words = (127, "command not found") if how == "deleted" else (126, "permission denied")
    assert (res.status, res.exit_code) == ("failed", code)
    assert res.error_message == f"agent 't': {words}{' running' if code == 126 else ':'} {script}"


def test_a_held_agent_keeps_the_pwd_of_its_environment_not_the_holding_shells(tmp_path):
    """An agent whose environment has a PWD (``inherit_env``: the daemon's) gets that value, as when it is not
    held; the holding shell would have set it to its working directory."""
    req = _prepared(tmp_path, "allenv", ready=lambda: None)
    req.env = {**req.env, "PWD": "/where/the/daemon/started", "SHLVL": "3"}
    res = execute(req)
    assert res.status == "succeeded", res.error_message
    env = json.loads(res.output)
    assert (env["PWD"], env["SHLVL"]) == ("/where/the/daemon/started", "3")
    assert env == req.env
