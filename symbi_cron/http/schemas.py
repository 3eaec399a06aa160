"""The request and response models of the HTTP API (SPEC §13). The handlers validate and build bodies with them,
and :mod:`symbi_cron.http.openapi` derives the OpenAPI document from them, so the two cannot drift.

The guide's family (``/api/v1/schedule``) speaks the job fields of SPEC §4 (``models.JobSpec`` / ``models.Job``).
The runtime family (``/api/v1/schedules``) speaks exactly the fields of the published ``symbiont-sdk`` package's
dataclasses, which reject unknown keys: every response model below mirrors one of them field for field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..models import AGENT_NAME_PATTERN, NAME_PATTERN, Job, JobSpec, Run
from ..vocab import JobStatus, Trigger


class _In(BaseModel):
    """Request bodies: unknown fields are errors (a typo never silently does nothing)."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the guide's family ----------------------------------------------------------------------------------------
def _omittable_fields(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields, each one omittable (an omitted field keeps its value) with its type and constraints
    kept: null only where the field itself takes null."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        annotation = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        out[name] = (annotation, Field(default=None, description=f.description, json_schema_extra=f.json_schema_extra))
    return out


class _Changes(_In):
    """A change: at least one field."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})


#: PUT /api/v1/schedule/{id}: any subset of the job's fields; the merged job is validated as a whole.
JobUpdate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "JobUpdate",
    __base__=_Changes,
    __doc__="Fields of a job to change (at least one); the others keep their values.",
    **_omittable_fields(JobSpec),
)


def _clears(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"type": "null"}}}


def _sets(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"type": "string"}}}


JobUpdate.model_config["json_schema_extra"] = {
    "minProperties": 1,
    # A job has a cron_expr or an `at`, never both: clearing one takes setting the other in the same change.
    "not": {"allOf": [_sets("cron_expr"), _sets("at")]},
    "allOf": [
        {"if": _clears("cron_expr"), "then": _sets("at")},
        {"if": _clears("at"), "then": _sets("cron_expr")},
    ],
}
JobUpdate.model_rebuild(force=True)


class RunRequest(_In):
    """POST /api/v1/schedule/{id}/run: an optional input text for this run only."""

    input: str | None = Field(default=None, max_length=50_000)  # fits the body limit, escaped


class DenyRequest(_In):
    """POST /api/v1/runs/{id}/deny: why (kept on the run and in the audit log)."""

    reason: str | None = Field(default=None, max_length=2000)


class RunAccepted(_Out):
    """A manual run queued for the daemon (202)."""

    id: str
    run_id: str
    job_id: str
    job_name: str | None = None
    status: str
    trigger: str = Trigger.manual.value
    input: str | None = None
    scheduled_for: datetime | None = None


class DeleteResult(_Out):
    id: str
    name: str
    deleted: bool = True


class NextRun(_Out):
    """GET /api/v1/schedule/{id}/next_run: the next slot (null when the job is not active)."""

    id: str
    job_id: str
    name: str
    status: str
    timezone: str
    next_run: datetime | None
    next_runs: list[datetime] = Field(default_factory=list, description="the next `count` slots")


class UsageRow(_Out):
    """Model agents' usage of one group (the keys of ``by``; the others are absent)."""

    day: str | None = Field(default=None, description="a UTC day, YYYY-MM-DD")
    job: str | None = None
    agent: str | None = None
    model: str | None = Field(default=None, description="as the API spells it; null for runs that did not record it")
    runs: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost_usd: float = Field(description="priced runs only")
    unpriced_runs: int


class UsageReport(_Out):
    """GET /api/v1/usage: tokens and cost of model agents' runs, grouped (the figures of `symbi usage`)."""

    since: datetime
    until: datetime | None
    by: list[str]
    rows: list[UsageRow]
    total: UsageRow


class BudgetUse(_Out):
    """One budget of a job and what it spent against it (per_run: the last model run)."""

    scope: str = Field(description="run, day, month (the job's budget) or model_day ([models.budgets])")
    label: str
    tokens: int | None = None
    usd: float | None = None
    used_tokens: int
    used_usd: float


class JobWithRuns(Job):
    """A job with its most recent runs (``GET /api/v1/schedule/{id}?history=N``)."""

    recent_runs: list[Run] = Field(default_factory=list)
    budget_used: list[BudgetUse] = Field(
        default_factory=list, description="what the job spent against each of its budgets (model agents)"
    )


class HealthMetrics(_Out):
    runs_total: int
    runs_succeeded: int
    runs_failed: int
    avg_execution_time_ms: float


class HealthReason(_Out):
    """One reason the scheduler is not healthy (docs/operations.md, "Health")."""

    code: str = Field(
        description="store_unreachable, store_damaged, dead_letter, run_overdue, tick_lag, tick_failing, stopping"
        " or api_key"
    )
    message: str
    details: dict[str, Any] | None = None


class SchedulerHealth(_Out):
    """GET /api/v1/health/scheduler, the guide's shape (plus a few extra facts)."""

    status: str = Field(description="healthy, degraded (see reasons) or unhealthy (the store cannot be read)")
    reasons: list[HealthReason] = Field(default_factory=list, description="why it is degraded or unhealthy")
    active_jobs: int
    paused_jobs: int
    dead_letter_jobs: int
    in_flight_jobs: int
    queued_runs: int
    tick_lag_seconds: float | None = None
    metrics: HealthMetrics


class Health(_Out):
    status: str


class ErrorBody(BaseModel):
    """Every error: a message for people, a stable code for programs, details (the field, the problems)."""

    error: str
    code: str
    details: Any = None


# -- the runtime family (symbiont-sdk's dataclasses, field for field) ------------------------------------------
_CRON = {"format": "cron"}
_ZONE = {"format": "iana-time-zone"}
_POLICY_IDS = "names of policies defined in config [policies.NAME]"


class CreateScheduleRequest(_In):
    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN})
    cron_expression: str = Field(json_schema_extra=_CRON)
    agent_name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": AGENT_NAME_PATTERN})
    timezone: str = Field(default="UTC", json_schema_extra=_ZONE)
    policy_ids: list[str] = Field(default_factory=list, description=_POLICY_IDS)
    one_shot: bool = False


