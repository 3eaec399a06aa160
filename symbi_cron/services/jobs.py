"""Job use cases shared by the CLI, the HTTP API and the Python client (SPEC §4, §11).

Every change is one transaction under the store's file lock, writes its audit event with the actor, and tells a
running supervisor to reload once committed. Jobs are plain dicts in the JSON shape of SPEC §4.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput, InvalidState, NotFound
from ..store import agents as agent_rows
from ..store import jobs as job_rows
from ..store import runs as run_rows
from ..store.audit import append_event
from ..timeutil import load_zone, to_ms
from ..vocab import ChannelName, Event, JobStatus, RunStatus
from .app import App

if TYPE_CHECKING:
    from ..models import JobSpec

#: Audit event types written here.


# -- validation and schedule math ------------------------------------------------------------------------------
def validate_spec(app: App, data: JobSpec | dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Check a job spec completely and return it normalised (time zone and retries filled in, ``at`` with an
    offset).

    Raises InvalidInput naming the field: unknown fields, wrong types, a bad cron expression, an unknown time
    zone, an ``at`` in the past, delivery channels the job cannot use (see :func:`spec_problems`).
    """
    clean, problems = spec_problems(app, data, now=now)
    if problems:
        raise problems[0]
    return clean


def spec_problems(
    app: App, data: JobSpec | dict[str, Any], *, now: datetime | None = None, past_ok: bool = False
) -> tuple[dict[str, Any], list[InvalidInput]]:
    """The spec normalised, and every problem only the service can see, each an InvalidInput naming its field:
    an unknown time zone, a bad cron expression, an ``at`` in the past (unless ``past_ok``: a one-shot that ran
    and is written back unchanged), a webhook without ``webhook_url``, email without (or with malformed)
    ``email_recipients``, a ``custom:NAME`` channel nobody defines. ``symbi cron validate`` and ``add`` both
    ask this, so they give the same answer. Model errors (wrong types, unknown fields) are raised at once.
    """
    from ..models import JobSpec, validation_error

    if isinstance(data, JobSpec):
        spec = data
    else:
        if not isinstance(data, dict):
            raise InvalidInput("expected a JSON object with the job's fields")
        from pydantic import ValidationError

        try:
            spec = JobSpec.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc) from None
    problems: list[InvalidInput] = []
    out = spec.model_dump(mode="json")
    if out.get("timezone") is None:
        out["timezone"] = app.settings.timezone_name
    try:
        zone = load_zone(out["timezone"], field="timezone")
    except InvalidInput as exc:
        problems.append(exc)
        zone = None
    if out.get("max_retries") is None:
        out["max_retries"] = app.settings.scheduler.default_max_retries
    if out.get("cron_expr") is not None:
        from ..errors import CronError
        from ..timing import parse

        out["cron_expr"] = " ".join(out["cron_expr"].split())
        try:
            parse(out["cron_expr"])
        except CronError as exc:  # name the job field and the cron field: "cron_expr: hour: 24 is out of range"
            problems.append(CronError(str(exc), field="cron_expr", details={"cron_field": exc.field}))
    elif zone is not None:
        at = spec.at
        assert at is not None
        if at.tzinfo is None:  # written without an offset: the job's own zone's wall time
            at = at.replace(tzinfo=zone)
        now = now or app.clock.now()
        if at <= now and not past_ok:
            problems.append(
                InvalidInput(
                    f"{at.isoformat()} is in the past (now is {now.astimezone(zone).isoformat(timespec='seconds')})",
                    field="at",
                )
            )
        out["at"] = at.astimezone(zone).isoformat()
    problems += delivery_problems(app, out)
    return out, problems


