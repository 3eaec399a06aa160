"""The fork server and the run owners it forks.

The fork server is a single-threaded child of the daemon, started before any of the daemon's own threads (the API,
the watchers) and before it opens the store, so a fork copies one thread and no connection. Everything an owner
runs is imported here once: an owner costs a fork, never an interpreter start, and the owners it forks are kept
(``runtime.pool``), each carrying **one run at a time**, so most runs cost no fork at all.

Daemon <-> fork server, over a ``SOCK_SEQPACKET`` socket pair:

- ``{"op": "spawn", "n": N}``: fork N owners; for each, one answer ``{"pid", "owner_id"}`` with the daemon's end of
  a socket pair to that owner attached (``SCM_RIGHTS``).
- ``{"op": "settings", "doc": ...}``: owners forked from now on get this configuration (``daemon reload``).
- End of file (the daemon is gone): the server exits. The owners it forked do not: each leads its own session.

Daemon <-> owner, over the owner's own socket pair (the owner reads it only between runs):

- daemon: ``go RUN`` (the run is marked ``running`` under this owner's id: carry it), ``deliver RUN`` (send what
  the run still owes, its dead owner's outbox rows now held by this owner), ``exit``.
- owner: ``recorded RUN`` (the outcome is in the store: its place is free), then ``free`` once the deliveries are
  sent.
- End of file for the owner (the daemon is gone): it carries the run the store says it holds, if any (the daemon
  died after marking the run ``running`` for it and before saying ``go``), then exits. A run marked running is
  never left unexecuted, and never executed twice.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from ..paths import Paths
from .owner import Flag, ignore_signals

log = logging.getLogger("symbi.scheduler")

#: The largest message either side sends (a configuration document).
MAX_MESSAGE = 1 << 20
#: Runs an owner carries before it exits (and is replaced): memory a long life may fragment goes back.
RUNS_PER_OWNER = 1000


def owner_id_for(pid: int, rand: str) -> str:
    """The id a run owner is recorded under: ``owner:PID:RANDOM:HOST:IDENTITY`` (see ``processes.owner_id``)."""
    from ..processes import host_name, process_identity

    return f"owner:{pid}:{rand}:{host_name()}:{process_identity(pid) or '-'}"


def preload() -> None:
    """Import what every owner runs, once, before the fork server forks (an owner then imports nothing: an import
    at a run costs milliseconds, and a burst's runs are their owners' first; tests/runtime/test_run_owners.py)."""
    from ..delivery import base, custom, email, log_file, redact, router, slack, stdout, webhook  # noqa: F401
    from ..services import approvals, budgets, claim, delivery, jobs, leases, record, runs, start  # noqa: F401
    from ..store import agents, audit, deliveries, outbox, usage  # noqa: F401
    from ..store import jobs as job_rows  # noqa: F401
    from ..store import runs as run_rows  # noqa: F401
    from . import execute, executor, model_agent, owner, sessions  # noqa: F401


class ForkServer:
    """The daemon's handle on its fork server. ``sock`` is readable when forked owners arrive (:meth:`receive`)."""

    def __init__(
        self,
        paths: Paths,
        env: Mapping[str, str],
        settings: Any,
        *,
        stdout: Any = None,
        close_fds: tuple[int, ...] = (),
        store: Any = None,
    ) -> None:
        preload()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        daemon_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the server: never returns
            code = 1
            try:
                parent.close()
                for fd in close_fds:  # the daemon's pidfile lock and readiness pipe must not outlive the daemon
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                code = _serve(child, paths, dict(env), settings, daemon_pid, stdout, store)
            except BaseException:  # noqa: BLE001 - whatever happens, the server must not return into the daemon
                try:
                    log.exception("the fork server failed")
                except Exception:
                    pass
            finally:
                os._exit(code)
        child.close()
        self.pid = pid
        self.sock = parent

    def request(self, n: int) -> None:
        """Ask for ``n`` more owners; they arrive on :attr:`sock` (:meth:`receive`)."""
        if n > 0:
            self.sock.send(json.dumps({"op": "spawn", "n": n}).encode())

    def receive(self) -> tuple[int, str, socket.socket] | None:
        """One forked owner: ``(pid, owner_id, socket to it)``; None when the server is gone."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 1)
        if not data:
            for fd in fds:
                os.close(fd)
            return None
        answer = json.loads(data)
        if "error" in answer or not fds:
            for fd in fds:
                os.close(fd)
            log.error("the fork server could not start an owner: %s", answer.get("error"))
            return (0, "", None)  # type: ignore[return-value]
        return int(answer["pid"]), str(answer["owner_id"]), socket.socket(fileno=fds[0])

    def update_settings(self, settings: Any) -> None:
        self.sock.send(json.dumps({"op": "settings", "doc": settings.model_dump(mode="json")}).encode())

    def close(self) -> None:
        """Stop the server (the owners it forked go on)."""
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve(
    sock: socket.socket, paths: Paths, env: dict[str, str], settings: Any, daemon_pid: int, stdout: Any, store: Any
) -> int:
    """The server's loop: fork owners on request until the daemon goes."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)  # the daemon's business, not ours (Ctrl-C in the foreground)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import gc

    gc.freeze()  # what is imported now stays out of the collector: forks share those pages longer
    while True:
        ready, _, _ = select.select([sock], [], [], 1.0)
        _reap()
        if not ready:
            continue
        try:
            data = sock.recv(MAX_MESSAGE)
        except OSError:
            return 0
        if not data:
            return 0  # the daemon is gone
        msg = json.loads(data)
        if msg.get("op") == "settings":
            from ..config import Settings

            try:
                settings = Settings.model_validate(msg["doc"])
            except Exception:
                log.exception("fork server: keeping the previous configuration")
            continue
        if msg.get("op") != "spawn":
            continue
        for _ in range(int(msg.get("n") or 1)):
            try:
                _fork_owner(sock, paths, env, settings, stdout, store)
            except (BrokenPipeError, ConnectionResetError):
                return 0  # the daemon left while an owner was forked for it (a stop): that owner sees it gone
            _reap()


