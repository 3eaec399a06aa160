"""Conversions between instants, the store's integer form and ISO 8601 text.

The store keeps every instant as integer milliseconds since the Unix epoch (UTC): they sort and compare as
instants whatever zone they were written in.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .errors import InvalidInput


def to_ms(dt: datetime) -> int:
    """An aware datetime as epoch milliseconds."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return int(round(dt.timestamp() * 1000))


def from_ms(ms: int | None) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime (None stays None)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def iso(dt: datetime | None, tz=None) -> str | None:
    """ISO 8601 with offset, in ``tz`` when given, else as is."""
    if dt is None:
        return None
    if tz is not None:
        dt = dt.astimezone(tz)
    return dt.isoformat()


def iso_ms(ms: int | None, tz=None) -> str | None:
    return iso(from_ms(ms), tz)


def parse_iso(text: str, *, field: str) -> datetime:
    """Parse ISO 8601 as written: aware with an offset (or Z), naive without one."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("expected an ISO 8601 date-time", field=field)
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date-time (e.g. 2026-02-15T14:30:00Z)", field=field) from None


def parse_instant(text: str, *, field: str, default_tz=None) -> datetime:
    """Parse ISO 8601 into an aware datetime; a naive value is taken in ``default_tz`` (or rejected)."""
    dt = parse_iso(text, field=field)
    if dt.tzinfo is None:
        if default_tz is None:
            raise InvalidInput(f"{text!r} has no UTC offset (add Z or +HH:MM)", field=field)
        dt = dt.replace(tzinfo=default_tz)
    return dt


def local_zone():
    """The machine's local zone as a tzinfo."""
    return datetime.now().astimezone().tzinfo


def load_zone(name: str, *, field: str = "timezone"):
    """A ZoneInfo for an IANA name, or InvalidInput naming the field."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name:
        raise InvalidInput("expected an IANA time zone name such as Europe/Madrid", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Madrid)", field=field
        ) from None


def local_zone_name() -> str:
    """The IANA name of the machine's zone, best effort (falls back to UTC)."""
    import os

    tz = os.environ.get("TZ")
    if tz and not tz.startswith(":") and "/" in tz:
        return tz
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as fh:
            name = fh.read().strip()
            if name:
                return name
    except OSError:
        pass
    return "UTC"


_UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip


def parse_relative(text: str, now: datetime) -> datetime | None:
    """A time written relative to ``now`` as journalctl and people write it: ``1h``, ``-1h``, ``90min``,
    ``1h30m``, ``2 hours ago``, ``3 days ago``, ``now``, ``today``, ``yesterday`` (local midnights). None when
    ``text`` is not one of these."""
    import re
    from datetime import timedelta

    s = " ".join(text.strip().lower().split())
    if s == "now":
        return now
    if s in ("today", "yesterday"):
        midnight = now.astimezone(local_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=1) if s == "yesterday" else midnight
    s = s.removeprefix("-").removesuffix(" ago").strip()
    parts = re.findall(r"(\d+)\s*([a-z]+)\s*", s)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != s.replace(" ", ""):
        return None
    seconds = 0
    for number, unit in parts:
        if unit not in _UNIT_SECONDS:
            return None
        seconds += int(number) * _UNIT_SECONDS[unit]
    return now - timedelta(seconds=seconds)


def parse_when(text: str, *, field: str, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """A point in time as a person gives one on the command line: relative (``1h``, ``2 hours ago``,
    ``yesterday``: :func:`parse_relative`), ``YYYY-MM-DD`` or ISO 8601 (without an offset: local time). A bare
    date given as an upper bound (``end_of_day``) means the end of that day, so ``--until 2026-02-01`` includes
    all of February 1st."""
    from datetime import timedelta

    s = text.strip() if isinstance(text, str) else ""
    relative = parse_relative(s, now or datetime.now(timezone.utc)) if s else None
    if relative is not None:
        return relative
    if len(s) == 10 and s[4:5] == "-" and s[7:8] == "-":
        try:
            day = datetime.strptime(s, "%Y-%m-%d")
        except ValueError:
            raise InvalidInput(f"{text!r} is not a date (expected YYYY-MM-DD or ISO 8601)", field=field) from None
        start = day.replace(tzinfo=local_zone())
        return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start
    try:
        return parse_instant(s, field=field, default_tz=local_zone())
    except InvalidInput:
        raise InvalidInput(
            f"{text!r} is not a time (expected 1h, 30min, '2 hours ago', yesterday, YYYY-MM-DD or ISO 8601 such"
            " as 2026-02-01T09:00:00+01:00)",
            field=field,
        ) from None
