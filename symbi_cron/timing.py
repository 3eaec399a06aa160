"""TEMPORARY stub of the cron engine (being replaced by the real pure engine). Interface only."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .errors import CronError


class CronExpr:
    def __init__(self, expr: str) -> None:
        from croniter import croniter

        self.expr = expr
        if not croniter.is_valid(expr):
            raise CronError(f"invalid cron expression {expr!r}", field="cron_expr")

    def next_after(self, after: datetime, tz: Any) -> datetime:
        from croniter import croniter

        it = croniter(self.expr, after.astimezone(tz))
        return it.get_next(datetime).astimezone(timezone.utc)


def parse(expr: str) -> CronExpr:
    return CronExpr(expr)


def next_times(expr: str, tz: Any, after: datetime, count: int) -> list[datetime]:
    c = parse(expr)
    out = []
    for _ in range(count):
        after = c.next_after(after, tz)
        out.append(after)
    return out


def describe(expr: str) -> str:
    return expr
