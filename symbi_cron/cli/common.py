"""Shared pieces of the CLI: the App for this invocation, output formats, time display."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import click

#: A table column: (header, key or function of the row) and, optionally, how it gives way on a narrow
#: terminal (a :class:`~symbi_cron.cli.table.Fit`).
Column = tuple  # (str, str | Callable[[dict[str, Any]], Any]) or (str, getter, Fit)


def get_app(ctx: click.Context | None = None):
    """The App of this invocation (built once, from the environment)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        from ..services.app import open_app

        root.obj = open_app()
    return root.obj


def format_option(choices: Sequence[str] = ("table", "json"), default: str = "table"):
    """``--format`` with the given choices; its help names only those choices (the first is for people)."""
    people, *scripts = choices
    help_text = f"Output format: {people} for people" + (f", {'/'.join(scripts)} for scripts." if scripts else ".")
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help_text,
    )


def jsonable(obj: Any) -> Any:
    """Datetimes as ISO 8601 with offset; everything else as JSON knows it."""
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(jsonable(obj), indent=2, ensure_ascii=False))


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def warn_if_no_daemon(app, *, also: str | None = None) -> None:
    """One line on stderr (shorter than 80 columns) when no scheduler daemon serves the store; ``also`` says
    what this command does about it."""
    from ..services.daemon_presence import no_daemon_warning

    message = no_daemon_warning(app)
    if message:
        warn(message if also is None else f"{message}; {also}")


def wide_option(f):
    """``--wide``: every column at full width, whatever the terminal's width."""
    return click.option("--wide", is_flag=True, help="Show every column at full width (no fitting to the terminal).")(f)


def utc_option(f):
    """``--utc``: instants in UTC instead of each job's own time zone."""
    return click.option("--utc", is_flag=True, help="Show times in UTC instead of each job's time zone.")(f)


def local_time(dt: datetime | None, *, seconds: bool = False) -> str:
    """An instant in the machine's local zone for tables (``-`` for none)."""
    if dt is None:
        return "-"
    local = dt.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def short_id(value: str | None) -> str:
    return (value or "-")[:8]


def _cell(row: dict[str, Any], getter: str | Callable[[dict[str, Any]], Any]) -> Any:
    value = getter(row) if callable(getter) else row.get(getter)
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return value


def terminal_width() -> int | None:
    """The width tables fit: ``COLUMNS`` when set, else the terminal's; None (no limit) when stdout is not a
    terminal, so a pipe or a file gets every column whole."""
    import os

    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError, AttributeError):
        pass
    return None


def table_text(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, wide: bool = False) -> str:
    """The rows as an aligned table fitted to the terminal (every column, whole, with ``wide``)."""
    from .table import KEEP, format_table

    cols = [c for c in columns if wide or len(c) < 3 or not c[2].wide]
    fits = [c[2] if len(c) > 2 else KEEP for c in cols]
    body = [[_cell(r, c[1]) for c in cols] for r in rows]
    return format_table(body, [c[0] for c in cols], width=None if wide else terminal_width(), fits=fits)


def render_table(
    rows: Iterable[dict[str, Any]], columns: Sequence[Column], *, empty: str = "", wide: bool = False
) -> None:
    """Print rows as an aligned table fitted to the terminal (``empty`` goes to stderr when there are none)."""
    rows = list(rows)
    if not rows:
        if empty:
            click.echo(empty, err=True)
        return
    click.echo(table_text(rows, columns, wide=wide))


_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)
    text = str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it (CSV injection).
    if text.startswith(_CSV_RISKY) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def render_csv(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> None:
    """RFC 4180 CSV (CRLF, quoted as needed) with a header row; spreadsheets open it as is."""
    import csv

    writer = csv.writer(sys.stdout, dialect="excel", lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_value(row.get(f)) for f in fields])
    sys.stdout.flush()


#: The largest count a store can take (SQLite's 64-bit integer). A count is "at most N", so a bigger N means
#: the same as this one: `--limit 100000000000000000000` lists everything instead of failing in the store.
MAX_COUNT = 2**63 - 1


def render_rows(
    rows: list[dict[str, Any]],
    fmt: str,
    *,
    columns: Sequence[Column],
    csv_fields: Sequence[str],
    empty: str = "",
    as_json: Callable[[dict[str, Any]], Any] | None = None,
    wide: bool = False,
) -> None:
    """Print rows in the chosen ``--format``: json (each row through ``as_json`` when given), csv, or a table
    fitted to the terminal (``wide``: every column, whole). JSON and CSV do not depend on the terminal."""
    if fmt == "json":
        emit_json([as_json(r) for r in rows] if as_json else rows)
    elif fmt == "csv":
        render_csv(rows, csv_fields)
    else:
        render_table(rows, columns, empty=empty, wide=wide)


def positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A click callback refusing zero and negative numbers with the option's name (huge ones mean "all")."""
    if value is not None and value < 1:
        raise click.BadParameter("must be a positive number", ctx=ctx, param=param)
    return min(value, MAX_COUNT) if value is not None else None


def non_negative(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 0:
        raise click.BadParameter("must be zero or more", ctx=ctx, param=param)
    return min(value, MAX_COUNT) if value is not None else None