def _fork_owner(sock: socket.socket, paths: Paths, env: dict[str, str], settings: Any, stdout: Any, store: Any) -> None:
    try:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError as exc:
        sock.send(json.dumps({"error": str(exc)}).encode())
        return
    rand = uuid.uuid4().hex[:8]
    try:
        pid = os.fork()
    except OSError as exc:
        mine.close()
        theirs.close()
        sock.send(json.dumps({"error": f"fork: {exc}"}).encode())
        return
    if pid == 0:
        code = 1
        try:
            theirs.close()
            sock.close()
            code = _owner(paths, env, settings, rand, mine, stdout, store)
        except BaseException:  # noqa: BLE001
            try:
                log.exception("a run owner failed")
            except Exception:
                pass
        finally:
            _flush_logs()
            os._exit(code)
    mine.close()
    try:
        socket.send_fds(
            sock, [json.dumps({"pid": pid, "owner_id": owner_id_for(pid, rand)}).encode()], [theirs.fileno()]
        )
    finally:
        theirs.close()


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _flush_logs() -> None:
    import sys

    for handler in logging.getLogger("symbi").handlers:
        try:
            handler.flush()
        except Exception:
            pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _owner(
    paths: Paths, env: dict[str, str], settings: Any, rand: str, sock: socket.socket, stdout: Any, store: Any
) -> int:
    """A run owner's life: carry the runs the daemon hands over, one at a time, until told to exit or the daemon
    goes (then carry the run the store says is ours, if any, and exit)."""
    from ..services.app import App
    from ..store import open_store
    from ..store import runs as run_rows
    from .owner import RunOwner

    os.setsid()  # its own session: the daemon's death, a terminal's hang-up or Ctrl-C do not reach it
    cancel = Flag()

    current: list[str] = []

    def on_term(*_: Any) -> None:
        cancel.set()  # the daemon's drain: stop the agent (TERM, then KILL), record the run interrupted

    def on_cancel(*_: Any) -> None:
        if current:
            cancel.set("cancel")  # `symbi cron cancel` (or Ctrl-C on --wait --cancel-on-interrupt): cancelled

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, lambda *_: cancel.stand_down())  # a stopping daemon: only a run not started
    signal.signal(signal.SIGUSR1, on_cancel)
    ignore_signals(signal.SIGINT, signal.SIGHUP)
    me = owner_id_for(os.getpid(), rand)
    # The daemon's store object, never opened in the fork server (no connection crosses a fork): an owner never
    # reads config.toml again to find it, so a config broken since the daemon started cannot send it elsewhere.
    app = App(paths=paths, store=store if store is not None else open_store(paths, env), env=env, actor="daemon")
    app.store.must_exist()  # the daemon made it: a store deleted under it is not created again here
    app.settings = settings

    def recorded() -> None:
        if current:
            _say(sock, f"recorded {current[0]}")

    owner = RunOwner(
        app,
        me,
        stdout=stdout,
        cancel=cancel,
        agents_in_own_session=False,
        on_recorded=recorded,
    )
    shared = getattr(app.store, "dialect", "sqlite") == "postgresql"
    if shared:  # a server counts its connections: owners hold them only while they use them, at most so many
        from ..store.slots import ConnectionSlots

        limit = getattr(getattr(settings, "store", None), "owner_connections", 10)
        app.store.slots = ConnectionSlots(paths.owner_connections_lock, limit)
    owner.warm_up(connect=not shared)
    carried = 0
    while carried < RUNS_PER_OWNER and not cancel.is_set():
        try:
            data = sock.recv(MAX_MESSAGE)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:  # the daemon is gone: the run it marked for us, if it died before saying go
            for run_id in run_rows.running_owned_by(app.store.connection(), me):
                _carry(owner, app, me, run_id, shared, current)
            return 0
        head, _, handed = data.partition(b"\n")
        word, _, run_id = head.decode().partition(" ")
        if word == "exit":
            return 0
        if word == "settings":  # a reload: the next runs use it
            from ..config import Settings

            try:
                app.settings = settings = Settings.model_validate(json.loads(run_id))
            except Exception:
                log.exception("run owner: keeping the previous configuration")
            continue
        if word == "go":
            _carry(owner, app, me, run_id, shared, current, _unpickle(handed))
            carried += 1
        elif word == "deliver":
            lease = _Lease(app, me, cancel) if shared else None
            try:
                owner.deliver(run_id)
            finally:
                if lease is not None:
                    lease.stop()
        if carried >= RUNS_PER_OWNER or cancel.is_set():
            return 0  # leaving: never say free first (the daemon could hand a run to an owner on its way out)
        if shared and not _readable(sock):
            app.store.give_back()  # idle, nothing handed over yet: its connection goes back to the server
        _say(sock, "free")
    return 0


