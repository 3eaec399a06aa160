"""What a failed run does to its job (SPEC §5), decided in one pure function so the run path asks it once.

A failed run is retried (after ``retry_backoff_seconds``, doubling) while fewer than ``max_retries`` attempts have
failed. Then ``on_failure`` decides: ``dead_letter`` (the default) stops the job until ``symbi cron reset``;
``continue`` leaves it active, as cron does, so the next slot runs whatever became of this one (the consecutive
failure count goes on counting, for people and alerts, but stops nothing). Jobs imported from a crontab get
``continue`` and no retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Action = Literal["retry", "dead_letter", "wait"]


def max_retries_of(job: Mapping[str, Any]) -> int:
    value = job.get("max_retries")
    return 3 if value is None else int(value)


def after_failure(job: Mapping[str, Any], *, attempt: int, failure_count: int) -> Action:
    """``retry`` the failed run (its ``attempt`` failed), ``dead_letter`` the job, or ``wait`` for its next slot.

    ``failure_count`` is the job's consecutive failures including this one. With ``on_failure: dead_letter`` the
    job is dead-lettered at ``max_retries`` consecutive failures (0 and 1 both at the first); with ``continue``
    each failing slot gets up to ``max_retries`` attempts (counted per slot, so a new slot gets its own) and then
    the job waits for its next slot.
    """
    limit = max_retries_of(job)
    if job.get("on_failure") == "continue":
        return "retry" if attempt < limit else "wait"
    return "dead_letter" if failure_count >= limit else "retry"
