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
