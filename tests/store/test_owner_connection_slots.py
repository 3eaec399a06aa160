"""The run owners' connection slots (``store/slots.py``): at most ``size`` held at once across processes, a
wait ends when a slot is given back, a slot of a process that dies (SIGKILL) is free again, and two threads of one
process never hold the same slot (POSIX record locks belong to the process)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from symbi_cron.store.slots import ConnectionSlots, SlotWaitAbandoned


def _holder(path, size: int) -> tuple[int, int, int]:
    """A child process that takes one slot and holds it until killed: (pid, slot, pipe to read its slot from)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            slot = ConnectionSlots(path, size).acquire()
            os.write(w, f"{slot}\n".encode())
            while True:
                time.sleep(60)
        finally:
            os._exit(0)
    os.close(w)
    line = b""
    while not line.endswith(b"\n"):
        line += os.read(r, 16)
    os.close(r)
    return pid, int(line), r


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def test_slots_bound_holders_across_processes_and_free_with_a_dead_holder(tmp_path):
    path = tmp_path / "owner-connections.lock"
    children = []
    try:
        children = [_holder(path, 2) for _ in range(2)]
        assert {c[1] for c in children} == {0, 1}
        slots = ConnectionSlots(path, 2)
        stop = threading.Event()
        with pytest.raises(SlotWaitAbandoned):  # both taken: a wait that may be given up is
            threading.Timer(0.2, stop.set).start()
            slots.acquire(stop.is_set)
        got: list[int] = []
        waiter = threading.Thread(target=lambda: got.append(slots.acquire()))
        waiter.start()
        time.sleep(0.2)
        assert not got, "a third holder got a slot while two processes held both"
        _kill(children[0][0])  # its slot goes with it: the waiter gets it
        waiter.join(timeout=5)
        assert got == [children[0][1]]
        second: list[int] = []
        other = threading.Thread(target=lambda: second.append(slots.acquire()))
        other.start()  # another thread of this process: never the slot this process already holds
        time.sleep(0.2)
        assert not second
        slots.release(got[0])
        other.join(timeout=5)
        assert second == [got[0]] and slots.held() == 1
    finally:
        for pid, _slot, _r in children:
            _kill(pid)
