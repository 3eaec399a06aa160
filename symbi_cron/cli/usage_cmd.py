"""``symbi usage``: what model agents used, tokens and cost by job, agent, model and day, with a bar per row.

A read command: it stays on the light path (no pydantic, no HTTP modules; tests/shipping/test_light_path.py).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .common import emit_json, format_option, get_app
from .completers import complete_job

KEYS = ("day", "job", "agent", "model")
CSV_FIELDS = ("runs", "input_tokens", "output_tokens", "tokens", "cost_usd", "unpriced_runs")
BAR_WIDTH = 24


@click.command("usage")
@click.option(
    "--since",
    metavar="WHEN",
    default="30 days ago",
    show_default=True,
    help="From this time: 7d, '2 weeks ago', yesterday, YYYY-MM-DD or ISO 8601 (days are UTC days).",
)
@click.option("--until", metavar="WHEN", help="Up to this time (same forms); a bare date includes that whole day.")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(KEYS),
    help="Group by day, job, agent or model (repeatable: --by job --by model); default: day.",
)
@click.option("--job", metavar="JOB", shell_complete=complete_job, help="Only this job (its name).")
@click.option("--agent", metavar="AGENT", help="Only this agent.")
@click.option("--model", metavar="MODEL", help="Only this model (as the API spells it: claude-sonnet-4-5).")
@format_option(("table", "json", "csv"))
def usage(since: str, until: str | None, by: tuple[str, ...], job, agent, model, fmt: str) -> None:
    """Show the tokens and cost of model agents' runs, grouped by day (default), job, agent or model.

    Cost counts priced runs only ([models.prices] or the built-in table); UNPRICED says how many runs had no
    price. Example: symbi usage --since 7d --by model
    """
    from ..services import usage as usage_svc
    from ..services.audit import parse_when

    app = get_app()
    keys = tuple(k for k in KEYS if k in by) or ("day",)
    start = parse_when(since, field="since")
    end = parse_when(until, field="until", end_of_day=True) if until else None
    rows = usage_svc.usage(app, since=start, until=end, job=job, agent=agent, model=model)
    grouped = usage_svc.rollup(rows, keys)
    total = usage_svc.totals(rows)
    for r in (*grouped, total):
        r["tokens"] = r["input_tokens"] + r["output_tokens"]
    if fmt == "json":
        emit_json(
            {
                "since": start.isoformat(),
                "until": end.isoformat() if end else None,
                "by": list(keys),
                "rows": grouped,
                "total": total,
            }
        )
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*keys, *CSV_FIELDS])
        for r in grouped:
            writer.writerow([*("" if r[k] is None else r[k] for k in keys), *(r[f] for f in CSV_FIELDS)])
        return
    if not grouped:
        click.echo(f"no model runs since {start:%Y-%m-%d %H:%M} UTC")
        return
    _table(grouped, total, keys)


def bar(value: float, top: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar, ``value`` of ``top`` over ``width`` cells, in eighths of a cell (``█▊``)."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / top * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[part]


def _bar_fallback(text: str) -> str:
    """``#`` instead of block characters where the terminal cannot show them."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        return "#" * len(text)


def _table(rows: list[dict[str, Any]], total: dict[str, Any], keys: tuple[str, ...]) -> None:
    by_cost = any(r["cost_usd"] for r in rows)
    measure = "cost_usd" if by_cost else "tokens"
    top = max(float(r[measure]) for r in rows)
    headers = [k.upper() for k in keys] + [
        "RUNS",
        "IN",
        "OUT",
        "COST",
        "UNPRICED",
        f"({'COST' if by_cost else 'TOKENS'})",
    ]
    lines = [
        [
            *("-" if r[k] is None else str(r[k]) for k in keys),
            f"{r['runs']:,}",
            _tokens(r["input_tokens"]),
            _tokens(r["output_tokens"]),
            f"${r['cost_usd']:,.4f}",
            str(r["unpriced_runs"] or ""),
            _bar_fallback(bar(float(r[measure]), top)),
        ]
        for r in rows
    ]
    lines.append(
        [
            "TOTAL",
            *([""] * (len(keys) - 1)),
            f"{total['runs']:,}",
            _tokens(total["input_tokens"]),
            _tokens(total["output_tokens"]),
            f"${total['cost_usd']:,.4f}",
            str(total["unpriced_runs"] or ""),
            "",
        ]
    )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    numeric = set(range(len(keys), len(keys) + 5))

    def fmt_row(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    click.echo(fmt_row(headers))
    for line in lines[:-1]:
        click.echo(fmt_row(line))
    click.echo(fmt_row(lines[-1]))


def _tokens(n: int) -> str:
    """``1,234``, ``12.3k``, ``4.56M``: tokens at a glance."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return f"{n:,}"
