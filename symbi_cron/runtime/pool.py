"""The daemon's run owners: processes from the fork server, each carrying one run at a time.

The pool keeps a few idle owners ready (:attr:`OwnerPool.warm`: up to ``max_concurrent_jobs``, at most
:data:`MAX_WARM`), forks ahead the owners a burst due soon will need (:meth:`OwnerPool.expect`: the tick loop knows
its next slots), asks the fork server for more when runs keep them busy (the fork happens in the fork server, never
in the daemon), and retires owners idle beyond the warm count and the expected burst for a minute. One thread reads
every owner's socket (``recorded RUN``, ``free``, end of file when an owner dies), the fork server's (new owners)
and the pidfds of the owners adopted from a previous daemon; it never touches the store, and it wakes the tick loop
through callbacks that take no lock a signal handler could hold.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..processes import pid_alive, process_identity

log = logging.getLogger("symbi.scheduler")

#: The most idle owners kept ready whatever ``max_concurrent_jobs`` says (each is a process of a few MB).
MAX_WARM = 32
#: The fewest owners asked of the fork server at once when all are busy.
GROW_STEP = 4
#: All owners busy and one of them for this long: runs are long, more owners are worth their fork.
GROW_AFTER_SECONDS = 0.1
#: The largest hand-over sent with ``go`` (an owner reads at most ``forkserver.MAX_MESSAGE`` at once).
MAX_HANDED = 512 * 1024
#: Owners idle beyond the warm count for this long are let go.
IDLE_RETIRE_SECONDS = 60.0


@dataclass
class Owner:
    """One owner process and the daemon's end of its socket."""

    pid: int
    owner_id: str
    sock: socket.socket | None
    run_id: str | None = None  # the run it carries (or delivers), None when idle
    since: float = field(default_factory=time.monotonic)  # idle since, or busy since


