"""``symbi cron approve|deny|pending``: answer runs that wait for approval (SPEC §9)."""

from __future__ import annotations

import click

from .common import emit_json, format_option, get_app, render_table, short_id, utc_option, wide_option
from .completers import complete_run
from .table import Fit
from .when import TimeView


def _age(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24}h"


@click.command("approve")
@click.argument("run_ref", metavar="RUN", shell_complete=complete_run)
@format_option(("table", "json"))
def approve(run_ref: str, fmt: str) -> None:
    """Approve a run waiting in pending_approval: it starts as soon as the daemon picks it up.

    RUN is a run id or a unique id prefix (see `symbi cron pending`). When the job's policy names approvers,
    only they may approve (by the user name running this command).
    """
    from ..services.approvals import approve_run

    run = approve_run(get_app(), run_ref)
    if fmt == "json":
        emit_json(run)
    else:
        click.echo(f"approved run {run['id']} of job {run['job_name']}: queued")


@click.command("deny")
@click.argument("run_ref", metavar="RUN", shell_complete=complete_run)
@click.option("--reason", metavar="TEXT", help="Why (kept on the run and in the audit log).")
@format_option(("table", "json"))
def deny(run_ref: str, reason: str | None, fmt: str) -> None:
    """Deny a run waiting in pending_approval: it is closed as denied and never starts."""
    from ..services.approvals import deny_run

    run = deny_run(get_app(), run_ref, reason)
    if fmt == "json":
        emit_json(run)
    else:
        click.echo(f"denied run {run['id']} of job {run['job_name']}")


@click.command("pending")
@utc_option
@wide_option
@format_option(("table", "json"))
def pending(utc: bool, wide: bool, fmt: str) -> None:
    """List runs waiting for approval, oldest first (times in each job's zone, --utc for UTC)."""
    from ..services.approvals import pending_runs

    rows = pending_runs(get_app())
    if fmt == "json":
        emit_json(rows)
        return
    view = TimeView(utc=utc)
    render_table(
        rows,
        [
            ("RUN", lambda r: short_id(r["run_id"])),
            ("JOB", "job_name", Fit(shrink=12)),
            ("SLOT", lambda r: view.at(r["scheduled_for"], r)),
            ("APPROVERS", lambda r: ", ".join(r["approvers"]) or "anyone", Fit(shrink=10, drop=2)),
            ("WAITING", lambda r: _age(r["age_seconds"])),
            ("EXPIRES", lambda r: view.at(r["expires_at"], r), Fit(drop=1)),
            ("LEFT", lambda r: view.rel(r["expires_at"]) if r.get("expires_at") else "-"),
        ],
        empty="no runs are waiting for approval",
        wide=wide,
    )
