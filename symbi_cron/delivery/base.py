"""The delivery contract: what a channel receives, what it gives back, and what it may use (SPEC §8).

A channel is any object with a ``name`` and ``send(payload, ctx) -> Receipt``. Channels never raise for an
ordinary failure (a refused connection, an HTTP 500, a bad password): they return a failed :class:`Receipt`
whose ``detail`` says why. The router (``router.deliver``) still catches anything a channel raises, so a buggy
channel can never fail the run or lose its output.

:meth:`DeliveryPayload.to_json` is the documented body of the webhook and of ``custom:NAME`` commands
(docs/delivery.md); keep its field names stable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ..vocab import RunStatus

if TYPE_CHECKING:
    from ..config import Settings
    from ..paths import Paths
    from .redact import Redactor

#: Version of the JSON body; bumped only for an incompatible change.
PAYLOAD_VERSION = 1

#: Job fields that go into the payload. Everything else (headers, recipients, custom settings, the AgentPin JWT)
#: is configuration that may hold secrets, so it is left out on purpose.
JOB_FIELDS = ("id", "name", "agent_id", "timezone")
#: Run fields that go into the payload, in this order.
RUN_FIELDS = (
    "id",
    "status",
    "trigger",
    "attempt",
    "scheduled_for",
    "started_at",
    "finished_at",
    "execution_time_ms",
    "exit_code",
    "iterations",
    "summary",
    "error_message",
)
_TIME_FIELDS = frozenset({"scheduled_for", "started_at", "finished_at"})

#: Run statuses that mean the agent did its work.
SUCCESS_STATUSES = frozenset({RunStatus.succeeded})


def _plain(value: Any) -> Any:
    """A JSON-friendly form: enums by value, datetimes as ISO 8601 with offset."""
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        value = value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return value


def _time(value: Any) -> str | None:
    """A run time as ISO 8601: accepts a datetime, epoch milliseconds or ISO text."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from ..timeutil import from_ms

        dt = from_ms(int(value))
        return dt.isoformat() if dt else None
    return _plain(value)


@dataclass
class DeliveryPayload:
    """What every channel receives: the job, the finished run and the run's full output."""

    job: dict[str, Any]
    run: dict[str, Any]
    output: str

    @property
    def job_name(self) -> str:
        return str(self.job.get("name") or self.job.get("id") or "?")

    @property
    def status(self) -> str:
        return str(_plain(self.run.get("status")) or "unknown")

    @property
    def run_id(self) -> str:
        return str(self.run.get("id") or "?")

    @property
    def ok(self) -> bool:
        """Whether the run succeeded (what channels show as the headline)."""
        return self.status in SUCCESS_STATUSES

    def duration_text(self) -> str | None:
        """``1.23s`` / ``4m05s`` from ``execution_time_ms``, or None."""
        ms = self.run.get("execution_time_ms")
        if ms is None:
            return None
        return format_ms(int(ms))

    def to_dict(self) -> dict[str, Any]:
        """The documented body (docs/delivery.md): ``{version, event, job{...}, run{...}, output}``."""
        job = {k: _plain(self.job.get(k)) for k in JOB_FIELDS}
        run: dict[str, Any] = {}
        for k in RUN_FIELDS:
            v = self.run.get(k)
            run[k] = _time(v) if k in _TIME_FIELDS else _plain(v)
        return {
            "version": PAYLOAD_VERSION,
            "event": "run.finished",
            "job": job,
            "run": run,
            "output": self.output or "",
        }

    def to_json(self) -> str:
        """The body as compact UTF-8 JSON text (non-ASCII kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def format_ms(ms: int) -> str:
    """A short human duration: ``850ms``, ``1.23s``, ``4m05s``, ``2h03m``."""
    if ms < 1000:
        return f"{ms}ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.2f}s"
    total = int(round(s))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"


@dataclass
class Receipt:
    """The result of one channel for one run."""

    channel: str
    ok: bool
    detail: str | None
    attempts: int
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``at`` as ISO 8601 with offset)."""
        return {
            "channel": self.channel,
            "ok": self.ok,
            "detail": self.detail,
            "attempts": self.attempts,
            "at": self.at.isoformat(),
        }


class Channel(Protocol):
    """One way of delivering a run's output."""

    name: str

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        """Deliver; return a receipt (failed receipts for ordinary failures, no exception)."""
        ...


@dataclass
class DeliveryContext:
    """What channels may use. Built by the entry point (supervisor, CLI) and passed down."""

    settings: Settings
    paths: Paths
    clock: Any
    env: Mapping[str, str]
    log: logging.Logger | None = None
    #: Injectable so retry tests are fast and exact.
    sleep: Callable[[float], None] = time.sleep
    #: Where the ``stdout`` channel writes (the daemon's log in daemon mode, the terminal in the foreground).
    stdout: TextIO | None = None
    #: Set by the router for each payload: every text a channel logs or returns goes through it.
    redactor: Redactor | None = field(default=None, repr=False)

    @property
    def delivery(self):  # -> DeliverySettings
        return self.settings.scheduler.delivery

    def now(self) -> datetime:
        return self.clock.now()

    def secret(self, value: str | None) -> str | None:
        """A configured value with ``${VAR}`` expanded from this context's environment (use it, never show
        it)."""
        if value is None:
            return None
        from ..envref import expand_env

        return expand_env(value, dict(self.env))

    def redact(self, text: str | None) -> str | None:
        """``text`` with every known secret masked."""
        if text is None or self.redactor is None:
            return text
        return self.redactor(text)

    def info(self, msg: str) -> None:
        if self.log is not None:
            self.log.info("%s", self.redact(msg))

    def warning(self, msg: str) -> None:
        if self.log is not None:
            self.log.warning("%s", self.redact(msg))

    def receipt(self, channel: str, ok: bool, detail: str | None, attempts: int = 1) -> Receipt:
        """A receipt stamped now, its detail redacted."""
        return Receipt(channel=channel, ok=ok, detail=self.redact(detail), attempts=attempts, at=self.now())


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, marked with ``…`` when cut."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
