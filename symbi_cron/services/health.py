"""Is the scheduler healthy? The one answer behind ``GET /api/v1/health/scheduler`` and ``symbi cron daemon
status`` (docs/operations.md, "Health").

``healthy`` means nothing below holds; ``degraded`` lists each reason found; ``unhealthy`` means the store cannot
be read (the API then answers 503). Reasons, each with a stable ``code``:

- ``store_unreachable`` / ``store_damaged``: the store cannot be read (unhealthy);
- ``dead_letter``: jobs are dead-lettered and run no more until ``symbi cron reset``;
- ``run_overdue``: a run is still ``running`` past its ``max_runtime`` (plus the kill grace): its agent could not
  be stopped, or its owner is stuck; also runs the supervisor reports past their deadline;
- ``tick_lag``: the tick loop handled its last due slot late, has not run for a while, or a slot is overdue and
  unclaimed (a hung loop never reports its own lag, so the store is asked too);
- ``tick_failing``: the last tick failed (full disk, read-only store...);
- ``stopping``: the daemon is draining its runs before it exits;
- ``api_key``: the API is served with a key that clients cannot find (the key file was removed or replaced, or
  the configured ``${VAR}`` is unset): every authenticated request would be refused.

Everything is read from the run statistics, the jobs table's indexes and the open-run index, never by scanning the
run history, so the answer costs the same at a million runs as at ten.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..store import stats
from ..timeutil import to_ms
from ..vocab import FAILURE_RUN_STATUSES, JobStatus, RunStatus

#: A slot later than this and still unclaimed means the tick loop is not keeping up (the lifecycle records a slot
#: later than 60 s as missed).
OVERDUE_SLOT_SECONDS = 60.0
#: Slack given to a run past ``max_runtime + kill_grace`` before it counts as overdue (the kill takes a moment).
OVERDUE_RUN_SLACK_SECONDS = 5.0
SHOWN = 5


def _reason(code: str, message: str, **details: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if details:
        out["details"] = details
    return out


def _names(names: list[str], total: int) -> str:
    more = f" and {total - len(names)} more" if total > len(names) else ""
    return ", ".join(names) + more


def lag_limit(settings: Any) -> float:
    """How late the tick loop may handle a due slot before health says it lags."""
    return max(5.0, 5 * float(settings.scheduler.tick_interval_seconds))


def scheduler_health(
    app: Any,
    snapshot: dict[str, Any] | None = None,
    *,
    scheduling: bool | None = None,
    api_problem: str | None = None,
) -> dict[str, Any]:
    """The scheduler's health: ``{"status", "reasons": [{"code", "message", "details"?}], "store_accessible",
    "jobs": {status: n}, "open": {status: n}, "totals": {counter: n}}``.

    ``snapshot`` is the supervisor's (live facts: lag, last tick, in flight, last error); ``scheduling`` says a
    supervisor should be claiming slots (default: a snapshot was given), which makes an overdue slot a reason;
    ``api_problem`` is what the API found wrong with its key (``apikey.key_problem``).
    """
    snap = dict(snapshot or {})
    if scheduling is None:
        scheduling = snapshot is not None
    settings = app.settings
    now = app.clock.now()
    now_ms = to_ms(now)
    reasons: list[dict[str, Any]] = []
    data: dict[str, Any] = {"jobs": {}, "open": {}, "totals": dict.fromkeys(stats.COUNTERS, 0)}
    accessible = True
    try:
        with app.store.read() as conn:
            data = stats.run_totals(conn)
            dead = data["jobs"].get(JobStatus.dead_letter, 0)
            dead_names = stats.jobs_in_status(conn, JobStatus.dead_letter, SHOWN) if dead else []
            running = stats.running_runs(conn) if data["open"].get(RunStatus.running) else []
            due = stats.earliest_due(conn) if scheduling else None
    except StoreError as exc:
        accessible = False
        text = str(exc)
        code = "store_damaged" if "damaged" in text or "malformed" in text else "store_unreachable"
        reasons.append(_reason(code, text))
        dead, dead_names, running, due = 0, [], [], None
    if dead:
        reasons.append(
            _reason(
                "dead_letter",
                f"{dead} job{'s' if dead != 1 else ''} dead-lettered: {_names(dead_names, dead)}"
                " (they run no more until `symbi cron reset JOB`)",
                jobs=dead_names,
                count=dead,
            )
        )
    grace = float(settings.scheduler.kill_grace_seconds) + OVERDUE_RUN_SLACK_SECONDS
    for run in running:
        limit = run["policy"].get("max_runtime")
        if not limit or run["started_at"] is None:
            continue
        over = (now_ms - int(run["started_at"])) / 1000 - float(limit)
        if over > grace:
            reasons.append(
                _reason(
                    "run_overdue",
                    f"run {run['id'][:8]} of job {run['job_name']} is still running {over:.0f}s past its"
                    f" max_runtime of {float(limit):g}s",
                    run_id=run["id"],
                    job_name=run["job_name"],
                    seconds_over=round(over, 1),
                )
            )
    for run_id in _past_deadline(snap):
        if not any(r.get("details", {}).get("run_id") == run_id for r in reasons):
            reasons.append(_reason("run_overdue", f"run {run_id[:8]} is running past its deadline", run_id=run_id))
    reasons.extend(_tick_reasons(settings, snap, due, now, now_ms))
    if snap.get("stopping"):
        reasons.append(_reason("stopping", "the daemon is stopping: it starts nothing new and drains its runs"))
    if api_problem:
        reasons.append(_reason("api_key", api_problem))
    status = "unhealthy" if not accessible else ("degraded" if reasons else "healthy")
    return {"status": status, "reasons": reasons, "store_accessible": accessible, **data}


def _past_deadline(snap: dict[str, Any]) -> list[str]:
    """Run ids the supervisor reports past their deadline (a list of ids, or of dicts with an ``id``)."""
    value = snap.get("past_deadline") or snap.get("runs_past_deadline") or []
    if isinstance(value, int):
        return []
    out = []
    for item in value:
        run_id = item.get("id") or item.get("run_id") if isinstance(item, dict) else item
        if run_id:
            out.append(str(run_id))
    return out


def _tick_reasons(settings: Any, snap: dict[str, Any], due: Any, now: Any, now_ms: int) -> list[dict[str, Any]]:
    limit = lag_limit(settings)
    lag = snap.get("tick_lag_seconds")
    if lag is not None and float(lag) > limit:
        return [
            _reason(
                "tick_lag",
                f"the tick loop handled its last due slot {float(lag):.1f}s late (limit {limit:g}s)",
                seconds=float(lag),
            )
        ]
    last = snap.get("last_tick_at")
    interval = float(settings.scheduler.tick_interval_seconds)
    if last is not None and hasattr(last, "timestamp"):
        quiet = (now - last).total_seconds()
        if quiet > 3 * interval + 30:
            return [
                _reason(
                    "tick_lag",
                    f"the tick loop has not run for {quiet:.0f}s (it wakes at least every {interval:g}s)",
                    seconds=round(quiet, 1),
                )
            ]
    if due is not None:
        name, at_ms = due
        late = (now_ms - at_ms) / 1000
        if late > OVERDUE_SLOT_SECONDS:
            return [
                _reason(
                    "tick_lag",
                    f"job {name}'s slot is {late:.0f}s overdue and unclaimed: the tick loop is not keeping up",
                    seconds=round(late, 1),
                    job_name=name,
                )
            ]
    error = snap.get("last_error")
    if error:
        return [_reason("tick_failing", f"the last tick failed: {error}")]
    return []


def guide_metrics(totals: dict[str, Any]) -> dict[str, Any]:
    """The guide's ``metrics`` object: runs that executed, succeeded and failed, and their mean duration."""
    succeeded = int(totals.get(RunStatus.succeeded, 0))
    failed = sum(int(totals.get(s, 0)) for s in sorted(FAILURE_RUN_STATUSES))
    count = int(totals.get("duration_count", 0))
    avg = (float(totals.get("duration_sum_ms", 0)) / count) if count else 0.0
    return {
        "runs_total": succeeded + failed,
        "runs_succeeded": succeeded,
        "runs_failed": failed,
        "avg_execution_time_ms": round(avg, 1),
        "longest_run_ms": float(totals.get("duration_max_ms", 0) or 0),
    }


