"""The API's routes: both families of SPEC §13 mapped onto the services, plus health, metrics and OpenAPI.

Each route is declared once in ``http/route_table.py`` (method, path template, the query parameters it accepts,
its request and response models); this dispatcher and the OpenAPI document both read that table.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..apikey import api_identities
from ..errors import InvalidInput, SymbiError
from ..models import Job, JobSpec, Run, validation_error
from ..vocab import JobStatus, RunStatus
from . import schemas as S
from .casing import camel_field, to_camel, to_snake
from .paging import MAX_PAGE, next_page_headers, read_page
from .route_table import HISTORY_PAGE, JOBS_PAGE, MAX_COUNT, ROUTES, RUNTIME_HISTORY_PAGE, Route
from .wire import HttpError, Request, Response, check_auth, int_param, path_param

log = logging.getLogger("symbi_cron.http")

_M = TypeVar("_M", bound=BaseModel)

_COMPILED = [(r, r.pattern) for r in ROUTES]


def _page_limit(request: Request, route_default: int) -> int:
    return int_param(request.query, "limit", route_default, 1, MAX_PAGE) or route_default


def _job_page(app: Any, request: Request, *, status: str | None, agent: str | None) -> tuple[list[Any], dict]:
    """One page of jobs by name, and the headers that point at the next one."""
    from ..services import jobs

    rows, cursor = read_page(
        lambda after, n: jobs.list_jobs(app, status=status, agent=agent, after=after, limit=n),
        kind="jobs",
        scope=(status, agent),
        cursor=request.query.get("cursor"),
        limit=_page_limit(request, JOBS_PAGE),
        key=lambda job: job["name"],
    )
    return rows, next_page_headers(request.path, request.query, cursor)


def _history_page(
    app: Any, request: Request, job: dict[str, Any], *, status: str | None, default: int
) -> tuple[list[Any], dict]:
    """One page of a job's runs, newest first, and the headers that point at the next one."""
    from ..services import jobs
    from ..timeutil import to_ms

    rows, cursor = read_page(
        lambda before, n: jobs.job_history(app, job["id"], limit=n, status=status, before=before),
        kind="runs",
        scope=(job["id"], status),
        cursor=request.query.get("cursor"),
        limit=_page_limit(request, default),
        key=lambda run: to_ms(run["scheduled_for"]),
        key_type=int,
    )
    return rows, next_page_headers(request.path, request.query, cursor)


def _validate(model: type[_M], data: Any) -> _M:
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _dump_runs(runs: list[dict[str, Any]]) -> list[Any]:
    out = []
    for r in runs:
        try:
            out.append(Run.model_validate(r).model_dump())
        except ValidationError:  # a row from a newer writer: show it as stored rather than fail the listing
            out.append(r)
    return out


