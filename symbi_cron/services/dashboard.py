"""What the dashboard's pages show (docs/dashboard.md), read through the store's indexed queries: a page of jobs
with their schedule in words and their latest runs, one job with its next fire times, its runs and their
output, the timeline, the approvals waiting, usage, the audit log and the daemon's health.

Every list is one page, filtered on the server: the pages stay fast at 10,000 jobs and 1,000,000 runs."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput, NotFound
from ..store import dashboard as rows
from ..timeutil import load_zone, to_ms
from ..vocab import JobStatus, RunStatus
from .app import App

#: Runs in a job's strip on the jobs page.
STRIP = 20
#: Jobs a page shows at most.
MAX_PAGE = 200
#: Runs of one job the timeline draws at most (it says how many more there were).
TIMELINE_CAP = 400
#: Upcoming fires of one job the timeline marks at most.
UPCOMING_CAP = 200
#: Bytes of a run's log one read returns at most (live output reads on from where it stopped).
LOG_CHUNK = 256 * 1024
MASK = "********"


def _describe(job: dict[str, Any]) -> str:
    if job.get("cron_expr"):
        from ..timing import describe

        try:
            return describe(job["cron_expr"])
        except Exception:  # a stored expression from a newer writer: show it as it is
            return job["cron_expr"]
    return f"Once, at {job.get('at')}"


def _in_zone(dt: datetime | None, zone: Any) -> str | None:
    return dt.astimezone(zone).isoformat() if dt is not None else None


def _zone(job: dict[str, Any]) -> Any:
    try:
        return load_zone(job.get("timezone") or "UTC")
    except Exception:
        return load_zone("UTC")


def _status_filter(status: str | None) -> str | None:
    if not status:
        return None
    from ..vocab import JobStatus

    valid = [s.value for s in JobStatus]
    if status not in valid:
        raise InvalidInput(f"unknown status {status!r} (expected one of {', '.join(valid)})", field="status")
    return status


def _brief_run(run: dict[str, Any], zone: Any) -> dict[str, Any]:
    return {
        "id": run["id"],
        "status": run["status"],
        "trigger": run["trigger"],
        "scheduled_for": _in_zone(run["scheduled_for"], zone),
        "started_at": _in_zone(run["started_at"], zone),
        "finished_at": _in_zone(run["finished_at"], zone),
        "execution_time_ms": run["execution_time_ms"],
        "attempt": run["attempt"],
    }


# -- jobs ------------------------------------------------------------------------------------------------------
def jobs_page(
    app: App,
    *,
    name: str | None = None,
    status: str | None = None,
    agent: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of jobs by name (``after``: the last name of the previous page): each with its schedule in words,
    its zone, its next run in that zone, its last outcome and a strip of its latest runs (oldest first)."""
    status = _status_filter(status)
    limit = max(1, min(int(limit), MAX_PAGE))
    with app.store.read() as conn:
        page = rows.job_page(conn, name=name, status=status, agent=agent, after=after, limit=limit + 1)
        more = len(page) > limit
        page = page[:limit]
        ids = [j["id"] for j in page]
        total = rows.job_total(conn, name=name, status=status, agent=agent)
        outcomes = rows.last_outcomes(conn, ids)
        strips = rows.latest_runs(conn, ids, STRIP)
        agents = rows.agent_names(conn)
    out = []
    for job in page:
        zone = _zone(job)
        strip = strips.get(job["id"], [])
        last = outcomes.get(job["id"], {})
        out.append(
            {
                "id": job["id"],
                "name": job["name"],
                "agent_id": job["agent_id"],
                "status": job["status"],
                "cron_expr": job.get("cron_expr"),
                "at": job.get("at"),
                "schedule": _describe(job),
                "timezone": job.get("timezone"),
                "next_run": _in_zone(job.get("next_run"), zone),
                "last_status": last.get("last_status"),
                "last_finished_at": _in_zone(last.get("last_finished_at"), zone),
                "failure_count": job.get("failure_count", 0),
                "running": any(r["status"] == RunStatus.running for r in strip),
                "strip": [_brief_run(r, zone) for r in reversed(strip)],
            }
        )
    return {
        "jobs": out,
        "total": total,
        "next": page[-1]["name"] if more and page else None,
        "agents": agents,
    }


