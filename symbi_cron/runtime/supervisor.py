"""The supervisor: the tick loop that claims slots and hands runs to their owners (SPEC §5, §12).

Each tick does three indexed queries when nothing is due (due jobs through the partial index ``jobs_due``, the
earliest ``next_run``, the earliest queued ``not_before``), so its cost does not grow with idle jobs. Due jobs are
claimed in one write transaction (runs inserted, ``next_run`` advanced), each job inside a savepoint so that one
job that cannot be claimed (a row that no longer reads, a schedule that no longer parses) is flagged and the others
go on. Queued runs whose ``not_before`` has come start while fewer than ``max_concurrent_jobs`` are in flight.

Starting a run hands it to its **owner** (``runtime.owner``), which executes the agent, records the outcome and
sends the deliveries by itself. In the daemon each owner is a process forked from the fork server
(``runtime.forkserver``): the owner is forked first, then the run is marked ``running`` under the owner's id (one
transaction for the batch), then the owner is told to go. A daemon that dies therefore leaves its runs running, and
the next daemon **adopts** every run whose owner lives and recovers only runs whose owner is gone, after killing
whatever the owner's session still holds (the agent's whole process group). Without a fork server (tests, and the
foreground ``symbi cron run``) owners are threads of this process.

The loop also sweeps, every few seconds (:meth:`Supervisor.sweep`): owners that died are recovered, deliveries whose
owner died are sent again, runs past their deadline are reported. It stops the daemon with a clear error when its
store file is deleted or replaced, and after the wall clock steps back it recomputes next runs (wildcard jobs fire
on the real clock again; fixed-time jobs never repeat a slot they ran).

Signals only set events (:meth:`request_reload`, :meth:`request_stop`, :meth:`request_leave`); the loop works.

On a shared PostgreSQL store (docs/scaling.md) several supervisors tick against one database: each holds a lease in
the ``daemons`` table, renewed every ``lease_seconds / 3``; every run owner holds one too, renewed by the owner
itself. A thread LISTENs on the ``symbi_reload`` channel so a change made on any host wakes every supervisor.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import processes
from ..errors import StoreError, StoreLost, SymbiError
from ..outage import Outage
from ..priority import SchedulerFirst
from ..processes import kill_session, pid_alive, process_identity
from ..services.app import App
from ..services.claim import Limits, claim_job
from ..services.leases import (
    adoptable,
    daemon_loads,
    forget_lapsed,
    lease_alive,
    register_daemon,
    release_daemon,
    renew_lease,
)
from ..services.record import finish_run
from ..services.start import Begun, begin_run, requeue_unstarted
from ..store import daemons as lease_rows
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..timeutil import from_ms, iso, to_ms
from ..vocab import Event, JobStatus, RunStatus, Trigger

log = logging.getLogger("symbi.scheduler")
#: Due jobs claimed per transaction (more are claimed at the next, immediate, tick).
CLAIM_BATCH = 500
#: On a shared store, due jobs claimed per transaction: the jobs a daemon holds locked at once (the others skip
#: them; a daemon frozen inside a claim delays these alone, until the server cuts it off).
SHARED_CLAIM_BATCH = 50
#: On a shared store a run due this long ago is started by any daemon with room, not only the least loaded.
PLACEMENT_GRACE_MS = 500
#: How often the sweep looks for dead owners, orphaned deliveries and overdue runs.
SWEEP_SECONDS = 5.0
#: The owners for the slots due within this long are forked ahead (a fork costs milliseconds: a burst of 500
#: needs a second or two of them).
OWNERS_AHEAD_MS = 10_000
#: A run is reported overdue this long after its max_runtime and kill grace have passed.
OVERDUE_SLACK_SECONDS = 10.0
#: A wall clock that falls behind the monotonic clock by more than this has been stepped back.
CLOCK_STEP_MS = 2_000


@dataclass
class Owned:
    """A run in flight: who owns it and how we know when it ends."""

    run_id: str
    owner_id: str
    pid: int | None = None
    thread: threading.Thread | None = None
    delivering_only: bool = False
    overdue_reported: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: When the run starts (epoch ms): later than now for a run prepared ahead of its time.
    start_ms: int = 0


class Supervisor:
    """The scheduler loop of one daemon (or one test): claims slots, hands runs to owners, sweeps, sleeps."""

    def __init__(
        self,
        app: App,
        *,
        rng: random.Random | None = None,
        daemon_id: str | None = None,
        stdout: TextIO | None = None,
        limits: Limits | None = None,
        launcher: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.rng = rng or random.Random()
        self.daemon_id = daemon_id or processes.owner_id("daemon")
        self.daemon_name = app.daemon_name  # on its lease row and on every run it starts (placement)
        self.limits = limits or Limits.from_settings(app.settings)
        self.stdout = stdout
        #: The fork server (``runtime.forkserver.ForkServer``); None: owners are threads of this process.
        self.launcher = launcher
        self.monotonic = monotonic
        self.cancel = threading.Event()  # thread owners: stop the agents (the drain's last resort)
        # Signal handlers (and other threads) only bump counters and write to the wake pipe: a handler runs in the
        # main thread between two bytecodes, and one that took a lock the main thread held (Event.set inside
        # Event.clear) would deadlock the daemon. The loop compares each counter with the value it last acted on.
        self._wake = Waker()
        self._stop = threading.Event()  # set by the loop itself (other threads wait on it)
        self._asked = {"stop": 0, "leave": 0, "reload": 0, "recorded": 0, "remote": 0}
        self._seen = {"reload": 0, "recorded": 0, "remote": 0}
        self._lock = threading.Lock()
        self._inflight: dict[str, Owned] = {}  # runs not yet recorded, by run id
        self._delivering: dict[str, Owned] = {}  # owners sending what a dead owner's run still owed
        self._exited: set[str] = set()
        self.started_at = app.clock.now()
        self.last_tick_at: Any | None = None
        self.tick_lag_seconds = 0.0
        self.ticks = 0
        self.last_error: str | None = None
        self.queued = 0
        self._expected_at = float("-inf")  # when the owners the next slots need were last counted
        self.overdue: list[str] = []
        self.adopted = 0
        self.recovered = 0
        self.shared = getattr(app.store, "dialect", "sqlite") == "postgresql"
        self._lease_renewed_ms: int | None = None
        self._lease_renewed_mono: float | None = None
        self._lease_token: int | None = None
        #: Placement on a shared store: runs due after this instant are left to a less loaded daemon (None: none).
        self._defer_before: int | None = None
        self._deferred = False
        #: The earliest retry left queued in this tick for its time (retries are not prepared ahead): a wake.
        self._retry_due: int | None = None
        #: How many runs were found due at each start time still ahead (epoch ms): a burst's size, told to the
        #: owners of its runs (``Begun.together``).
        self._together: dict[int, int] = {}
        self._listener: threading.Thread | None = None
        #: The reload listener's outages (shared store): one line down, a reminder a minute, one line back.
        self.listener_outage = Outage(
            log,
            "reload listener",
            hint="retrying every second; changes from other hosts are seen at each tick meanwhile",
            monotonic=monotonic,
        )
        self.remote_changes = 0  # changes announced by other processes (NOTIFY) since start
        #: Called with (old, new) settings after a reload (services/reload.py): what holds a setting of its own.
        self.reload_appliers: list[Any] = []
        #: Closed while slots are claimed and runs started: the API's requests wait (symbi_cron/priority.py).
        self.priority = SchedulerFirst()
        self._last_sweep = float("-inf")
        self._store_identity = self._identify_store()
        self._wall_mono: tuple[int, float] | None = None
        self.pool = None
        if launcher is not None:
            from .pool import OwnerPool

            self.pool = OwnerPool(
                launcher,
                warm=int(app.settings.scheduler.max_concurrent_jobs),
                on_recorded=self._recorded_by_owner,
                on_gone=self._owner_exited,
                on_ready=self._wake_if_waiting,
            )

    # -- control (safe from signal handlers and other threads) -------------------------------------------------
    def request_reload(self) -> None:
        """Reload the config and look at the store again at once (SIGHUP)."""
        self._asked["reload"] += 1
        self._wake.set()

    def request_remote_change(self) -> None:
        """Another process announced a change of the shared store (NOTIFY): reload as for SIGHUP, quietly."""
        self._asked["remote"] += 1
        self._wake.set()

    def request_wake(self) -> None:
        """Look at the store again at once, without re-reading the config (a change made through the API)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop starting runs; :meth:`serve` returns, then :meth:`drain` waits for the runs in flight (SIGTERM)."""
        self._asked["stop"] += 1
        self._wake.set()

    def request_leave(self) -> None:
        """Stop now and leave the runs in flight running; the next daemon adopts them (SIGUSR2, ``restart``)."""
        self._asked["leave"] += 1
        self.request_stop()

    def owner_recorded(self) -> None:
        """An owner recorded its run's outcome (SIGUSR1): a place may have freed."""
        self._asked["recorded"] += 1
        self._wake.set()

    def _take(self, what: str) -> int:
        """How many times ``what`` was asked for since the loop last took it (then it is taken): 0 is false."""
        asked = self._asked[what]
        if asked == self._seen[what]:
            return 0
        count, self._seen[what] = asked - self._seen[what], asked
        return count

    @property
    def stopping(self) -> bool:
        return bool(self._asked["stop"]) or self._stop.is_set()

    @property
    def leaving(self) -> bool:
        return bool(self._asked["leave"])

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def snapshot(self) -> dict[str, Any]:
        """Cheap state for the health endpoint and metrics (no store access)."""
        return {
            "pid": os.getpid(),
            "daemon_id": self.daemon_id,
            "daemon_name": self.daemon_name,
            "in_flight": self.in_flight(),
            "queued": self.queued,
            "tick_lag_seconds": round(self.tick_lag_seconds, 3),
            "started_at": self.started_at,
            "last_tick_at": self.last_tick_at,
            "ticks": self.ticks,
            "stopping": self.stopping,
            "last_error": self.last_error,
            "owners": "processes" if self.pool is not None else "threads",
            "runs_past_deadline": list(self.overdue),
            "adopted_runs": self.adopted,
            "recovered_runs": self.recovered,
        }

    # -- start-up ----------------------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """At start: take the lease (shared store), adopt the runs whose owners live, recover the others (recorded
        ``interrupted`` once whatever their owner left behind is gone), resend what dead owners still owed.
        Returns the ids of the runs recorded interrupted."""
        now_ms = to_ms(self.app.clock.now())
        if self.shared:
            with self.app.store.write() as tx:
                self._lease_token = register_daemon(tx, self.daemon_id, now_ms=now_ms, lease_ms=self.lease_ms)
                self._label(tx, now_ms)
                namesakes = [
                    d
                    for d in lease_rows.live_daemons(tx, now_ms)
                    if d["name"] == self.daemon_name and d["id"] != self.daemon_id
                ]
            self._lease_renewed_ms = now_ms
            self._lease_renewed_mono = self.monotonic()
            for other in namesakes:
                log.warning(
                    "another live daemon on this store is named %s too (host %s, pid %s): their runs cannot be told"
                    " apart; set [daemon] name in config.toml",
                    self.daemon_name,
                    other["host"],
                    other["pid"],
                )
        return self.sweep(force=True)

    @property
    def lease_ms(self) -> int:
        store_settings = getattr(self.app.settings, "store", None)
        return int(float(getattr(store_settings, "lease_seconds", 30)) * 1000)

    # -- the sweep ---------------------------------------------------------------------------------------------
    def sweep(self, *, force: bool = False) -> list[str]:
        """Owners that ended without recording, runs whose owner is gone, deliveries nobody sends, runs past their
        deadline. Every ``SWEEP_SECONDS`` (and at once when a watched owner ends). Returns the runs recovered."""
        # On the app's clock (tests step it); a clock that went back sweeps at once.
        now_mono = to_ms(self.app.clock.now()) / 1000
        with self._lock:
            exited, self._exited = self._exited, set()
        due = force or not (0 <= now_mono - self._last_sweep < SWEEP_SECONDS)
        if not exited and not due:
            return []
        recovered: list[str] = []
        for run_id in exited:
            with self._lock:
                owned = self._inflight.pop(run_id, None) or self._delivering.pop(run_id, None)
            if owned is not None and not owned.delivering_only:
                if self._recover_if_dead(run_id, owned.owner_id, known_dead=True):
                    recovered.append(run_id)
        if due:
            self._last_sweep = now_mono
            recovered.extend(self._sweep_running())
            self._sweep_outbox()
            if self.shared:
                with self.app.store.write() as tx:
                    forget_lapsed(tx, me=self.daemon_id, now_ms=to_ms(self.app.clock.now()))
        if recovered:
            self.recovered += len(recovered)
            log.warning(
                "%d run(s) whose owner was gone recorded interrupted: %s",
                len(recovered),
                ", ".join(r[:8] for r in recovered),
            )
        return recovered

    def _sweep_running(self) -> list[str]:
        now_ms = to_ms(self.app.clock.now())
        with self.app.store.read() as conn:
            running = run_rows.with_status(conn, (RunStatus.running,))
            jobs = {}
            for run in running:
                if run["job_id"] not in jobs:
                    jobs[run["job_id"]] = job_rows.get(conn, run["job_id"])
        recovered = []
        overdue = []
        for run in running:
            run_id, owner = run["id"], run.get("daemon_id")
            with self._lock:
                tracked = run_id in self._inflight
            if not tracked and owner is not None and self.pool is not None and self.pool.holds(owner):
                continue  # recorded since the read above (its owner is ours): nothing to adopt
            if not tracked:
                if self._alive(owner, now_ms):
                    self._adopt(run_id, owner)
                elif self._recover_if_dead(run_id, owner):
                    recovered.append(run_id)
                    continue
            job = jobs.get(run["job_id"]) or {}
            if self._overdue(run, job, now_ms):
                overdue.append(run_id)
        self.overdue = overdue
        return recovered

    def _overdue(self, run: dict[str, Any], job: dict[str, Any], now_ms: int) -> bool:
        max_runtime = (job.get("policy") or {}).get("max_runtime")
        started = run.get("started_at")
        if not max_runtime or started is None:
            return False
        grace = float(self.app.settings.scheduler.kill_grace_seconds) + OVERDUE_SLACK_SECONDS
        late_ms = now_ms - to_ms(started) - int((float(max_runtime) + grace) * 1000)
        if late_ms <= 0:
            return False
        with self._lock:
            owned = self._inflight.get(run["id"])
        if owned is None or not owned.overdue_reported:
            log.warning(
                "run %s of job %s is still running %.0fs past its max_runtime of %ss and the kill grace (owner %s)",
                run["id"][:8],
                job.get("name", "?"),
                late_ms / 1000 + OVERDUE_SLACK_SECONDS,
                max_runtime,
                run.get("daemon_id"),
            )
            if owned is not None:
                owned.overdue_reported = True
        return True

    def _alive(self, owner: str | None, now_ms: int) -> bool:
        if not owner:
            return False
        if owner == self.daemon_id:
            return True
        if self.shared:
            with self.app.store.read() as conn:
                return lease_alive(conn, owner, self.daemon_id, now_ms)
        return processes.owner_alive(owner, self.daemon_id)

    def _adopt(self, run_id: str, owner: str | None) -> None:
        """Watch a live owner this daemon did not start (the previous daemon's): its run counts as in flight."""
        if owner is None or self.pool is None or processes.owner_kind(owner) != "owner":
            return
        parts = owner.split(":")
        if len(parts) < 5 or parts[3] != processes.host_name():
            return  # another host's owner: its lease says whether it lives
        if self.shared:
            with self.app.store.read() as conn:
                if not adoptable(conn, owner, my_name=self.daemon_name, now_ms=to_ms(self.app.clock.now())):
                    return  # another live daemon's owner (daemons of one host sharing the store): it watches it
        pid = int(parts[1])
        with self._lock:
            self._inflight[run_id] = Owned(run_id, owner, pid=pid)
        self.pool.adopt(run_id, pid, None if parts[4] == "-" else parts[4])
        self.adopted += 1
        log.info("adopted run %s, still running under its owner (pid %d)", run_id[:8], pid)

    def _recover_if_dead(self, run_id: str, owner: str | None, *, known_dead: bool = False) -> bool:
        """Record ``interrupted`` a running run whose owner is gone, once whatever the owner left running is gone
        too (the owner's session: the agent's whole process group); its deliveries are owed like any run's."""
        now_ms = to_ms(self.app.clock.now())
        if not known_dead and self._alive(owner, now_ms):
            return False
        with self.app.store.read() as conn:
            state = run_rows.statuses(conn, [run_id]).get(run_id)
        if state is None or state != (RunStatus.running, owner):
            return False  # recorded (the usual end of an owner), or no longer this owner's
        held_mark: Path | None = None
        if owner and processes.owner_kind(owner) == "owner":
            parts = owner.split(":")
            if len(parts) > 3 and parts[3] == processes.host_name():
                held_mark = self.app.paths.run_held_mark(run_id)
                left = kill_session(
                    int(parts[1]), None if len(parts) < 5 or parts[4] == "-" else parts[4], exiting=known_dead
                )
                if left:
                    log.error(
                        "run %s: processes of its dead owner's session outlived SIGKILL (%s); not recovered yet",
                        run_id[:8],
                        ", ".join(str(p) for p in left),
                    )
                    return False
        from ..services.delivery import owe_deliveries

        with self.app.store.write() as tx:
            run = run_rows.get_for_finish(tx, run_id)
            if run is None or run["status"] != RunStatus.running or run.get("daemon_id") != owner:
                return False  # recorded meanwhile (the owner finished as we looked)
            if self.shared and not known_dead and lease_alive(tx, owner, self.daemon_id, now_ms, lock=True):
                return False  # it renewed its lease meanwhile (it woke up): still its run
            before_its_time = run.get("started_at") is not None and to_ms(run["started_at"]) > now_ms
            never_released = held_mark is not None and held_mark.exists()
            requeued = bool(owner) and (before_its_time or never_released)
            if requeued:
                # Prepared ahead, and its owner died before its time, or while it still held the agent (its mark
                # is there until the release; the owner's session is empty now): its agent never ran. Not a
                # failure: back to the queue (for its time, or at once when that has passed).
                requeue_unstarted(tx, run_id, owner=owner, now_ms=now_ms)
            else:
                finished = finish_run(
                    tx,
                    run_id,
                    status=RunStatus.interrupted,
                    now_ms=now_ms,
                    actor="daemon",
                    error_message="the run's owner process died before recording an outcome (killed, crashed, or"
                    " the machine stopped)",
                )
                job = job_rows.get(tx, run["job_id"])
                if finished is not None and job is not None:
                    owe_deliveries(tx, job, finished, owner=self.daemon_id, now_ms=now_ms)
            if self.shared and owner:
                release_daemon(tx, owner)
        if held_mark is not None:
            held_mark.unlink(missing_ok=True)
        self._asked["recorded"] += 1
        if requeued:
            log.warning(
                "run %s: its owner is gone (dead, or its lease lapsed) %s: queued again, unstarted",
                run_id[:8],
                "before the run's start time" if before_its_time else "while it held the run's agent, unreleased",
            )
            return False
        return True

    def _sweep_outbox(self) -> None:
        """Deliveries owed by a run whose owner is gone (or by a recovery of this daemon's) get a new owner."""
        from ..store import outbox

        now_ms = to_ms(self.app.clock.now())
        with self.app.store.read() as conn:
            owed = outbox.owners(conn)
        for run_id, owner in owed:
            with self._lock:
                busy = run_id in self._delivering or (
                    run_id in self._inflight and self._inflight[run_id].owner_id == owner
                )
            if busy or (owner != self.daemon_id and self._alive(owner, now_ms)):
                continue
            self._redeliver(run_id, owner)

    def _redeliver(self, run_id: str, old_owner: str) -> None:
        from ..store import outbox

        if self.pool is None:
            owned = Owned(run_id, self.daemon_id, delivering_only=True)
            with self.app.store.write() as tx:
                outbox.take_over(tx, run_id, old=old_owner, new=self.daemon_id)
            self._start_thread(owned, lambda owner: owner.deliver(run_id), delivering=True)
            return
        got = self.pool.take(1)
        if not got:
            return  # the next sweep, once an owner is free
        (owner,) = got
        try:
            with self.app.store.write() as tx:
                taken = outbox.take_over(tx, run_id, old=old_owner, new=owner.owner_id)
                if taken and self.shared:
                    register_daemon(tx, owner.owner_id, now_ms=to_ms(self.app.clock.now()), lease_ms=self.lease_ms)
        except BaseException:
            self.pool.give_back(owner)
            raise
        if not taken:
            self.pool.give_back(owner)
            return
        self.pool.assign(owner, "deliver", run_id)
        log.info("deliveries of run %s owed by a gone owner: sending them again (owner pid %d)", run_id[:8], owner.pid)

    def _recorded_by_owner(self, run_id: str) -> None:
        """From the pool's thread: the owner of ``run_id`` recorded the outcome; its place is free."""
        with self._lock:
            self._inflight.pop(run_id, None)
        self._wake_if_waiting()

    def _wake_if_waiting(self) -> None:
        """A place or an owner came free: tick now if runs wait for one (a burst's hundred records then cost no
        hundred ticks while the rest of the burst starts); otherwise the next tick comes when it would."""
        if self.queued or self.stopping:
            self._wake.set()

    def _owner_exited(self, run_id: str) -> None:
        with self._lock:
            self._exited.add(run_id)
        self._wake.set()

    # -- shared store ------------------------------------------------------------------------------------------
    def _keep_lease(self, now_ms: int) -> bool:
        """Shared store: renew the lease every third of its length (on the wall clock, and on the monotonic clock,
        which a frozen process finds advanced when it wakes), before anything is claimed. False when it had
        lapsed: the others may have taken its runs over; the lease is taken again, with a new token, and the claims
        and starts that follow are fenced by that token (:meth:`_fence`)."""
        mono = self.monotonic()
        third = self.lease_ms // 3
        if (
            self._lease_renewed_ms is not None
            and now_ms - self._lease_renewed_ms < third
            and self._lease_renewed_mono is not None
            and (mono - self._lease_renewed_mono) * 1000 < third
        ):
            return True
        with self.app.store.write() as tx:
            held, self._lease_token = renew_lease(
                tx, self.daemon_id, now_ms=now_ms, lease_ms=self.lease_ms, token=self._lease_token
            )
            self._label(tx, now_ms)
        silent = (mono - self._lease_renewed_mono) if self._lease_renewed_mono is not None else 0.0
        self._lease_renewed_ms = now_ms
        self._lease_renewed_mono = mono
        if not held:
            log.error(
                "this daemon's lease had lapsed (%.1fs without renewal): the other daemons may have taken its runs"
                " over; renewed (token %d) before it claims again",
                silent,
                self._lease_token,
            )
        return held

    def _fence(self, tx: Any) -> None:
        """Inside a claim or a start: extend this daemon's lease under its token, on a fresh reading of the clock,
        or refuse the whole transaction (a daemon that was frozen between its renewal and this write must not
        claim on a lease that lapsed meanwhile)."""
        if not self.shared or self._lease_token is None:
            return
        from ..store import daemons as daemon_rows

        now_ms = to_ms(self.app.clock.now())
        if not daemon_rows.extend(tx, self.daemon_id, self._lease_token, now_ms=now_ms, lease_ms=self.lease_ms):
            self._lease_renewed_ms = None  # the next tick renews first (and says so)
            raise LeaseLapsed("this daemon's lease lapsed before it could claim or start; renewing first")

    def _label(self, tx: Any, now_ms: int) -> None:
        """This daemon's name, version and renewal instant on its lease row (`daemon status --all`)."""
        from .. import __version__

        lease_rows.label(tx, self.daemon_id, name=self.daemon_name, version=__version__, renewed_at=now_ms)

    def _listen(self) -> None:
        """LISTEN on the reload channel; a notification is a remote change (a reload, like SIGHUP, logged at DEBUG).
        Reconnects every second on errors; an outage is logged once, reminded at most once a minute, and its end
        logged with its length (:class:`~symbi_cron.outage.Outage`)."""
        outage = self.listener_outage
        while not self._stop.is_set():
            listener = None
            try:
                listener = self.app.store.listen_changes()  # type: ignore[attr-defined]  # PgStore only
                outage.ok()
                self.request_remote_change()  # anything sent while we were not listening
                while not self._stop.is_set():
                    # Each notification as it comes (with stop_after=1 the others of a batch were dropped, and
                    # the count of remote changes was short).
                    for _origin in listener.changes(0.5):
                        self.request_remote_change()
            except Exception as exc:
                if not self._stop.is_set():
                    outage.failed(exc)
                    self._stop.wait(1.0)
            finally:
                if listener is not None:
                    try:
                        listener.close()
                    except Exception:
                        pass

    # -- the store under our feet, the clock -------------------------------------------------------------------
    def _identify_store(self) -> tuple[int, int] | None:
        path = getattr(self.app.store, "path", None)
        if self.shared or path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def check_store(self) -> None:
        """Raise :class:`StoreLost` when the store file was deleted or replaced since the daemon opened it (it
        would go on ticking on a file nobody else sees, executing nothing)."""
        if self._store_identity is None:
            return
        path = self.app.store.path  # type: ignore[attr-defined]
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise StoreLost(
                f"the store {path} was deleted while the daemon ran; restore it and start the daemon"
            ) from None
        except OSError:
            return
        if (st.st_dev, st.st_ino) != self._store_identity:
            raise StoreLost(
                f"the store {path} was replaced by another file while the daemon ran; start the daemon again to use it"
            )

    def _check_clock(self, now_ms: int) -> None:
        """Notice the wall clock stepping back (an NTP correction, a manual change) and recompute next runs."""
        mono = self.monotonic()
        last = self._wall_mono
        self._wall_mono = (now_ms, mono)
        if last is None:
            return
        expected = last[0] + int((mono - last[1]) * 1000)
        if expected - now_ms <= CLOCK_STEP_MS:
            return
        log.warning(
            "the wall clock stepped back by %.0fs (from %s to %s): recomputing next runs",
            (expected - now_ms) / 1000,
            iso(from_ms(expected)),
            iso(from_ms(now_ms)),
        )
        self.limits.replay_until_ms = max(expected, self.limits.replay_until_ms or 0)
        self._reschedule_after_step(now_ms)

    def _reschedule_after_step(self, now_ms: int) -> None:
        from ..services.jobs import next_fire
        from ..timing import parse

        with self.app.store.write() as tx:
            for job in job_rows.list_jobs(tx, status=JobStatus.active):
                if not job.get("cron_expr") or job.get("one_shot"):
                    continue
                try:
                    fixed = parse(job["cron_expr"]).is_fixed_time()
                    nxt = next_fire(job, from_ms(now_ms))  # type: ignore[arg-type]
                except Exception:
                    continue
                if nxt is None:
                    continue
                if fixed:
                    # Never a slot it already ran: the next one after the last slot it claimed.
                    last = run_rows.last_scheduled_slot(tx, job["id"])
                    while last is not None and nxt is not None and to_ms(nxt) <= int(last):
                        nxt = next_fire(job, nxt)
                    if nxt is None:
                        continue
                job_rows.set_state(tx, job["id"], now_ms=now_ms, next_run=to_ms(nxt))

    # -- the loop ----------------------------------------------------------------------------------------------
    def tick(self) -> float:
        """One pass: claim due slots, start what may start. Returns the seconds to sleep before the next."""
        signalled, remote = self._take("reload"), self._take("remote")
        if signalled or remote:
            self._reload_config(remote=0 if signalled else remote)
        self.check_store()
        now = self.app.clock.now()
        now_ms = to_ms(now)
        self._check_clock(now_ms)
        interval = float(self.app.settings.scheduler.tick_interval_seconds)
        if self.shared:
            interval = min(interval, self.lease_ms / 3000)
            self._keep_lease(now_ms)  # first: after a freeze, nothing is claimed on a lease that lapsed
        self.sweep()
        self._refresh_in_flight()
        conn = self.app.store.connection()
        batch = SHARED_CLAIM_BATCH if self.shared else CLAIM_BATCH
        ahead = self.ahead_ms()
        due = job_rows.due(conn, now_ms + ahead, limit=batch) if not self.stopping else []
        if self.pool is not None and not self.stopping:
            self._expect_owners(conn, now_ms)
        lag = 0.0
        started = 0
        self._deferred = False
        self._retry_due = None
        try:
            if due:
                lag = max(0.0, (now_ms - min(to_ms(j["next_run"]) for j in due if j.get("next_run"))) / 1000)
                with self.priority.busy():
                    self._claim(due, now_ms)
            if not self.stopping:
                started = self._start_queued(now_ms)
        except LeaseLapsed as exc:
            log.warning("%s", exc)
            return 0.0
        self.tick_lag_seconds = lag
        self.last_tick_at = now
        self.ticks += 1
        self.last_error = None
        if len(due) >= batch:
            return 0.0
        with self.app.store.read() as conn:
            nxt = job_rows.earliest_next_run(conn)
            q = run_rows.next_not_before(conn, now_ms + ahead)
            self.queued = run_rows.count_queued(conn)
        # Prepared this long before their time; one already inside that window that was left for its time (its job
        # had no free place) wakes the loop at its time.
        wake = [t - ahead if t - ahead > now_ms else t for t in (nxt, q) if t is not None]
        if self._retry_due is not None:
            wake.append(self._retry_due)
        delay = min(interval, SWEEP_SECONDS)
        if wake:
            delay = min(delay, max(0.0, (min(wake) - to_ms(self.app.clock.now())) / 1000))
        if started and delay > 0 and self.queued:
            delay = min(delay, 0.05)  # more may start at once if capacity allows
        if self._deferred:
            delay = min(delay, PLACEMENT_GRACE_MS / 2000)  # left to a less loaded daemon: look again soon
        return delay

    def ahead_ms(self) -> int:
        """How long before their time due runs are claimed and handed to their owners (``prepare_ahead_seconds``)."""
        return int(float(getattr(self.app.settings.scheduler, "prepare_ahead_seconds", 0) or 0) * 1000)

    def _expect_owners(self, conn: Any, now_ms: int) -> None:
        """Fork, ahead of time, the owners the slots due within :data:`OWNERS_AHEAD_MS` will need (and the queued
        runs): a burst then costs no fork when it comes. The pool keeps them while they are expected."""
        assert self.pool is not None
        now = self.monotonic()
        if now - self._expected_at < 1.0:
            return  # once a second is enough (a tick can come every few ms under load)
        self._expected_at = now
        soon = job_rows.count_due(conn, now_ms + OWNERS_AHEAD_MS) + self.queued
        if soon:
            self.pool.expect(soon, int(self.app.settings.scheduler.max_concurrent_jobs))

    def _refresh_in_flight(self) -> None:
        """Runs whose owner recorded the outcome no longer take a place (the owner may still be delivering)."""
        if self.pool is None or not self._take("recorded"):
            return
        with self._lock:
            ids = list(self._inflight)
        if not ids:
            return
        with self.app.store.read() as conn:
            states = run_rows.statuses(conn, ids)
        with self._lock:
            for run_id in ids:
                state = states.get(run_id)
                owned = self._inflight.get(run_id)
                if owned is None:
                    continue
                if state is None or state[0] != RunStatus.running or state[1] != owned.owner_id:
                    del self._inflight[run_id]

    def _claim(self, due: list[dict[str, Any]], now_ms: int) -> None:
        store = self.app.store
        with store.write() as tx:
            self._fence(tx)
            if self.shared:
                # Taken again, locked, in one statement: the due jobs no other daemon holds (another one claiming
                # at once takes the next ones, instead of waiting on these or skipping them one by one).
                due = job_rows.claimable(tx, now_ms + self.ahead_ms(), len(due))
            for stale in due:
                try:
                    with store.savepoint("claim_job"):
                        if stale.get("_unreadable"):
                            raise ValueError(stale["_unreadable"])
                        # Re-read and locked: it may have changed since the read; None when it is gone or another
                        # daemon holds it (that one is claiming it: this one goes on with the others).
                        job = stale if self.shared else job_rows.get_for_claim(tx, stale["id"])
                        if job is None:
                            continue
                        res = claim_job(
                            tx,
                            job,
                            now_ms=now_ms,
                            daemon_id=self.daemon_id,
                            rng=self.rng,
                            limits=self.limits,
                            until_ms=now_ms + self.ahead_ms(),
                        )
                except StoreError:
                    raise
                except Exception as exc:  # one job that cannot be claimed never stops the others
                    self._flag_job(tx, stale, now_ms, exc)
                    continue
                if res.missed or res.missed_omitted:
                    log.warning(
                        "job %s: %d slot(s) missed while the scheduler was not running%s",
                        job["name"],
                        res.missed + res.missed_omitted,
                        f" ({res.missed_omitted} older ones not recorded)" if res.missed_omitted else "",
                    )
                if res.skipped:
                    log.warning("job %s: slot skipped, the job is at its max_concurrent limit", job["name"])

    def _flag_job(self, tx: Any, stale: dict[str, Any], now_ms: int, exc: Exception) -> None:
        """A job that cannot be claimed is set ``failed`` (it leaves the due index), with the reason in the audit
        log; ``symbi cron reset`` or a fix of its row brings it back."""
        from ..store.audit import append_event

        reason = f"the job could not be scheduled: {type(exc).__name__}: {exc}"
        log.error("job %s (%s): %s; it is set failed, the others go on", stale.get("name"), stale["id"], reason)
        job_rows.set_state(tx, stale["id"], now_ms=now_ms, status=JobStatus.failed, next_run=None)
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.job_failed,
            actor="daemon",
            job_id=stale["id"],
            job_name=stale.get("name"),
            details={"error": reason},
        )

    def _start_queued(self, now_ms: int) -> int:
        limit = int(self.app.settings.scheduler.max_concurrent_jobs)
        capacity = limit - self.in_flight()
        if capacity <= 0:
            return 0
        conn = self.app.store.connection()
        horizon = now_ms + self.ahead_ms()  # runs due by then are begun now and start at their time
        if self.shared:
            pending = len(run_rows.startable(conn, horizon, capacity))
            if not pending:
                return 0  # nothing to start: no need to ask where
            capacity = self._placement(conn, now_ms, capacity, pending)
            if capacity <= 0:
                return 0
        started = 0
        # Jobs found at their max_concurrent: their queued runs stay queued and are left out of the next look,
        # so a long queue of one busy job never hides the due runs of the others behind it.
        full: set[str] = set()
        while started < capacity:
            candidates = run_rows.startable(conn, horizon, capacity - started, exclude_jobs=full)
            candidates = [r for r in candidates if r["job_id"] not in full]
            # A retry is not prepared ahead: it starts at its time, so that a slot of its job due before then still
            # replaces it (a retry waiting for its backoff gives its place to a new slot, services/claim.py).
            early = [_due_ms(r) for r in candidates if r["trigger"] == Trigger.retry and _due_ms(r) > now_ms]
            if early:
                self._retry_due = min(early + ([self._retry_due] if self._retry_due is not None else []))
                candidates = [r for r in candidates if r["trigger"] != Trigger.retry or _due_ms(r) <= now_ms]
            if self.shared and self._defer_before is not None:
                fresh = [r for r in candidates if _due_ms(r) > self._defer_before]
                if fresh:
                    self._deferred = True  # a less loaded daemon should take these first
                candidates = [r for r in candidates if _due_ms(r) <= self._defer_before]
            if not candidates:
                break
            self._count_together(candidates, now_ms)
            with self.priority.busy():
                began = self._begin(candidates, full)
            started += began
            if not began and not full:
                break
        return started

    def _count_together(self, candidates: list[dict[str, Any]], now_ms: int) -> None:
        """Note how many of these runs are due at each start time still ahead (at least as many as seen before:
        a burst may be begun in several batches, as owners become free)."""
        counts: dict[int, int] = {}
        for r in candidates:
            due = _due_ms(r)
            if due > now_ms:
                counts[due] = counts.get(due, 0) + 1
        for due in [t for t in self._together if t <= now_ms]:
            del self._together[due]
        for due, n in counts.items():
            self._together[due] = max(n, self._together.get(due, 0))

    def _placement(self, conn: Any, now_ms: int, capacity: int, pending: int) -> int:
        """Shared store: how many runs this daemon may start now. ``max_concurrent_jobs`` is cluster-wide (the
        running runs of every daemon count; checked again under a lock when starting), and runs go to the least
        loaded daemon first: one with more runs than the lightest live daemon leaves the runs that just came due
        to it, and starts only those due for more than ``PLACEMENT_GRACE_MS`` (nobody lighter took them; only a
        daemon that renewed its lease lately counts as lighter: a frozen one is offered nothing); the
        others take their share of the ``pending`` startable runs at a time (a burst is spread, not taken whole by
        the first to look), and at least one more than the lightest has."""
        limit = int(self.app.settings.scheduler.max_concurrent_jobs)
        capacity = min(capacity, limit - run_rows.count_all_running(conn))
        loads = daemon_loads(conn, now_ms, lease_ms=self.lease_ms)
        mine = max(loads.pop(self.daemon_id, 0), self.in_flight())
        lightest = min(loads.values(), default=None)
        self._defer_before = None
        if lightest is not None and mine > lightest:
            self._defer_before = now_ms - PLACEMENT_GRACE_MS
        elif lightest is not None:
            share = max(lightest + 1 - mine, -(-pending // (len(loads) + 1)))
            capacity = min(capacity, share)
        return capacity

    def _begin(self, runs: list[dict[str, Any]], full: set[str]) -> int:
        """Hand a batch of queued runs to owners: ask the policy gate about each (outside any transaction: it may
        fetch AgentPin keys), take idle owners, mark each run ``running`` under its owner's id in one transaction,
        then tell the owners to go. Returns how many started (0 when no owner is idle yet: more are on their way,
        and their arrival wakes the loop)."""
        from ..services.approvals import gate_run
        from ..services.start import gate_queued

        now = self.app.clock.now()
        now_ms = to_ms(now)
        gated: dict[str, Any] = {}
        with self.app.store.read() as conn:
            for run in runs:
                try:
                    g = gate_queued(conn, run["id"], lambda job, agent: gate_run(self.app, job, agent, now=now))
                except StoreError:
                    raise
                except Exception as exc:  # one run that cannot be gated never stops the others
                    gated[run["id"]] = exc
                    continue
                if g is not None:
                    gated[run["id"]] = g
        runs = [r for r in runs if r["id"] in gated]
        if not runs:
            return 0
        owners: list[Any] | None = None
        if self.pool is not None:
            owners = self.pool.take(len(runs))
            runs = runs[: len(owners)]
            if not runs:
                return 0
        begun: list[tuple[Begun, Any]] = []
        unused = list(owners or ())
        try:
            with self.app.store.write() as tx:
                self._fence(tx)
                room = len(runs)
                if self.shared:  # max_concurrent_jobs is cluster-wide: counted by one start at a time
                    run_rows.lock_starts(tx)
                    room = int(self.app.settings.scheduler.max_concurrent_jobs) - run_rows.count_all_running(tx)
                for i, run in enumerate(runs):
                    if len(begun) >= room:
                        break
                    owner_id = owners[i].owner_id if owners is not None else self.daemon_id
                    g = gated[run["id"]]
                    try:
                        with self.app.store.savepoint("begin_run"):
                            if isinstance(g, Exception):
                                raise g
                            fence = None
                            if self.shared and owners is not None:
                                # The lease starts now, not at the tick's start (a sweep before may have waited
                                # seconds on a dead owner's session): else it could be lapsed before it is renewed.
                                fence = register_daemon(
                                    tx,
                                    owner_id,
                                    now_ms=to_ms(self.app.clock.now()),
                                    lease_ms=self.lease_ms,
                                    parent=self.daemon_id,
                                )
                            elif self.shared:
                                fence = self._lease_token
                            b = begin_run(
                                tx,
                                run["id"],
                                now_ms=now_ms,
                                daemon_id=owner_id,
                                daemon_name=self.daemon_name,
                                gate=g,
                                actor="daemon",
                                fence=fence,
                                skip_locked=self.shared,
                                start_ms=_due_ms(run),
                            )
                            if b is None and fence is not None and owners is not None:
                                release_daemon(tx, owner_id)
                    except StoreError:
                        raise
                    except Exception as exc:  # one run that cannot start never stops the others
                        self._fail_start(tx, run, now_ms, exc)
                        continue
                    if b is not None:
                        begun.append((b, owners[i] if owners is not None else None))
                    elif run_rows.status_of(tx, run["id"]) == RunStatus.queued:
                        full.add(run["job_id"])  # at its max_concurrent, held by another daemon, or changed
        except BaseException:
            for o in unused:
                self.pool.give_back(o)  # type: ignore[union-attr]  # nothing was marked running
            raise
        going = {id(o) for _, o in begun if o is not None}
        for o in unused:
            if id(o) not in going:
                self.pool.give_back(o)  # type: ignore[union-attr]
        for b, o in begun:
            try:
                self._hand_over(b, o)
            except Exception:  # one hand-over that fails never leaves the others' runs begun and never handed
                log.exception("run %s could not be handed to its owner", b.run["id"][:8])
                self._owner_exited(b.run["id"])  # its owner never got it: the sweep recovers it
        return len(begun)

    def _fail_start(self, tx: Any, run: dict[str, Any], now_ms: int, exc: Exception) -> None:
        log.exception("run %s could not be started", run["id"][:8])
        finish_run(
            tx,
            run["id"],
            status=RunStatus.failed,
            now_ms=now_ms,
            actor="daemon",
            error_message=f"the run could not be started: {type(exc).__name__}: {exc}",
        )

    def _hand_over(self, begun: Begun, owner: Any) -> None:
        run_id = begun.run["id"]
        if owner is None:
            self._start_thread(Owned(run_id, self.daemon_id), lambda o: o.carry(run_id))
            return
        started = begun.run.get("started_at")
        begun.together = self._together.get(to_ms(started), 1) if started is not None else 1
        with self._lock:
            self._inflight[run_id] = Owned(
                run_id, owner.owner_id, pid=owner.pid, start_ms=to_ms(started) if started is not None else 0
            )
        assert self.pool is not None
        try:
            handed = pickle.dumps(begun, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # something in a job's spec that does not pickle: the owner reads the run itself
            handed = b""
        self.pool.assign(owner, "go", run_id, handed)

    def _start_thread(self, owned: Owned, work: Callable[[Any], Any], *, delivering: bool = False) -> None:
        from .owner import RunOwner

        run_id = owned.run_id
        owner = RunOwner(self.app, self.daemon_id, stdout=self.stdout, cancel=self.cancel, actor="daemon")

        def body() -> None:
            try:
                work(owner)
            except Exception:
                log.exception("owner thread for run %s crashed", run_id[:8])
            finally:
                with self._lock:
                    if delivering:
                        self._delivering.pop(run_id, None)
                    else:
                        self._inflight.pop(run_id, None)
                self.app.store.close()
                self._wake.set()

        t = threading.Thread(target=body, name=f"run-{run_id[:8]}", daemon=True)
        owned.thread = t
        with self._lock:
            (self._delivering if delivering else self._inflight)[run_id] = owned
        t.start()

    def _reload_config(self, *, remote: int = 0) -> None:
        """Re-read config.toml and apply it. ``remote``: the number of changes announced by other processes that
        caused this reload (none was signalled here): an unchanged configuration is then logged at DEBUG only,
        with the count (every change made on any host reaches every daemon)."""
        from ..config import load_settings

        try:
            settings = load_settings(self.app.paths.config_file, self.app.env)
        except SymbiError as exc:
            log.error("reload: keeping the previous configuration: %s", exc)
            return
        from ..services.reload import reloaded

        old, self.app.settings = self.app.settings, settings
        replay = self.limits.replay_until_ms
        self.limits = Limits.from_settings(settings)
        self.limits.replay_until_ms = replay
        if self.launcher is not None:
            try:
                self.launcher.update_settings(settings)
            except OSError as exc:
                log.error("reload: the fork server did not take the new configuration: %s", exc)
        if self.pool is not None:
            self.pool.resize(int(settings.scheduler.max_concurrent_jobs))
            self.pool.update_settings(settings)  # the owners already forked carry their next run with it
        changed = reloaded(old, settings, log, self.reload_appliers, quiet=bool(remote))
        if remote:
            self.remote_changes += remote
            log.debug(
                "reload after %d change(s) announced by other processes (%d since start): %s",
                remote,
                self.remote_changes,
                f"{len(changed)} setting(s) changed" if changed else "configuration unchanged",
            )

    def serve(self, *, on_tick_error: Any = None) -> None:
        """Tick until :meth:`request_stop`; a failing tick is logged and retried, never silent. A lost store ends
        the loop with :class:`StoreLost` (the daemon exits non-zero so a service manager restarts it)."""
        failing = Outage(
            log,
            "tick loop",
            states=("failing", "working again"),
            level=logging.ERROR,
            each_new_error=True,
            monotonic=self.monotonic,
        )
        if self.shared and self._listener is None:
            self._listener = threading.Thread(target=self._listen, name="reload-listener", daemon=True)
            self._listener.start()
        while not self.stopping:
            self._wake.clear()
            try:
                delay = self.tick()
                failing.ok()
            except StoreLost:
                raise
            except SymbiError as exc:
                self.last_error = str(exc)
                failing.failed(exc)  # each distinct error once, a reminder a minute, one line when it works again
                if on_tick_error is not None:
                    on_tick_error(exc)
                delay = float(self.app.settings.scheduler.tick_interval_seconds)
            except Exception as exc:  # a bug: log it with the traceback, keep the scheduler alive
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("tick failed")
                delay = float(self.app.settings.scheduler.tick_interval_seconds)
            if delay > 0:
                self._wake.wait(delay)
        self._stop.set()  # for the threads that wait on it (the reload listener)

    # -- stopping ----------------------------------------------------------------------------------------------
    def drain(self, timeout: float | None = None) -> int:
        """Wait up to ``timeout`` (default ``shutdown_timeout_seconds``) for the runs in flight, then stop the rest
        (their owners stop the agents, TERM then KILL, and record them ``interrupted``). Returns how many were
        stopped. After :meth:`request_leave`, returns at once and leaves them running."""
        if self.leaving:
            n = self.in_flight()
            if n:
                log.info("leaving %d run(s) running; the next daemon adopts them", n)
            self.close()
            return 0
        if timeout is None:
            timeout = float(self.app.settings.scheduler.shutdown_timeout_seconds)
        self._stand_down_prepared()
        deadline = self.monotonic() + timeout
        while self._waiting() and self.monotonic() < deadline:
            self._wake.wait(min(0.1, max(0.0, deadline - self.monotonic())))
            self._wake.clear()
            self._pump_exits()
        stopped = self.in_flight()
        if stopped:
            log.warning("shutdown: %d run(s) still in flight after %.0fs: stopping them", stopped, timeout)
            self.cancel.set()
            with self._lock:
                owners = [o for o in self._inflight.values() if o.pid is not None]
            for o in owners:
                _signal_owner(o, 15)
        grace = float(self.app.settings.scheduler.kill_grace_seconds) + 5.0
        end = self.monotonic() + grace
        while self._waiting() and self.monotonic() < end:
            self._wake.wait(0.1)
            self._wake.clear()
            self._pump_exits()
        with self._lock:
            threads = [o.thread for o in list(self._inflight.values()) + list(self._delivering.values()) if o.thread]
        for t in threads:
            t.join(timeout=max(0.0, end - self.monotonic()))
        if self.shared and not self.in_flight():
            try:
                with self.app.store.write() as tx:
                    release_daemon(tx, self.daemon_id)
            except SymbiError as exc:  # the lease lapses by itself
                log.warning("could not release the lease: %s", exc)
        self.close()
        return stopped

    def _stand_down_prepared(self) -> None:
        """A stop starts nothing new: the owners of runs prepared ahead of a time not come yet are told to stand
        down (SIGUSR2); each puts its run back in the queue, unstarted, for the next daemon (``RunOwner``). An owner
        whose run started meanwhile ignores it (a TERM would have stopped its agent): its run is drained as usual."""
        now_ms = to_ms(self.app.clock.now())
        with self._lock:
            waiting = [o for o in self._inflight.values() if o.start_ms > now_ms and o.pid is not None]
        for o in waiting:
            _signal_owner(o, signal.SIGUSR2)
        if waiting:
            log.info("stop: %d run(s) prepared for a time not come yet go back to the queue", len(waiting))

    def _waiting(self) -> bool:
        """Whether a run is still in flight (or, for thread owners, still delivering)."""
        with self._lock:
            return bool(self._inflight) or any(o.thread is not None for o in self._delivering.values())

    def _pump_exits(self) -> None:
        """While draining: owners that ended or recorded leave the runs in flight."""
        self._asked["recorded"] += 1
        try:
            self._refresh_in_flight()
            self.sweep()
        except SymbiError as exc:
            log.warning("shutdown: %s", exc)

    def close(self) -> None:
        """Let go of the owners and the fork server (owners carrying a run finish it)."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no run is in flight and nothing is being delivered (tests)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                busy = bool(self._inflight) or bool(self._delivering)
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            if self.pool is not None:
                self._pump_exits()
            time.sleep(0.01)


class Waker:
    """What the loop sleeps on: a pipe, so that a signal handler or another thread can wake it without a lock."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def set(self) -> None:
        try:
            os.write(self._w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the loop is awake anyway

    def clear(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float | None) -> bool:
        import select

        try:
            ready, _, _ = select.select([self._r], [], [], timeout)
        except InterruptedError:
            return True
        return bool(ready)

    def __del__(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class LeaseLapsed(Exception):
    """This daemon's lease lapsed before a claim or a start could commit: it renews before it claims again."""


def _due_ms(run: dict[str, Any]) -> int:
    """When a queued run came due (its not_before, else its slot, else its creation), epoch ms."""
    for key in ("not_before", "scheduled_for", "created_at"):
        if run.get(key) is not None:
            return to_ms(run[key])
    return 0


def _signal_owner(owned: Owned, sig: int) -> None:
    """Signal a run owner, making sure the pid is still that owner's."""
    if owned.pid is None:
        return
    parts = owned.owner_id.split(":")
    ident = parts[4] if len(parts) > 4 and parts[4] != "-" else None
    if not pid_alive(owned.pid) or (ident is not None and process_identity(owned.pid) not in (ident, None)):
        return
    try:
        os.kill(owned.pid, sig)
    except OSError:
        pass
