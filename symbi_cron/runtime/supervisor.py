"""The supervisor: the tick loop, the worker threads that run agents, reload and drain (SPEC §5, §12).

Each tick does three indexed queries when nothing is due (due jobs through the partial index ``jobs_due``, the
earliest ``next_run``, the earliest queued ``not_before``), so its cost does not grow with idle jobs. Due jobs are
claimed in one write transaction (runs inserted, ``next_run`` advanced) before any agent starts; queued runs whose
``not_before`` has come start in order while fewer than ``max_concurrent_jobs`` are in flight; the rest wait.
The loop then sleeps until the next slot, the next queued run, a worker finishing or a reload, and never longer
than ``tick_interval_seconds``.

Signals only set events (:meth:`request_reload`, :meth:`request_stop`); the loop does the work.

On a shared PostgreSQL store (docs/scaling.md) several supervisors tick against one database: each holds a lease in
the ``daemons`` table, renewed every ``lease_seconds / 3`` by the tick (which never sleeps longer than that); each
renewal also records the runs of daemons whose lease lapsed ``interrupted`` (retried per the job's policy by
whoever is alive). A thread LISTENs on the ``symbi_reload`` channel so a change made on any host wakes every
supervisor like SIGHUP.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any, TextIO

from ..errors import SymbiError
from ..priority import SchedulerFirst
from ..services.app import App
from ..store import jobs as job_rows
from ..timeutil import to_ms
from . import lifecycle
from .heartbeat import RunContext, RunOutcome, perform

log = logging.getLogger("symbi.scheduler")
#: Due jobs claimed per transaction (more are claimed at the next, immediate, tick).
CLAIM_BATCH = 500


class RunDriver:
    """Starts and executes runs: gate, agent, record, deliver. Used by the supervisor's workers and by the
    foreground ``symbi cron run``."""

    def __init__(
        self,
        app: App,
        *,
        daemon_id: str,
        stdout: TextIO | None = None,
        cancel: threading.Event | None = None,
        echo: TextIO | None = None,
        actor: str = "daemon",
    ) -> None:
        self.app = app
        self.daemon_id = daemon_id
        self.stdout = stdout
        self.cancel = cancel
        self.echo = echo
        self.actor = actor

    def now_ms(self) -> int:
        return to_ms(self.app.clock.now())

    def begin(self, run_id: str) -> lifecycle.Begun | None:
        """Gate the queued run and mark it running (one transaction); None when it did not start."""
        from ..services.approvals import gate_run

        now = self.app.clock.now()
        with self.app.store.write() as tx:
            return lifecycle.begin_run(
                tx,
                run_id,
                now_ms=to_ms(now),
                daemon_id=self.daemon_id,
                gate=lambda job, agent: gate_run(self.app, job, agent, now=now),
                actor=self.actor,
            )

    def execute(self, begun: lifecycle.Begun) -> dict[str, Any] | None:
        """Run the agent, record the outcome, deliver it; return the finished run."""
        app, job, run = self.app, begun.job, begun.run
        sched = app.settings.scheduler
        max_runtime = (job.get("policy") or {}).get("max_runtime")
        with app.store.read() as conn:
            from .sessions import previous_summary

            prev = previous_summary(conn, job["id"], before_run=run["id"])
        ctx = RunContext(
            paths=app.paths,
            job=job,
            run=run,
            agent=begun.agent,
            input_text=str(run["input"] if run.get("input") is not None else (job.get("input") or "")),
            previous_summary=prev,
            output_cap=sched.output_cap_bytes,
            kill_grace=sched.kill_grace_seconds,
            max_runtime=float(max_runtime) if max_runtime else None,
            cancel=self.cancel,
            echo=self.echo,
            base_env=app.env,
            settings=app.settings,
        )
        log.info(
            "run %s of job %s started (%s, attempt %s)", run["id"][:8], job["name"], run["trigger"], run["attempt"]
        )
        try:
            outcome = perform(ctx)
        except Exception as exc:  # a bug or an OS error around the agent: the run fails, the loop goes on
            log.exception("run %s of job %s could not be executed", run["id"][:8], job["name"])
            outcome = RunOutcome("failed", None, "", None, f"internal error running the agent: {exc}", 0, 0)
        finished = self._record(run["id"], outcome)
        if finished is None:
            return None
        level = logging.INFO if finished["status"] == "succeeded" else logging.WARNING
        log.log(
            level,
            "run %s of job %s %s in %s ms%s",
            run["id"][:8],
            job["name"],
            finished["status"],
            outcome.duration_ms,
            f": {outcome.error_message}" if outcome.error_message else "",
        )
        self._deliver(job, finished, outcome)
        return finished

    def _record(self, run_id: str, outcome: RunOutcome) -> dict[str, Any] | None:
        # A write may fail (full disk, read-only store): keep trying for a while so the outcome is not lost.
        delay = 0.2
        for attempt in range(8):
            try:
                with self.app.store.write() as tx:
                    return lifecycle.finish_run(
                        tx,
                        run_id,
                        status=outcome.status,
                        now_ms=self.now_ms(),
                        exit_code=outcome.exit_code,
                        output=outcome.output,
                        summary=outcome.summary,
                        error_message=outcome.error_message,
                        iterations=outcome.iterations,
                        execution_time_ms=outcome.duration_ms,
                        detail=outcome.detail,
                        actor=self.actor,
                    )
            except SymbiError as exc:
                log.error("cannot record the outcome of run %s (attempt %d): %s", run_id[:8], attempt + 1, exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        return None

    def _deliver(self, job: dict[str, Any], run: dict[str, Any], outcome: RunOutcome) -> None:
        try:
            from ..services.delivery import deliver_run

            deliver_run(self.app, job, run, run.get("output") or outcome.output or "", stdout=self.stdout)
        except Exception:  # delivery never fails a run; the output stays on the run and in its log
            log.exception("delivery of run %s failed", run["id"][:8])


class Supervisor:
    """The scheduler loop of one daemon (or one test): claims slots, starts runs, sleeps."""

    def __init__(
        self,
        app: App,
        *,
        rng: random.Random | None = None,
        daemon_id: str | None = None,
        stdout: TextIO | None = None,
        limits: lifecycle.Limits | None = None,
    ) -> None:
        self.app = app
        self.rng = rng or random.Random()
        self.daemon_id = daemon_id or lifecycle.owner_id("daemon")
        self.limits = limits or lifecycle.Limits.from_settings(app.settings)
        self.cancel = threading.Event()
        self.driver = RunDriver(app, daemon_id=self.daemon_id, stdout=stdout, cancel=self.cancel)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Thread] = {}  # by run id
        self.started_at = app.clock.now()
        self.last_tick_at: Any | None = None
        self.tick_lag_seconds = 0.0
        self.ticks = 0
        self.last_error: str | None = None
        self.queued = 0
        self.shared = getattr(app.store, "dialect", "sqlite") == "postgresql"
        self._lease_renewed_ms: int | None = None
        self._listener: threading.Thread | None = None
        #: Called with (old, new) settings after a reload (services/reload.py): what holds a setting of its own.
        self.reload_appliers: list[Any] = []
        #: Closed while slots are claimed and runs started: the API's requests wait (symbi_cron/priority.py).
        self.priority = SchedulerFirst()

    # -- control (safe from signal handlers and other threads) -------------------------------------------------
    def request_reload(self) -> None:
        """Reload the config and look at the store again at once (SIGHUP)."""
        self._reload.set()
        self._wake.set()

    def request_wake(self) -> None:
        """Look at the store again at once, without re-reading the config (a change made through the API)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop starting runs; :meth:`serve` returns after draining (SIGTERM)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def snapshot(self) -> dict[str, Any]:
        """Cheap state for the health endpoint and metrics (no store access)."""
        return {
            "pid": os.getpid(),
            "daemon_id": self.daemon_id,
            "in_flight": self.in_flight(),
            "queued": self.queued,
            "tick_lag_seconds": round(self.tick_lag_seconds, 3),
            "started_at": self.started_at,
            "last_tick_at": self.last_tick_at,
            "ticks": self.ticks,
            "stopping": self.stopping,
            "last_error": self.last_error,
        }

    # -- the loop ----------------------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark runs left ``running`` by a dead process ``interrupted`` (call once at start; on a shared store
        this also takes the lease, and the tick repeats the check at every renewal)."""
        now_ms = to_ms(self.app.clock.now())
        with self.app.store.write() as tx:
            if self.shared:
                lifecycle.register_daemon(tx, self.daemon_id, now_ms=now_ms, lease_ms=self.lease_ms)
                self._lease_renewed_ms = now_ms
            done = lifecycle.recover_interrupted(tx, me=self.daemon_id, now_ms=now_ms, leases=self.shared)
        if done:
            log.warning(
                "%d run(s) left running by a %s recorded interrupted: %s",
                len(done),
                "daemon whose lease lapsed" if self.shared else "previous supervisor",
                ", ".join(r[:8] for r in done),
            )
        return done

    @property
    def lease_ms(self) -> int:
        store_settings = getattr(self.app.settings, "store", None)
        return int(float(getattr(store_settings, "lease_seconds", 30)) * 1000)

    def _keep_lease(self, now_ms: int) -> None:
        """Shared store: renew the lease every third of its length, and take over lapsed daemons' runs."""
        if self._lease_renewed_ms is not None and now_ms - self._lease_renewed_ms < self.lease_ms // 3:
            return
        with self.app.store.write() as tx:
            held = lifecycle.renew_lease(tx, self.daemon_id, now_ms=now_ms, lease_ms=self.lease_ms)
            done = lifecycle.recover_interrupted(tx, me=self.daemon_id, now_ms=now_ms, leases=True)
        if not held and self._lease_renewed_ms is not None:
            log.error(
                "this daemon's lease had lapsed (%.1fs without renewal): the other daemons may have"
                " recorded its runs interrupted",
                (now_ms - self._lease_renewed_ms) / 1000,
            )
        self._lease_renewed_ms = now_ms
        if done:
            log.warning(
                "%d run(s) of a daemon whose lease lapsed recorded interrupted: %s",
                len(done),
                ", ".join(r[:8] for r in done),
            )

    def _listen(self) -> None:
        """LISTEN on the reload channel; a notification is a reload (like SIGHUP). Reconnects on errors."""
        from ..store.postgres import RELOAD_CHANNEL

        while not self._stop.is_set():
            conn = None
            try:
                conn = self.app.store.raw_connection()  # type: ignore[attr-defined]  # PgStore only
                conn.execute(f"LISTEN {RELOAD_CHANNEL}")
                self.request_reload()  # anything sent while we were not listening
                while not self._stop.is_set():
                    got = False
                    for _n in conn.notifies(timeout=0.5, stop_after=1):
                        got = True
                    if got:
                        self.request_reload()
            except Exception as exc:
                if not self._stop.is_set():
                    log.warning("reload listener: %s; reconnecting", exc)
                    self._stop.wait(1.0)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass

    def tick(self) -> float:
        """One pass: claim due slots, start what may start. Returns the seconds to sleep before the next."""
        if self._reload.is_set():
            self._reload.clear()
            self._reload_config()
        now = self.app.clock.now()
        now_ms = to_ms(now)
        interval = float(self.app.settings.scheduler.tick_interval_seconds)
        if self.shared:
            self._keep_lease(now_ms)
            interval = min(interval, self.lease_ms / 3000)
        conn = self.app.store.connection()
        due = job_rows.due(conn, now_ms, limit=CLAIM_BATCH) if not self.stopping else []
        lag = 0.0
        if due:
            lag = max(0.0, (now_ms - min(to_ms(j["next_run"]) for j in due)) / 1000)
            with self.priority.busy():
                self._claim(due, now_ms)
        started = 0
        if not self.stopping:
            started = self._start_queued(now_ms)
        self.tick_lag_seconds = lag
        self.last_tick_at = now
        self.ticks += 1
        self.last_error = None
        if len(due) >= CLAIM_BATCH:
            return 0.0
        with self.app.store.read() as conn:
            nxt = job_rows.earliest_next_run(conn)
            q = lifecycle.next_queued(conn, now_ms)
            self.queued = lifecycle.count_queued(conn)
        wake = [t for t in (nxt, q) if t is not None]
        delay = interval
        if wake:
            delay = min(interval, max(0.0, (min(wake) - to_ms(self.app.clock.now())) / 1000))
        if started and delay > 0 and self.queued:
            delay = min(delay, 0.05)  # more may start at once if capacity allows
        return delay

    def _claim(self, due: list[dict[str, Any]], now_ms: int) -> None:
        with self.app.store.write() as tx:
            for stale in due:
                job = job_rows.get(tx, stale["id"])  # it may have changed since the read
                if job is None:
                    continue
                res = lifecycle.claim_job(
                    tx, job, now_ms=now_ms, daemon_id=self.daemon_id, rng=self.rng, limits=self.limits
                )
                if res.missed or res.missed_omitted:
                    log.warning(
                        "job %s: %d slot(s) missed while the scheduler was not running%s",
                        job["name"],
                        res.missed + res.missed_omitted,
                        f" ({res.missed_omitted} older ones not recorded)" if res.missed_omitted else "",
                    )
                if res.skipped:
                    log.warning("job %s: slot skipped, the job is at its max_concurrent limit", job["name"])

    def _start_queued(self, now_ms: int) -> int:
        capacity = int(self.app.settings.scheduler.max_concurrent_jobs) - self.in_flight()
        if capacity <= 0:
            return 0
        started = 0
        conn = self.app.store.connection()
        # Jobs found at their max_concurrent: their queued runs stay queued and are left out of the next look,
        # so a long queue of one busy job never hides the due runs of the others behind it.
        full: set[str] = set()
        while started < capacity:
            candidates = lifecycle.startable(conn, now_ms, capacity - started + 20, exclude_jobs=full)
            if not candidates:
                break
            with self.priority.busy():
                for run in candidates:
                    if started >= capacity:
                        break
                    if run["job_id"] in full:
                        continue
                    begun = self.driver.begin(run["id"])
                    if begun is not None:
                        self._spawn(begun)
                        started += 1
                    elif lifecycle.still_queued(conn, run["id"]):
                        full.add(run["job_id"])
        return started

    def _spawn(self, begun: lifecycle.Begun) -> None:
        run_id = begun.run["id"]

        def work() -> None:
            try:
                self.driver.execute(begun)
            except Exception:
                log.exception("worker for run %s crashed", run_id[:8])
            finally:
                with self._lock:
                    self._inflight.pop(run_id, None)
                self.app.store.close()
                self._wake.set()

        t = threading.Thread(target=work, name=f"run-{run_id[:8]}", daemon=True)
        with self._lock:
            self._inflight[run_id] = t
        t.start()

    def _reload_config(self) -> None:
        from ..config import load_settings

        try:
            settings = load_settings(self.app.paths.config_file, self.app.env)
        except SymbiError as exc:
            log.error("reload: keeping the previous configuration: %s", exc)
            return
        from ..services.reload import reloaded

        old, self.app.settings = self.app.settings, settings
        self.limits = lifecycle.Limits.from_settings(settings)
        reloaded(old, settings, log, self.reload_appliers)

    def serve(self, *, on_tick_error: Any = None) -> None:
        """Tick until :meth:`request_stop`; a failing tick is logged and retried, never silent."""
        last_logged: str | None = None
        if self.shared and self._listener is None:
            self._listener = threading.Thread(target=self._listen, name="reload-listener", daemon=True)
            self._listener.start()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self.tick()
                last_logged = None
            except SymbiError as exc:
                self.last_error = str(exc)
                if str(exc) != last_logged:
                    log.error("tick failed: %s", exc)
                    last_logged = str(exc)
                if on_tick_error is not None:
                    on_tick_error(exc)
                delay = float(self.app.settings.scheduler.tick_interval_seconds)
            except Exception as exc:  # a bug: log it with the traceback, keep the scheduler alive
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("tick failed")
                delay = float(self.app.settings.scheduler.tick_interval_seconds)
            if delay > 0:
                self._wake.wait(delay)

    def drain(self, timeout: float | None = None) -> int:
        """Wait up to ``timeout`` (default ``shutdown_timeout_seconds``) for in-flight runs, then stop the rest
        (their agents get TERM, then KILL) so they are recorded ``interrupted``. Returns how many were stopped."""
        if timeout is None:
            timeout = float(self.app.settings.scheduler.shutdown_timeout_seconds)
        deadline = time.monotonic() + timeout
        while self.in_flight() and time.monotonic() < deadline:
            self._wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            self._wake.clear()
        stopped = self.in_flight()
        if stopped:
            log.warning("shutdown: %d run(s) still in flight after %.0fs: stopping them", stopped, timeout)
            self.cancel.set()
        grace = float(self.app.settings.scheduler.kill_grace_seconds) + 5.0
        with self._lock:
            threads = list(self._inflight.values())
        for t in threads:
            t.join(timeout=grace)
        if self.shared and not self.in_flight():
            try:
                with self.app.store.write() as tx:
                    lifecycle.release_daemon(tx, self.daemon_id)
            except SymbiError as exc:  # the lease lapses by itself
                log.warning("could not release the lease: %s", exc)
        return stopped

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no run is in flight (tests)."""
        deadline = time.monotonic() + timeout
        while self.in_flight():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True


def execute_now(
    app: App, run_id: str, *, stdout: TextIO | None = None, echo: TextIO | None = None
) -> dict[str, Any] | None:
    """Start and execute one queued run in this process (``symbi cron run`` with no daemon). Returns the run as
    recorded (still queued when its job is at its limit; ``denied``/``pending_approval`` after the gate)."""
    from ..store import runs as run_rows

    driver = RunDriver(app, daemon_id=lifecycle.owner_id("cli"), stdout=stdout, echo=echo, actor=app.actor)
    begun = driver.begin(run_id)
    if begun is not None:
        driver.execute(begun)
    return run_rows.get(app.store.connection(), run_id)