def _masked_spec(job: dict[str, Any]) -> dict[str, Any]:
    """The job's settings as the page shows them: a literal secret (a webhook header's value, an AgentPin
    credential) masked; ``${VAR}`` references shown as written."""
    from ..envref import has_env_ref

    out = dict(job)
    headers = out.get("webhook_headers") or {}
    out["webhook_headers"] = {k: (v if has_env_ref(v) else MASK) for k, v in headers.items()}
    if out.get("agent_pin_jwt") and not has_env_ref(out["agent_pin_jwt"]):
        out["agent_pin_jwt"] = MASK
    for k in ("next_run", "last_run", "created_at", "updated_at"):
        if isinstance(out.get(k), datetime):
            out[k] = out[k].astimezone(_zone(job)).isoformat()
    return out


def fire_times(job: dict[str, Any], now: datetime, count: int = 10) -> list[dict[str, Any]]:
    """The job's next ``count`` fire times in its zone (from its ``next_run`` when active, else from ``now``),
    each with its UTC offset; ``dst_change`` says when the offset differs from the fire before it (or from now,
    for the first): the daylight-saving changes between them."""
    from .jobs import next_fire

    zone = _zone(job)
    first = job.get("next_run") if job.get("status") == JobStatus.active else None
    times: list[datetime] = []
    try:
        t = first or next_fire(job, now)
        while t is not None and len(times) < count:
            times.append(t)
            t = next_fire(job, t)
    except Exception:  # an expression this version cannot read: no times rather than no page
        times = times[:count]
    out = []
    prev_offset = now.astimezone(zone).utcoffset()
    for t in times:
        local = t.astimezone(zone)
        offset = local.utcoffset()
        change = None
        if offset != prev_offset:
            change = {"from": _offset_text(prev_offset), "to": _offset_text(offset)}
        out.append({"at": local.isoformat(), "utc": t.astimezone(load_zone("UTC")).isoformat(), "dst_change": change})
        prev_offset = offset
    return out


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def job_detail(app: App, ref: str) -> dict[str, Any]:
    """One job: its settings (secrets masked) and policy, its schedule in words, its next 10 fire times with the
    daylight-saving changes marked, its agent, its counters and its open runs."""
    from .jobs import get_job

    job = get_job(app, ref)
    now = app.clock.now()
    with app.store.read() as conn:
        last = rows.last_outcomes(conn, [job["id"]]).get(job["id"], {})
        open_runs = rows.open_runs(conn, [job["id"]])[job["id"]]
        from ..store import agents as agent_rows

        agent = agent_rows.get(conn, job["agent_id"])
    zone = _zone(job)
    if agent is not None:
        agent = {k: v for k, v in agent.items() if k in ("name", "command", "model", "description", "agentpin_id")}
    if last.get("last_finished_at"):
        last["last_finished_at"] = _in_zone(last["last_finished_at"], zone)
    return {
        "job": _masked_spec(job),
        "schedule": _describe(job),
        "fire_times": fire_times(job, now, 10),
        "agent": agent,
        "stats": last,
        "open_runs": [_brief_run(r, zone) for r in open_runs],
    }


def _preview(text: str | None, size: int = 240) -> str | None:
    if text is None:
        return None
    return text if len(text) <= size else text[:size] + "…"


def job_runs(
    app: App, ref: str, *, before: int | None = None, limit: int = 20, status: str | None = None
) -> dict[str, Any]:
    """A page of a job's runs, newest first (``before``: the ``cursor`` of the previous page), with a preview of
    each output, its deliveries, iterations and tokens."""
    from .jobs import get_job, job_history

    limit = max(1, min(int(limit), 100))
    job = get_job(app, ref)
    zone = _zone(job)
    runs = job_history(app, job["id"], limit=limit + 1, status=status or None, before=before)
    more = len(runs) > limit
    runs = runs[:limit]
    out = []
    for r in runs:
        item = _brief_run(r, zone)
        item.update(
            {
                "exit_code": r.get("exit_code"),
                "output_preview": _preview(r.get("output")),
                "error_message": r.get("error_message"),
                "iterations": r.get("iterations"),
                "input_tokens": r.get("input_tokens"),
                "output_tokens": r.get("output_tokens"),
                "cost_usd": r.get("cost_usd"),
                "deliveries": [
                    {"channel": d.get("channel"), "ok": d.get("ok"), "attempts": d.get("attempts")}
                    for d in r.get("deliveries") or []
                ],
            }
        )
        out.append(item)
    return {"runs": out, "next": to_ms(runs[-1]["scheduled_for"]) if more and runs else None}


