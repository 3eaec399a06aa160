"""A sample run for ``symbi cron test-delivery``: what a job's channels would receive, with no agent run."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from ..vocab import BUILTIN_CHANNELS, RunStatus, Trigger
from .base import DeliveryPayload


def sample_payload(job: dict[str, Any], now: datetime) -> DeliveryPayload:
    """A succeeded manual run of ``job`` finishing at ``now`` (its id starts with ``test-``; nothing is
    stored)."""
    started = now - timedelta(milliseconds=1500)
    name = job.get("name") or job.get("id")
    run = {
        "id": f"test-{uuid.uuid4()}",
        "status": RunStatus.succeeded,
        "trigger": Trigger.manual,
        "attempt": 1,
        "scheduled_for": now,
        "started_at": started,
        "finished_at": now,
        "execution_time_ms": 1500,
        "exit_code": 0,
        "iterations": 1,
        "summary": "Test delivery from `symbi cron test-delivery`: no agent ran.",
        "error_message": None,
    }
    output = (
        f"This is a test delivery for job {name}, sent by `symbi cron test-delivery` at {now.isoformat()}.\n"
        "No agent ran. A real run's output appears here.\n"
    )
    return DeliveryPayload(job=dict(job), run=run, output=output)


def check_channel_names(names: Iterable[str], *, field: str = "--channel") -> list[str]:
    """The names, each built in or ``custom:NAME``; InvalidInput naming the first bad one."""
    out: list[str] = []
    for n in names:
        n = n.strip()
        if n not in BUILTIN_CHANNELS and not (n.startswith("custom:") and len(n) > len("custom:")):
            raise InvalidInput(
                f"unknown channel {n!r} (expected one of {', '.join(BUILTIN_CHANNELS)} or custom:NAME)",
                field=field,
            )
        if n not in out:
            out.append(n)
    return out
