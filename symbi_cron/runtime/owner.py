"""A run's owner: the one process that carries a run from ``running`` to its recorded outcome and its deliveries.

The supervisor marks a run ``running`` under the owner's id (``owner:PID:RANDOM:HOST:IDENTITY``); from then on the
owner alone executes the agent (command or model, each in its own process group inside the owner's session),
enforces ``max_runtime``, masks and caps the output, writes the run's log, records the outcome (retrying until the
store takes it), writes the deliveries the run owes into the outbox in the same transaction, sends them and stores
each receipt. It needs nothing from the daemon after it starts: a daemon that dies leaves its runs running, and the
next one adopts them (``Supervisor``).

In the daemon an owner is a process forked from the fork server (``runtime.forkserver``); in tests and in the
foreground ``symbi cron run`` the same :class:`RunOwner` runs in a thread of the calling process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import processes, retry
from ..errors import SymbiError
from ..models import FAILURE_RUN_STATUSES
from ..services.app import App
from ..services.record import finish_locked, max_retries_of
from ..services.start import begin_run
from ..store import runs as run_rows
from ..timeutil import to_ms
from ..vocab import SCHEDULED_TRIGGERS, JobStatus, RunStatus
from .execute import RunContext, RunOutcome, execute_run
from .executor import NotStarted

log = logging.getLogger("symbi.scheduler")

#: The longest wait between two attempts to record an outcome the store refused (full disk, outage).
RECORD_RETRY_MAX_SECONDS = 5.0
#: The waits between those attempts: 0.2 s, doubling, at most RECORD_RETRY_MAX_SECONDS.
RECORD_BACKOFF = retry.Backoff(0.2, cap=RECORD_RETRY_MAX_SECONDS)
#: A run prepared ahead of its time looks at its cancel flag this often while it waits for that time.
START_WAIT_POLL_SECONDS = 0.25
#: A prepared run whose agent started this much after its time or more is recorded with its real start.
LATE_START_MS = 1000
#: A prepared run checks, this long before its time, that it is still this owner's and its job still active
#: (one read of the store): at its time only its agent is released. A pause that comes later than that is too
#: late for the run, like one that comes just after its time; a cancel or a stop is seen until the last moment.
CHECK_AHEAD_SECONDS = 0.2
#: In a burst (runs prepared to start at the same time), each owner leaves the CPU to the burst's agents for
#: this long per run of the burst once its own agent is released, before it looks after it ...
SETTLE_PER_RUN_SECONDS = 0.0005
#: ... at most this long.
SETTLE_MAX_SECONDS = 0.25
#: A failure to record is logged at most this often (the attempts go on).
RECORD_LOG_EVERY_SECONDS = 60.0


def ignore_signals(*sigs: int) -> None:
    """Ignore ``sigs`` in this process, and turn every signal it inherited as ignored (a daemon ignores the
    terminal's job-control signals) into one it handles by doing nothing: an ignored signal passes through
    ``exec`` to the agents an owner starts (a shell agent could not even trap it), a handled one is reset to its
    default there. ``SIGPIPE`` and ``SIGXFSZ`` are left to ``subprocess``, which resets them for the agent."""
    import signal

    def nothing(*_: Any) -> None:
        pass

    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ):
            continue
        try:
            if sig in sigs or signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, nothing)
        except (OSError, ValueError):
            pass  # a signal number the platform reserves (the real-time ones glibc keeps)


class Flag:
    """A cancel flag a signal handler may set: no lock (``threading.Event.set`` in a handler can deadlock against
    the main thread inside the same event). The executor only asks :meth:`is_set`."""

    def __init__(self) -> None:
        self._set = False
        #: Why: "shutdown" (the daemon's drain: the run is interrupted), "cancel" (a user asked: cancelled) or
        #: "stand_down" (a stopping daemon's word to an owner whose run waits for its time: back to the queue).
        self.reason = "shutdown"
        #: True while a run prepared ahead waits for its time: only then does a stand-down mean anything (it
        #: arrives by signal, and must never stop an agent that started meanwhile).
        self.waiting = False

    def stand_down(self) -> None:
        """From a signal handler: put the run back in the queue if it has not started (ignored once it has)."""
        if self.waiting:
            self.set("stand_down")

    def set(self, reason: str = "shutdown") -> None:
        self.reason = reason
        self._set = True

    def clear(self) -> None:
        self._set = False
        self.reason = "shutdown"

    def is_set(self) -> bool:
        return self._set


class RunOwner:
    """Carries the runs held under ``owner_id``: execute, record, deliver."""

    def __init__(
        self,
        app: App,
        owner_id: str,
        *,
        stdout: TextIO | None = None,
        echo: TextIO | None = None,
        cancel: Any = None,
        actor: str = "daemon",
        agents_in_own_session: bool = True,
        on_recorded: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.owner_id = owner_id
        self.stdout = stdout
        self.echo = echo
        self.cancel = cancel
        self.actor = actor
        self.agents_in_own_session = agents_in_own_session
        self.on_recorded = on_recorded
        self.sleep = sleep
        self._withheld: tuple[Any, frozenset[str]] | None = None
        #: When the agent of a run prepared ahead really started (epoch ms, the app's clock).
        self.started_at_ms: int | None = None

    def warm_up(self, *, connect: bool) -> None:
        """Do now, while idle, what the first run would otherwise do: the variables no agent inherits, and with
        ``connect``, the store opened and its schema read (owners are forked ahead of a burst, and a burst's first
        runs are every owner's first). A database server counts its connections: on
        PostgreSQL an owner connects when it first carries a run."""
        self.withheld()
        if not connect:
            return

        def touch() -> None:
            try:
                run_rows.status_of(self.app.store.connection(), "")
            except Exception:
                pass  # the first run opens it (and says what is wrong)

        touch()

    def withheld(self) -> frozenset[str]:
        """The variables the configuration refers to (no agent inherits them), once per configuration."""
        settings = self.app.settings
        if self._withheld is None or self._withheld[0] is not settings:
            from ..config import referenced_env

            self._withheld = (settings, frozenset(referenced_env(settings)))
        return self._withheld[1]

    def now_ms(self) -> int:
        return to_ms(self.app.clock.now())

    # -- one run -----------------------------------------------------------------------------------------------
    def carry(self, run_id: str, begun: Any = None) -> dict[str, Any] | None:
        """Execute the run this owner holds, record its outcome, send what it owes; return the run as recorded.
        None when the run is not (or no longer) this owner's to run. ``begun``: the run, its job, agent and previous
        summary as the transaction that began it under this owner read them (``services.start.Begun``, handed over
        by the daemon): then nothing is read again before the agent starts (a model agent reads its budgets)."""
        from ..services.budgets import is_model_agent, run_limits
        from ..store import agents as agent_rows
        from ..store import jobs as job_rows
        from ..store import runs as run_rows

        app = self.app
        together = 1
        if begun is not None and begun.run["id"] == run_id and begun.run.get("daemon_id") == self.owner_id:
            run, job, agent, prev = begun.run, begun.job, begun.agent, begun.previous_summary
            together = getattr(begun, "together", 1)
            limits = []
            if agent is not None and is_model_agent(agent):
                with app.store.read() as conn:
                    limits = run_limits(
                        conn, job, agent, models_cfg=app.settings.models, env=app.env, now=app.clock.now()
                    )
        else:
            with app.store.read() as conn:
                run = run_rows.get(conn, run_id)
                if run is None or run["status"] != RunStatus.running or run.get("daemon_id") != self.owner_id:
                    return None
                job = job_rows.get(conn, run["job_id"])
                if job is None:
                    return None
                agent = agent_rows.get(conn, job["agent_id"])
                prev = run_rows.previous_summary(conn, job["id"], before_run=run_id)
                limits = run_limits(conn, job, agent, models_cfg=app.settings.models, env=app.env, now=app.clock.now())
        start_at = run["started_at"].timestamp() if run.get("started_at") is not None else None
        # Begun before its time (its start is later than the write that began it): the owner waits for that time,
        # and then checks its job is still active, however late it got the run.
        began = run.get("updated_at")
        ahead = start_at is not None and began is not None and run["started_at"] > began
        # While this file is there the run's agent has not been released: a daemon that finds this owner dead
        # with it there puts the run back in the queue, unstarted, whatever the time (not interrupted).
        prepared = ahead and start_at is not None
        held_mark = _mark_held(app.paths.run_held_mark(run_id)) if prepared else None
        sched = app.settings.scheduler
        max_runtime = (job.get("policy") or {}).get("max_runtime")
        ctx = RunContext(
            paths=app.paths,
            job=job,
            run=run,
            agent=agent,
            input_text=str(run["input"] if run.get("input") is not None else (job.get("input") or "")),
            previous_summary=prev,
            output_cap=sched.output_cap_bytes,
            kill_grace=sched.kill_grace_seconds,
            max_runtime=float(max_runtime) if max_runtime else None,
            cancel=self.cancel,
            echo=self.echo,
            base_env=app.env,
            settings=app.settings,
            withheld=self.withheld(),
            agents_in_own_session=self.agents_in_own_session,
            budget=limits or None,
            start_at=start_at if ahead else None,
            ready=self._at_start(run, job, start_at, held_mark) if prepared and start_at is not None else None,
            settle=min(SETTLE_MAX_SECONDS, SETTLE_PER_RUN_SECONDS * together) if together > 1 else 0.0,
        )
        log.info(
            "run %s of job %s %s (%s, attempt %s)",
            run_id[:8],
            job["name"],
            f"prepared to start at {run['started_at'].isoformat(timespec='milliseconds')}"
            if ahead and start_at is not None and start_at > app.clock.now().timestamp()
            else "started",
            run["trigger"],
            run["attempt"],
        )
        self.started_at_ms = None
        app.store.give_back()  # nothing to ask the store while the agent runs (a run owner on PostgreSQL)
        try:
            outcome = execute_run(ctx)
        except NotStarted as stop:
            _unmark(held_mark)  # before the run is recorded: a mark never outlives its run's time under this owner
            return self._not_started(run_id, job, stop)
        except Exception as exc:  # a bug or an OS error around the agent: the run fails, the owner goes on
            log.exception("run %s of job %s could not be executed", run_id[:8], job["name"])
            outcome = RunOutcome(RunStatus.failed, None, "", None, f"internal error running the agent: {exc}", 0, 0)
        _unmark(held_mark)  # gone already when its agent was released
        if outcome.status == RunStatus.interrupted and getattr(self.cancel, "reason", "") == "cancel":
            # Someone asked (`symbi cron cancel`, Ctrl-C on `cron run --wait --cancel-on-interrupt`): not a failure.
            outcome.status, outcome.error_message = RunStatus.cancelled, "cancelled on request (the agent was stopped)"
        # A prepared run whose agent started a second or more after its time (its owner frozen or starved at the
        # slot) is recorded as starting when it did, not at the time it was prepared for.
        late = ahead and self.started_at_ms is not None and start_at is not None
        started_ms = self.started_at_ms if late and self.started_at_ms - start_at * 1000 >= LATE_START_MS else None
        finished = self.record(run_id, outcome, started_ms=started_ms)
        if self.on_recorded is not None:
            self.on_recorded()  # recorded, or no longer this owner's (refused, removed): its place is free either way
        if finished is None:
            return None
        level = logging.INFO if finished["status"] == RunStatus.succeeded else logging.WARNING
        log.log(
            level,
            "run %s of job %s %s in %s ms%s",
            run_id[:8],
            job["name"],
            finished["status"],
            outcome.duration_ms,
            f": {outcome.error_message}" if outcome.error_message else "",
        )
        if job.get("delivery"):
            self.deliver(run_id)
        return finished

    # -- a run prepared ahead of its time ------------------------------------------------------------------------
    def _at_start(
        self, run: dict[str, Any], job: dict[str, Any], start_at: float, held_mark: Path | None
    ) -> Callable[[], None]:
        """What the executor calls when the agent is ready to start (the directory, the log, the environment and the
        held agent are ready): wait, watching the cancel flag, until ``CHECK_AHEAD_SECONDS`` before the run's start
        time; check the run is still this owner's and a scheduled run's job still active (like ``begin_run``: a job
        paused meanwhile does not run it); wait for the start time. The last thing before the agent is released:
        ``held_mark`` is removed."""

        def stopped() -> None:
            if self.cancel is not None and self.cancel.is_set():
                if getattr(self.cancel, "reason", "") == "cancel":
                    raise NotStarted("cancelled on request before it started", requeue=False)
                raise NotStarted("the scheduler stopped before the run's start time", requeue=True)

        def wait(until: float) -> None:
            while True:
                stopped()
                left = until - self.app.clock.now().timestamp()
                if left <= 0:
                    return
                self.sleep(min(left, START_WAIT_POLL_SECONDS))

        def ready() -> None:
            if isinstance(self.cancel, Flag):
                self.cancel.waiting = True  # a stand-down counts from now ...
            try:
                wait(start_at - CHECK_AHEAD_SECONDS)
                self._check_until_read(run, job, stopped)
                wait(start_at)
            finally:
                if isinstance(self.cancel, Flag):
                    self.cancel.waiting = False  # ... until here: one that came meanwhile is seen just below
            stopped()
            _unmark(held_mark)  # from here on the agent may have run: an owner that dies now leaves it interrupted
            self.started_at_ms = to_ms(self.app.clock.now())  # the agent's process starts now

        return ready

    def _check_until_read(self, run: dict[str, Any], job: dict[str, Any], stopped: Callable[[], None]) -> None:
        """:meth:`_check_still_to_start`, tried again until the store answers (an outage, a server out of
        connections): the run starts late rather than unchecked or failed. Logged once, when it is back too."""
        from ..outage import Outage

        trouble = Outage(log, f"run {run['id'][:8]} of job {job['name']}: the store", states=("unreachable", "back"))

        def attempt(t: retry.Try) -> Any:
            stopped()
            try:
                self._check_still_to_start(run, job)
            except SymbiError as exc:
                trouble.failed(f"{exc}; the run waits for it before it starts")
                return retry.Again(str(exc), value=exc)
            return True

        try:
            retry.run(attempt, retries=None, backoff=RECORD_BACKOFF, sleep=self.sleep)
        finally:
            trouble.ok()
            self.app.store.give_back()  # the agent runs next: no connection held meanwhile

    def _check_still_to_start(self, run: dict[str, Any], job: dict[str, Any]) -> None:
        """Just before its time, a prepared run goes on only if it is still this owner's and its job still active."""
        from ..store import jobs as job_rows

        conn = self.app.store.connection()
        # Still this owner's? One frozen through its wait (a lapsed lease: another daemon recorded the run and
        # owns its retry) must not start it too.
        state = run_rows.statuses(conn, [run["id"]]).get(run["id"])
        if state != (RunStatus.running, self.owner_id):
            raise NotStarted(f"the run is no longer this owner's ({state[0] if state else 'removed'})", requeue=False)
        if run["trigger"] in SCHEDULED_TRIGGERS:
            status = job_rows.status_of(conn, job["id"])
            if status != JobStatus.active:
                raise NotStarted(f"job is {status or 'removed'}: the run was not started", requeue=False)

    def _not_started(self, run_id: str, job: dict[str, Any], stop: NotStarted) -> dict[str, Any] | None:
        """A prepared run that did not start: back to the queue (the daemon stopped before its time: the next one
        starts it) or ``cancelled`` with the reason (cancelled on request, its job paused), recorded as a queued
        run cancelled would be: never started, no delivery owed. Returns the run cancelled, else None."""
        from ..services.start import cancel_unstarted, requeue_unstarted

        def attempt(t: retry.Try) -> Any:
            try:
                with self.app.store.write() as tx:
                    if stop.requeue:
                        return requeue_unstarted(tx, run_id, owner=self.owner_id, now_ms=self.now_ms())
                    return cancel_unstarted(tx, run_id, owner=self.owner_id, now_ms=self.now_ms(), reason=stop.reason)
            except SymbiError as exc:
                return retry.Again(str(exc), value=exc)

        done = retry.run(attempt, retries=None, backoff=RECORD_BACKOFF, sleep=self.sleep)
        if not done:
            log.warning("run %s of job %s was not started: %s", run_id[:8], job["name"], stop.reason)
        elif stop.requeue:
            log.info("run %s of job %s queued again, unstarted: %s", run_id[:8], job["name"], stop.reason)
        else:
            log.info("run %s of job %s did not start: %s", run_id[:8], job["name"], stop.reason)
        if self.on_recorded is not None:
            self.on_recorded()  # either way it is no longer this owner's run: its place is free
        return done if isinstance(done, dict) else None

    # -- recording ---------------------------------------------------------------------------------------------
    def record(self, run_id: str, outcome: RunOutcome, *, started_ms: int | None = None) -> dict[str, Any] | None:
        """Record the outcome and the deliveries it owes, in one transaction; retried until the store takes it (a
        full disk or a database outage only delays it). None when the run is gone (its job was removed) or was
        recorded by someone else meanwhile (a recovery that judged this owner dead)."""
        last_logged = 0.0

        def attempt(t: retry.Try) -> dict[str, Any] | None | retry.Again:
            try:
                return self._record_once(run_id, outcome, started_ms)
            except SymbiError as exc:
                return retry.Again(str(exc), value=exc)

        def note(again: retry.Again, attempts: int, wait: float) -> None:
            nonlocal last_logged
            now = time.monotonic()
            if now - last_logged >= RECORD_LOG_EVERY_SECONDS:
                log.error(
                    "cannot record the outcome of run %s yet (attempt %d; retrying until the store takes it): %s",
                    run_id[:8],
                    attempts,
                    again.value,
                )
                last_logged = now

        return retry.run(attempt, retries=None, backoff=RECORD_BACKOFF, sleep=self.sleep, on_retry=note)

    def _record_once(self, run_id: str, outcome: RunOutcome, started_ms: int | None = None) -> dict[str, Any] | None:
        from ..services.delivery import owe_deliveries
        from ..store import jobs as job_rows
        from ..store import runs as run_rows

        app = self.app
        now_ms = self.now_ms()
        with app.store.write() as tx:
            # Locked (its job, then the run) until this commits: whoever recorded it first, the other sees it final.
            run = run_rows.get_for_finish(tx, run_id)
            if run is None:
                return None
            if run["status"] != RunStatus.running or run.get("daemon_id") != self.owner_id:
                log.warning(
                    "run %s was recorded %s by another process while this owner ran it (its lease had lapsed and"
                    " the run was taken over): its outcome (%s) is refused",
                    run_id[:8],
                    run["status"],
                    outcome.status,
                )
                return None
            finished, job = finish_locked(
                tx,
                run,
                status=outcome.status,
                now_ms=now_ms,
                exit_code=outcome.exit_code,
                output=outcome.output,
                summary=outcome.summary,
                error_message=outcome.error_message,
                iterations=outcome.iterations,
                execution_time_ms=outcome.duration_ms,
                detail=outcome.detail,
                actor=self.actor,
                started_ms=started_ms,
            )
            if job is not None:
                owe_deliveries(tx, job, finished, owner=self.owner_id, now_ms=now_ms)
                # A failure may have dead-lettered the job (its status as it is now, not as it was).
                after = job_rows.get(tx, job["id"]) if outcome.status in FAILURE_RUN_STATUSES else job
                if (
                    after is not None
                    and after["status"] == JobStatus.dead_letter
                    and job["status"] != JobStatus.dead_letter
                ):
                    log.warning(
                        "job %s dead-lettered after %d consecutive failures (max_retries %d); last run %s %s;"
                        " nothing more runs until `symbi cron reset %s`",
                        after["name"],
                        after["failure_count"],
                        max_retries_of(after),
                        run_id[:8],
                        finished["status"],
                        after["name"],
                    )
        return finished

    # -- delivering --------------------------------------------------------------------------------------------
    def deliver(self, run_id: str) -> int:
        """Send every delivery the run owes (the outbox rows this owner holds), storing each receipt as it comes;
        how many were sent."""
        from ..services.delivery import deliver_owed

        try:
            return deliver_owed(self.app, run_id, owner=self.owner_id, stdout=self.stdout, sleep=self.sleep)
        except Exception:  # delivery never fails a run; what is still owed is sent again by a recovery
            log.exception("delivery of run %s failed", run_id[:8])
            return 0


def _mark_held(path: Path) -> Path | None:
    """Create the mark of a run whose agent is not released yet; None when it cannot be written (a full disk: the
    daemon then judges by the run's start time alone)."""
    from ..paths import ensure_private_dir

    try:
        ensure_private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError:
        return None
    return path


def _unmark(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


# -- owners outside the daemon: `symbi cron run` with no daemon ----------------------------------------
def execute_now(
    app: App, run_id: str, *, stdout: TextIO | None = None, echo: TextIO | None = None
) -> dict[str, Any] | None:
    """Start and execute one queued run in this process (this process is the run's owner). Returns the run as
    recorded (still queued when its job is at its limit; ``denied`` or ``pending_approval`` after the gate)."""
    owner_id = processes.owner_id("cli")
    now = app.clock.now()
    begun = _begin_gated(app, run_id, owner_id, now, app.actor)
    if begun is not None:
        RunOwner(app, owner_id, stdout=stdout, echo=echo, actor=app.actor).carry(run_id)
    return run_rows.get(app.store.connection(), run_id)


def _begin_gated(app: App, run_id: str, owner_id: str, now: Any, actor: str) -> Any:
    """Gate a queued run (outside any transaction: AgentPin may fetch keys over the network), then start it."""
    from ..services.approvals import gate_run
    from ..services.start import gate_queued

    with app.store.read() as conn:
        gated = gate_queued(conn, run_id, lambda job, agent: gate_run(app, job, agent, now=now))
    if gated is None:
        return None
    with app.store.write() as tx:
        return begin_run(
            tx, run_id, now_ms=to_ms(now), daemon_id=owner_id, daemon_name=app.daemon_name, gate=gated, actor=actor
        )


def execute_detached(env: dict[str, str] | None, run_id: str, *, stdout: TextIO | None, actor: str) -> int:
    """``symbi cron run`` with no daemon: fork an owner for the run, in a session of its own, and return its pid.
    The command follows the run's log like it follows a daemon's run, and a Ctrl-C stops the following, not the
    run. The owner begins the run (the gate), carries it and exits; ``symbi cron cancel`` (SIGUSR1) stops it.

    The caller must have closed every SQLite connection to the store first: SQLite's per-process lock state on a
    file would cross the fork while the kernel's locks do not, and the parent closing its connection could then
    checkpoint and remove the WAL under the child's writes (seen: a child's recorded outcome lost)."""
    import signal
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        from ..services.app import open_app

        cancel = Flag()
        signal.signal(signal.SIGUSR1, lambda *_: cancel.set("cancel"))
        signal.signal(signal.SIGTERM, lambda *_: cancel.set())
        ignore_signals(signal.SIGINT)
        app = open_app(env, actor=actor, notify=False)  # its own store connection: none crosses a fork
        owner_id = processes.owner_id("cli")
        begun = _begin_gated(app, run_id, owner_id, app.clock.now(), actor)
        if begun is not None:
            RunOwner(app, owner_id, stdout=stdout, cancel=cancel, actor=actor).carry(run_id)
        code = 0
    except BaseException:  # noqa: BLE001 - the child must never return into the CLI
        try:
            logging.getLogger("symbi").exception("the run's owner failed")
        except Exception:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)