def run_detail(app: App, run_id: str) -> dict[str, Any]:
    """One run with its output, summary, error, the tail of its stderr, its deliveries with their receipts, its
    iterations and tokens, in its job's zone."""
    from .jobs import get_job
    from .runs import get_run

    run = get_run(app, run_id)
    try:
        job = get_job(app, run["job_id"])
        zone = _zone(job)
    except NotFound:
        zone = load_zone("UTC")
    out = _brief_run(run, zone)
    detail = run.get("detail") or {}
    out.update(
        {
            "job_id": run["job_id"],
            "job_name": run.get("job_name"),
            "input": run.get("input"),
            "exit_code": run.get("exit_code"),
            "output": run.get("output"),
            "summary": run.get("summary"),
            "error_message": run.get("error_message"),
            "iterations": run.get("iterations"),
            "input_tokens": run.get("input_tokens"),
            "output_tokens": run.get("output_tokens"),
            "cost_usd": run.get("cost_usd"),
            "approval": detail.get("approval"),
            "per_iteration": detail.get("iterations") if isinstance(detail.get("iterations"), list) else None,
            "deliveries": [
                {
                    "channel": d.get("channel"),
                    "ok": d.get("ok"),
                    "attempts": d.get("attempts"),
                    "at": _in_zone(d["at"], zone) if isinstance(d.get("at"), datetime) else d.get("at"),
                    "detail": d.get("detail"),
                }
                for d in run.get("deliveries") or []
            ],
            "stderr_tail": stderr_tail(app, run["id"]),
        }
    )
    return out


def run_log(app: App, run_id: str, *, offset: int = 0) -> dict[str, Any]:
    """The run's log (what its agent wrote, masked, as it ran) from byte ``offset``: at most :data:`LOG_CHUNK`
    bytes, the offset to read on from, and the run's status (a page stops reading once it is final)."""
    from .runs import get_run, is_final

    if offset < 0:
        raise InvalidInput("must be zero or more", field="offset")
    run = get_run(app, run_id)
    path = app.paths.run_log(run["id"])
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if offset > size:  # the log was replaced (retention): read it again from the start
                offset = 0
            f.seek(offset)
            data = f.read(LOG_CHUNK)
    except FileNotFoundError:
        data, size = b"", 0
    # Never cut a UTF-8 character in two: the rest comes with the next read.
    cut = len(data)
    if cut and len(data) == LOG_CHUNK:
        while cut > 0 and (data[cut - 1] & 0xC0) == 0x80:
            cut -= 1
        if cut and data[cut - 1] >= 0xC0:
            cut -= 1
    return {
        "text": data[:cut].decode("utf-8", "replace"),
        "offset": offset + cut,
        "size": size,
        "status": run["status"],
        "final": is_final(run),
    }


def stderr_tail(app: App, run_id: str, lines: int = 20) -> list[str]:
    """The last ``lines`` lines the agent wrote on stderr (marked ``[stderr]`` in the run's log)."""
    path = app.paths.run_log(run_id)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    marked = [ln[len("[stderr] ") :] for ln in text.splitlines() if ln.startswith("[stderr] ")]
    return marked[-lines:]


# -- timeline --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _fires_from(cron_expr: str | None, at: str | None, zone: str, first: datetime | None) -> tuple[datetime, ...]:
    """A job's fires from ``first`` (its next run) over the next 25 hours, at most ``UPCOMING_CAP``. Cached: the
    timeline asks again at every change the pulse reports, and a page of every-minute jobs is thousands of steps of
    the engine; the answer depends only on these arguments (a job's next run moves on as it runs)."""
    from .jobs import next_fire

    spec = {"cron_expr": cron_expr, "at": at, "timezone": zone}
    fires: list[datetime] = []
    t = first
    try:
        while t is not None and len(fires) < UPCOMING_CAP and (not fires or t <= fires[0] + timedelta(hours=25)):
            fires.append(t)
            t = next_fire(spec, t)
    except Exception:  # a stored expression or zone from a newer writer: no fires drawn
        pass
    return tuple(fires)


