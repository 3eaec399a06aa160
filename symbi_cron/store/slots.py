"""Connection slots: how many store connections the run owners of one ``SYMBI_HOME`` hold at once, across their
processes (``store.owner_connections``, PostgreSQL only).

A database server counts its connections (PostgreSQL's ``max_connections``, 100 by default, shared by every daemon
and client), and each run owner is a process of its own. So an owner takes a slot before it connects and gives it
back with its connection; when every slot is taken it waits for one, it does not fail.

A slot is one byte of a lock file (``Paths.owner_connections_lock``) locked with ``fcntl`` (POSIX record locks): the
kernel drops an owner's slots however it dies (SIGKILL, OOM), so no slot is ever lost to a dead owner. POSIX locks
belong to a process, not a thread, so the slots this process holds are also kept in :attr:`ConnectionSlots._held`
(an owner's lease thread connects apart from its main thread), and the file is opened once per process and never
closed (closing any descriptor of it would drop every lock the process holds on it).
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: How often a wait that may be given up (:meth:`ConnectionSlots.acquire` with ``give_up``) tries again.
GIVE_UP_POLL_SECONDS = 0.02
#: How often the waiter at the head of the queue looks for a free slot: at first, ...
HEAD_POLL_SECONDS = 0.001
#: ... then less often, down to this (a burst's slots turn over in milliseconds; a long wait costs nothing).
HEAD_POLL_MAX_SECONDS = 0.004


class SlotWaitAbandoned(Exception):
    """A wait for a slot was given up (its ``give_up`` said so)."""


class ConnectionSlots:
    """``size`` slots shared by every process that opens ``path`` with the same size."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = max(1, int(size))
        self._fd: int | None = None
        self._pid = 0
        self._mutex = threading.Lock()
        self._turn = threading.Lock()  # one thread of this process at the turnstile
        self._held: set[int] = set()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a fork does not inherit POSIX locks: open our own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._held = set()
        return self._fd

    def _try(self, fd: int, slot: int, *, block: bool) -> bool:
        flags = fcntl.LOCK_EX if block else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.lockf(fd, flags, 1, slot, os.SEEK_SET)
            return True
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            if exc.errno == errno.EDEADLK:  # the kernel's deadlock guess (process-wide locks): try again later
                return False
            raise

    def acquire(self, give_up: Callable[[], bool] | None = None) -> int:
        """Take a free slot, waiting for one when all are taken; return its number. With ``give_up``, the wait is
        given up (:class:`SlotWaitAbandoned`) as soon as it returns True.

        Waiters queue on a turnstile (one more locked byte, after the slots: the kernel hands it from one waiter to
        the next, and one thread of a process takes it at a time): only the waiter at its head looks for a free
        slot, every few milliseconds, so a slot given back anywhere is taken within that long."""
        fd = self._file()
        slot = self._take_free(fd)
        if slot is not None:
            return slot
        if give_up is not None:  # an owner's lease thread: never queued behind the turnstile
            while True:
                if give_up():
                    raise SlotWaitAbandoned("gave up waiting for a store connection slot")
                time.sleep(GIVE_UP_POLL_SECONDS)
                slot = self._take_free(fd)
                if slot is not None:
                    return slot
        with self._turn:
            while not self._try(fd, self.size, block=True):  # EDEADLK (the kernel's guess): again
                time.sleep(HEAD_POLL_SECONDS)
            try:
                wait = HEAD_POLL_SECONDS
                while True:
                    slot = self._take_free(fd)
                    if slot is not None:
                        return slot
                    time.sleep(wait)
                    wait = min(wait * 2, HEAD_POLL_MAX_SECONDS)
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, self.size, os.SEEK_SET)

    def _take_free(self, fd: int) -> int | None:
        start = random.randrange(self.size)  # spread the owners over the slots
        with self._mutex:
            for i in range(self.size):
                slot = (start + i) % self.size
                if slot not in self._held and self._try(fd, slot, block=False):
                    self._held.add(slot)
                    return slot
        return None

    def release(self, slot: int) -> None:
        """Give ``slot`` back (a slot this process does not hold is ignored)."""
        with self._mutex:
            if slot not in self._held or self._fd is None or self._pid != os.getpid():
                return
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, slot, os.SEEK_SET)
            finally:
                self._held.discard(slot)

    def held(self) -> int:
        """How many slots this process holds (for tests)."""
        with self._mutex:
            return len(self._held)
