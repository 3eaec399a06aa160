"""The schedule comes first: while the supervisor claims due slots and starts runs, API requests wait at the door.

The daemon is one Python process: the tick loop and the API's request threads share one interpreter lock. Under a
few hundred requests a second, every store call of the tick loop (each one releases the lock) queued behind the
request threads, and every-minute jobs started seconds late (bench/schedule_delay.py). The supervisor marks its
short critical sections (:meth:`SchedulerFirst.busy`); a request arriving meanwhile waits for it to end, at most
:data:`MAX_WAIT` seconds, before it is handled. Requests already being handled finish as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The longest a request waits for the scheduler (a claim of thousands of due jobs takes longer: then it goes on).
MAX_WAIT = 1.0


class SchedulerFirst:
    """An open door that the scheduler closes while it works."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._depth = 0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """The scheduler's critical section: requests wait until it ends (nested sections are one)."""
        with self._lock:
            self._depth += 1
            self._open.clear()
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if not self._depth:
                    self._open.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s, default :data:`MAX_WAIT`) until the scheduler is not working; True when the
        door was open."""
        return self._open.wait(MAX_WAIT if timeout is None else timeout)
