"""The scheduler's vocabulary, defined once: run and job statuses, triggers, audit event types, channel names,
modes, and the field order of a job. Code names a word (``RunStatus.running``, ``Event.job_created``,
``Channel.email``) instead of writing its string; ``tests/test_vocab.py`` fails on a status written as a bare string
where it is compared or set.

Every word is a :class:`Word`: a ``str`` whose value is what is stored, compared, sent and printed (``str()``,
f-strings, JSON, SQL parameters all see ``"running"``), so a word and the string read back from the store are
equal and hash alike. Plain enums and tuples, no pydantic: read paths (``symbi cron list``) import this without
paying for the models.
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A word of the vocabulary: its value everywhere (``enum.StrEnum`` does this from Python 3.11; 3.10 is
    supported). Hashes as its value, so a word finds the plain string in a set or a dict, and the other way."""

    def __str__(self) -> str:
        return str.__str__(self)

    __format__ = str.__format__
    __hash__ = str.__hash__


class SessionMode(Word):
    ephemeral_with_summary = "ephemeral_with_summary"
    shared_persistent = "shared_persistent"
    fully_ephemeral = "fully_ephemeral"


class JobStatus(Word):
    active = "active"
    paused = "paused"
    completed = "completed"
    failed = "failed"
    dead_letter = "dead_letter"


class RunStatus(Word):
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
    {
        RunStatus.succeeded,
        RunStatus.failed,
        RunStatus.timed_out,
        RunStatus.denied,
        RunStatus.skipped,
        RunStatus.missed,
        RunStatus.interrupted,
        RunStatus.cancelled,
        RunStatus.budget_exceeded,
    }
)
#: Run statuses that are a failure of the run (SPEC §5): delivered on ``delivery_on: failure``. All of them count
#: toward dead-letter except ``budget_exceeded``, unless the job's ``budget.counts_as_failure`` says so.
FAILURE_RUN_STATUSES = frozenset(
    {RunStatus.failed, RunStatus.timed_out, RunStatus.interrupted, RunStatus.budget_exceeded}
)
#: A run that is not over yet (the partial index ``runs_open`` holds these).
OPEN_RUN_STATUSES = (RunStatus.queued, RunStatus.running, RunStatus.pending_approval)
#: A queued or running run takes a place of its job's ``max_concurrent``.
OCCUPYING_RUN_STATUSES = (RunStatus.queued, RunStatus.running)


class Trigger(Word):
    schedule = "schedule"
    manual = "manual"
    retry = "retry"
    catchup = "catchup"


#: Triggers of the runs the schedule made (a manual run is not one): a job no longer active cancels them.
SCHEDULED_TRIGGERS = (Trigger.schedule, Trigger.catchup, Trigger.retry)


class DaemonStatus(Word):
    """What the pidfile says of this home's daemon (``processes.daemon_state``)."""

    running = "running"
    stopped = "stopped"
    stale = "stale"  # a pidfile whose process is gone


class ApprovalStatus(Word):
    """A person's decision on a run waiting for approval (kept in the run's ``detail.approval``)."""

    approved = "approved"
    denied = "denied"


class Catchup(Word):
    once = "once"
    skip = "skip"


class DeliveryOn(Word):
    """When a finished run is sent to the job's channels (``services.delivery.wants_delivery``)."""

    always = "always"
    failure = "failure"  # only failed runs: cron's MAILTO with chronic
    change = "change"  # only when the status differs from the previous run's


class OnFailure(Word):
    """What a failed run that has used its retries does to its job (``services.failure_policy``)."""

    dead_letter = "dead_letter"  # the job stops (SPEC §5) until `symbi cron reset`
    continue_ = "continue"  # like cron: the job stays active and its next slot runs


class ChannelName(Word):
    """The delivery channels built in (``delivery/router.py`` maps each to its class); anything else is
    ``custom:NAME``."""

    stdout = "stdout"
    log_file = "log_file"
    webhook = "webhook"
    slack = "slack"
    email = "email"


#: Channels built in, as plain strings in their order; anything else must be ``custom:NAME``.
BUILTIN_CHANNELS: tuple[str, ...] = tuple(c.value for c in ChannelName)

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


class Event(Word):
    """Every audit event type written anywhere (``store/audit.py`` keeps them hash-chained), in the order a reader
    meets them in a job's life."""

    job_created = "CronJobCreated"
    job_updated = "CronJobUpdated"
    job_deleted = "CronJobDeleted"
    job_paused = "CronJobPaused"
    job_resumed = "CronJobResumed"
    job_reset = "CronJobReset"
    job_triggered = "CronJobTriggered"
    job_executed = "CronJobExecuted"
    job_failed = "CronJobFailed"
    job_dead_lettered = "CronJobDeadLettered"
    job_completed = "CronJobCompleted"
    agent_registered = "AgentRegistered"
    agent_removed = "AgentRemoved"
    agent_pin_failed = "AgentPinVerificationFailed"
    run_policy_denied = "CronRunPolicyDenied"
    run_approval_requested = "CronRunApprovalRequested"
    run_approved = "CronRunApproved"
    run_denied = "CronRunDenied"
    run_approval_expired = "CronRunApprovalExpired"
    run_cancelled = "CronRunCancelled"
    run_budget_exceeded = "CronRunBudgetExceeded"
    store_pruned = "StorePruned"
    dashboard_session_started = "DashboardSessionStarted"
    dashboard_sessions_ended = "DashboardSessionsEnded"


#: Every event type, as plain strings in that order (``symbi cron audit --type`` completes them).
EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in Event)