def delivery_problems(app: App, spec: dict[str, Any]) -> list[InvalidInput]:
    """What keeps the job's channels from ever delivering, found when the job is written rather than at its
    first run: a webhook without ``webhook_url``, email without or with malformed ``email_recipients``, a
    ``custom:NAME`` defined neither in config ``[custom_channels]`` nor by a plug-in."""
    from ..envref import has_env_ref

    channels = spec.get("delivery") or []
    out: list[InvalidInput] = []
    if ChannelName.webhook in channels and not (spec.get("webhook_url") or "").strip():
        out.append(
            InvalidInput(
                "the webhook channel needs a webhook_url to POST to", field="webhook_url", details={"near": "delivery"}
            )
        )
    if ChannelName.email in channels and not spec.get("email_recipients"):
        out.append(
            InvalidInput(
                "the email channel needs at least one address in email_recipients",
                field="email_recipients",
                details={"near": "delivery"},
            )
        )
    for i, address in enumerate(spec.get("email_recipients") or []):
        if not has_env_ref(address) and not email_address_ok(address):
            out.append(
                InvalidInput(
                    f"{address!r} is not an email address (expected name@example.com or Name <name@example.com>)",
                    field=f"email_recipients.{i}",
                )
            )
    for ch in channels:
        if ch.startswith("custom:") and not custom_channel_known(app, ch[len("custom:") :]):
            defined = ", ".join(sorted(app.settings.custom_channels)) or "none"
            out.append(
                InvalidInput(
                    f"unknown channel {ch!r}: define {ch[len('custom:') :]} in config [custom_channels] (defined:"
                    f" {defined}) or install a plug-in for the entry-point group symbi_cron.delivery",
                    field="delivery",
                )
            )
    return out


