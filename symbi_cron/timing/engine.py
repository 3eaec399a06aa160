"""Pure cron math (SPEC §3): parse five-field expressions and find their fire times in a time zone.

Nothing here reads the clock or does I/O: callers pass the instant to search from and the zone, and get aware
UTC datetimes back. The search jumps field by field (month, day, hour, minute) over *wall-clock* times, then
maps each matching wall time to real instants with Debian cron's daylight-saving rules (see docs/decisions.md,
"Cron engine"):

* fixed-time jobs (neither the minute nor the hour field starts with ``*``) fire once per matching wall time:
  in a repeated hour at its first occurrence only, and when a forward jump skips the wall time, at the first
  instant after the jump;
* every other job follows the real clock: it fires at each real instant whose local time matches, so twice in
  a repeated hour and never in skipped wall times.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from ..errors import CronError

__all__ = ["CronExpr", "parse", "next_times", "MACROS", "FIELD_NAMES"]

UTC = timezone.utc
_MINUTE = timedelta(minutes=1)

FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_MINUTE_F, _HOUR_F, _DOM_F, _MONTH_F, _DOW_F = range(5)
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EXPR_FIELD = "cron expression"

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Parsed items of one field. Kept (not just the value sets) so that describe() can speak about what was written.
#
#   ("any", step)                      *  or  */step  (and ? in the day fields)
#   ("range", lo, hi, step, open)      5, 5-10, 5-10/2, 10/5  (open=True: "10/5" runs to the field's maximum)
#   ("last", offset)                   L, L-3   (day of month)
#   ("weekday", day)                   15W      (day of month)
#   ("lastweekday",)                   LW       (day of month)
#   ("lastdow", dow)                   5L       (day of week)
#   ("nth", dow, n)                    5#3      (day of week)
Item = tuple


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _err(field: int, message: str) -> CronError:
    return CronError(message, field=FIELD_NAMES[field])


def _number(text: str, field: int, what: str = "") -> int:
    # str.isdigit() accepts "²" and other non-ASCII digits; cron does not.
    if not text or any(ch not in "0123456789" for ch in text):
        raise _err(field, f'"{text}" is not a number{what}')
    return int(text)


def _value(text: str, field: int) -> int:
    """A number or (month, day of week) a three-letter name, range-checked."""
    lo, hi = _BOUNDS[field]
    if text and text[0].isalpha():
        names = _MONTH_NAMES if field == _MONTH_F else _DAY_NAMES if field == _DOW_F else None
        if names is None:
            raise _err(field, f'"{text}" is not a number')
        try:
            return names.index(text) + (1 if field == _MONTH_F else 0)
        except ValueError:
            sample = "jan-dec" if field == _MONTH_F else "sun-sat"
            raise _err(field, f'unknown name "{text}" (expected a number {lo}-{hi} or a name {sample})') from None
    v = _number(text, field)
    if not lo <= v <= hi:
        raise _err(field, f"{v} is out of range {lo}-{hi}")
    return v


def _parse_item(raw: str, field: int) -> Item:
    t = raw.lower()
    lo, hi = _BOUNDS[field]
    if not t:
        raise _err(field, "empty item in a list (two commas, or a trailing comma)")
    if field == _DOM_F:
        if t == "l":
            return ("last", 0)
        if t.startswith("l-"):
            off = _number(t[2:], field, " after L-")
            if off > 30:
                raise _err(field, f"L-{off}: the offset must be 0-30")
            return ("last", off)
        if t == "lw":
            return ("lastweekday",)
        if t.endswith("w"):
            day = _number(t[:-1], field, " before W")
            if not 1 <= day <= 31:
                raise _err(field, f"{day}W: the day must be 1-31")
            return ("weekday", day)
        if "l" in t or "w" in t or "#" in t:
            raise _err(field, f'"{raw}" is not valid here (use L, L-N, NW or LW)')
    if field == _DOW_F:
        if t == "l":
            raise _err(field, '"L" alone is not valid here (use e.g. 5L for the last Friday of the month)')
        if "#" in t:
            dow, _, nth = t.partition("#")
            n = _number(nth, field, " after #")
            if not 1 <= n <= 5:
                raise _err(field, f"#{n}: the occurrence must be 1-5")
            return ("nth", _value(dow, field) % 7, n)
        if t.endswith("l") and "-" not in t and "/" not in t and "," not in t:
            return ("lastdow", _value(t[:-1], field) % 7)
    elif "#" in t:
        raise _err(field, f'"{raw}": # is only valid in the day of week field')
    base, slash, step_text = t.partition("/")
    step = 1
    if slash:
        step = _number(step_text, field, " after /")
        if step < 1:
            raise _err(field, f"step {step} must be at least 1")
        if step > hi - lo + 1:
            raise _err(field, f"step {step} is larger than the range {lo}-{hi}")
    if base in ("*", "?"):
        if base == "?" and field not in (_DOM_F, _DOW_F):
            raise _err(field, '"?" is only valid in the day of month and day of week fields')
        return ("any", step)
    if "-" in base:
        a, _, b = base.partition("-")
        va, vb = _value(a, field), _value(b, field)
        if va > vb:
            raise _err(
                field,
                f"range {va}-{vb} is reversed (start after end); write it as {va}-{hi},{lo}-{vb}",
            )
        return ("range", va, vb, step, False)
    v = _value(base, field)
    if slash:
        return ("range", v, hi, step, True)
    return ("range", v, v, 1, False)


def _values(items: tuple[Item, ...], field: int) -> frozenset[int]:
    """The plain values of a field's items (specials such as L or 5#3 are handled apart)."""
    lo, hi = _BOUNDS[field]
    if field == _DOW_F:
        hi = 6  # `*` spans Sunday-Saturday once; 7 in ranges folds onto 0 below
    out: set[int] = set()
    for it in items:
        if it[0] == "any":
            out.update(range(lo, hi + 1, it[1]))
        elif it[0] == "range":
            out.update(range(it[1], it[2] + 1, it[3]))
    if field == _DOW_F:
        out = {v % 7 for v in out}
    return frozenset(out)