class Api:
    """The request handlers. One instance per server; handlers run concurrently on request threads."""

    def __init__(self, app: Any, supervisor: Any, key: str) -> None:
        # The API acts as "api" in the audit log; the daemon's own App keeps its actor.
        self.app = dataclasses.replace(app, actor="api")
        wake = getattr(supervisor, "request_wake", None) or getattr(supervisor, "request_reload", None)
        if callable(wake):
            # In the daemon, a change made through the API wakes its own supervisor at once (a queued manual
            # run starts now, a new schedule is seen) instead of at the next tick.
            self.app.notify = wake
        self.supervisor = supervisor
        self.key = key
        #: Every accepted key -> the identity it is bound to (api.identity, [api.keys]).
        self.keys = api_identities(app, key)
        self.main_identity = app.settings.api.identity
        self.max_body_bytes = app.settings.api.max_body_bytes
        self._root = app  # the daemon's App: a reload gives it new settings, which the next request takes up
        self._metrics: Any = None
        self._openapi: bytes | None = None
        self._ui: Any = None
        #: Where the server listens (start_api sets it once bound; the OpenAPI document's ``servers``).
        self.bind = app.settings.api.bind
        self.port = app.settings.api.port

    # -- dispatch ----------------------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if self.app.settings is not self._root.settings:
            self._reloaded(self._root.settings)
        if request.path == "/ui" or request.path.startswith("/ui/"):
            return self._dashboard().dispatch(request)
        allowed: list[str] = []
        for route, pattern in _COMPILED:
            m = pattern.match(request.path)
            if not m:
                continue
            if route.method == request.method or (request.method == "HEAD" and route.method == "GET"):
                return self._call(route, request, {k: path_param(v) for k, v in m.groupdict().items()})
            allowed.append(route.method)
        if allowed:
            allow = ", ".join(sorted(set(allowed) | ({"HEAD"} if "GET" in allowed else set()) | {"OPTIONS"}))
            if request.method == "OPTIONS":
                return Response(204, None, headers={"Allow": allow})
            raise HttpError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.path} (allowed: {allow})",
                headers={"Allow": allow},
            )
        raise HttpError(404, "not_found", f"no such endpoint: {request.path}")

    def _dashboard(self) -> Any:
        """The web dashboard's handlers (http/dashboard.py), made on first use."""
        if self._ui is None:
            from .dashboard import Dashboard

            self._ui = Dashboard(self)
        return self._ui

    def _reloaded(self, settings: Any) -> None:
        """Take up reloaded settings (services/reload.py): metrics, limits, policies, and the keys clients use."""
        from ..apikey import api_key

        self.app.settings = settings
        self.max_body_bytes = settings.api.max_body_bytes
        try:
            key = api_key(self._root)
            keys = api_identities(self._root, key)
        except SymbiError as exc:
            log.error("reload: keeping the API's keys: %s", exc)
            return
        if key != self.key or keys != self.keys:
            log.info("reload: the API serves its new keys")
        self.key, self.keys, self.main_identity = key, keys, settings.api.identity

    def _call(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        if route.auth:
            request.identity = check_auth(request.headers, self.keys)
        unknown = sorted(set(request.query) - set(route.query))
        if unknown:
            accepted = ", ".join(route.query) or "none"
            raise InvalidInput(
                f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (accepted: {accepted})",
                field=unknown[0],
                details={"unknown": unknown},
            )
        if request.body.strip():
            ctype = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if route.body is None and request.method in ("GET", "HEAD", "DELETE"):
                pass  # a stray body on a read is ignored, as most servers do
            elif ctype != "application/json" and not ctype.endswith("+json"):
                raise HttpError(
                    415,
                    "unsupported_media_type",
                    f"send the body as application/json (got {ctype or 'no Content-Type'})",
                )
        for name, value in params.items():
            if not value.strip():  # a blank id names nothing: not found, like any other id that names nothing
                raise HttpError(404, "not_found", f"no such {name}: {value!r}")
        request.params = params
        handler: Callable[[Request], Response] = getattr(self, route.handler)
        return handler(request)

    # -- health, metrics, openapi ------------------------------------------------------------------------------
    def health(self, request: Request) -> Response:
        return Response(200, {"status": "ok"})

    def _snapshot(self) -> dict[str, Any]:
        if self.supervisor is None:
            return {}
        try:
            return dict(self.supervisor.snapshot() or {})
        except Exception:  # the health endpoint must answer even when the supervisor is in trouble
            return {}

    def scheduler_health(self, request: Request) -> Response:
        fmt = request.query.get("format", "guide")
        if fmt not in ("guide", "runtime"):
            raise InvalidInput(f"unknown format {fmt!r} (expected guide or runtime)", field="format")
        from ..apikey import key_problem
        from ..services.health import guide_metrics, scheduler_health

        snap = self._snapshot()
        h = scheduler_health(
            self.app,
            snap if self.supervisor is not None else None,
            api_problem=key_problem(self.app, self.key),
        )
        accessible = h["store_accessible"]
        jobs, m = h["jobs"], guide_metrics(h["totals"])
        in_flight = int(snap.get("in_flight", h["open"].get(RunStatus.running, 0)))
        code = 200 if accessible else 503
        if fmt == "runtime":
            return Response(
                code,
                S.RuntimeSchedulerHealth(
                    is_running=self.supervisor is not None,
                    store_accessible=accessible,
                    jobs_total=sum(jobs.values()),
                    jobs_active=jobs.get(JobStatus.active, 0),
                    jobs_paused=jobs.get(JobStatus.paused, 0),
                    jobs_dead_letter=jobs.get(JobStatus.dead_letter, 0),
                    global_active_runs=in_flight,
                    max_concurrent=self.app.settings.scheduler.max_concurrent_jobs,
                    runs_total=m["runs_total"],
                    runs_succeeded=m["runs_succeeded"],
                    runs_failed=m["runs_failed"],
                    average_execution_time_ms=m["avg_execution_time_ms"],
                    longest_run_ms=m["longest_run_ms"],
                ).model_dump(mode="json"),
            )
        return Response(
            code,
            S.SchedulerHealth(
                status=h["status"],
                reasons=h["reasons"],
                active_jobs=jobs.get(JobStatus.active, 0),
                paused_jobs=jobs.get(JobStatus.paused, 0),
                dead_letter_jobs=jobs.get(JobStatus.dead_letter, 0),
                in_flight_jobs=in_flight,
                queued_runs=int(snap.get("queued", h["open"].get(RunStatus.queued, 0))),
                tick_lag_seconds=snap.get("tick_lag_seconds"),
                metrics=S.HealthMetrics(**{k: v for k, v in m.items() if k != "longest_run_ms"}),
            ).model_dump(mode="json"),
        )

    def metrics(self, request: Request) -> Response:
        if not self.app.settings.scheduler.enable_metrics:
            raise HttpError(404, "metrics_disabled", "metrics are disabled (scheduler.enable_metrics = false)")
        if self._metrics is None:
            from .metrics import MetricsExporter

            self._metrics = MetricsExporter(self.app, self.supervisor)
        body, ctype, headers = self._metrics.render(request.headers)
        return Response(200, body, content_type=ctype, headers=headers)

    def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            from ..services.delivery import custom_channel_names
            from .openapi import openapi_document
            from .wire import dumps

            settings = self.app.settings
            policies = list(settings.policies)
            channels = custom_channel_names(settings)
            self._openapi = dumps(openapi_document(self.bind, self.port, policies=policies, channels=channels))
        return Response(200, self._openapi)

    def _acting(self, request: Request) -> Any:
        """The App a request acts with: the audit log's actor is "api" for the main key, "api:NAME" for a key of
        ``[api.keys]``."""
        if request.identity is None or request.identity == self.main_identity:
            return self.app
        return dataclasses.replace(self.app, actor=f"api:{request.identity}")

    # -- the guide's family ------------------------------------------------------------------------------------
    def create_job(self, request: Request) -> Response:
        from ..services import jobs

        body, camel = _guide_body(JobSpec, request.json())
        job = _in_callers_case(camel, lambda: jobs.create_job(self._acting(request), _validate(JobSpec, body)))
        return Response(201, to_camel(Job, job) if camel else job)

    def list_jobs(self, request: Request) -> Response:
        agents = {request.query[k] for k in ("agent_id", "agentId") if request.query.get(k)}
        if len(agents) > 1:  # agent_id=a AND agentId=b: no job has two agents
            return Response(200, [])
        rows, headers = _job_page(
            self.app,
            request,
            status=request.query.get("status") or None,
            agent=agents.pop() if agents else None,
        )
        return Response(200, rows, headers=headers)

    def usage(self, request: Request) -> Response:
        from ..errors import InvalidInput
        from ..services import usage as usage_svc
        from ..services.audit import parse_when

        q = request.query
        keys = tuple(k for k in (q.get("by") or "day").split(",") if k)
        unknown = [k for k in keys if k not in usage_svc.KEYS]
        if unknown:
            raise InvalidInput(f"cannot group by {unknown[0]!r} (expected {', '.join(usage_svc.KEYS)})", field="by")
        keys = tuple(k for k in usage_svc.KEYS if k in keys)
        since = parse_when(q.get("since") or "30 days ago", field="since")
        until = parse_when(q["until"], field="until", end_of_day=True) if q.get("until") else None
        empty = until is not None and until <= since  # an empty window, not a mistake worth a 400
        rows = (
            []
            if empty
            else usage_svc.usage(
                self._acting(request),
                since=since,
                until=until,
                job=q.get("job") or None,
                agent=q.get("agent") or None,
                model=q.get("model") or None,
            )
        )
        grouped = usage_svc.rollup(rows, keys)
        total = usage_svc.totals(rows)
        for r in (*grouped, total):
            r["tokens"] = r["input_tokens"] + r["output_tokens"]
        body = {"since": since, "until": until, "by": list(keys), "rows": grouped, "total": total}
        return Response(200, body)

    def get_job(self, request: Request) -> Response:
        from ..services import jobs

        history = int_param(request.query, "history", None, 0, MAX_PAGE)
        if history is None:
            return Response(200, jobs.get_job(self._acting(request), request.params["id"]))
        job = jobs.job_status(self._acting(request), request.params["id"], history=history)
        job["recent_runs"] = _dump_runs(job["recent_runs"])
        return Response(200, job)

    def update_job(self, request: Request) -> Response:
        from ..services import jobs

        body, camel = _guide_body(S.JobUpdate, request.json())

        def update() -> Any:
            _validate(S.JobUpdate, body)  # types and unknown fields; the merged job is validated by the service
            return jobs.update_job(self._acting(request), request.params["id"], body)

        job = _in_callers_case(camel, update)
        return Response(200, to_camel(Job, job) if camel else job)

    def delete_job(self, request: Request) -> Response:
        from ..services import jobs

        job = jobs.delete_job(self._acting(request), request.params["id"])
        return Response(200, S.DeleteResult(id=job["id"], name=job["name"]).model_dump(mode="json"))

    def pause_job(self, request: Request) -> Response:
        from ..services import jobs

        return Response(200, jobs.pause_job(self._acting(request), request.params["id"]))

    def resume_job(self, request: Request) -> Response:
        from ..services import jobs

        return Response(200, jobs.resume_job(self._acting(request), request.params["id"]))

    def run_job(self, request: Request) -> Response:
        # No body at all is fine (the guide's curl for pause/resume style calls); a body must be an object.
        body = _validate(S.RunRequest, request.json()) if request.body.strip() else S.RunRequest()
        from ..services.runs import queue_manual

        # Queued for the daemon serving this API, which the store change wakes (app.changed()).
        run = queue_manual(self._acting(request), request.params["id"], input_text=body.input)  # type: ignore[attr-defined]
        return Response(
            202,
            S.RunAccepted(
                id=run["id"],
                run_id=run["id"],
                job_id=run["job_id"],
                job_name=run.get("job_name"),
                status=run["status"],
                trigger=run.get("trigger", "manual"),
                input=run.get("input"),
                scheduled_for=run.get("scheduled_for"),
            ).model_dump(),
        )

    def job_history(self, request: Request) -> Response:
        from ..services import jobs

        status = request.query.get("status") or None
        job = jobs.get_job(self._acting(request), request.params["id"])
        runs, headers = _history_page(self._acting(request), request, job, status=status, default=HISTORY_PAGE)
        return Response(200, _dump_runs(runs), headers=headers)

    def next_run(self, request: Request) -> Response:
        from ..services import jobs

        count = int_param(request.query, "count", 1, 1, MAX_COUNT) or 1
        job = jobs.get_job(self._acting(request), request.params["id"])
        upcoming = jobs.upcoming_runs(job, count)
        return Response(
            200,
            S.NextRun(
                id=job["id"],
                job_id=job["id"],
                name=job["name"],
                status=job["status"],
                timezone=job["timezone"],
                next_run=upcoming[0] if upcoming else None,
                next_runs=upcoming,
            ).model_dump(),
        )

    # -- runs ----------------------------------------------------------------------------------------------------
    def approve_run(self, request: Request) -> Response:
        from ..services.approvals import approve_run

        run = approve_run(self._acting(request), request.params["id"], user=self._approver(request))
        return Response(200, _dump_runs([run])[0])

    def deny_run(self, request: Request) -> Response:
        from ..services.approvals import deny_run

        body = _validate(S.DenyRequest, request.json()) if request.body.strip() else S.DenyRequest()
        run = deny_run(self._acting(request), request.params["id"], body.reason, user=self._approver(request))  # type: ignore[attr-defined]
        return Response(200, _dump_runs([run])[0])

    def _approver(self, request: Request) -> str:
        """The name a request approves as: the identity its key is bound to."""
        return request.identity or self.main_identity

    def get_run(self, request: Request) -> Response:
        from ..services.runs import get_run

        return Response(200, _dump_runs([get_run(self._acting(request), request.params["id"])])[0])

    # -- the runtime family ------------------------------------------------------------------------------------
    def list_schedules(self, request: Request) -> Response:
        rows, headers = _job_page(self._acting(request), request, status=None, agent=None)
        return Response(200, [S.schedule_summary(j) for j in rows], headers=headers)

    def create_schedule(self, request: Request) -> Response:
        from ..services import jobs

        req = _validate(S.CreateScheduleRequest, request.json())
        spec = {
            "name": req.name,
            "agent_id": req.agent_name,
            "cron_expr": req.cron_expression,  # type: ignore[attr-defined]
            "timezone": req.timezone,
            "one_shot": req.one_shot,  # type: ignore[attr-defined]
            "policy": jobs.named_policy(self._acting(request), req.policy_ids),
        }  # type: ignore[attr-defined]
        job = _runtime_errors(lambda: jobs.create_job(self._acting(request), spec))
        return Response(
            201,
            S.CreateScheduleResponse(
                job_id=job["id"],
                next_run=job["next_run"].isoformat() if job.get("next_run") else None,
                status=job["status"],
            ).model_dump(mode="json"),
        )

    def get_schedule(self, request: Request) -> Response:
        from ..services import jobs

        return Response(200, S.schedule_detail(jobs.get_job(self._acting(request), request.params["id"])))

    def update_schedule(self, request: Request) -> Response:
        from ..services import jobs

        req = _validate(S.UpdateScheduleRequest, request.json())
        changes: dict[str, Any] = {}
        if req.cron_expression is not None:  # type: ignore[attr-defined]
            changes["cron_expr"] = req.cron_expression  # type: ignore[attr-defined]
        if req.timezone is not None:  # type: ignore[attr-defined]
            changes["timezone"] = req.timezone  # type: ignore[attr-defined]
        if req.one_shot is not None:  # type: ignore[attr-defined]
            changes["one_shot"] = req.one_shot  # type: ignore[attr-defined]
        if req.policy_ids is not None:  # type: ignore[attr-defined]
            changes["policy"] = jobs.named_policy(self._acting(request), req.policy_ids)  # type: ignore[attr-defined]
        job = _runtime_errors(lambda: jobs.update_job(self._acting(request), request.params["id"], changes))
        return Response(200, S.schedule_detail(job))

    def delete_schedule(self, request: Request) -> Response:
        from ..services import jobs

        job = jobs.delete_job(self._acting(request), request.params["id"])
        return Response(200, S.DeleteScheduleResponse(job_id=job["id"], deleted=True).model_dump(mode="json"))

    def pause_schedule(self, request: Request) -> Response:
        from ..services import jobs

        job = jobs.pause_job(self._acting(request), request.params["id"])
        return _schedule_action(200, job["id"], "pause", job["status"])

    def resume_schedule(self, request: Request) -> Response:
        from ..services import jobs

        job = jobs.resume_job(self._acting(request), request.params["id"])
        return _schedule_action(200, job["id"], "resume", job["status"])

    def trigger_schedule(self, request: Request) -> Response:
        from ..services.runs import queue_manual

        run = queue_manual(self._acting(request), request.params["id"])
        return _schedule_action(202, run["job_id"], "trigger", run["status"])

    def schedule_history(self, request: Request) -> Response:
        from ..services import jobs

        job = jobs.get_job(self._acting(request), request.params["id"])
        runs, headers = _history_page(self._acting(request), request, job, status=None, default=RUNTIME_HISTORY_PAGE)
        return Response(
            200,
            S.ScheduleHistoryResponse(
                job_id=job["id"],
                history=[S.ScheduleRunEntry(**S.schedule_run_entry(r)) for r in runs],
            ).model_dump(mode="json"),
            headers=headers,
        )

    def schedule_next_runs(self, request: Request) -> Response:
        from ..services import jobs

        count = int_param(request.query, "count", 10, 1, MAX_COUNT) or 10
        job = jobs.get_job(self._acting(request), request.params["id"])
        return Response(
            200,
            S.NextRunsResponse(
                job_id=job["id"],
                next_runs=[d.isoformat() for d in jobs.upcoming_runs(job, count)],
            ).model_dump(mode="json"),
        )


def _schedule_action(code: int, job_id: str, action: str, status: str) -> Response:
    """The runtime family's answer to pause, resume and trigger."""
    return Response(code, S.ScheduleActionResponse(job_id=job_id, action=action, status=status).model_dump(mode="json"))


_RUNTIME_NAMES = {"agent_id": "agent_name", "cron_expr": "cron_expression"}


def runtime_field(field: str | None) -> str | None:
    """A job field's name as the runtime family calls it."""
    if field is None:
        return None
    head, _, rest = field.partition(".")
    return _RUNTIME_NAMES.get(head, head) + ("." + rest if rest else "")


def _renamed_errors(fn: Callable[[], Any], rename: Callable[[str | None], str | None]) -> Any:
    """Run ``fn``; errors naming job fields are re-raised naming them with ``rename`` instead."""
    try:
        return fn()
    except SymbiError as exc:
        if exc.field:
            exc.field = rename(exc.field)
            exc.args = (str(exc),)
        if isinstance(exc.details, dict):
            if exc.details.get("field"):
                exc.details["field"] = rename(exc.details["field"])
            for p in exc.details.get("problems") or ():
                if isinstance(p, dict) and p.get("field"):
                    p["field"] = rename(p["field"])
        raise


def _runtime_errors(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; errors naming job fields name the runtime family's fields instead."""
    return _renamed_errors(fn, runtime_field)


def _guide_body(model: type[BaseModel], body: Any) -> tuple[Any, bool]:
    """A guide-family body with camelCase field names taken as their snake_case fields; and whether the caller
    wrote camelCase (its answer is then in camelCase too)."""
    return to_snake(model, body) if isinstance(body, dict) else (body, False)


def _in_callers_case(camel: bool, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a camelCase caller's errors name its fields in camelCase."""
    return _renamed_errors(fn, camel_field) if camel else fn()
