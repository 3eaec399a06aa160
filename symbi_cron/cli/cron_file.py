"""``symbi cron validate|import|export``: .symbi files and crontabs over services.importing."""

from __future__ import annotations

import sys

import click

from .common import Column, emit_json, format_option, get_app, render_table, warn, warn_if_no_daemon
from .table import Fit


@click.command("validate")
@click.option("--file", "file_", required=True, metavar="FILE", help="The .symbi file to check (`-` = stdin).")
@format_option()
def validate(file_: str, fmt: str) -> None:
    """Check a .symbi file without changing anything.

    Lists every problem at once, compiler style (FILE:LINE:COL: error: ...), and checks each schedule as `cron
    add` would: its agent defined in the file or registered, an `at` still to come, channels it can use (a
    webhook_url for webhook, valid email_recipients, custom channels that exist). Exit status 0 when the file is
    valid, 1 when it is not.
    """
    from ..dsl import DslError, read_text
    from ..services.importing import check_text

    app = get_app()
    text = read_text(file_)
    name = "<stdin>" if file_ == "-" else file_
    try:
        doc = check_text(app, text, file=name)
    except DslError as err:
        if fmt == "json":
            emit_json({"ok": False, "file": name, "problems": [p.to_dict() for p in err.problems]})
        else:
            click.echo(err.render(), err=True)
            n = len(err.problems)
            click.echo(f"{n} problem{'s' if n != 1 else ''} in {name}", err=True)
        sys.exit(1)
    if fmt == "json":
        emit_json(
            {
                "ok": True,
                "file": name,
                "agents": [a.spec.name for a in doc.agents],
                "schedules": [s.spec.name for s in doc.schedules],
            }
        )
    else:
        click.echo(f"ok: {doc.summary()}")


PLAN_COLUMNS: list[Column] = [
    ("LINE", "line"),
    ("NAME", lambda i: i["job"]["name"]),
    ("SCHEDULE", lambda i: i["job"]["cron_expr"]),
    ("TZ", lambda i: i["job"]["timezone"]),
    ("MAIL", lambda i: ", ".join(i["job"].get("email_recipients") or []) or "-"),
    ("COMMAND", lambda i: _short(i["agent"]["command"]), Fit(shrink=20, early=True)),
]
SKIPPED_COLUMNS: list[Column] = [
    ("LINE", "line"),
    ("REASON", "reason"),
    ("TEXT", lambda s: _short(s["text"], 50)),
]


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("import")
@click.option(
    "--crontab",
    "crontab_file",
    required=True,
    metavar="FILE",
    help="A user crontab (`-` reads stdin, e.g. `crontab -l | symbi cron import --crontab -`).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be created; write nothing.")
@click.option("--prefix", default="", metavar="P", help="Prefix for the names of the jobs and agents.")
@click.option("--skip-invalid", is_flag=True, help="Import the lines that convert even if some do not.")
@click.option("--replace", is_flag=True, help="Replace jobs and agents that have the same names.")
@format_option()
def import_cmd(crontab_file: str, dry_run: bool, prefix: str, skip_invalid: bool, replace: bool, fmt: str) -> None:
    """Turn each line of a crontab into an agent and a job (one transaction).

    CRON_TZ (or TZ) sets the job's time zone; SHELL runs the command; MAILTO becomes email delivery of failed
    runs when email is configured (a warning names the line when it is not); PATH and other NAME=value lines
    become the agent's environment. The jobs keep cron's behaviour: a failed run is not retried and never stops
    the following slots (on_failure: continue). Names written by `cron export` are kept. Lines that cannot be
    converted (@reboot, % in a command, a bad expression) are listed with their reason; then nothing is written
    unless --skip-invalid.
    """
    from ..dsl import read_text
    from ..services import importing

    app = get_app()
    text = read_text(crontab_file)
    name = "<stdin>" if crontab_file == "-" else crontab_file
    if dry_run:
        plan = importing.plan_crontab(app, text, prefix=prefix)
    else:
        from ..errors import InvalidInput

        try:
            plan = importing.import_crontab(app, text, prefix=prefix, skip_invalid=skip_invalid, replace=replace)
        except InvalidInput as exc:
            skipped = (exc.details or {}).get("skipped") if isinstance(exc.details, dict) else None
            for item in skipped or []:
                click.echo(f"{name}:{item['line']}: not converted: {item['reason']}", err=True)
            raise
    for w in plan["warnings"]:
        warn(w)
    if not dry_run:
        warn_if_no_daemon(app)
    if fmt == "json":
        out = {
            "dry_run": dry_run,
            "jobs": plan.get("jobs") if not dry_run else [i["job"] for i in plan["items"]],
            "agents": plan.get("agents") if not dry_run else [i["agent"] for i in plan["items"]],
            "skipped": plan["skipped"],
            "warnings": plan["warnings"],
            "notes": plan["notes"],
        }
        emit_json(out)
        return
    if plan["items"]:
        click.echo("would create:" if dry_run else "created:")
        render_table(plan["items"], PLAN_COLUMNS)
    if plan["skipped"]:
        click.echo("\nnot converted:" if plan["items"] else "not converted:")
        render_table(plan["skipped"], SKIPPED_COLUMNS)
    n = len(plan["items"])
    a = n - sum(1 for i in plan["items"] if i.get("agent_shared"))
    jobs_agents = f"{n} job{'s' if n != 1 else ''} and {a} agent{'s' if a != 1 else ''}"
    if dry_run:
        note = ""
        if plan["skipped"] and not skip_invalid:
            note = " (the import would write nothing unless --skip-invalid)"
        click.echo(f"\ndry run: {jobs_agents} would be created; nothing written{note}")
    else:
        click.echo(f"\n{jobs_agents} created")
    for note in plan["notes"]:
        click.echo(f"note: {note}")


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["crontab"]), default="crontab", show_default=True, help="Output format."
)
def export_cmd(fmt: str) -> None:
    """Print the jobs that crontab can express, as a crontab (the others as comments saying why)."""
    from ..services.importing import export_crontab

    click.echo(export_crontab(get_app()), nl=False)
