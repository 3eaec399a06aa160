"""The API's routes: method, path, handler name, what each takes and answers. The dispatcher (``http/routes.py``)
and the OpenAPI document (``http/openapi.py``) both read this table; neither imports the other for it."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel

from ..models import Job, JobSpec, Run
from . import schemas as S

MAX_COUNT = 1_000
#: Default pages (documented in docs/api.md and the OpenAPI document).
JOBS_PAGE = 100
HISTORY_PAGE = 20  # the guide's history default
RUNTIME_HISTORY_PAGE = 50


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/api/v1/schedule/{id}/pause"
    handler: str  # method name of Api
    summary: str
    query: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    responses: tuple[tuple[int, Any], ...] = ()  # (status, model | list[model] | "text" | None)
    auth: bool = True
    tag: str = "schedule"
    page: int | None = None  # a list: its default page size (``limit``, ``cursor``, X-Next-Cursor)
    camel: bool = False  # the body may use camelCase names, and the answer then does too (http/casing.py)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


_S = "/api/v1/schedule"
_P = "/api/v1/schedules"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Liveness", responses=((200, S.Health),), auth=False, tag="health"),
    Route(
        "GET",
        "/api/v1/health/scheduler",
        "scheduler_health",
        "Scheduler health and run totals (the guide's shape; ?format=runtime gives symbiont-sdk's)",
        query=("format",),
        responses=(
            (200, (S.SchedulerHealth, S.RuntimeSchedulerHealth)),
            (503, (S.SchedulerHealth, S.RuntimeSchedulerHealth)),
        ),
        auth=False,
        tag="health",
    ),
    Route(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics (text exposition format)",
        responses=((200, "text"), (404, S.ErrorBody)),
        auth=False,
        tag="health",
    ),
    Route(
        "GET",
        "/api/v1/openapi.json",
        "openapi",
        "This document (it holds no secret: served without the key)",
        responses=((200, "object"),),
        auth=False,
        tag="meta",
    ),
    # the guide's family
    Route("POST", _S, "create_job", "Create a job", body=JobSpec, responses=((201, Job),), camel=True),
    Route(
        "GET",
        _S,
        "list_jobs",
        "List jobs by name, optionally by status and agent (one page)",
        query=("status", "agent_id", "agentId", "limit", "cursor"),
        responses=((200, [Job]),),
        page=JOBS_PAGE,
    ),
    Route(
        "GET",
        _S + "/{id}",
        "get_job",
        "A job (with its recent runs when ?history=N)",
        query=("history",),
        responses=((200, S.JobWithRuns),),
    ),
    Route(
        "PUT",
        _S + "/{id}",
        "update_job",
        "Change some fields of a job",
        body=S.JobUpdate,
        responses=((200, Job),),
        camel=True,
    ),
    Route(
        "DELETE",
        _S + "/{id}",
        "delete_job",
        "Delete a job and its history",
        responses=((200, S.DeleteResult),),
    ),
    Route("POST", _S + "/{id}/pause", "pause_job", "Pause an active job", responses=((200, Job),)),
    Route("POST", _S + "/{id}/resume", "resume_job", "Resume a paused job", responses=((200, Job),)),
    Route(
        "POST",
        _S + "/{id}/run",
        "run_job",
        "Queue a run now (the daemon starts it)",
        body=S.RunRequest,
        body_required=False,
        responses=((202, S.RunAccepted),),
    ),
    Route(
        "GET",
        _S + "/{id}/history",
        "job_history",
        "A job's runs, newest first (one page)",
        query=("limit", "status", "cursor"),
        responses=((200, [Run]),),
        page=HISTORY_PAGE,
    ),
    Route(
        "GET",
        _S + "/{id}/next_run",
        "next_run",
        "The job's next slot (and the next ?count=N)",
        query=("count",),
        responses=((200, S.NextRun),),
    ),
    Route(
        "GET",
        "/api/v1/runs/{id}",
        "get_run",
        "One run, with its output and delivery receipts",
        responses=((200, Run),),
        tag="runs",
    ),
    Route(
        "POST",
        "/api/v1/runs/{id}/approve",
        "approve_run",
        "Approve a run waiting for approval, as the identity bound to the key",
        responses=((200, Run), (403, S.ErrorBody)),
        tag="runs",
    ),
    Route(
        "POST",
        "/api/v1/runs/{id}/deny",
        "deny_run",
        "Deny a run waiting for approval, as the identity bound to the key",
        body=S.DenyRequest,
        body_required=False,
        responses=((200, Run), (403, S.ErrorBody)),
        tag="runs",
    ),
    Route(
        "GET",
        "/api/v1/usage",
        "usage",
        "Tokens and cost of model agents' runs by day, job, agent or model",
        query=("since", "until", "by", "job", "agent", "model"),
        responses=((200, S.UsageReport),),
        tag="usage",
    ),
    # the runtime family (symbiont-sdk's client.schedules)
    Route(
        "GET",
        _P,
        "list_schedules",
        "List schedules by name (one page)",
        query=("limit", "cursor"),
        responses=((200, [S.ScheduleSummary]),),
        tag="schedules",
        page=JOBS_PAGE,
    ),
    Route(
        "POST",
        _P,
        "create_schedule",
        "Create a schedule",
        body=S.CreateScheduleRequest,
        responses=((201, S.CreateScheduleResponse),),
        tag="schedules",
    ),
    Route(
        "GET",
        _P + "/{id}",
        "get_schedule",
        "A schedule",
        responses=((200, S.ScheduleDetail),),
        tag="schedules",
    ),
    Route(
        "PUT",
        _P + "/{id}",
        "update_schedule",
        "Change a schedule",
        body=S.UpdateScheduleRequest,
        responses=((200, S.ScheduleDetail),),
        tag="schedules",
    ),
    Route(
        "DELETE",
        _P + "/{id}",
        "delete_schedule",
        "Delete a schedule",
        responses=((200, S.DeleteScheduleResponse),),
        tag="schedules",
    ),
    Route(
        "POST",
        _P + "/{id}/pause",
        "pause_schedule",
        "Pause a schedule",
        responses=((200, S.ScheduleActionResponse),),
        tag="schedules",
    ),
    Route(
        "POST",
        _P + "/{id}/resume",
        "resume_schedule",
        "Resume a schedule",
        responses=((200, S.ScheduleActionResponse),),
        tag="schedules",
    ),
    Route(
        "POST",
        _P + "/{id}/trigger",
        "trigger_schedule",
        "Queue a run now",
        responses=((202, S.ScheduleActionResponse),),
        tag="schedules",
    ),
    Route(
        "GET",
        _P + "/{id}/history",
        "schedule_history",
        "Run history, newest first (one page)",
        query=("limit", "cursor"),
        responses=((200, S.ScheduleHistoryResponse),),
        tag="schedules",
        page=RUNTIME_HISTORY_PAGE,
    ),
    Route(
        "GET",
        _P + "/{id}/next-runs",
        "schedule_next_runs",
        "The next N slots",
        query=("count",),
        responses=((200, S.NextRunsResponse),),
        tag="schedules",
    ),
)