def email_address_ok(text: str) -> bool:
    """``name@example.com`` or ``Name <name@example.com>``: one ``@``, a local part and a domain of letters,
    digits, dots and hyphens (``localhost`` too), no blanks."""
    import re
    from email.utils import parseaddr

    _name, addr = parseaddr(text.strip())
    if not addr or addr != addr.strip() or " " in addr or addr.count("@") != 1:
        return False
    local, domain = addr.split("@")
    labels = domain.split(".")
    return bool(local) and all(re.fullmatch(r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?", label) for label in labels)


def custom_channel_known(app: App, name: str) -> bool:
    """Whether ``custom:NAME`` can be sent: a ``[custom_channels]`` entry, or a plug-in's entry point."""
    if name in (app.settings.custom_channels or {}):
        return True
    from ..delivery.custom import find_entry_point

    return find_entry_point(name) is not None


def next_fire(spec: dict[str, Any], after: datetime) -> datetime | None:
    """The job's first slot strictly after ``after`` (None when a one-shot has passed)."""
    zone = load_zone(spec["timezone"], field="timezone")
    if spec.get("cron_expr"):
        from ..timing import parse

        return parse(spec["cron_expr"]).next_after(after, zone)
    from ..timeutil import parse_instant

    at = parse_instant(spec["at"], field="at")
    return at if at > after else None


def upcoming_runs(job: dict[str, Any], count: int) -> list[datetime]:
    """The job's next ``count`` slots from its ``next_run`` (none unless it is active)."""
    first = job.get("next_run")
    if job["status"] != JobStatus.active or first is None:
        return []
    out = [first]
    while len(out) < count:
        nxt = next_fire(job, out[-1])
        if nxt is None:
            break
        out.append(nxt)
    return out


def named_policy(app: App, policy_ids: list[str]) -> dict[str, Any]:
    """The policies named in config ``[policies]``, merged in order (a later one's keys win), as a job's policy."""
    from pydantic import ValidationError

    from ..models import Policy, validation_error

    defined = app.settings.policies
    unknown = [p for p in policy_ids if p not in defined]
    if unknown:
        names = ", ".join(sorted(defined)) or "none are defined in config [policies]"
        raise InvalidInput(f"unknown policy {unknown[0]!r} (defined: {names})", field="policy_ids")
    merged: dict[str, Any] = {}
    for p in policy_ids:
        merged.update(defined[p])
    try:
        return Policy.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        raise validation_error(exc, prefix="policy_ids.") from None


def _ms(dt: datetime | None) -> int | None:
    return to_ms(dt) if dt else None


# -- lookups ---------------------------------------------------------------------------------------------------
def resolve_job(conn, ref: str) -> dict[str, Any]:
    """The job named by id, unique id prefix, or name; NotFound or Conflict (ambiguous prefix)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("a job id, id prefix or name is required", field="job")
    ref = ref.strip()  # names are stored trimmed (JobSpec), ids have no blanks: `"nightly "` means nightly
    matches = job_rows.find(conn, ref)
    if not matches:
        raise NotFound(f"no job with id, id prefix or name {ref!r}")
    if len(matches) > 1:
        names = ", ".join(f"{m['id'][:8]} ({m['name']})" for m in matches[:5])
        raise Conflict(f"{ref!r} matches several jobs: {names}; give more of the id")
    return matches[0]


def get_job_by_name(app: App, name: str) -> dict[str, Any]:
    """The job with exactly this name (no id or prefix matching: ``remove --name``)."""
    job = job_rows.by_name(app.store.connection(), name.strip())
    if job is None:
        raise NotFound(f"no job named {name!r}")
    return job


def get_job(app: App, ref: str) -> dict[str, Any]:
    """One job by id, unique id prefix or name."""
    return resolve_job(app.store.connection(), ref)


def list_jobs(
    app: App,
    *,
    status: str | None = None,
    agent: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Jobs, by name, optionally filtered by status and agent; ``after`` (a job name) and ``limit`` read a page."""
    if status is not None:
        from ..vocab import JobStatus

        valid = [s.value for s in JobStatus]
        if status not in valid:
            raise InvalidInput(f"unknown status {status!r} (expected one of {', '.join(valid)})", field="status")
    return job_rows.list_jobs(app.store.connection(), status=status, agent=agent, after=after, limit=limit)


def agent_warnings(app: App, spec: dict[str, Any]) -> list[str]:
    """Warnings a user should see when adding a job (nothing stops the add): an agent not registered yet, secrets
    written literally instead of as ``${VAR}`` references."""
    from ..config import literal_secret_warnings
    from ..envref import unset_ref_warnings

    out = literal_secret_warnings(spec.get("webhook_headers") or {}, "webhook header")
    out += literal_secret_warnings({"agent_pin_jwt": spec.get("agent_pin_jwt")}, "job field")
    env = app.env
    out += unset_ref_warnings(spec.get("webhook_headers") or {}, "webhook header", env)
    out += unset_ref_warnings({"webhook_url": spec.get("webhook_url")}, "job field", env)
    if agent_rows.get(app.store.connection(), spec["agent_id"]) is None:
        out.append(
            f"agent {spec['agent_id']!r} is not registered: its runs will fail until it is"
            f" (symbi agent add {spec['agent_id']} --command ...)"
        )
    return out


# -- changes ---------------------------------------------------------------------------------------------------
def create_job(app: App, spec: JobSpec | dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """Add a job (or replace the one with the same name when ``replace``); return it."""
    now = app.clock.now()
    clean = validate_spec(app, spec, now=now)
    first = next_fire(clean, now)
    with app.store.write() as tx:
        existing = job_rows.find(tx, clean["name"])
        existing = [j for j in existing if j["name"] == clean["name"]]
        if existing and not replace:
            raise Conflict(
                f"a job named {clean['name']!r} exists (id {existing[0]['id'][:8]}); use --replace or another name",
                field="name",
            )
        if existing:
            job = existing[0]
            job_rows.update_spec(tx, job["id"], clean, next_run=_ms(first), now_ms=to_ms(now))
            job_rows.set_state(tx, job["id"], now_ms=to_ms(now), status=JobStatus.active, failure_count=0)
            _audit(app, tx, Event.job_updated, job["id"], clean["name"], {"replaced": True})
            job_id = job["id"]
        else:
            job_id = str(uuid.uuid4())
            job_rows.insert(tx, id=job_id, spec=clean, status=JobStatus.active, next_run=_ms(first), now_ms=to_ms(now))
            _audit(
                app,
                tx,
                Event.job_created,
                job_id,
                clean["name"],
                {
                    "agent_id": clean["agent_id"],
                    "cron_expr": clean.get("cron_expr"),
                    "at": clean.get("at"),
                    "timezone": clean["timezone"],
                },
            )
        app.changed()
        created = job_rows.get(tx, job_id)
    assert created is not None
    return created


def update_job(app: App, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some fields of a job's spec; the schedule is recomputed when it changed. Returns the job."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("nothing to change: give at least one field")
    state_fields = {"id", "status", "next_run", "last_run", "run_count", "failure_count", "created_at", "updated_at"}
    owned = sorted(set(changes) & state_fields)
    if owned:
        raise InvalidInput(
            f"{owned[0]} is kept by the scheduler and cannot be set (use pause, resume or reset to change the status)",
            field=owned[0],
        )
    now = app.clock.now()
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        from ..models import JobSpec

        current = {k: job[k] for k in JobSpec.model_fields if k in job}
        merged = {**current, **changes}
        if "cron_expr" in changes and changes["cron_expr"] is not None and "at" not in changes:
            merged["at"] = None
        if "at" in changes and changes["at"] is not None and "cron_expr" not in changes:
            merged["cron_expr"] = None
        clean = validate_spec(app, merged, now=now)
        if clean["name"] != job["name"] and job_rows.name_taken(tx, clean["name"], except_id=job["id"]):
            raise Conflict(f"a job named {clean['name']!r} exists", field="name")
        schedule_changed = any(clean.get(k) != job.get(k) for k in ("cron_expr", "at", "timezone"))
        next_run = job["next_run"]
        if schedule_changed and job["status"] == JobStatus.active:
            next_run = next_fire(clean, now)
        job_rows.update_spec(tx, job["id"], clean, next_run=_ms(next_run), now_ms=to_ms(now))
        changed = sorted(k for k in clean if clean.get(k) != job.get(k))
        _audit(app, tx, Event.job_updated, job["id"], clean["name"], {"changed": changed})
        app.changed()
        updated = job_rows.get(tx, job["id"])
    assert updated is not None
    return updated


def delete_job(app: App, ref: str) -> dict[str, Any]:
    """Remove a job and its run history; returns the job as it was. Refused while a run is in flight."""
    now_ms = to_ms(app.clock.now())
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        if run_rows.count_running(tx, job["id"]):
            running = run_rows.with_status(tx, (RunStatus.running,), job_id=job["id"])
            waiting = [r["started_at"] for r in running if r.get("started_at") and to_ms(r["started_at"]) > now_ms]
            if running and len(waiting) == len(running):  # prepared ahead: none of its agents started yet
                raise InvalidState(
                    f"job {job['name']!r} has a run prepared to start at {min(waiting).isoformat(timespec='seconds')}"
                    " (not started yet); pause the job to cancel it (a pause up to 0.2 s before its start does),"
                    " or wait for it to end, then remove the job"
                )
            raise InvalidState(f"job {job['name']!r} has a run in progress; wait for it or pause the job first")
        job_rows.delete(tx, job["id"])
        _audit(app, tx, Event.job_deleted, job["id"], job["name"], {"agent_id": job["agent_id"]})
        app.changed()
    return job


def pause_job(app: App, ref: str) -> dict[str, Any]:
    """Stop scheduling a job, keeping its state. Only an active job can be paused."""
    now = app.clock.now()
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        if job["status"] != JobStatus.active:
            raise InvalidState(f"job {job['name']!r} is {job['status']}, not active: nothing to pause")
        # A paused job has no next run: resume computes one from the moment it resumes.
        job_rows.set_state(tx, job["id"], now_ms=to_ms(now), status=JobStatus.paused, next_run=None)
        _audit(app, tx, Event.job_paused, job["id"], job["name"], {})
        app.changed()
        return job_rows.get(tx, job["id"])  # type: ignore[return-value]


def resume_job(app: App, ref: str) -> dict[str, Any]:
    """Schedule a paused job again; its next run is computed from now (slots while paused are not run)."""
    now = app.clock.now()
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        if job["status"] != JobStatus.paused:
            raise InvalidState(f"job {job['name']!r} is {job['status']}, not paused: nothing to resume")
        nxt = next_fire(job, now)
        status = JobStatus.active if nxt is not None else JobStatus.completed
        job_rows.set_state(tx, job["id"], now_ms=to_ms(now), status=status, next_run=_ms(nxt))
        _audit(app, tx, Event.job_resumed, job["id"], job["name"], {"next_run": nxt.isoformat() if nxt else None})
        app.changed()
        return job_rows.get(tx, job["id"])  # type: ignore[return-value]


def reset_job(app: App, ref: str) -> dict[str, Any]:
    """Return a job to active with its consecutive failure count at zero and a fresh next run."""
    now = app.clock.now()
    with app.store.write() as tx:
        job = resolve_job(tx, ref)
        nxt = next_fire(job, now)
        if nxt is None:
            raise InvalidState(
                f"job {job['name']!r} is a one-shot whose time ({job.get('at')}) has passed;"
                " update its `at` to run it again"
            )
        job_rows.set_state(
            tx, job["id"], now_ms=to_ms(now), status=JobStatus.active, failure_count=0, next_run=to_ms(nxt)
        )
        _audit(
            app,
            tx,
            Event.job_reset,
            job["id"],
            job["name"],
            {
                "previous_status": job["status"],
                "previous_failure_count": job["failure_count"],
            },
        )
        app.changed()
        return job_rows.get(tx, job["id"])  # type: ignore[return-value]


def end_one_shot_if_done(
    conn, job: dict[str, Any], *, now_ms: int, ok: bool, actor: str, reason: str | None = None
) -> None:
    """Inside the caller's write transaction: a one-shot (``at``, or ``one_shot: true``) with no slot left and no
    open run becomes ``completed`` (``ok``) or ``failed``, with its audit event; any other job is left as is."""
    if job.get("cron_expr") and not job.get("one_shot"):
        return
    current = job_rows.get(conn, job["id"])
    if current is None or current["status"] != JobStatus.active or current["next_run"] is not None:
        return
    if run_rows.with_status(conn, (RunStatus.queued, RunStatus.running, RunStatus.pending_approval), job_id=job["id"]):
        return
    final = JobStatus.completed if ok else JobStatus.failed
    job_rows.set_state(conn, job["id"], now_ms=now_ms, status=final)
    details: dict[str, Any] = {"one_shot": True, "status": final}
    if reason:
        details["error"] = reason
    append_event(
        conn,
        at_ms=now_ms,
        type=Event.job_completed if ok else Event.job_failed,
        actor=actor,
        job_id=job["id"],
        job_name=job["name"],
        details=details,
    )


# -- history ---------------------------------------------------------------------------------------------------
def job_history(
    app: App, ref: str, *, limit: int | None = 20, status: str | None = None, before: int | None = None
) -> list[dict[str, Any]]:
    """A job's runs, newest first, each with its delivery receipts; ``before`` (epoch ms of a slot) continues a
    page."""
    if limit is not None and limit < 1:
        raise InvalidInput("must be a positive number", field="limit")
    if status is not None:
        from ..vocab import RunStatus

        valid = [s.value for s in RunStatus]
        if status not in valid:
            raise InvalidInput(f"unknown run status {status!r} (expected one of {', '.join(valid)})", field="status")
    with app.store.read() as conn:
        job = resolve_job(conn, ref)
        runs = run_rows.for_job(conn, job["id"], limit=limit, status=status, before=before)
        attach_receipts(conn, runs)
    for r in runs:
        r["job_name"] = job["name"]
    return runs


def job_status(app: App, ref: str, *, history: int = 5) -> dict[str, Any]:
    """One job with its most recent runs under ``recent_runs``."""
    if history < 0:
        raise InvalidInput("must be zero or more", field="history")
    with app.store.read() as conn:
        job = resolve_job(conn, ref)
        runs = run_rows.for_job(conn, job["id"], limit=history) if history else []
        attach_receipts(conn, runs)
    job["recent_runs"] = runs
    from .budgets import job_budget_status

    job["budget_used"] = job_budget_status(app, job, runs)
    return job


def attach_receipts(conn, runs: Iterable[dict[str, Any]]) -> None:
    """Add each run's delivery receipts under ``deliveries``."""
    from ..store.deliveries import load_receipts

    runs = list(runs)
    by_run = load_receipts(conn, [r["id"] for r in runs]) if runs else {}
    for r in runs:
        r["deliveries"] = by_run.get(r["id"], [])


def _audit(
    app: App,
    tx,
    type: str,
    job_id: str | None,
    job_name: str | None,
    details: dict[str, Any],
    run_id: str | None = None,
) -> None:
    append_event(
        tx,
        at_ms=to_ms(app.clock.now()),
        type=type,
        actor=app.actor,
        job_id=job_id,
        job_name=job_name,
        run_id=run_id,
        details=details,
    )
