"""Run use cases: trigger a job by hand, look a run up, wait for it (SPEC §5, §11 ``cron run``).

A manual run is a ``queued`` run with trigger ``manual``. A running supervisor is told to reload and starts it;
with no supervisor the CLI executes it in the foreground (``runtime.supervisor.execute_now``).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from ..errors import Conflict, InvalidInput, InvalidState, NotFound
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import to_ms
from ..vocab import FINAL_RUN_STATUSES, Event, JobStatus, RunStatus, Trigger
from .app import App
from .jobs import attach_receipts, resolve_job

#: The signal that asks a run's owner process to stop its agent and record the run cancelled.
CANCEL_SIGNAL_NAME = "SIGUSR1"
#: Statuses from which a manual trigger is refused (the job will not run again until reset).
_NO_TRIGGER = (JobStatus.dead_letter,)


def insert_unscheduled(conn, *, job_id: str, trigger: str, status: str, now_ms: int, **fields: Any) -> str:
    """Insert a run that is not a cron slot (manual, retry, catch-up) and return its id.

    Its ``scheduled_for`` is the moment it was asked for, moved off whole seconds (where cron slots live) and
    bumped by a millisecond on a clash, so it never takes the place of a slot (UNIQUE(job_id, scheduled_for)).
    """
    at = int(now_ms)
    run_id = str(uuid.uuid4())
    for _ in range(10_000):
        if at % 1000 == 0:
            at += 1
        if run_rows.insert(
            conn, id=run_id, job_id=job_id, trigger=trigger, status=status, scheduled_for=at, now_ms=now_ms, **fields
        ):
            return run_id
        at += 1
    raise InvalidState("could not find a free instant for the run (too many runs at once)")


def queue_manual(app: App, ref: str, *, input_text: str | None = None) -> dict[str, Any]:
    """Queue a manual run of the job (trigger ``manual``); a running supervisor is told to start it.

    Refused for a dead-lettered job (reset it first). Returns the run, with ``job_name``.
    """
    if input_text is not None and not isinstance(input_text, str):
        raise InvalidInput("must be text", field="input")
    now_ms = to_ms(app.clock.now())
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        if job["status"] in _NO_TRIGGER:
            raise InvalidState(f"job {job['name']!r} is {job['status']}: run `symbi cron reset {job['name']}` first")
        run_id = insert_unscheduled(
            tx,
            job_id=job["id"],
            trigger=Trigger.manual,
            status=RunStatus.queued,
            now_ms=now_ms,
            input=input_text,
            not_before=now_ms,
        )
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.job_triggered,
            actor=app.actor,
            job_id=job["id"],
            job_name=job["name"],
            run_id=run_id,
            details={"input_given": input_text is not None},
        )
        app.changed()
        run = run_rows.get(tx, run_id)
    assert run is not None
    run["job_name"] = job["name"]
    return run


def resolve_run(conn, ref: str) -> dict[str, Any]:
    """The run named by its id or a unique id prefix (at least 4 characters)."""
    if not ref or not isinstance(ref, str):
        raise InvalidInput("a run id or id prefix is required", field="run")
    matches = run_rows.find(conn, ref.strip())
    if not matches:
        hint = " (give at least 4 characters of the id)" if len(ref.strip()) < 4 else ""
        raise NotFound(f"no run with id or id prefix {ref!r}{hint}")
    if len(matches) > 1:
        ids = ", ".join(m["id"][:12] for m in matches[:5])
        raise Conflict(f"{ref!r} matches several runs: {ids}; give more of the id")
    return matches[0]


def get_run(app: App, run_id: str) -> dict[str, Any]:
    """One run by id (or unique prefix), with its job's name and delivery receipts."""
    with app.store.read() as conn:
        run = resolve_run(conn, run_id)
        job_name = job_rows.name_of(conn, run["job_id"])
        attach_receipts(conn, [run])
    run["job_name"] = job_name
    return run


def is_final(run: dict[str, Any]) -> bool:
    return run.get("status") in FINAL_RUN_STATUSES


def wait_for_run(
    app: App, run_id: str, *, timeout: float | None = None, poll: float = 0.1, on_poll: Any = None
) -> dict[str, Any]:
    """Poll until the run reaches a final status (or ``timeout`` seconds pass); return it as last seen.

    ``on_poll()`` is called between polls (``--wait`` uses it to stream the run's log).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        rows = run_rows.find(app.store.connection(), run_id)
        if not rows:
            raise NotFound(f"run {run_id} no longer exists (its job was removed?)")
        run = rows[0]
        if on_poll is not None:
            on_poll()
        if is_final(run) or (deadline is not None and time.monotonic() >= deadline):
            return run
        time.sleep(poll)


def cancel_run(app: App, run_id: str) -> dict[str, Any]:
    """Cancel a run: a queued one (or one waiting for approval) is ``cancelled`` at once; a running one is asked to
    stop: its owner (the daemon's run owner or a foreground ``symbi cron run``, on this host) stops the agent (TERM,
    then KILL) and records it ``cancelled`` (not a failure: no retry). Returns the run as it is now."""
    import signal

    from ..processes import owner_pid_on_this_host

    now_ms = to_ms(app.clock.now())
    with app.store.write() as tx:
        run = resolve_run(tx, run_id)
        job_name = job_rows.name_of(tx, run["job_id"])
        if is_final(run):
            raise InvalidState(f"run {run['id'][:8]} is already {run['status']}")
        if run["status"] == RunStatus.running:
            pid = owner_pid_on_this_host(run.get("daemon_id"))
            if pid is None:
                raise InvalidState(
                    f"run {run['id'][:8]} runs under {run.get('daemon_id') or 'an unknown owner'}, which this host"
                    " cannot signal; cancel it where it runs"
                )
            detail = dict(run.get("detail") or {})
            detail["cancel_requested"] = {"by": app.actor, "at": now_ms}
            run_rows.update(tx, run["id"], now_ms=now_ms, detail=detail)
        else:
            pid = None
            run_rows.update(
                tx,
                run["id"],
                now_ms=now_ms,
                status=RunStatus.cancelled,
                finished_at=now_ms,
                error_message=f"cancelled by {app.actor} before it started",
            )
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.run_cancelled,
            actor=app.actor,
            job_id=run["job_id"],
            job_name=job_name,
            run_id=run["id"],
            details={"status": run["status"]},
        )
        app.changed()
    if pid is not None:
        try:
            os.kill(pid, getattr(signal, CANCEL_SIGNAL_NAME))
        except OSError:
            pass  # it ended meanwhile: its outcome stands
    with app.store.read() as conn:
        out = run_rows.get(conn, run["id"])
    assert out is not None
    return out