def _next_table(values: frozenset[int], size: int) -> tuple[int | None, ...]:
    """table[v] = the smallest allowed value >= v, or None (one slot past the end for carries)."""
    table: list[int | None] = [None] * (size + 1)
    nxt: int | None = None
    for v in range(size, -1, -1):
        if v in values:
            nxt = v
        table[v] = nxt
    return tuple(table)


class CronExpr:
    """A parsed, immutable cron expression. Build one with :func:`parse`."""

    __slots__ = (
        "expr",
        "fields",
        "items",
        "minutes",
        "hours",
        "months",
        "_dom_values",
        "_dom_last",
        "_dom_w",
        "_dom_lw",
        "_dow_values",
        "_dow_last",
        "_dow_nth",
        "_day_or",
        "_next_minute",
        "_next_hour",
        "_next_month",
        "_first_month",
        "_day_cache",
        "_fixed",
    )

    def __init__(self, expr: str) -> None:
        if not isinstance(expr, str):
            raise CronError("expected a string such as '*/15 * * * *'", field=_EXPR_FIELD)
        self.expr = expr
        text = expr.strip()
        if not text:
            raise CronError(
                "is empty (expected five fields: minute hour day-of-month month day-of-week)",
                field=_EXPR_FIELD,
            )
        if text.startswith("@"):
            key = text.lower()
            if key == "@reboot":
                raise CronError(
                    "@reboot is not supported: symbi runs jobs on a schedule, not at boot "
                    "(run the agent from your init system instead)",
                    field=_EXPR_FIELD,
                )
            if key not in MACROS:
                raise CronError(f'unknown macro "{text}" (supported: {", ".join(MACROS)})', field=_EXPR_FIELD)
            text = MACROS[key]
        parts = text.split()
        if len(parts) != 5:
            hint = " (a seconds field is not supported)" if len(parts) == 6 else ""
            raise CronError(
                f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(parts)}{hint}",
                field=_EXPR_FIELD,
            )
        self.fields: tuple[str, ...] = tuple(parts)
        self.items: tuple[tuple[Item, ...], ...] = tuple(
            tuple(_parse_item(raw, i) for raw in part.split(",")) for i, part in enumerate(parts)
        )
        self.minutes = _values(self.items[_MINUTE_F], _MINUTE_F)
        self.hours = _values(self.items[_HOUR_F], _HOUR_F)
        self.months = _values(self.items[_MONTH_F], _MONTH_F)
        dom, dow = self.items[_DOM_F], self.items[_DOW_F]
        self._dom_values = _values(dom, _DOM_F)
        self._dom_last = tuple(it[1] for it in dom if it[0] == "last")
        self._dom_w = tuple(it[1] for it in dom if it[0] == "weekday")
        self._dom_lw = any(it[0] == "lastweekday" for it in dom)
        self._dow_values = _values(dow, _DOW_F)
        self._dow_last = tuple(it[1] for it in dow if it[0] == "lastdow")
        self._dow_nth = tuple((it[1], it[2]) for it in dow if it[0] == "nth")
        # Vixie/Debian cron: when either day field starts with `*`, a day must match both; otherwise either.
        self._day_or = not (parts[_DOM_F][0] in "*?" or parts[_DOW_F][0] in "*?")
        self._fixed = not (parts[_MINUTE_F].startswith("*") or parts[_HOUR_F].startswith("*"))
        self._next_minute = _next_table(self.minutes, 60)
        self._next_hour = _next_table(self.hours, 24)
        self._next_month = _next_table(self.months, 13)
        self._first_month = min(self.months)
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self._check_can_fire()

    # -- days ------------------------------------------------------------------------------------------------

    def _days(self, first_dow: int, ndays: int) -> tuple[int, ...]:
        """The matching days of a month starting on weekday ``first_dow`` (0 = Sunday), ``ndays`` long."""
        key = (first_dow, ndays)
        hit = self._day_cache.get(key)
        if hit is not None:
            return hit

        def dow_of(day: int) -> int:
            return (first_dow + day - 1) % 7

        dom = {d for d in self._dom_values if d <= ndays}
        for off in self._dom_last:
            if ndays - off >= 1:
                dom.add(ndays - off)
        for day in self._dom_w:
            # Nearest weekday to `day`, never leaving the month; a day the month lacks (31W in April) never
            # fires, like plain 31.
            if day > ndays:
                continue
            w = dow_of(day)
            if w == 6:
                dom.add(day - 1 if day > 1 else day + 2)
            elif w == 0:
                dom.add(day + 1 if day < ndays else day - 2)
            else:
                dom.add(day)
        if self._dom_lw:
            w = dow_of(ndays)
            dom.add(ndays - 1 if w == 6 else ndays - 2 if w == 0 else ndays)

        dow: set[int] = set()
        for w in self._dow_values:
            dow.update(range(1 + (w - first_dow) % 7, ndays + 1, 7))
        for w in self._dow_last:
            first = 1 + (w - first_dow) % 7
            dow.add(first + 7 * ((ndays - first) // 7))
        for w, n in self._dow_nth:
            day = 1 + (w - first_dow) % 7 + 7 * (n - 1)
            if day <= ndays:
                dow.add(day)

        days = tuple(sorted(dom | dow if self._day_or else dom & dow))
        self._day_cache[key] = days
        return days

    def _check_can_fire(self) -> None:
        # Which days match depends only on the month's length and first weekday, and every month starts on
        # every weekday somewhere in the 400-year Gregorian cycle (February with 28 and with 29 days): trying
        # those combinations is an exact test, at most 7 x 13 cached evaluations and usually one.
        for month in sorted(self.months):
            lengths = (28, 29) if month == 2 else (_DAYS_IN_MONTH[month],)
            for ndays in lengths:
                for first in range(7):
                    if self._days(first, ndays):
                        return
        months = ", ".join(_MONTH_NAMES[m - 1].capitalize() for m in sorted(self.months))
        dom, dow = self.fields[_DOM_F], self.fields[_DOW_F]
        if self._day_or or dow[0] in "*?":
            raise _err(_DOM_F, f"{dom} never occurs in {months}: the expression can never fire")
        if dom[0] in "*?" and _is_star(self.items[_DOM_F]):
            raise _err(_DOW_F, f"{dow} never occurs in {months}: the expression can never fire")
        raise _err(_DOW_F, f"{dom} never falls on {dow} in {months}: the expression can never fire")

    # -- wall-clock search -----------------------------------------------------------------------------------

    def _next_wall(self, start: datetime) -> datetime:
        """The first matching wall-clock minute at or after naive ``start`` (whole minutes)."""
        y, mo, d, h, mi = start.year, start.month, start.day, start.hour, start.minute
        next_month, next_hour, next_minute = self._next_month, self._next_hour, self._next_minute
        while True:
            m2 = next_month[mo]
            if m2 is None:
                y, mo, d, h, mi = y + 1, self._first_month, 1, 0, 0
                if y > 9999:
                    raise CronError("no fire time before the year 10000", field=_EXPR_FIELD)
                continue
            if m2 != mo:
                mo, d, h, mi = m2, 1, 0, 0
            ndays = _DAYS_IN_MONTH[mo] + (1 if mo == 2 and _leap(y) else 0)
            days = self._days((date(y, mo, 1).weekday() + 1) % 7, ndays)
            i = bisect_left(days, d)
            if i == len(days):
                mo, d, h, mi = mo + 1, 1, 0, 0
                continue
            if days[i] != d:
                d, h, mi = days[i], 0, 0
            h2 = next_hour[h]
            if h2 is None:
                d, h, mi = d + 1, 0, 0
                continue
            if h2 != h:
                h, mi = h2, 0
            m3 = next_minute[mi]
            if m3 is None:
                h, mi = h + 1, 0
                continue
            return datetime(y, mo, d, h, m3)

    # -- instants --------------------------------------------------------------------------------------------

    def is_fixed_time(self) -> bool:
        """True when neither the minute nor the hour field starts with ``*`` (Debian's DST rules apply)."""
        return self._fixed

    def matches_either_day(self) -> bool:
        """True when neither day field starts with ``*`` or ``?``: a day matches either of them (else both)."""
        return self._day_or

    def next_after(self, after: datetime, tz: tzinfo) -> datetime:
        """The first fire time strictly after aware ``after``, computed in ``tz``, as aware UTC."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("next_after needs a timezone-aware datetime")
        try:
            if isinstance(tz, timezone):  # UTC or a fixed offset: wall time and instants map one to one
                off = tz.utcoffset(None)
                wall = (after.astimezone(UTC).replace(tzinfo=None) + off).replace(second=0, microsecond=0)
                return (self._next_wall(wall + _MINUTE) - off).replace(tzinfo=UTC)
            after_utc = after.astimezone(UTC).replace(tzinfo=None)
            local = after.astimezone(tz)
            if self._fixed:
                found = self._next_fixed(local, after_utc, tz)
            else:
                found = self._next_real(local, after_utc, tz)
            return found.replace(tzinfo=UTC)
        except OverflowError:
            raise CronError("no fire time before the year 10000", field=_EXPR_FIELD) from None

    def _next_fixed(self, local: datetime, after_utc: datetime, tz: tzinfo) -> datetime:
        # Each matching wall time maps to one instant, and that map never goes backwards, so the first wall
        # time whose instant lies after `after` is the answer. The loop only repeats for wall times already
        # past: in the second pass of a repeated hour, or a skipped time whose catch-up instant is `after`
        # itself.
        start = local.replace(tzinfo=None, fold=0, second=0, microsecond=0) + _MINUTE
        while True:
            wall = self._next_wall(start)
            before, later = _offsets(wall, tz)
            if before >= later:  # an ordinary time, or a repeated one: its first occurrence
                instant = wall - before
            else:  # skipped by a forward jump: run right after the jump
                instant = _gap_end(wall, before, later, tz)
            if instant > after_utc:
                return instant
            start = wall + _MINUTE

    def _next_real(self, local: datetime, after_utc: datetime, tz: tzinfo) -> datetime:
        # Follow the real clock: every instant whose local time matches. Wall order equals instant order
        # except that after the first pass of a repeated hour the clock goes back; hence the two phases below.
        wall0 = local.replace(tzinfo=None, fold=0)
        start = wall0.replace(second=0, microsecond=0) + _MINUTE
        if local.fold == 0:
            before, later = _offsets(wall0, tz)
            if before > later:  # `after` is in the first pass of a repeated hour
                wall = self._next_wall(start)
                b2, l2 = _offsets(wall, tz)
                if b2 > l2 and wall - wall0 < before - later:  # still in this first pass
                    return wall - b2
                # Nothing more in the first pass: continue with the second, which starts at most one shift
                # back.
                start = (wall0 - (before - later)).replace(second=0, microsecond=0)
        while True:
            wall = self._next_wall(start)
            before, later = _offsets(wall, tz)
            if before == later:
                if wall - before > after_utc:
                    return wall - before
            elif before > later:  # repeated: both passes are real instants
                if wall - before > after_utc:
                    return wall - before
                if wall - later > after_utc:
                    return wall - later
            # else: skipped by a forward jump; the real clock never shows it
            start = wall + _MINUTE

    def __repr__(self) -> str:
        return f"CronExpr({self.expr!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronExpr) and other.fields == self.fields

    def __hash__(self) -> int:
        return hash(self.fields)


def _offsets(wall: datetime, tz: tzinfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of naive ``wall`` read as the first and as the second pass (PEP 495 fold).

    Equal: an ordinary time. First > second: a repeated time. First < second: a time skipped by a forward
    jump.
    """
    return tz.utcoffset(wall), tz.utcoffset(wall.replace(fold=1))  # type: ignore[return-value]


def _gap_end(wall: datetime, before: timedelta, later: timedelta, tz: tzinfo) -> datetime:
    """The naive-UTC instant at which the forward jump that skips ``wall`` happens (found to the second)."""
    # The jump lies in (wall - later, wall - before]; offsets are whole seconds, so bisect on seconds.
    lo = wall - later
    lo_s, hi_s = 0, int((later - before).total_seconds())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        probe = (lo + timedelta(seconds=mid)).replace(tzinfo=UTC).astimezone(tz)
        if probe.utcoffset() == later:
            hi_s = mid
        else:
            lo_s = mid
    return lo + timedelta(seconds=hi_s)


@lru_cache(maxsize=1024)
def parse(expr: str) -> CronExpr:
    """Parse a cron expression (five fields or an @macro); CronError names the field and the problem."""
    return CronExpr(expr)


def next_times(expr: str | CronExpr, tz: tzinfo | str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, as aware UTC (``tz``: a tzinfo or a name)."""
    zone: tzinfo
    if isinstance(tz, str):
        from ..timeutil import load_zone

        zone = load_zone(tz)
    else:
        zone = tz
    cron = expr if isinstance(expr, CronExpr) else parse(expr)
    out: list[datetime] = []
    for _ in range(count):
        after = cron.next_after(after, zone)
        out.append(after)
    return out


def _is_star(items: tuple[Item, ...]) -> bool:
    return items == (("any", 1),)
