"""Reviewer's checks of the subprocess protocol (SPEC §6) with real processes: agents that leave processes
behind, huge output, input the agent never reads, bytes that are not UTF-8."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from symbi_cron.runtime.executor import ExecRequest, agent_env, execute

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


def _req(tmp_path: Path, command: str, **kw) -> ExecRequest:
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_grandchild_outside_the_group_holding_stdout_does_not_hang_the_run(tmp_path):
    script = tmp_path / "escaper.py"
    script.write_text(ESCAPER)
    pidfile = tmp_path / "grandchild.pid"
    req = _req(tmp_path, f"{sys.executable} {script} {pidfile}")
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
    req = _req(
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
            _req(tmp_path, command, input_text="x" * 5_000_000, deadline=time.monotonic() + 20, max_runtime=20)
        )
        assert res.ok, (command, res.error_message)
        assert time.monotonic() - started < 15