def timeline(
    app: App,
    *,
    hours: int = 24,
    name: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One lane per job (a page of jobs by name): its runs whose slot lies in the last ``hours`` as bars, and its
    fires in the next 24 hours.

    Compact, since a page of every-five-minute jobs is thousands of bars and marks: every time is whole seconds
    after ``start`` (the window's first instant, ISO 8601), a run is ``[id, status, start, seconds it took]``
    (``null`` while it runs), a fire is its start. ISO strings for each were 3x the size (docs/performance.md)."""
    if hours not in (24, 168):
        raise InvalidInput("must be 24 (a day) or 168 (a week)", field="hours")
    status = _status_filter(status)
    limit = max(1, min(int(limit), MAX_PAGE))
    now = app.clock.now()
    # The base of every time below: a whole second, so that a fire's wall time (a whole minute) is exact.
    start, end = (now - timedelta(hours=hours)).replace(microsecond=0), now + timedelta(hours=24)
    start_ms = to_ms(start)
    with app.store.read() as conn:
        page = rows.job_page(conn, name=name, status=status, after=after, limit=limit + 1)
        more = len(page) > limit
        page = page[:limit]
        ids = [j["id"] for j in page]
        total = rows.job_total(conn, name=name, status=status)
        runs = rows.runs_between(conn, ids, start_ms, to_ms(now) + 1, TIMELINE_CAP)
        counts = rows.runs_in_window_count(
            conn, [i for i in ids if len(runs[i]) >= TIMELINE_CAP], start_ms, to_ms(now) + 1
        )

    def after_start(t: datetime) -> int:
        return (to_ms(t) - start_ms) // 1000

    def bar(r: dict[str, Any]) -> list[Any]:
        began = r["started_at"] or r["scheduled_for"]
        took = round((to_ms(r["finished_at"]) - to_ms(began)) / 1000) if r["finished_at"] else None
        return [r["id"], r["status"], after_start(began), took]

    lanes = []
    for job in page:
        first = job.get("next_run") if job["status"] == JobStatus.active else None
        fires = [f for f in _fires_from(job.get("cron_expr"), job.get("at"), job["timezone"], first) if f <= end]
        lane_runs = runs.get(job["id"], [])
        lanes.append(
            {
                "id": job["id"],
                "name": job["name"],
                "status": job["status"],
                "timezone": job.get("timezone"),
                "runs": [bar(r) for r in lane_runs],
                "runs_total": counts.get(job["id"], len(lane_runs)),
                "upcoming": [after_start(f) for f in fires],
            }
        )
    return {
        "start": start.isoformat(),
        "now": after_start(now),
        "end": after_start(end),
        "lanes": lanes,
        "total": total,
        "next": page[-1]["name"] if more and page else None,
    }


# -- approvals, audit, health ----------------------------------------------------------------------------------
def approvals(app: App, limit: int = 200) -> dict[str, Any]:
    """The runs waiting for approval, oldest first, each with the policy that asked for it."""
    from .approvals import pending_runs
    from .jobs import get_job

    pending = pending_runs(app)
    out = []
    for p in pending[:limit]:
        try:
            job = get_job(app, p["job_id"])
        except NotFound:
            continue
        zone = _zone(job)
        out.append(
            {
                **p,
                "scheduled_for": _in_zone(p["scheduled_for"], zone),
                "requested_at": _in_zone(p["requested_at"], zone),
                "expires_at": _in_zone(p["expires_at"], zone),
                "policy": job.get("policy") or {},
            }
        )
    return {"pending": out, "total": len(pending)}


def audit_page(
    app: App, *, type: str | None = None, job: str | None = None, actor: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit events matching the filters."""
    from .audit import query_events

    events = query_events(
        app, types=[type] if type else (), job=job or None, actor=actor or None, limit=max(1, min(limit, 500))
    )
    for e in events:
        e["at"] = e["at"].isoformat() if isinstance(e.get("at"), datetime) else e.get("at")
    return events


def pulse(app: App) -> str:
    """A short value that changes whenever a page could show something new (polled by the pages)."""
    import hashlib

    with app.store.read() as conn:
        marker = rows.pulse(conn)
    return hashlib.sha256(repr(marker).encode()).hexdigest()[:16]


def usage_page(app: App, *, days: int = 14) -> dict[str, Any]:
    """Tokens and cost of the last ``days`` UTC days: per model per day (the chart), per job, and the totals."""
    from . import usage

    if not 1 <= days <= 366:
        raise InvalidInput("must be between 1 and 366", field="days")
    now = app.clock.now()
    since = datetime.combine((now - timedelta(days=days - 1)).date(), datetime.min.time(), tzinfo=load_zone("UTC"))
    found = usage.usage(app, since=since)
    return {
        "since": since.date().isoformat(),
        "days": [(since + timedelta(days=i)).date().isoformat() for i in range(days)],
        "by_model_day": usage.rollup(found, ("day", "model")),
        "by_job": sorted(
            usage.rollup(found, ("job", "agent", "model")), key=lambda r: -r["input_tokens"] - r["output_tokens"]
        ),
        "totals": usage.totals(found),
    }
