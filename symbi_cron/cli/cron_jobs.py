"""``symbi cron list|add|update|remove|pause|resume|status|history|reset``: job commands over services.jobs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .common import (
    Column,
    emit_json,
    format_option,
    get_app,
    local_time,
    non_negative,
    positive,
    render_rows,
    render_table,
    short_id,
    warn,
)
from .completers import complete_agent, complete_job

JOB_ARG = click.argument("job", metavar="JOB", shell_complete=complete_job)

LIST_COLUMNS: list[Column] = [
    ("ID", lambda j: short_id(j["id"])),
    ("NAME", "name"),
    ("AGENT", "agent_id"),
    ("SCHEDULE", lambda j: j.get("cron_expr") or f"at {j.get('at')}"),
    ("TZ", "timezone"),
    ("STATUS", "status"),
    ("NEXT RUN", "next_run"),
    ("LAST RUN", "last_run"),
    ("RUNS", "run_count"),
    ("FAILS", "failure_count"),
]
CSV_JOB_FIELDS = [
    "id",
    "name",
    "agent_id",
    "cron_expr",
    "at",
    "timezone",
    "status",
    "next_run",
    "last_run",
    "run_count",
    "failure_count",
    "session_mode",
    "delivery",
    "max_concurrent",
    "max_retries",
    "created_at",
    "updated_at",
]
RUN_COLUMNS: list[Column] = [
    ("RUN", lambda r: short_id(r["id"])),
    ("SCHEDULED", "scheduled_for"),
    ("TRIGGER", "trigger"),
    ("STATUS", "status"),
    ("TRY", "attempt"),
    ("DURATION", lambda r: f"{r['execution_time_ms'] / 1000:.1f}s" if r.get("execution_time_ms") is not None else None),
    ("EXIT", "exit_code"),
    (
        "DELIVERY",
        lambda r: " ".join(f"{d['channel']}:{'ok' if d['ok'] else 'FAILED'}" for d in r.get("deliveries", [])) or None,
    ),
    ("TOKENS", lambda r: f"{r['input_tokens']}/{r['output_tokens']}" if r.get("input_tokens") is not None else None),
    ("ERROR / SUMMARY", lambda r: _one_line(r.get("error_message") or r.get("summary"))),
]
CSV_RUN_FIELDS = [
    "id",
    "job_id",
    "job_name",
    "trigger",
    "status",
    "scheduled_for",
    "attempt",
    "started_at",
    "finished_at",
    "execution_time_ms",
    "exit_code",
    "iterations",
    "error_message",
    "summary",
    "output",
    "deliveries",
    "input_tokens",
    "output_tokens",
    "cost_usd",
]


def _one_line(text: str | None, width: int = 60) -> str | None:
    if not text:
        return None
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _run_json(run: dict[str, Any]) -> dict[str, Any]:
    out = dict(run)
    out.pop("daemon_id", None)
    out.pop("not_before", None)
    return out


@click.command("list")
@click.option("--status", help="Only jobs in this status (active, paused, completed, failed, dead_letter).")
@click.option("--agent", help="Only jobs running this agent.", shell_complete=complete_agent)
@format_option(("table", "json", "csv"))
def list_jobs(status: str | None, agent: str | None, fmt: str) -> None:
    """List jobs."""
    from ..services import jobs

    render_rows(
        jobs.list_jobs(get_app(), status=status, agent=agent),
        fmt,
        columns=LIST_COLUMNS,
        csv_fields=CSV_JOB_FIELDS,
        empty="no jobs",
    )


def _read_json_arg(text: str) -> Any:
    if text == "-":
        text = sys.stdin.read().removeprefix("\ufeff")  # a BOM from a Windows editor is not JSON
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        from ..errors import InvalidInput

        raise InvalidInput(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field="--json"
        ) from None


@click.command()
@click.option("--json", "json_text", metavar="TEXT", help="The job as a JSON object (`-` reads stdin).")
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="A .symbi file holding the schedule.")
@click.option("--schedule", "schedules", multiple=True, metavar="NAME", help="Schedule(s) to add from --file.")
@click.option("--all", "all_", is_flag=True, help="Add every schedule in --file.")
@click.option("--replace", is_flag=True, help="Replace a job (or agent) with the same name.")
@format_option()
def add(
    json_text: str | None, file_: str | None, schedules: tuple[str, ...], all_: bool, replace: bool, fmt: str
) -> None:
    """Add a job from JSON or from a .symbi file.

    \b
      symbi cron add --json '{"name": "quick-task", "agent_id": "agent-123", "cron_expr": "0 * * * *"}'
      symbi cron add --file agent.symbi --schedule daily-report
    """
    from ..errors import InvalidInput
    from ..services import jobs

    app = get_app()
    if bool(json_text) == bool(file_):
        raise InvalidInput("give exactly one of --json TEXT and --file FILE")
    if json_text:
        if schedules or all_:
            raise InvalidInput("--schedule and --all go with --file")
        spec = _read_json_arg(json_text)
        job = jobs.create_job(app, spec, replace=replace)
        for w in jobs.agent_warnings(app, job):
            warn(w)
        if fmt == "json":
            emit_json(job)
        else:
            click.echo(job["id"])
        return
    if bool(schedules) == all_:
        raise InvalidInput("with --file, give --schedule NAME (one or more) or --all")
    from ..services.importing import add_from_file

    assert file_ is not None
    result = add_from_file(app, file_, schedules=None if all_ else list(schedules), replace=replace)
    if fmt == "json":
        emit_json(result)
    else:
        for job in result.get("jobs", []):
            click.echo(job["id"])


@click.command()
@JOB_ARG
@click.option(
    "--json",
    "json_text",
    metavar="TEXT",
    help="The fields to change, as a JSON object (`-` reads stdin); the others are kept.",
)
@click.option("--cron", "cron_expr", metavar="EXPR", help="A new cron expression (shorthand for --json).")
@format_option()
def update(job: str, json_text: str | None, cron_expr: str | None, fmt: str) -> None:
    """Change some of a job's fields, keeping the others, its status and its history.

    JOB is a job id, id prefix or name. The next run is recomputed when the schedule changes. Unlike
    `add --replace`, a paused job stays paused and the failure count is kept.

    \b
      symbi cron update nightly-report --cron "*/30 * * * *"
      symbi cron update nightly-report --json '{"delivery": ["log_file", "slack"], "slack_channel": "#ops"}'
    """
    from ..errors import InvalidInput
    from ..services import jobs

    changes: dict[str, Any] = {}
    if json_text:
        changes = _read_json_arg(json_text)
        if not isinstance(changes, dict):
            raise InvalidInput("expected a JSON object with the fields to change", field="--json")
    if cron_expr is not None:
        if "cron_expr" in changes:
            raise InvalidInput("give the cron expression once: --cron or cron_expr in --json", field="--cron")
        changes["cron_expr"] = cron_expr
    if not changes:
        raise InvalidInput("nothing to change: give --json TEXT and/or --cron EXPR")
    app = get_app()
    result = jobs.update_job(app, job, changes)
    if "agent_id" in changes:
        for w in jobs.agent_warnings(app, result):
            warn(w)
    if fmt == "json":
        emit_json(result)
    else:
        nxt = local_time(result.get("next_run")) if result.get("next_run") else "none"
        click.echo(f"updated {result['name']} ({result['id'][:8]}): {result['status']}, next run {nxt}")


@click.command()
@click.argument("job", metavar="[JOB]", required=False, shell_complete=complete_job)
@click.option("--name", help="Name of the job to remove (instead of JOB).")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@format_option()
def remove(job: str | None, name: str | None, force: bool, fmt: str) -> None:
    """Remove a job and its run history (asks first unless --force).

    JOB is a job id, id prefix or name; --name takes an exact name only.
    """
    from ..errors import InvalidInput
    from ..services import jobs

    if bool(job) == bool(name):
        raise InvalidInput("give a JOB (id, id prefix or name) or --name NAME, not both")
    app = get_app()
    ref = job or name
    assert ref is not None
    target = jobs.get_job(app, ref) if job else jobs.get_job_by_name(app, ref)
    if not force:
        if not sys.stdin.isatty():
            raise InvalidInput("refusing to remove without confirmation (stdin is not a terminal); use --force")
        click.confirm(f"Remove job {target['name']!r} ({target['id'][:8]}) and its run history?", abort=True)
    removed = jobs.delete_job(app, target["id"])
    if fmt == "json":
        emit_json({"id": removed["id"], "name": removed["name"], "deleted": True})
    else:
        click.echo(f"removed {removed['name']} ({removed['id'][:8]})")


def _state_command(name: str, service_fn: str, help_text: str, done: str):
    @click.command(name, help=help_text + "\n\nJOB is a job id, id prefix or name.")
    @JOB_ARG
    @format_option()
    def command(job: str, fmt: str) -> None:
        from ..services import jobs

        result = getattr(jobs, service_fn)(get_app(), job)
        if fmt == "json":
            emit_json(result)
        else:
            nxt = local_time(result.get("next_run")) if result.get("next_run") else "none"
            click.echo(f"{done} {result['name']} ({result['id'][:8]}): {result['status']}, next run {nxt}")

    return command


pause = _state_command("pause", "pause_job", "Pause a job: no new runs until resumed; state is kept.", "paused")
resume = _state_command("resume", "resume_job", "Resume a paused job; its next run is computed from now.", "resumed")
reset = _state_command(
    "reset", "reset_job", "Return a job (e.g. dead-lettered) to active, failure count zero, fresh next run.", "reset"
)


def _print_status(job: dict[str, Any]) -> None:
    from ..models import format_duration

    policy = job.get("policy") or {}
    lines = [
        ("Job", f"{job['name']} ({job['id']})"),
        ("Agent", job["agent_id"]),
        ("Status", job["status"]),
        ("Schedule", job.get("cron_expr") or f"at {job.get('at')}"),
        ("Time zone", job.get("timezone")),
        ("Next run", local_time(job.get("next_run"), seconds=True)),
        ("Last run", local_time(job.get("last_run"), seconds=True)),
        ("Runs", str(job.get("run_count", 0))),
        ("Consecutive failures", f"{job.get('failure_count', 0)} of {job.get('max_retries')} before dead-letter"),
        ("Session mode", job.get("session_mode")),
        ("Delivery", ", ".join(job.get("delivery") or []) or "-"),
        ("Concurrency", f"max {job.get('max_concurrent')} at once"),
    ]
    if job.get("heartbeat", {}).get("enabled"):
        hb = job["heartbeat"]
        lines.append(("Heartbeat", f"{hb['context_mode']}, up to {hb['max_iterations']} iterations"))
    if policy.get("max_runtime"):
        lines.append(("Max runtime", format_duration(policy["max_runtime"])))
    if policy.get("require_approval"):
        lines.append(
            ("Approval", "required" + (f" by {', '.join(policy['approvers'])}" if policy.get("approvers") else ""))
        )
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key + ':':<{width + 1}} {value if value is not None else '-'}")
    runs = job.get("recent_runs") or []
    if runs:
        click.echo("")
        render_table(runs, RUN_COLUMNS)


@click.command()
@JOB_ARG
@click.option(
    "--history",
    "history_n",
    type=int,
    default=5,
    show_default=True,
    callback=non_negative,
    help="How many recent runs to show.",
)
@click.option("--watch", is_flag=True, help="Redraw every 5 seconds until interrupted.")
@click.option("--interval", type=float, default=5.0, hidden=True)
@format_option()
def status(job: str, history_n: int, watch: bool, interval: float, fmt: str) -> None:
    """Show a job's details, next run and recent runs.

    JOB is a job id, id prefix or name.
    """
    from ..services import jobs

    app = get_app()

    def draw() -> None:
        result = jobs.job_status(app, job, history=history_n)
        if fmt == "json":
            emit_json({**result, "recent_runs": [_run_json(r) for r in result["recent_runs"]]})
        else:
            _print_status(result)

    if not watch:
        draw()
        return
    import time

    try:
        while True:
            if sys.stdout.isatty():
                click.clear()
            draw()
            if sys.stdout.isatty():
                click.echo(f"\n(every {interval:g}s; Ctrl-C to stop)")
            sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        return


@click.command()
@JOB_ARG
@click.option("--limit", type=int, default=20, show_default=True, callback=positive, help="How many runs.")
@click.option("--status", help="Only runs in this status (e.g. failed).")
@format_option(("table", "json", "csv"))
def history(job: str, limit: int, status: str | None, fmt: str) -> None:
    """Show a job's runs, newest first (`--format csv > runs.csv` for a spreadsheet).

    JOB is a job id, id prefix or name.
    """
    from ..services import jobs

    render_rows(
        jobs.job_history(get_app(), job, limit=limit, status=status),
        fmt,
        columns=RUN_COLUMNS,
        csv_fields=CSV_RUN_FIELDS,
        empty="no runs",
        as_json=_run_json,
    )
