"""``symbi cron validate|import|export``: .symbi files and crontabs over services.importing."""

from __future__ import annotations

import sys

import click

from .common import Column, emit_json, format_option, get_app, render_table, warn, warn_if_no_daemon
from .completers import complete_job
from .table import Fit


@click.command("validate")
@click.option(
    "--file",
    "file_",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The .symbi file to check (`-` = stdin).",
)
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
    type=click.Path(dir_okay=False, allow_dash=True),
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
    "--format",
    "fmt",
    type=click.Choice(["crontab", "symbi"]),
    default="crontab",
    show_default=True,
    help="crontab: the jobs crontab can express; symbi: every job and its agents as a .symbi file.",
)
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="JOB",
    shell_complete=complete_job,
    help="Only these jobs (repeatable; symbi format).",
)
def export_cmd(fmt: str, names: tuple[str, ...]) -> None:
    """Print the jobs as a crontab (the ones crontab can express; the others as comments saying why) or as a
    .symbi file (every job with the agents it uses: `symbi cron apply` of that file changes nothing).

    \b
      symbi cron export --format symbi > jobs.symbi && symbi cron apply jobs.symbi
      symbi cron export > my.crontab && symbi cron import --crontab my.crontab
    """
    from ..errors import InvalidInput

    if fmt == "crontab":
        from ..services.importing import export_crontab

        if names:
            raise InvalidInput("--name goes with --format symbi", field="--name")
        click.echo(export_crontab(get_app()), nl=False)
        return
    from ..services.importing import export_symbi

    click.echo(export_symbi(get_app(), names=list(names) or None), nl=False)


def _print_plan(the_plan, *, applied: bool) -> None:
    """The plan, terraform style: + create, ~ change (old -> new), - remove; then the counts."""
    from ..services.applying import CREATE, REMOVE, UPDATE

    marks = {CREATE: "+", UPDATE: "~", REMOVE: "-"}
    for c in the_plan.changes:
        if c.action not in marks:
            continue
        line = f"  {marks[c.action]} {c.kind} {c.name}"
        if c.action == UPDATE:
            line += ": " + ", ".join(_field_change(f, c.current or {}, c.spec or {}) for f in c.fields)
        elif c.action == REMOVE and c.kind == "job":
            runs = (c.current or {}).get("run_count") or 0
            line += f" (and its history: {runs} run{'s' if runs != 1 else ''})"
        click.echo(line)
    if applied:
        click.echo(f"applied: {the_plan.summary(done=True)}")
    else:
        click.echo(f"dry run: {the_plan.summary()}; nothing written")


def _field_change(field: str, before: dict, after: dict) -> str:
    from ..dsl import schedule_key

    key = schedule_key(field)
    old, new = before.get(field), after.get(field)
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return key
    text = f"{key} {_show(old)} -> {_show(new)}"
    return text if len(text) <= 70 else key


def _show(value) -> str:
    import json

    return "-" if value is None else json.dumps(value, ensure_ascii=False)


@click.command("apply")
@click.argument("file_", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--prune", is_flag=True, help="Also remove the jobs the file does not declare (with their history).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@format_option()
def apply_cmd(file_: str, prune: bool, dry_run: bool, fmt: str) -> None:
    """Make the store match a .symbi file, in one transaction: print what is created, changed and (with
    --prune) removed.

    A job is its name: an unchanged job is not touched (it keeps its id, status and history), a changed one
    is updated in place. The file's agents are registered or updated; agents are never removed. The file is
    checked as `validate` checks it first; a file with problems changes nothing (exit 2). `symbi cron export
    --format symbi` writes a file that applies with no change.

    \b
      symbi cron apply jobs.symbi --dry-run
      symbi cron apply jobs.symbi --prune
    """
    from ..dsl import read_text
    from ..services import applying

    app = get_app()
    name = "<stdin>" if file_ == "-" else file_
    the_plan = applying.plan(app, read_text(file_), file=name, prune=prune)
    if not dry_run:
        applying.apply(app, the_plan)
    if fmt == "json":
        emit_json({**the_plan.to_dict(), "dry_run": dry_run})
    else:
        _print_plan(the_plan, applied=not dry_run)
    if not dry_run and not the_plan.empty:
        warn_if_no_daemon(app)
