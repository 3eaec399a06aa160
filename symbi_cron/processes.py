"""Processes on this host: the daemon's pidfile (is it running? signal it), a process's identity (its pid and
start time in this boot, which a reused pid cannot fake), a run owner's id and whether it lives, and the
processes a dead owner's session left behind."""

from __future__ import annotations

import os
import signal
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .paths import Paths
from .vocab import DaemonStatus


def read_pid(paths: Paths) -> int | None:
    """The pid written in the pidfile, or None."""
    try:
        text = paths.pidfile.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        pid = int(text.split()[0])
    except (ValueError, IndexError):
        return None
    return pid if pid > 0 else None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def pidfile_locked(paths: Paths) -> bool | None:
    """True when a live daemon holds the pidfile's flock, False when nobody does, None without a pidfile.

    The daemon holds an exclusive flock on its pidfile for its whole life and the kernel drops it however the
    process dies, so this is the truth even after a SIGKILL or with the pid reused.
    """
    import errno
    import fcntl

    try:
        fd = os.open(paths.pidfile, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return True
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def running_pid(paths: Paths) -> int | None:
    """The supervisor's pid when one runs, else None (a stale pidfile gives None)."""
    if pidfile_locked(paths) is False:
        return None
    pid = read_pid(paths)
    if pid is None or not pid_alive(pid):
        return None
    return pid


def signal_reload(paths: Paths) -> bool:
    """Ask a running supervisor to reload (SIGHUP); True when one was signalled."""
    pid = running_pid(paths)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return False
    return True


def process_identity(pid: int) -> str | None:
    """``BOOT.START`` for a live process on Linux: this boot's id and the process's start time in clock ticks.

    A pid alone does not name a process for long (it is reused, and after a reboot the old daemon's pid may belong
    to anything); a pid with its start time in this boot does. None where /proc cannot tell.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start = fields[19]  # field 22 of stat(5), counted after the ")" that ends the command name
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip().replace("-", "")[:12]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return f"{boot}.{start}"


def session_members(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``, from /proc (empty where /proc cannot tell)."""
    out: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        try:
            if int(fields[3]) == sid and fields[0] != "Z":  # fields after ")": state ppid pgrp session ...
                out.append(int(name))
        except (ValueError, IndexError):
            continue
    return out


def kill_session(sid: int, identity: str | None = None, timeout: float = 5.0, *, exiting: bool = False) -> list[int]:
    """SIGKILL every process of the session a dead run owner led (``sid`` is its pid; ``identity`` its
    :func:`process_identity`), until none is left or ``timeout``; returns what is still alive.

    Linux never reuses a pid that still names a session with members, so while any member lives, ``sid`` is that
    owner's session. A live process with pid ``sid`` and another identity is a later process that got the pid: the
    old session is then empty, and nothing is killed. The owner itself is not killed, unless it is known to be
    ``exiting`` (its end of the daemon's socket closed: a process killed is still exiting for a moment after its
    files are closed): then it is waited for (and killed, should it be anything but exiting).
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        if pid_alive(sid):
            current = process_identity(sid)
            if identity is not None and current is not None and current != identity:
                return []  # the pid belongs to a later process: the owner's session is empty
            if not exiting or time.monotonic() >= deadline:
                return [sid]  # the owner itself still runs: not ours to kill
            try:
                os.kill(sid, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.02)
            continue
        members = session_members(sid)
        if not members:
            return []
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() >= deadline:
            return [p for p in members if pid_alive(p)]
        time.sleep(0.02)


def owner_pid_on_this_host(owner: str | None) -> int | None:
    """The pid of a run's owner (``kind:PID:RANDOM:HOST:IDENTITY``) when it runs on this host and is still that
    process; None otherwise."""
    import socket

    parts = (owner or "").split(":")
    if len(parts) < 4 or parts[3] != socket.gethostname():
        return None
    try:
        pid = int(parts[1])
    except ValueError:
        return None
    if not pid_alive(pid):
        return None
    recorded = parts[4] if len(parts) > 4 else "-"
    if recorded != "-" and process_identity(pid) not in (recorded, None):
        return None
    return pid


def host_name() -> str:
    import socket

    return socket.gethostname()


def daemon_name(paths: Paths, configured: str | None = None) -> str:
    """This home's daemon name: ``[daemon] name`` when set, else the host name and a short hash of the data
    directory (two homes on one host get two names; the same home keeps its name across restarts)."""
    if configured:
        return configured
    import hashlib
    import re

    host = re.sub(r"[^A-Za-z0-9_.-]", "-", host_name()).strip("-.") or "host"
    digest = hashlib.sha256(str(paths.data_dir).encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{host[:55]}-{digest}"


def owner_id(kind: str = "daemon") -> str:
    """An id for this supervisor instance, ``kind:pid:random:host:identity``: recovery knows whose runs it sees
    (the host matters on a shared store, where a pid means something only on its own machine; the identity, the
    boot and the process's start time, tells a live owner from a later process that got the same pid)."""
    ident = process_identity(os.getpid()) or "-"
    return f"{kind}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{host_name()}:{ident}"


def owner_kind(owner: str | None) -> str:
    return (owner or "").split(":", 1)[0]


def owner_alive(owner: str | None, me: str) -> bool:
    """Whether the process that owns a run (by its owner id) still runs; never true for a stale id of ours."""
    if not owner or owner == me:
        return owner == me
    parts = owner.split(":")
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False  # our pid, but not our id: a previous process that had the same pid
    if not pid_alive(pid):
        return False
    recorded = parts[4] if len(parts) > 4 else "-"
    if recorded != "-":
        current = process_identity(pid)
        if current is not None and current != recorded:
            return False  # the pid was reused (after a reboot, or by chance): the owner is gone
    return True


# -- the daemon's state, as its pidfile tells it -----------------------------------------------------------
@dataclass
class DaemonState:
    """``state`` is running, stopped or stale."""

    state: str
    pid: int | None = None
    started_at: datetime | None = None
    pidfile: str | None = None

    def uptime_seconds(self, now: datetime | None = None) -> int | None:
        if self.started_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return max(0, int((now - self.started_at).total_seconds()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "running": self.state == DaemonStatus.running,
            "pid": self.pid,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "uptime_seconds": self.uptime_seconds(),
            "pidfile": self.pidfile,
        }


def daemon_state(paths: Paths) -> DaemonState:
    """The truth about the daemon: running (pidfile locked), stale (pidfile left unlocked) or stopped."""
    locked = pidfile_locked(paths)
    if locked is None:
        return DaemonState(DaemonStatus.stopped, pidfile=str(paths.pidfile))
    pid = read_pid(paths)
    if locked:
        try:
            started = datetime.fromtimestamp(paths.pidfile.stat().st_mtime, tz=timezone.utc)
        except OSError:
            started = None
        return DaemonState(DaemonStatus.running, pid, started, str(paths.pidfile))
    # The pid is written only once the lock is held, so an unlocked pidfile is stale even when its pid is alive
    # (reused by another process).
    return DaemonState(DaemonStatus.stale, pid, None, str(paths.pidfile))


def remove_stale(paths: Paths, state: DaemonState) -> str | None:
    """Delete a stale pidfile; return the message saying so (None when there was nothing to remove)."""
    if state.state != DaemonStatus.stale:
        return None
    try:
        os.unlink(paths.pidfile)
    except FileNotFoundError:
        return None
    who = f"pid {state.pid}" if state.pid else "no pid"
    return f"removed a stale pidfile {paths.pidfile} ({who}, not running: the daemon had died without cleaning up)"