def daemon_health(app: Any, *, timeout: float = 3.0) -> dict[str, Any]:
    """The running daemon's health as another process sees it (``symbi cron daemon status``, ``symbi doctor``).

    With the API enabled, the daemon's own answer (it knows its live state: lag, last tick, the key it serves);
    an API that does not answer is itself a reason. Without the API, what the store tells: dead-lettered jobs,
    runs past their max_runtime, overdue unclaimed slots (a stuck tick loop), a store that cannot be read.
    """
    settings = app.settings
    api = settings.api
    try:
        unavailable = app.paths.api_unavailable_file.read_text(encoding="utf-8").strip()
    except OSError:
        unavailable = ""
    if unavailable:  # the daemon runs without its API: whatever answers on the port is not ours
        health = scheduler_health(app, None, scheduling=True)
        return {
            "status": "degraded" if health["status"] == "healthy" else health["status"],
            "reasons": [*health["reasons"], _reason("api_unavailable", unavailable)],
            "source": "store",
        }
    if api.enabled and api.port:
        answer = probe_health(api.bind, int(api.port), timeout=timeout)
        if isinstance(answer, dict) and answer.get("status"):
            return {"status": answer["status"], "reasons": list(answer.get("reasons") or []), "source": "api"}
        health = scheduler_health(app, None, scheduling=True)
        reason = _reason(
            "api_unreachable",
            f"the daemon runs but its API on {api.bind}:{api.port} does not answer ({answer})",
        )
        return {
            "status": "degraded" if health["status"] == "healthy" else health["status"],
            "reasons": [*health["reasons"], reason],
            "source": "store",
        }
    health = scheduler_health(app, None, scheduling=True)
    return {"status": health["status"], "reasons": health["reasons"], "source": "store"}


def probe_health(bind: str, port: int, timeout: float = 3.0) -> dict[str, Any] | str:
    """``GET /api/v1/health/scheduler`` on bind:port: the JSON answer, or a string saying why there is none. Never
    through a proxy: it asks this machine."""
    import json

    from .. import net

    try:
        answer = net.request("GET", net.local_url(bind, port, "/api/v1/health/scheduler"), timeout=timeout, direct=True)
    except net.NetError as exc:
        return str(exc.reason) or type(exc.reason).__name__
    try:
        body = json.loads(answer.body)
    except ValueError:
        return f"HTTP {answer.status}, not JSON"
    return body if isinstance(body, dict) else f"HTTP {answer.status}"
