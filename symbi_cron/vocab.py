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


#: Run statuses after which nothing more happens to the run.
FINAL_RUN_STATUSES = frozenset(
    {"succeeded", "failed", "timed_out", "denied", "skipped", "missed", "interrupted", "cancelled"}
)
#: Run statuses that count as a failure of the job (SPEC §5).
FAILURE_RUN_STATUSES = frozenset({"failed", "timed_out", "interrupted"})


class Trigger(str, Enum):
    schedule = "schedule"
    manual = "manual"
    retry = "retry"
    catchup = "catchup"


class Catchup(str, Enum):
    once = "once"
    skip = "skip"


#: Channels built in; anything else must be ``custom:NAME``.
BUILTIN_CHANNELS = ("stdout", "log_file", "webhook", "slack", "email")

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
    "policy",
    "max_concurrent",
    "max_retries",
    "retry_backoff_seconds",
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
