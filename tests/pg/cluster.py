"""Several real daemons on one PostgreSQL database, for the failover tests (tests/pg) and bench/failover.py.

Each daemon is a ``symbi cron daemon start`` with its own SYMBI_HOME (the API off), all pointed at one database. A
"host" is a daemon with everything it started: its fork server, its run owners and their agents. A host can be
killed (SIGKILL, like a power cut) or frozen (SIGSTOP, like a paused VM or a stuck machine) and thawed.

What happened is counted from the agents' own records, not from the store: every agent appends one line when it
starts and one when it ends (``start|end job slot trigger pid unix-time``) to a shared file, so an agent started
twice for one slot shows even if the store recorded it once.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agents.daemon_helper import Daemon, wait_for

from symbi_cron.processes import session_members


@dataclass(frozen=True)
class Mark:
    """One line an agent wrote: ``what`` is ``start`` or ``end``."""

    what: str
    job: str
    slot_ms: int | None
    trigger: str
    pid: int
    at: float


def mark_command(path: Path, then: str = "") -> str:
    """A shell command that records its start, runs ``then`` (e.g. ``sleep 5``) and records its end."""
    line = f'"$SYMBI_JOB_NAME ${{SYMBI_SCHEDULED_FOR:--}} $SYMBI_TRIGGER $$ $(date +%s.%N)" >> {path}'
    body = f"echo start {line}"
    if then:
        body += f"; {then}"
    return f"{body}; echo end {line}"


def read_marks(path: Path) -> list[Mark]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 6:
            continue  # a line being written
        what, job, slot, trigger, pid, at = parts
        slot_ms = None if slot == "-" else int(datetime.fromisoformat(slot).timestamp() * 1000)
        out.append(Mark(what, job, slot_ms, trigger, int(pid), float(at)))
    return out


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


class Host:
    """One daemon of the cluster and everything it started."""

    def __init__(self, home: Path, url: str, *, lease_seconds: float, separate: bool = True, **scheduler) -> None:
        self.daemon = Daemon(home, **scheduler)
        self.separate = separate
        with open(home / "config.toml", "a") as fh:
            fh.write(f"[store]\nlease_seconds = {lease_seconds}\n")
        self.daemon.env["SYMBI_STORE_URL"] = url
        self.name = home.name
        self.host_name = f"{home.name}-{uuid.uuid4().hex[:6]}"
        self.frozen: list[int] = []

    def start(self) -> int:
        """``symbi cron daemon start`` under a host name of its own (``separate``), else this machine's."""
        if not self.separate:
            return self.daemon.start()
        argv = [sys.executable, "-m", "symbi_cron", "cron", "daemon", "start"]
        cmd = ["unshare", "--uts", "sh", "-c", f'hostname {self.host_name} && exec "$@"', "sh", *argv]
        proc = subprocess.run(cmd, env=self.daemon.env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
        pid = int(proc.stdout.split("pid ")[1].split(")")[0])
        self.daemon.pids.add(pid)
        return pid

    @property
    def pid(self) -> int | None:
        return self.daemon.pid

    def processes(self) -> list[int]:
        """The daemon, its fork server, its owners and, in the owners' sessions, the agents."""
        pids = set(self.daemon.processes())
        for pid in list(pids):
            if _sid(pid) == pid:
                pids.update(session_members(pid))
        return sorted(pids)

    def kill(self) -> None:
        """The host dies: every process of it, at once (all stopped first, so none sees another die and acts on
        it, as a daemon would record its owner's run interrupted)."""
        self.freeze()
        self.daemon.cleanup()
        self.frozen = []

    def freeze(self, pids: Iterable[int] | None = None) -> None:
        """SIGSTOP the host (or ``pids`` of it): a paused VM."""
        for pid in pids if pids is not None else self.processes():
            try:
                os.kill(pid, signal.SIGSTOP)
                self.frozen.append(pid)
            except ProcessLookupError:
                pass

    def thaw(self) -> None:
        for pid in self.frozen:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.frozen = []

    def log(self) -> str:
        return self.daemon.log()

    def cleanup(self) -> None:
        self.thaw()
        self.daemon.cleanup()


def separate_hosts_possible() -> str | None:
    """Why hosts cannot have names of their own here (None: they can)."""
    if os.geteuid() != 0:
        return "separate host names need root (unshare --uts)"
    if not shutil.which("unshare"):
        return "separate host names need unshare (util-linux)"
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"unshare --uts fails here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def socket_ports(pid: int) -> set[int]:
    """The local TCP ports of ``pid``'s sockets (to find its connections in pg_stat_activity)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def freeze_inside_a_transaction(host: Host, store, *, within: float = 10.0, rng: random.Random | None = None) -> bool:
    """Freeze the host's daemon at a moment it is inside a write transaction (the worst moment: whatever it locked
    stays locked until the server cuts it off), then the rest of the host. Tries for ``within`` seconds; True when
    it was caught inside one (else it is frozen wherever it was)."""
    rng = rng or random.Random(7)
    pid = host.pid
    assert pid is not None
    ports = socket_ports(pid)
    deadline = time.monotonic() + within
    caught = False
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.01)  # the statement it was running finishes: "idle in transaction" if one is open
        ports |= socket_ports(pid)
        if ports:
            marks = ",".join(str(p) for p in ports)
            rows = store.query(
                f"SELECT count(*) FROM pg_stat_activity WHERE client_port IN ({marks})"
                " AND state = 'idle in transaction'"
            )
            if rows[0][0]:
                caught = True
                break
        os.kill(pid, signal.SIGCONT)
        time.sleep(rng.uniform(0, 0.02))
    host.frozen.append(pid)
    host.freeze([p for p in host.processes() if p != pid])
    return caught


def set_due(store, job_ids: list[str], first_in: float, spread: float) -> dict[str, int]:
    """Put each job's next_run at now + first_in .. + spread (whole seconds, like cron slots), and wake the
    daemons (NOTIFY, as the CLI does)."""
    now = time.time()
    due = {}
    with store.write() as tx:
        for i, job_id in enumerate(job_ids):
            at = int((now + first_in + spread * i / max(1, len(job_ids) - 1)) * 1000)
            at -= at % 1000
            tx.execute("UPDATE jobs SET next_run = ? WHERE id = ?", (at, job_id))
            due[job_id] = at
        store.notify_changed("test")
    return due


__all__ = [
    "separate_hosts_possible",
    "Host",
    "Mark",
    "freeze_inside_a_transaction",
    "mark_command",
    "read_marks",
    "set_due",
    "wait_for",
]