class OwnerPool:
    """Owners ready to take a run, and the events that come from them."""

    def __init__(
        self,
        server: object,
        *,
        warm: int,
        on_recorded: Callable[[str], None],
        on_gone: Callable[[str], None],
        on_ready: Callable[[], None],
    ) -> None:
        self.server = server
        self.warm = max(1, min(warm, MAX_WARM))
        self.on_recorded = on_recorded  # the owner of RUN recorded its outcome
        self.on_gone = on_gone  # the owner of RUN died, or an adopted owner ended
        self.on_ready = on_ready  # an owner became idle, or a new one arrived
        self._lock = threading.Lock()
        self._idle: list[Owner] = []
        self._busy: dict[int, Owner] = {}  # by pid
        self._requested = 0  # asked of the fork server, not arrived yet
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._sel.register(server.sock, selectors.EVENT_READ, ("server", None))  # type: ignore[attr-defined]
        self._adopted: dict[str, int] = {}  # run id -> pidfd
        self._polled: dict[str, tuple[int, str | None]] = {}
        self._closed = False
        self._expected = 0  # owners expected for runs due soon (expect), and when that was last said
        self._expected_at = 0.0
        self._thread = threading.Thread(target=self._loop, name="run-owners", daemon=True)
        self._thread.start()
        self._ask(self.warm)

    # -- taking owners -----------------------------------------------------------------------------------------
    def take(self, n: int) -> list[Owner]:
        """Up to ``n`` idle owners (marked busy); asks for more when fewer are idle than wanted."""
        with self._lock:
            got = self._idle[-n:] if n > 0 else []
            del self._idle[len(self._idle) - len(got) :]
            for o in got:
                self._busy[o.pid] = o
            # Grow only when the owners stay busy (one has carried its run for GROW_AFTER_SECONDS), by steps (at
            # most half as many again as are busy, at least 4, asked at once): a burst of short runs is carried by
            # the owners already there as they free up, and a fork (milliseconds of CPU each, taken from the
            # runs) is spent only on long runs.
            busy = len(self._busy)
            now = time.monotonic()
            long_runs = busy == 0 or any(now - o.since >= GROW_AFTER_SECONDS for o in self._busy.values())
            short = min(n - len(got), max(GROW_STEP, busy // 2)) - self._requested if long_runs else 0
            for o in got:
                o.since = now  # from now on: busy since
        if short > 0:
            self._ask(short)
        return got

    def give_back(self, owner: Owner) -> None:
        """An owner taken but not used (its run did not start)."""
        with self._lock:
            self._busy.pop(owner.pid, None)
            owner.run_id = None
            owner.since = time.monotonic()
            self._idle.append(owner)

    def assign(self, owner: Owner, word: str, run_id: str, handed: bytes = b"") -> None:
        """Tell a taken owner to ``go`` (carry ``run_id``) or ``deliver`` (send what it owes); ``handed``: what the
        owner needs of the run, as the transaction that began it read it (pickled ``services.start.Begun``; left
        out when too big for one message: the owner reads it)."""
        message = f"{word} {run_id}".encode()
        if handed and len(handed) < MAX_HANDED:
            message += b"\n" + handed
        with self._lock:
            owner.run_id = run_id
            sock = owner.sock
        if sock is None:  # it died between take and assign, its end of file already read: its run is gone with it
            self.on_gone(run_id)
            return
        try:
            sock.send(message)
        except OSError:
            pass  # it is dying: its end of file tells the loop, with this run

    def adopt(self, run_id: str, pid: int, identity: str | None) -> None:
        """Watch an owner of a previous daemon (not ours to talk to): ``on_gone(run_id)`` when it ends."""
        try:
            fd = os.pidfd_open(pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            fd = None
        if identity is not None and process_identity(pid) not in (identity, None):
            if fd is not None:
                os.close(fd)
            self.on_gone(run_id)
            return
        with self._lock:
            if fd is None:
                self._polled[run_id] = (pid, identity)
            else:
                self._adopted[run_id] = fd
                self._sel.register(fd, selectors.EVENT_READ, ("adopted", run_id))
        self._poke()

    def update_settings(self, settings: object) -> None:
        """Send a reloaded configuration to every owner: each takes it before its next run (an owner reads its
        socket only between runs)."""
        import json

        doc = json.dumps(settings.model_dump(mode="json")).encode()  # type: ignore[attr-defined]
        with self._lock:
            owners = list(self._idle) + list(self._busy.values())
        for o in owners:
            try:
                assert o.sock is not None
                o.sock.send(b"settings " + doc)
            except OSError:
                pass

    def holds(self, owner_id: str) -> bool:
        """True when ``owner_id`` is one of this pool's owners (idle or busy): never one to adopt."""
        with self._lock:
            return any(o.owner_id == owner_id for o in self._busy.values()) or any(
                o.owner_id == owner_id for o in self._idle
            )

    def busy_owners(self) -> list[Owner]:
        with self._lock:
            return [o for o in self._busy.values() if o.run_id is not None]

    def size(self) -> tuple[int, int]:
        with self._lock:
            return len(self._idle), len(self._busy)

    def expect(self, n: int, limit: int) -> None:
        """``n`` runs are due soon (the tick loop knows its next slots): fork the owners they need now, so the burst
        costs no fork when it comes, within ``limit`` owners in all (``max_concurrent_jobs``). They are kept while
        expected; idle beyond that (and the warm count) for :data:`IDLE_RETIRE_SECONDS`, they retire."""
        want = min(n, limit)
        now = time.monotonic()
        with self._lock:
            if want >= self._expected or now - self._expected_at > IDLE_RETIRE_SECONDS:
                self._expected = want
            self._expected_at = now
            total = len(self._idle) + len(self._busy) + self._requested
            short = min(want - len(self._idle) - self._requested, limit - total)
        if short > 0:
            self._ask(short)

    def resize(self, warm: int) -> None:
        self.warm = max(1, min(warm, MAX_WARM))
        with self._lock:
            short = self.warm - len(self._idle) - self._requested
        if short > 0:
            self._ask(short)

    def close(self, *, let_busy_finish: bool = True) -> None:
        """Idle owners exit; busy ones finish their run and exit when they see the daemon gone."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
            busy = list(self._busy.values())
        for o in idle:
            try:
                assert o.sock is not None
                o.sock.send(b"exit")
            except OSError:
                pass
        self._poke()
        self._thread.join(timeout=2)
        for o in idle + busy:
            if o.sock is not None:
                try:
                    o.sock.close()
                except OSError:
                    pass
        with self._lock:
            for fd in self._adopted.values():
                os.close(fd)
            self._adopted.clear()
        self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the thread --------------------------------------------------------------------------------------------
    def _ask(self, n: int) -> None:
        with self._lock:
            self._requested += n
        try:
            self.server.request(n)  # type: ignore[attr-defined]
        except OSError as exc:
            with self._lock:
                self._requested -= n
            log.error("the fork server did not take a request for %d owner(s): %s", n, exc)

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._closed:
            with self._lock:
                timeout = 0.2 if self._polled else 5.0
            for key, _ in self._sel.select(timeout):
                kind, data = key.data
                if kind == "wake":
                    try:
                        os.read(self._wake_r, 4096)
                    except OSError:
                        pass
                elif kind == "server":
                    self._arrived()
                elif kind == "owner":
                    self._heard(data)
                elif kind == "adopted":
                    with self._lock:
                        fd = self._adopted.pop(data, None)
                    if fd is not None:
                        self._sel.unregister(fd)
                        os.close(fd)
                    self.on_gone(data)
            self._poll_adopted()
            self._retire_idle()

    def _arrived(self) -> None:
        try:
            got = self.server.receive()  # type: ignore[attr-defined]
        except OSError:
            got = None
        if got is None:
            self._sel.unregister(self.server.sock)  # type: ignore[attr-defined]
            log.error("the fork server is gone: no new run can start until the daemon restarts")
            return
        pid, owner_id, sock = got
        with self._lock:
            self._requested = max(0, self._requested - 1)
        if sock is None:
            return
        owner = Owner(pid, owner_id, sock)
        with self._lock:
            self._idle.append(owner)
        self._sel.register(sock, selectors.EVENT_READ, ("owner", owner))
        self.on_ready()

    def _heard(self, owner: Owner) -> None:
        try:
            assert owner.sock is not None
            data = owner.sock.recv(4096)
        except OSError:
            data = b""
        if not data:  # the owner is gone
            if owner.sock is not None:
                self._sel.unregister(owner.sock)
                owner.sock.close()
            with self._lock:
                owner.sock = None  # under the lock: assign sees either a socket or the owner gone with its run
                was_idle = owner in self._idle
                if was_idle:
                    self._idle.remove(owner)
                self._busy.pop(owner.pid, None)
                run_id = owner.run_id
            if run_id is not None:
                self.on_gone(run_id)
            if not self._closed:
                self.resize(self.warm)
            return
        word, _, run_id = data.decode().partition(" ")
        if word == "recorded":
            self.on_recorded(run_id)
        elif word == "free":
            with self._lock:
                self._busy.pop(owner.pid, None)
                owner.run_id = None
                owner.since = time.monotonic()
                self._idle.append(owner)
            self.on_ready()

    def _poll_adopted(self) -> None:
        with self._lock:
            polled = list(self._polled.items())
        for run_id, (pid, ident) in polled:
            if not pid_alive(pid) or (ident is not None and process_identity(pid) not in (ident, None)):
                with self._lock:
                    self._polled.pop(run_id, None)
                self.on_gone(run_id)

    def _retire_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            expected = self._expected if now - self._expected_at <= IDLE_RETIRE_SECONDS else 0
            spare = len(self._idle) - max(self.warm, expected)
            if spare <= 0:
                return
            old = [o for o in self._idle if now - o.since > IDLE_RETIRE_SECONDS][:spare]
            for o in old:
                self._idle.remove(o)
        for o in old:
            try:
                assert o.sock is not None
                o.sock.send(b"exit")
            except OSError:
                pass
