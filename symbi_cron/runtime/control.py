"""Talking to a running supervisor from another process: find it through its pidfile, signal it."""

from __future__ import annotations

import os
import signal

from ..paths import Paths


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


def running_pid(paths: Paths) -> int | None:
    """The supervisor's pid when one runs, else None (a stale pidfile gives None)."""
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
