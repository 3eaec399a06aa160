"""The store's cross-process write lock (store/db.py WriteLock): a waiter sleeps in the kernel until the holder lets
go, a wait that times out leaves the lock usable, and a crowd of writers from many processes all get it in turn
without timing out (a burst of run owners recording at once)."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from symbi_cron.store.db import WriteLock


def _hold(path: str, seconds: float, ready) -> None:
    lock = WriteLock(path, timeout=5)
    lock.acquire()
    ready.set()
    time.sleep(seconds)
    lock.release()


def _write_many(path: str, counter: str, n: int, timeout: float, out, hold: float = 0.003) -> None:
    lock = WriteLock(path, timeout=timeout)
    cpu0 = time.process_time()
    failures = 0
    for _ in range(n):
        try:
            lock.acquire()
        except TimeoutError:
            failures += 1
            continue
        try:
            with open(counter, "r+") as fh:  # a read-modify-write only the lock protects
                value = int(fh.read() or 0)
                fh.seek(0)
                fh.write(str(value + 1))
                fh.truncate()
            time.sleep(hold)  # a write transaction's length
        finally:
            lock.release()
    out.put((failures, time.process_time() - cpu0))


@pytest.fixture
def ctx():
    return multiprocessing.get_context("fork")


def test_a_waiter_gets_the_lock_as_soon_as_the_holder_lets_go(tmp_path, ctx):
    path = str(tmp_path / "s.lock")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, 0.5, ready))
    holder.start()
    assert ready.wait(10)
    lock = WriteLock(path, timeout=5)
    t0 = time.monotonic()
    lock.acquire()
    waited = time.monotonic() - t0
    lock.release()
    holder.join(10)
    assert 0.3 < waited < 2.0, waited


def test_a_wait_that_times_out_leaves_the_lock_usable(tmp_path, ctx):
    path = str(tmp_path / "s.lock")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, 1.0, ready))
    holder.start()
    assert ready.wait(10)
    lock = WriteLock(path, timeout=0.2)
    with pytest.raises(TimeoutError):
        lock.acquire()
    holder.join(10)
    # The abandoned blocking wait was granted when the holder let go: this process takes it, or it was let go.
    lock.acquire()
    lock.release()
    other = WriteLock(path, timeout=2)  # and another open of the file gets it too: nothing is left held
    other.acquire()
    other.release()


def test_many_processes_writing_at_once_all_get_the_lock_in_turn_without_spending_cpu_on_the_wait(tmp_path, ctx):
    path = str(tmp_path / "s.lock")
    counter = tmp_path / "counter"
    counter.write_text("0")
    out = ctx.Queue()
    # The same 500 writes by one process: what the writing itself costs.
    _write_many(str(tmp_path / "alone.lock"), str(counter), 500, 30.0, out)
    alone = out.get(timeout=60)[1]
    counter.write_text("0")
    procs = [ctx.Process(target=_write_many, args=(path, str(counter), 5, 30.0, out)) for _ in range(100)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(10)
    assert sum(f for f, _ in results) == 0
    assert int(counter.read_text()) == 100 * 5
    # 100 processes queue for ~1.5 s of lock time: they sleep in the kernel. (Polling the lock every few ms cost
    # ~12x the writing itself here, and took the CPU from the holder; this wait costs ~6x: a thread per wait.)
    waited = sum(cpu for _, cpu in results)
    assert waited < 6 * alone + 0.15, f"{waited:.3f} s of CPU for 500 contended writes, {alone:.3f} s alone"


def test_a_forked_child_opens_the_file_again(tmp_path, ctx):
    path = str(tmp_path / "s.lock")
    lock = WriteLock(path, timeout=1)
    lock.acquire()
    lock.release()
    out = ctx.Queue()

    def child() -> None:
        lock.acquire()
        out.put(os.getpid())
        lock.release()

    p = ctx.Process(target=child)
    p.start()
    assert out.get(timeout=10) == p.pid
    p.join(10)
