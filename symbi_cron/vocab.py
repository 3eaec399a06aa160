"""The scheduler's vocabulary: statuses, triggers, modes, channel names, and the field order of a job.

Plain enums and tuples, no pydantic: read paths (``symbi cron list``) import this without paying for the models.
"""

from __future__ import annotations

from enum import Enum


class SessionMode(str, Enum):
    ephemeral_with_summary = "ephemeral_with_summary"
    shared_persistent = "shared_persistent"
    fully_ephemeral = "fully_ephemeral"


class JobStatus(str, Enum):
    active = "active"
    paused = "paused"
    completed = "completed"
    failed = "failed"
    dead_letter = "dead_letter"


class RunStatus(str, Enum):
    queued = "queued"
    pending_approval = "pending_approval"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    denied = "denied"
    skipped = "skipped"
    missed = "missed"
    interrupted = "interrupted"
    cancelled = "cancelled"
    #: A model agent stopped before its next model call: a budget (``budget`` of the job, ``[models.budgets]``)
    #: was spent. A failure for delivery and history; it counts toward dead-letter only with
    #: ``budget.counts_as_failure``.
    budget_exceeded = "budget_exceeded"


#: Run statuses after which nothing more happens to the run.
FINAL_RUN_STATUSES = frozenset(
    {"succeeded", "failed", "timed_out", "denied", "skipped", "missed", "interrupted", "cancelled", "budget_exceeded"}
)
#: Run statuses that are a failure of the run (SPEC §5): delivered on ``delivery_on: failure``. All of them count
#: toward dead-letter except ``budget_exceeded``, unless the job's ``budget.counts_as_failure`` says so.
FAILURE_RUN_STATUSES = frozenset({"failed", "timed_out", "interrupted", "budget_exceeded"})


class Trigger(str, Enum):
    schedule = "schedule"
    manual = "manual"
    retry = "retry"
    catchup = "catchup"


class Catchup(str, Enum):
    once = "once"
    skip = "skip"


class DeliveryOn(str, Enum):
    """When a finished run is sent to the job's channels (``services.delivery.wants_delivery``)."""

    always = "always"
    failure = "failure"  # only failed runs: cron's MAILTO with chronic
    change = "change"  # only when the status differs from the previous run's


class OnFailure(str, Enum):
    """What a failed run that has used its retries does to its job (``services.failure_policy``)."""

    dead_letter = "dead_letter"  # the job stops (SPEC §5) until `symbi cron reset`
    continue_ = "continue"  # like cron: the job stays active and its next slot runs


#: Channels built in; anything else must be ``custom:NAME``.
BUILTIN_CHANNELS = ("stdout", "log_file", "webhook", "slack", "email")

#: Spec fields added after jobs were first stored, with the value a job stored without them has.
LATER_SPEC_DEFAULTS: dict[str, object] = {
    "delivery_on": "always",
    "on_failure": "dead_letter",
    "budget": {"per_run": None, "per_day": None, "per_month": None, "counts_as_failure": False},
}

#: A job's fields in the order of SPEC §4 (JSON output reads top-down like the spec). tests/test_models.py checks
#: that it matches models.Job.
JOB_FIELD_ORDER = (
    "id",
    "name",
    "agent_id",
    "cron_expr",
    "at",
    "timezone",
    "input",
    "session_mode",
    "heartbeat",
    "delivery",
    "webhook_url",
    "webhook_headers",
    "slack_channel",
    "email_recipients",
    "custom",
    "delivery_on",
    "policy",
    "budget",
    "max_concurrent",
    "max_retries",
    "retry_backoff_seconds",
    "on_failure",
    "jitter_seconds",
    "catchup",
    "one_shot",
    "agent_pin_jwt",
    "status",
    "next_run",
    "last_run",
    "run_count",
    "failure_count",
    "created_at",
    "updated_at",
)

#: Every event type written anywhere, in the order a reader meets them in a job's life.
EVENT_TYPES: tuple[str, ...] = (
    "CronJobCreated",
    "CronJobUpdated",
    "CronJobDeleted",
    "CronJobPaused",
    "CronJobResumed",
    "CronJobReset",
    "CronJobTriggered",
    "CronJobExecuted",
    "CronJobFailed",
    "CronJobDeadLettered",
    "CronJobCompleted",
    "AgentRegistered",
    "AgentRemoved",
    "AgentPinVerificationFailed",
    "CronRunPolicyDenied",
    "CronRunApprovalRequested",
    "CronRunApproved",
    "CronRunDenied",
    "CronRunApprovalExpired",
    "CronRunCancelled",
    "CronRunBudgetExceeded",
    "StorePruned",
    "DashboardSessionStarted",
    "DashboardSessionsEnded",
)
