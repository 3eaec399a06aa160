"""Cron timing (SPEC §3): the engine that parses five-field expressions and finds their fire times in a time zone
(``engine``), and the English description of an expression (``description``).

Pure: nothing here reads the clock or does I/O. ``docs/decisions.md`` ("Cron engine") explains the daylight-saving
rules the engine follows.
"""

from __future__ import annotations

from .description import describe
from .engine import FIELD_NAMES, MACROS, UTC, CronExpr, Item, next_times, parse

__all__ = ["CronExpr", "parse", "next_times", "describe", "MACROS", "FIELD_NAMES", "Item", "UTC"]
