"""``symbi audit``: read the audit log and check its hash chain (SPEC §10)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..vocab import EVENT_TYPES
from .common import emit_json, format_option, get_app, local_time, positive, render_rows, short_id, wide_option
from .completers import complete_job, values
from .table import Fit

CSV_FIELDS = ("seq", "at", "type", "actor", "job_id", "job_name", "run_id", "details", "prev_hash", "hash")


@click.group("audit")
def audit() -> None:
    """Query the append-only audit log and verify it was not tampered with."""


def _details(row: dict[str, Any]) -> str:
    text = json.dumps(row["details"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


@audit.command("query")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    shell_complete=values(*EVENT_TYPES),
    help="Only this event type (repeatable), e.g. CronJobFailed.",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="From this time: 1h, 30min, '2 hours ago', yesterday, YYYY-MM-DD or ISO 8601 (local time without offset).",
)
@click.option("--until", metavar="WHEN", help="Up to this time (same forms); a bare date includes that whole day.")
@click.option("--job", metavar="JOB", shell_complete=complete_job, help="Job id, id prefix or name (deleted jobs too).")
@click.option("--run", metavar="RUN", help="Run id or id prefix.")
@click.option("--actor", metavar="ACTOR", help="Who acted: cli:alice, alice, daemon, api:...")
@click.option("--limit", type=int, callback=positive, metavar="N", help="At most N events, the newest.")
@wide_option
@format_option(("table", "json", "csv"))
def query(types, since, until, job, run, actor, limit, wide, fmt) -> None:
    """List audit events, newest first.

    Example: symbi audit query --type CronJobFailed --since "2 hours ago" --limit 50
    """
    from ..services.audit import parse_when, query_events

    rows = query_events(
        get_app(),
        types=types,
        since=parse_when(since, field="since") if since else None,
        until=parse_when(until, field="until", end_of_day=True) if until else None,
        job=job,
        run=run,
        actor=actor,
        limit=limit,
    )
    render_rows(
        rows,
        fmt,
        csv_fields=CSV_FIELDS,
        empty="no audit events match",
        columns=[
            ("SEQ", "seq"),
            ("TIME", "at"),
            ("TYPE", "type"),
            ("ACTOR", "actor", Fit(shrink=10, drop=3)),
            (
                "JOB",
                lambda r: r["job_name"] or short_id(r["job_id"]) if r["job_id"] or r["job_name"] else None,
                Fit(shrink=12),
            ),
            ("RUN", lambda r: short_id(r["run_id"]) if r["run_id"] else None, Fit(drop=2)),
            ("DETAILS", _details, Fit(shrink=16, drop=4, early=True)),
        ],
        wide=wide,
    )


@audit.command("verify")
@click.option(
    "--expect-head",
    metavar="HASH",
    help="A head printed by an earlier verify and kept elsewhere: it must still be in the chain.",
)
@format_option(("table", "json"))
def verify(expect_head: str | None, fmt) -> None:
    """Recompute the hash chain; exit 1 naming every row changed, removed or inserted.

    Keep the printed head outside the store (a ticket, another machine) and pass it back with --expect-head:
    that also catches a chain rewritten and rehashed to the end.
    """
    from ..services.audit import verify_chain

    result = verify_chain(get_app(), expect_head=expect_head)
    if fmt == "json":
        emit_json(result)
    elif result["ok"]:
        click.echo(f"ok: {result['count']} events, chain intact")
        if result["head"]:
            click.echo(f"head: {result['head']}")
    else:
        for p in result["problems"]:
            where = f"seq {p['seq']}" if p["seq"] is not None else "chain"
            click.echo(f"{where}: {p['problem']}: {p['message']}")
    if fmt != "json" and result.get("verified_from"):
        f = result["verified_from"]
        click.echo(
            f"verified from seq {f['seq']}: the {f['pruned']} events before it were pruned (retention, last on"
            f" {local_time(f['pruned_at'])}); the chain links to their checkpoint {f['checkpoint_hash'][:16]}"
        )
    if not result["ok"]:
        from ..errors import SymbiError

        # Exit 1 through the one error path (main() ignores click's Exit codes when not standalone).
        raise SymbiError(f"the audit chain is broken: {len(result['problems'])} problem(s) in {result['count']} events")
