"""A parsed cron expression in English (``symbi cron next``): "At 09:00, Monday through Friday".

Reads the items the engine kept of each field (see ``engine.Item``), so it speaks about what was written, not
only about the values that match.
"""

from __future__ import annotations

from typing import Any

from .engine import _DOM_F, _DOW_F, _HOUR_F, _MINUTE_F, _MONTH_F, CronExpr, Item, _is_star, parse

__all__ = ["describe"]

_DAY_FULL = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_FULL = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _nth(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _singles(items: tuple[Item, ...]) -> list[int] | None:
    if all(it[0] == "range" and it[1] == it[2] for it in items):
        return sorted(it[1] for it in items)
    return None


def _items_text(items: tuple[Item, ...], name: Any, unit: str) -> str:
    """Generic English for plain items: '5', '1 through 5', 'every 2nd <unit> from 10 through 59'."""
    parts = []
    for it in items:
        if it[0] == "any":
            parts.append(f"every {_nth(it[1])} {unit}" if it[1] > 1 else f"every {unit}")
        elif it[0] == "range":
            _, lo, hi, step, _open = it
            if lo == hi:
                parts.append(name(lo))
            elif step == 1:
                parts.append(f"{name(lo)} through {name(hi)}")
            else:
                parts.append(f"every {_nth(step)} {unit} from {name(lo)} through {name(hi)}")
    return _join(parts)


def _time_text(c: CronExpr) -> str:
    mins, hours = c.items[_MINUTE_F], c.items[_HOUR_F]
    m1, h1 = _singles(mins), _singles(hours)
    if m1 is not None and h1 is not None and len(m1) * len(h1) <= 6:
        return "At " + _join([f"{h:02d}:{m:02d}" for h in h1 for m in m1])
    if _is_star(hours):
        if _is_star(mins):
            return "Every minute"
        if len(mins) == 1 and mins[0][0] == "any":
            return f"Every {mins[0][1]} minutes"
        if m1 == [0]:
            return "At the start of every hour"
        if m1 is not None:
            return f"At minute{'s' if len(m1) > 1 else ''} {_join([str(m) for m in m1])} past every hour"
        return f"At {_items_text(mins, str, 'minute')} of every hour"
    if _is_star(mins):
        minute_part = "Every minute"
    elif len(mins) == 1 and mins[0][0] == "any":
        minute_part = f"Every {mins[0][1]} minutes"
    elif m1 == [0]:
        minute_part = "At the start of the hour"
    elif m1 is not None:
        minute_part = f"At minute {_join([str(m) for m in m1])}"
    else:
        minute_part = f"At {_items_text(mins, str, 'minute')}"
    if len(hours) == 1 and hours[0][0] == "any":
        if m1 == [0]:
            return f"Every {hours[0][1]} hours"
        return f"{minute_part}, every {hours[0][1]} hours"
    hour_text = _items_text(hours, lambda h: f"{h:02d}:00", "hour")
    if h1 is not None:
        return f"{minute_part} past the hour of {hour_text}" if m1 != [0] else f"At {hour_text}"
    return f"{minute_part}, {hour_text}"


def _dom_text(items: tuple[Item, ...]) -> str:
    parts = []
    plain = tuple(it for it in items if it[0] in ("any", "range"))
    if plain:
        singles = _singles(plain)
        if singles is not None:
            parts.append(("day " if len(singles) == 1 else "days ") + _join([str(d) for d in singles]))
        else:
            parts.append(_items_text(plain, str, "day").replace("every day", "every day"))
    for it in items:
        if it[0] == "last":
            parts.append("the last day" if it[1] == 0 else f"the {_nth(it[1])} day before the last day")
        elif it[0] == "weekday":
            parts.append(f"the weekday nearest day {it[1]}")
        elif it[0] == "lastweekday":
            parts.append("the last weekday")
    return _join(parts) + " of the month"


def _dow_text(items: tuple[Item, ...]) -> str:
    parts = []
    for it in items:
        if it[0] == "any":
            parts.append("every day" if it[1] == 1 else f"every {_nth(it[1])} day of the week")
        elif it[0] == "range":
            _, lo, hi, step, _open = it
            if lo == hi:
                parts.append(_DAY_FULL[lo % 7])
            elif step == 1:
                parts.append(f"{_DAY_FULL[lo % 7]} through {_DAY_FULL[hi % 7]}")
            else:
                parts.append(_join([_DAY_FULL[d % 7] for d in range(lo, hi + 1, step)]))
        elif it[0] == "lastdow":
            parts.append(f"the last {_DAY_FULL[it[1]]} of the month")
        elif it[0] == "nth":
            parts.append(f"the {_ORD[it[2]]} {_DAY_FULL[it[1]]} of the month")
    return _join(parts)


def describe(expr: str | CronExpr) -> str:
    """The expression in English, e.g. "At 09:00, Monday through Friday" or "Every 15 minutes"."""
    c = expr if isinstance(expr, CronExpr) else parse(expr)
    text = _time_text(c)
    dom, dow, month = c.items[_DOM_F], c.items[_DOW_F], c.items[_MONTH_F]
    dom_any = c.fields[_DOM_F][0] in "*?" and _is_star(dom) or c.fields[_DOM_F] == "?"
    dow_any = c.fields[_DOW_F][0] in "*?" and _is_star(dow) or c.fields[_DOW_F] == "?"
    dow_words = _dow_text(dow)
    dow_plain = all(it[0] == "range" and it[3] == 1 and it[1] != it[2] for it in dow)
    if not dom_any and not dow_any:
        joiner = " or " if c.matches_either_day() else " if it is "
        text += f" on {_dom_text(dom)}{joiner}{'on ' if c.matches_either_day() else ''}{dow_words}"
    elif not dom_any:
        text += f" on {_dom_text(dom)}"
    elif not dow_any:
        text += f", {dow_words}" if dow_plain else f" on {dow_words}"
    if not _is_star(month):
        singles = _singles(month)
        if singles is not None:
            text += " in " + _join([_MONTH_FULL[m - 1] for m in singles])
        else:
            text += ", " + _items_text(month, lambda m: _MONTH_FULL[m - 1], "month")
    return text
