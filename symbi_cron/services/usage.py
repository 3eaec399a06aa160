"""What model agents used: tokens and cost per day, job, agent and model (the dashboard's usage page; shaped for a
``symbi usage`` command: since a date, filtered by job, agent or model, rolled up by any of those keys).

Days are UTC days. A run's model is the one that answered it (recorded since migration 7); older runs show
``model: None``. Cost counts priced runs only: ``unpriced_runs`` says how many had no price configured
(``[models.prices]``, docs/model-agents.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidInput
from ..store.usage import DAY_MS, usage_rows
from ..timeutil import to_ms
from .app import App

#: The keys :func:`rollup` can group by.
KEYS = ("day", "job", "agent", "model")
_SUMS = ("runs", "input_tokens", "output_tokens", "cost_usd", "unpriced_runs")


def usage(
    app: App,
    *,
    since: datetime,
    until: datetime | None = None,
    job: str | None = None,
    agent: str | None = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """One row per (day, job, agent, model) with model runs finished from ``since`` (until ``until``): ``day`` as
    an ISO date, the sums of :data:`_SUMS` (``cost_usd`` rounded to a millionth of a dollar)."""
    if until is not None and until <= since:
        raise InvalidInput(f"until ({until.isoformat()}) is not after since ({since.isoformat()})", field="until")
    rows = usage_rows(
        app.store.connection(),
        since_ms=to_ms(since),
        until_ms=to_ms(until) if until is not None else None,
        job=job,
        agent=agent,
        model=model,
    )
    for r in rows:
        r["day"] = day_of(r["day"]).isoformat()
        r["cost_usd"] = round(r["cost_usd"], 6)
    return rows


def day_of(days_since_epoch: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=days_since_epoch * DAY_MS)).date()


def rollup(rows: list[dict[str, Any]], by: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows summed by the keys ``by`` (a subset of :data:`KEYS`, in that order), sorted by them."""
    unknown = [k for k in by if k not in KEYS]
    if unknown:
        raise InvalidInput(f"cannot group by {unknown[0]!r} (expected {', '.join(KEYS)})", field="by")
    out: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = tuple(r[k] for k in by)
        acc = out.get(key)
        if acc is None:
            acc = out[key] = {**{k: r[k] for k in by}, **dict.fromkeys(_SUMS, 0)}
        for s in _SUMS:
            acc[s] += r[s]
    for acc in out.values():
        acc["cost_usd"] = round(acc["cost_usd"], 6)
    return [out[k] for k in sorted(out, key=lambda t: tuple("" if v is None else str(v) for v in t))]


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sums over every row."""
    return rollup(rows, ())[0] if rows else dict.fromkeys(_SUMS, 0)