class UpdateScheduleRequest(_Changes):
    """Fields to change (at least one); an omitted field keeps its value."""

    cron_expression: str = Field(default=None, json_schema_extra=_CRON)  # type: ignore[assignment]
    timezone: str = Field(default=None, json_schema_extra=_ZONE)  # type: ignore[assignment]
    policy_ids: list[str] = Field(default=None, description=_POLICY_IDS)  # type: ignore[assignment]
    one_shot: bool = None  # type: ignore[assignment]


class CreateScheduleResponse(_Out):
    job_id: str
    next_run: str | None
    status: str


class ScheduleSummary(_Out):
    job_id: str
    name: str
    cron_expression: str | None
    timezone: str
    status: str
    enabled: bool
    next_run: str | None
    run_count: int


class ScheduleDetail(_Out):
    job_id: str
    name: str
    cron_expression: str | None
    timezone: str
    status: str
    enabled: bool
    one_shot: bool
    next_run: str | None
    last_run: str | None
    run_count: int
    failure_count: int
    created_at: str
    updated_at: str


class ScheduleRunEntry(_Out):
    run_id: str
    started_at: str = Field(description="when the run started; its slot time when it never started")
    completed_at: str | None
    status: str
    error: str | None
    execution_time_ms: int | None


class ScheduleHistoryResponse(_Out):
    job_id: str
    history: list[ScheduleRunEntry]


class NextRunsResponse(_Out):
    job_id: str
    next_runs: list[str]


class ScheduleActionResponse(_Out):
    job_id: str
    action: str
    status: str


class DeleteScheduleResponse(_Out):
    job_id: str
    deleted: bool


class RuntimeSchedulerHealth(_Out):
    """``GET /api/v1/health/scheduler?format=runtime``: the shape of symbiont-sdk's SchedulerHealthResponse."""

    is_running: bool
    store_accessible: bool
    jobs_total: int
    jobs_active: int
    jobs_paused: int
    jobs_dead_letter: int
    global_active_runs: int
    max_concurrent: int
    runs_total: int
    runs_succeeded: int
    runs_failed: int
    average_execution_time_ms: float
    longest_run_ms: float


# -- conversions -----------------------------------------------------------------------------------------------
def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def schedule_detail(job: dict[str, Any]) -> dict[str, Any]:
    """A stored job in symbiont-sdk's ScheduleDetail shape."""
    return ScheduleDetail(
        job_id=job["id"],
        name=job["name"],
        cron_expression=job.get("cron_expr"),
        timezone=job["timezone"],
        status=job["status"],
        enabled=job["status"] == JobStatus.active,
        one_shot=bool(job.get("one_shot")),
        next_run=_iso(job.get("next_run")),
        last_run=_iso(job.get("last_run")),
        run_count=job["run_count"],
        failure_count=job["failure_count"],
        created_at=_iso(job["created_at"]) or "",
        updated_at=_iso(job["updated_at"]) or "",
    ).model_dump(mode="json")


def schedule_summary(job: dict[str, Any]) -> dict[str, Any]:
    """A stored job in symbiont-sdk's ScheduleSummary shape (the detail's fields that the summary has)."""
    detail = schedule_detail(job)
    return {name: detail[name] for name in ScheduleSummary.model_fields}


def schedule_run_entry(run: dict[str, Any]) -> dict[str, Any]:
    """A run in symbiont-sdk's ScheduleRunEntry shape (``started_at`` is never null there)."""
    started = run.get("started_at") or run.get("scheduled_for")
    return ScheduleRunEntry(
        run_id=run["id"],
        started_at=_iso(started) or "",
        completed_at=_iso(run.get("finished_at")),
        status=run["status"],
        error=run.get("error_message"),
        execution_time_ms=run.get("execution_time_ms"),
    ).model_dump(mode="json")