def _readable(sock: socket.socket) -> bool:
    """Whether the daemon already sent the next word (the owner keeps its connection for it)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _unpickle(handed: bytes) -> Any:
    """The run as the daemon began it (``services.start.Begun``), pickled by the daemon this owner was forked for
    (the two ends of a private socket pair); None when nothing came with ``go`` (the owner reads the run)."""
    if not handed:
        return None
    import pickle

    try:
        return pickle.loads(handed)
    except Exception:
        log.exception("run owner: the hand-over did not read; reading the run from the store")
        return None


def _carry(owner: Any, app: Any, me: str, run_id: str, shared: bool, current: list[str], begun: Any = None) -> None:
    current[:] = [run_id]
    lease = _Lease(app, me, owner.cancel) if shared else None
    try:
        owner.carry(run_id, begun)
    finally:
        current.clear()
        if owner.cancel is not None and getattr(owner.cancel, "reason", "") == "cancel":
            owner.cancel.clear()  # a cancel was for that run only
        if lease is not None:
            lease.stop()


def _say(sock: socket.socket, text: str) -> None:
    try:
        sock.send(text.encode())
    except OSError:
        pass  # the daemon is gone: nobody to tell


class _Lease:
    """On a shared PostgreSQL store an owner renews its own lease (the ``daemons`` row the supervisor took for it
    when it began the run), every third of its length, so the run stays its own whatever happens to the daemon; the
    row goes when the owner is done with the run.

    The lease is fenced: it is renewed under the token it was taken with, lapsed or not, as long as its row is
    there. A row that is gone means another daemon judged this owner dead (a freeze or a network cut longer than
    the lease) and recorded its run ``interrupted``: the owner stops its agent at once (the run's retry belongs to
    someone else now) and its outcome is refused when it tries to record it."""

    def __init__(self, app: Any, owner_id: str, cancel: Any = None) -> None:
        import threading

        self.app = app
        self.owner_id = owner_id
        self.cancel = cancel
        self.stopped = threading.Event()
        store_settings = getattr(app.settings, "store", None)
        self.lease_ms = int(float(getattr(store_settings, "lease_seconds", 30)) * 1000)
        #: Read at the first renewal (a run shorter than a third of the lease never connects for its lease): the
        #: row is the owner's from the start of its run, and only the owner changes it, so the token read then is
        #: the one it was taken with, or none when the run was taken over meanwhile.
        self.token: Any = None
        self.thread = threading.Thread(target=self._renew, name="owner-lease", daemon=True)
        self.thread.start()

    def _renew(self) -> None:
        from ..outage import Outage
        from ..services.leases import hold_owner_lease, lease_token
        from ..timeutil import to_ms

        store = self.app.store
        trouble = Outage(log, f"run owner {self.owner_id.split(':')[1]}: its lease renewal", states=("failing", "back"))
        give_up = getattr(store, "give_up_slot_wait_when", None)
        if give_up is not None:
            give_up(self.stopped.is_set)  # a wait for a connection slot ends with the lease
        while not self.stopped.wait(self.lease_ms / 3000):
            try:
                with store.write() as tx:
                    if self.token is None:
                        self.token = lease_token(tx, self.owner_id)
                    held = self.token is not None and hold_owner_lease(
                        tx, self.owner_id, self.token, now_ms=to_ms(self.app.clock.now()), lease_ms=self.lease_ms
                    )
            except Exception as exc:  # an outage: the next renewal tries again (logged once, and once back)
                if not self.stopped.is_set():
                    trouble.failed(exc)
                continue
            finally:
                store.give_back()  # one renewal every third of the lease: no connection kept in between
            trouble.ok()
            if self.stopped.is_set():
                return  # renewed while being stopped: the run is over, whatever the renewal found
            if not held:
                log.error(
                    "run owner %s lost its lease (another daemon took its run over after it lapsed): stopping its"
                    " agent; its outcome will be refused",
                    self.owner_id.split(":")[1],
                )
                if self.cancel is not None:
                    self.cancel.set()
                return

    def stop(self) -> None:
        from ..services.leases import release_daemon

        self.stopped.set()
        self.thread.join(timeout=5)
        try:
            with self.app.store.write() as tx:
                release_daemon(tx, self.owner_id)
        except Exception:
            pass  # the lease lapses by itself
