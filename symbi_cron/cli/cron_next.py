"""``symbi cron next``: the next fire times of a cron expression (SPEC §3). Pure cron math; no store."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from ..errors import InvalidInput
from .completers import complete_zone

MAX_COUNT = 1000


@click.command("next")
@click.argument("expr", nargs=-1, required=True)
@click.option(
    "--tz",
    "tz_name",
    metavar="ZONE",
    shell_complete=complete_zone,
    help="IANA time zone to compute in (default: scheduler.default_timezone, else the machine's zone).",
)
@click.option(
    "--from",
    "start",
    metavar="ISO8601",
    help="List fire times strictly after this instant (default: now). Without an offset it is read in --tz.",
)
@click.option("--count", default=5, show_default=True, help=f"How many fire times to list (1-{MAX_COUNT}).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people (with the expression in words), json for scripts.",
)
def next_cmd(expr: tuple[str, ...], tz_name: str | None, start: str | None, count: int, fmt: str) -> None:
    """Print the next fire times of the cron expression EXPR.

    Quote EXPR ("0 9 * * 1-5") so the shell leaves the stars alone. Five fields, names, @macros, L, W and #
    are understood; daylight-saving time follows Debian cron.
    """
    from ..timeutil import load_zone, parse_instant
    from ..timing import describe, next_times, parse

    if not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"must be between 1 and {MAX_COUNT}, got {count}", field="--count")
    cron = parse(" ".join(expr))
    if tz_name is None:
        from ..config import load_settings

        tz_name = load_settings().timezone_name
    tz = load_zone(tz_name, field="--tz")
    if start is None:
        from ..clock import SystemClock

        after = SystemClock().now()
    else:
        after = parse_instant(start, field="--from", default_tz=tz)
    times = [t.astimezone(tz) for t in next_times(cron, tz, after, count)]

    if fmt == "json":
        click.echo(json.dumps([t.isoformat() for t in times], indent=2))
        return
    from .table import format_table

    rows = [(i, _local(t), t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")) for i, t in enumerate(times, 1)]
    click.echo(describe(cron))
    click.echo(f"Time zone: {tz_name}")
    click.echo(format_table(rows, ["#", "Local time", "UTC"], align=("right", "left", "left")))


def _local(t: datetime) -> str:
    """'2026-03-08 03:00 -04:00 EDT': wall time, offset and the zone's abbreviation."""
    offset = t.strftime("%z")
    abbr = t.tzname() or ""
    suffix = f" {abbr}" if abbr and abbr != offset and not abbr.startswith(("+", "-")) else ""
    return f"{t:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:5]}{suffix}"
