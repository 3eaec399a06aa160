"""Driving a real daemon process in tests: config, start/stop through the real CLI, store helpers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from symbi_cron.processes import pid_alive

AGENT_SCRIPT = Path(__file__).resolve().parent / "agent.py"


def agent_command(*args: str) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in (sys.executable, str(AGENT_SCRIPT), *args))


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Daemon:
    """A SYMBI_HOME with a config for fast ticks, and the `symbi` CLI run as real processes."""

    def __init__(self, home: Path, **scheduler: Any) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        sched = {
            "tick_interval_seconds": 0.2,
            "shutdown_timeout_seconds": 5,
            "kill_grace_seconds": 1,
            "default_timezone": "UTC",
        }
        sched.update(scheduler)
        lines = ["[api]", "enabled = false", "[scheduler]"]
        for k, v in sched.items():
            lines.append(f"{k} = {v!r}".replace("'", '"'))
        (home / "config.toml").write_text("\n".join(lines) + "\n")
        self.env = dict(os.environ, SYMBI_HOME=str(home), SYMBI_DEFAULT_TIMEZONE="UTC")
        for var in ("SYMBI_API_KEY", "SYMBI_ENV", "SYMBI_AGENTPIN_REQUIRED", "SYMBI_DEBUG"):
            self.env.pop(var, None)
        self.pids: set[int] = set()

    def symbi(
        self, *args: str, timeout: float = 60, check: bool = False, input: str | None = None
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "symbi_cron", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            input=input,
        )
        if check:
            assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def start(self) -> int:
        proc = self.symbi("cron", "daemon", "start", check=True)
        pid = int(proc.stdout.split("pid ")[1].split(")")[0])
        self.pids.add(pid)
        return pid

    @property
    def pid(self) -> int | None:
        try:
            return int((self.home / "daemon.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self) -> str:
        try:
            return (self.home / "daemon.log").read_text()
        except FileNotFoundError:
            return ""

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.home / "symbi.db", timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        conn = self.db()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def add_agent(self, name: str, *args: str) -> None:
        self.symbi("agent", "add", name, "--command", agent_command(*args), check=True)

    def add_job(self, name: str, agent: str, cron: str = "0 0 1 1 *", **fields: Any) -> str:
        import json

        spec = {"name": name, "agent_id": agent, "cron_expr": cron, **fields}
        return self.symbi("cron", "add", "--json", json.dumps(spec), check=True).stdout.strip()

    def make_due(self, job_id: str, in_seconds: float = 0.0) -> int:
        """Set the job's next_run to now + ``in_seconds`` directly in the store; returns that instant (ms)."""
        at = int((time.time() + in_seconds) * 1000)
        at -= at % 1000  # a whole second, like a cron slot
        conn = self.db()
        try:
            conn.execute("UPDATE jobs SET next_run = ? WHERE id = ?", (at, job_id))
            conn.commit()
        finally:
            conn.close()
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
        return at

    def runs(self, job_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM runs WHERE job_id = ? ORDER BY scheduled_for, created_at", (job_id,))

    def kill9(self) -> int:
        """SIGKILL the running daemon and wait until it is really gone (a signal is delivered asynchronously: a
        `start` right after the kill could still see it alive). Returns its pid."""
        pid = self.pid
        assert pid, "no daemon is running"
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), what=f"the killed daemon (pid {pid}) to exit")
        return pid

    def processes(self) -> list[int]:
        """Every process of this SYMBI_HOME: the daemon, its fork server, the run owners (which outlive a killed
        daemon) and the model runners (they carry the daemon's environment); the agents are in the owners'
        sessions."""
        needle = f"SYMBI_HOME={self.home}".encode() + b"\0"
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if needle in fh.read():
                        out.append(int(name))
            except OSError:
                continue
        return out

    def owners(self) -> list[int]:
        """The run owners of this home that are alive (session leaders other than the daemon)."""
        return [p for p in self.processes() if p != self.pid and _sid(p) == p]

    def cleanup(self) -> None:
        """Kill whatever this test started (never anything else) -- daemons, fork servers, run owners and their
        agents -- and wait until each has exited, so nothing of this test still holds its files when the next one
        starts (or a filesystem is unmounted)."""
        from symbi_cron.processes import session_members

        pids = set(self.pids) | ({self.pid} if self.pid else set()) | set(self.processes())
        for pid in list(pids):
            if _sid(pid) == pid:
                pids.update(session_members(pid))  # an owner's agents
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        wait_for(lambda: not any(pid_alive(pid) for pid in pids), what="the test's processes to exit")


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None
