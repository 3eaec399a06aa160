"""Times for people, as ``systemctl list-timers`` shows them: an instant in the job's own zone
(``Mon 2026-11-30 09:00 CET``) and the time left or passed (``in 21h``, ``3h 5min ago``).

``--utc`` shows every instant in UTC instead. JSON and CSV output never go through here: they keep ISO 8601.
Standard library only (zoneinfo): every read command imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from functools import lru_cache


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo | None:
    """The zone named ``name`` (None when there is no name or it is unknown: the caller falls back)."""
    if not name:
        return None
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):
        return None


def stamp(dt: datetime | None, tz: tzinfo | None = None, *, seconds: bool = False, weekday: bool = True) -> str:
    """``Mon 2026-11-30 09:00 CET``: the instant in ``tz`` (UTC when None), with its zone's abbreviation."""
    if dt is None:
        return "-"
    local = dt.astimezone(tz or timezone.utc)
    fmt = ("%a " if weekday else "") + ("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{local.strftime(fmt)} {abbreviation(local)}"


def clock_time(dt: datetime | None, tz: tzinfo | None = None, *, same_day_as: datetime | None = None) -> str:
    """``06:01:21`` when ``dt`` falls on the local day of ``same_day_as``, else the full stamp with seconds."""
    if dt is None:
        return "-"
    local = dt.astimezone(tz or timezone.utc)
    if same_day_as is not None and same_day_as.astimezone(tz or timezone.utc).date() == local.date():
        return local.strftime("%H:%M:%S")
    return stamp(dt, tz, seconds=True)


def abbreviation(local: datetime) -> str:
    """The zone's abbreviation (CET, EDT, UTC) or, for zones that have none, the offset (+05:30)."""
    abbr = local.tzname() or ""
    if abbr and not abbr.startswith(("+", "-")):
        return abbr
    offset = local.strftime("%z")
    return f"{offset[:3]}:{offset[3:5]}" if offset else "UTC"


_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def span(seconds: float) -> str:
    """A duration the way systemd prints one, in its largest unit and the next one down when not zero:
    ``45s``, ``12min 30s``, ``21h``, ``2h 5min``, ``3d 4h``. The rest is cut, never rounded up."""
    rest = int(abs(seconds))
    if rest == 0:
        return "0s"
    for i, (unit, size) in enumerate(_UNITS):
        if rest >= size:
            n, rest = divmod(rest, size)
            text = f"{n}{unit}"
            if i + 1 < len(_UNITS):
                below, below_size = _UNITS[i + 1]
                m = rest // below_size
                if m:
                    text += f" {m}{below}"
            return text
    return "0s"  # not reached: the last unit is one second


def relative(dt: datetime | None, now: datetime) -> str:
    """``in 21h`` for an instant to come, ``3h 5min ago`` for one passed, ``now`` within a second."""
    if dt is None:
        return "-"
    delta = (dt - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


@dataclass
class TimeView:
    """How one invocation shows instants: in each job's zone (the default) or in UTC (``--utc``), relative to
    ``now`` (one instant for the whole table, so rows agree)."""

    utc: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def tz(self, row: dict | None) -> tzinfo | None:
        """The zone to show a row's instants in: the job's ``timezone`` (UTC with --utc, or when unknown)."""
        if self.utc or not row:
            return timezone.utc
        return zone(row.get("timezone")) or timezone.utc

    def at(self, dt: datetime | None, row: dict | None, *, seconds: bool = False) -> str:
        return stamp(dt, self.tz(row), seconds=seconds)

    def rel(self, dt: datetime | None) -> str:
        return relative(dt, self.now)

    def at_rel(self, dt: datetime | None, row: dict | None, *, seconds: bool = False) -> str:
        """``Mon 2026-11-30 09:00:00 CET (in 21h)``: for one-record views (``cron status``)."""
        if dt is None:
            return "-"
        return f"{self.at(dt, row, seconds=seconds)} ({self.rel(dt)})"
