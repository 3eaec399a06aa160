"""``symbi cron list|add|update|remove|pause|resume|status|history|reset``: job commands over services.jobs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..vocab import JobStatus, RunStatus
from .common import (
    Column,
    emit_json,
    format_option,
    get_app,
    non_negative,
    positive,
    render_rows,
    render_table,
    short_id,
    utc_option,
    warn,
    warn_if_no_daemon,
    wide_option,
)
from .completers import complete_agent, complete_job, values
from .table import Fit
from .when import TimeView, clock_time, stamp

JOB_ARG = click.argument("job", metavar="JOB", shell_complete=complete_job)


def list_columns(view: TimeView) -> list[Column]:
    """`cron list`: NEXT / LEFT / LAST / PASSED in each job's zone, like `systemctl list-timers`."""
    return [
        ("ID", lambda j: short_id(j["id"]), Fit(drop=5)),
        ("NAME", "name", Fit(shrink=12)),
        ("AGENT", "agent_id", Fit(shrink=8, drop=4)),
        ("SCHEDULE", _schedule, Fit(shrink=9)),
        ("TZ", "timezone", Fit(wide=True)),
        ("STATUS", "status"),
        ("NEXT", lambda j: view.at(j.get("next_run"), j)),
        ("LEFT", lambda j: view.rel(j.get("next_run")) if j.get("next_run") else "-"),
        ("LAST", lambda j: view.at(j.get("last_run"), j), Fit(drop=2)),
        ("PASSED", lambda j: view.rel(j.get("last_run")) if j.get("last_run") else "-", Fit(drop=6)),
        ("RUNS", "run_count", Fit(drop=1)),
        ("FAILS", "failure_count", Fit(drop=3)),
    ]


def _schedule(job: dict[str, Any]) -> str:
    if job.get("cron_expr"):
        return job["cron_expr"]
    return "at" if job.get("at") else "-"


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


def run_columns(view: TimeView, job: dict[str, Any] | None) -> list[Column]:
    """`cron history` and `cron status`: each run's slot and when it really started and ended, in the job's zone
    (a start or end on the slot's day shows the time only)."""
    tz = view.tz(job)

    def started(r: dict[str, Any]) -> str:
        return clock_time(r.get("started_at"), tz, same_day_as=r.get("scheduled_for"))

    def ended(r: dict[str, Any]) -> str:
        return clock_time(r.get("finished_at"), tz, same_day_as=r.get("started_at") or r.get("scheduled_for"))

    return [
        ("RUN", lambda r: short_id(r["id"])),
        ("SLOT", lambda r: stamp(r.get("scheduled_for"), tz)),
        ("STARTED", started),
        ("ENDED", ended, Fit(drop=6)),
        ("TRIGGER", "trigger", Fit(drop=3)),
        ("STATUS", "status"),
        ("TRY", "attempt", Fit(drop=4)),
        ("DURATION", _duration, Fit(drop=7)),
        ("EXIT", "exit_code", Fit(drop=5)),
        (
            "DELIVERY",
            lambda r: (
                " ".join(f"{d['channel']}:{'ok' if d['ok'] else 'FAILED'}" for d in r.get("deliveries", [])) or None
            ),
            Fit(shrink=12, drop=2, early=True),
        ),
        ("DAEMON", "daemon_name", Fit(drop=1)),
        (
            "TOKENS",
            lambda r: f"{r['input_tokens']}/{r['output_tokens']}" if r.get("input_tokens") is not None else None,
            Fit(drop=1),
        ),
        (
            "ERROR / SUMMARY",
            lambda r: _one_line(r.get("error_message") or r.get("summary")),
            Fit(shrink=15, early=True),
        ),
    ]


def _duration(run: dict[str, Any]) -> str | None:
    ms = run.get("execution_time_ms")
    return f"{ms / 1000:.1f}s" if ms is not None else None


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
    "daemon_name",
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


SORT_KEYS = ("name", "next", "status", "last")


def sort_jobs(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Jobs by name; by next run (soonest first), status (in the order of the job's life) or last run (most
    recent first), ties by name; jobs without the time come last."""
    from ..vocab import JobStatus

    by_name = sorted(rows, key=lambda j: j["name"])
    if key == "next":
        return sorted(by_name, key=lambda j: (j.get("next_run") is None, j.get("next_run") or 0))
    if key == "last":
        timed = sorted((j for j in by_name if j.get("last_run")), key=lambda j: j["last_run"], reverse=True)
        return timed + [j for j in by_name if not j.get("last_run")]
    if key == "status":
        order = {s.value: i for i, s in enumerate(JobStatus)}
        return sorted(by_name, key=lambda j: order.get(j["status"], len(order)))
    return by_name


@click.command("list")
@click.option(
    "--status",
    help="Only jobs in this status (active, paused, completed, failed, dead_letter).",
    shell_complete=values(*(s.value for s in JobStatus)),
)
@click.option("--agent", help="Only jobs running this agent.", shell_complete=complete_agent)
@click.option(
    "--sort",
    "sort_key",
    type=click.Choice(SORT_KEYS),
    default="name",
    show_default=True,
    help="Order: name, next run (soonest first), status, or last run (most recent first).",
)
@utc_option
@wide_option
@format_option(("table", "json", "csv"))
def list_jobs(status: str | None, agent: str | None, sort_key: str, utc: bool, wide: bool, fmt: str) -> None:
    """List jobs with their next and last runs, in each job's time zone.

    The table fits the terminal: long names are cut with an ellipsis and the less needed columns are left
    out (--wide shows them all). JSON and CSV always carry every field.
    """
    from ..services import jobs

    app = get_app()
    rows = sort_jobs(jobs.list_jobs(app, status=status, agent=agent), sort_key)
    if any(j["status"] == JobStatus.active for j in rows):
        warn_if_no_daemon(app)
    render_rows(
        rows,
        fmt,
        columns=list_columns(TimeView(utc=utc)),
        csv_fields=CSV_JOB_FIELDS,
        empty="no jobs",
        wide=wide,
    )


#: What `cron list` / `cron status --format json` print beside a job's spec: ignored by `cron add --json`.
SCHEDULER_KEPT = (
    "id",
    "status",
    "next_run",
    "last_run",
    "run_count",
    "failure_count",
    "created_at",
    "updated_at",
    "recent_runs",
)


def _specs_from_json(data: Any) -> tuple[list[Any], list[str]]:
    """The job specs in ``--json`` (an object, or an array of them as `cron list --format json` prints), without
    the fields the scheduler keeps (returned, in order, to say they were ignored)."""
    from ..errors import InvalidInput

    items = data if isinstance(data, list) else [data]
    if not items:
        raise InvalidInput("the JSON array is empty: no job to add", field="--json")
    ignored: list[str] = []
    specs = []
    for item in items:
        if isinstance(item, dict):
            for key in SCHEDULER_KEPT:
                if key in item:
                    if key not in ignored:
                        ignored.append(key)
            item = {k: v for k, v in item.items() if k not in SCHEDULER_KEPT}
        specs.append(item)
    return specs, ignored


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
@click.option(
    "--file", "file_", type=click.Path(dir_okay=False, allow_dash=True), help="A .symbi file holding the schedule."
)
@click.option("--schedule", "schedules", multiple=True, metavar="NAME", help="Schedule(s) to add from --file.")
@click.option("--all", "all_", is_flag=True, help="Add every schedule in --file.")
@click.option("--replace", is_flag=True, help="Replace a job (or agent) with the same name.")
@format_option()
def add(
    json_text: str | None, file_: str | None, schedules: tuple[str, ...], all_: bool, replace: bool, fmt: str
) -> None:
    """Add a job from JSON or from a .symbi file.

    --json also takes what `cron list --format json` or `cron status --format json` prints (one job, or an
    array of them: added together or not at all); the fields the scheduler keeps (id, status, next_run, the
    counters...) are ignored with a note.

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
        data = _read_json_arg(json_text)
        specs, ignored = _specs_from_json(data)
        if ignored:
            click.echo(f"note: ignored what the scheduler keeps: {', '.join(ignored)}", err=True)
        # Each spec is checked before the store's lock is taken (the models' first use is slow: other writers
        # must not wait on it); then all of them are added in one transaction, or none.
        for i, spec in enumerate(specs):
            try:
                jobs.validate_spec(app, spec)
            except InvalidInput as exc:
                if len(specs) == 1:
                    raise
                raise InvalidInput(exc.message, field=f"[{i}].{exc.field}" if exc.field else f"[{i}]") from None
        if len(specs) == 1:
            created = [jobs.create_job(app, specs[0], replace=replace)]
        else:
            with app.store.write():
                created = [jobs.create_job(app, spec, replace=replace) for spec in specs]
        for job in created:
            for w in jobs.agent_warnings(app, job):
                warn(w)
        warn_if_no_daemon(app)
        if fmt == "json":
            emit_json(created[0] if isinstance(data, dict) else created)
        else:
            for job in created:
                click.echo(job["id"])
        return
    if bool(schedules) == all_:
        raise InvalidInput("with --file, give --schedule NAME (one or more) or --all")
    from ..services.importing import add_from_file

    assert file_ is not None
    result = add_from_file(app, file_, schedules=None if all_ else list(schedules), replace=replace)
    warn_if_no_daemon(app)
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
        click.echo(f"updated {result['name']} ({result['id'][:8]}): {result['status']}, next run {_next_run(result)}")


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


def _next_run(job: dict[str, Any]) -> str:
    """``Mon 2026-11-30 09:00 CET (in 21h)``, or ``none``."""
    return TimeView().at_rel(job["next_run"], job) if job.get("next_run") else "none"


def _state_command(name: str, service_fn: str, help_text: str, done: str):
    @click.command(name, help=help_text + "\n\nJOB is a job id, id prefix or name.")
    @JOB_ARG
    @format_option()
    def command(job: str, fmt: str) -> None:
        from ..services import jobs

        app = get_app()
        result = getattr(jobs, service_fn)(app, job)
        if result["status"] == JobStatus.active:
            warn_if_no_daemon(app)
        if fmt == "json":
            emit_json(result)
        else:
            click.echo(
                f"{done} {result['name']} ({result['id'][:8]}): {result['status']}, next run {_next_run(result)}"
            )

    return command


pause = _state_command("pause", "pause_job", "Pause a job: no new runs until resumed; state is kept.", "paused")
resume = _state_command("resume", "resume_job", "Resume a paused job; its next run is computed from now.", "resumed")
reset = _state_command(
    "reset", "reset_job", "Return a job (e.g. dead-lettered) to active, failure count zero, fresh next run.", "reset"
)


def _print_status(job: dict[str, Any], view: TimeView, *, wide: bool = False) -> None:
    policy = job.get("policy") or {}
    lines = [
        ("Job", f"{job['name']} ({job['id']})"),
        ("Agent", job["agent_id"]),
        ("Status", job["status"]),
        ("Schedule", job.get("cron_expr") or f"at {job.get('at')}"),
        ("Time zone", job.get("timezone")),
        ("Next run", view.at_rel(job.get("next_run"), job, seconds=True)),
        ("Last run", view.at_rel(job.get("last_run"), job, seconds=True)),
        ("Runs", str(job.get("run_count", 0))),
        ("Consecutive failures", _failures(job)),
        ("Session mode", job.get("session_mode")),
        ("Delivery", _delivery(job)),
        ("Concurrency", f"max {job.get('max_concurrent')} at once"),
    ]
    if job.get("heartbeat", {}).get("enabled"):
        hb = job["heartbeat"]
        lines.append(("Heartbeat", f"{hb['context_mode']}, up to {hb['max_iterations']} iterations"))
    if policy.get("max_runtime"):
        lines.append(("Max runtime", _duration_text(policy["max_runtime"])))
    if policy.get("require_approval"):
        lines.append(
            ("Approval", "required" + (f" by {', '.join(policy['approvers'])}" if policy.get("approvers") else ""))
        )
    for use in job.get("budget_used") or []:
        lines.append((_BUDGET_KEYS.get(use["scope"], "Budget"), _budget_text(use)))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key + ':':<{width + 1}} {value if value is not None else '-'}")
    runs = job.get("recent_runs") or []
    if runs:
        click.echo("")
        render_table(runs, run_columns(view, job), wide=wide)


_BUDGET_KEYS = {
    "run": "Budget per run",
    "day": "Budget per day",
    "month": "Budget per month",
    "model_day": "Model budget per day",
}


def _budget_text(use: dict[str, Any]) -> str:
    """``12,345 of 100,000 tokens (12%), $0.0400 of $1 (4%)``; a model's budget names the model."""
    parts = []
    if use.get("tokens") is not None:
        pct = 100 * use["used_tokens"] / use["tokens"]
        parts.append(f"{use['used_tokens']:,} of {use['tokens']:,} tokens ({pct:.0f}%)")
    if use.get("usd") is not None:
        pct = 100 * use["used_usd"] / use["usd"]
        parts.append(f"${use['used_usd']:.4f} of ${use['usd']:g} ({pct:.0f}%)")
    text = ", ".join(parts)
    if use["scope"] == "run":
        text += " (last run)"
    elif use["scope"] == "model_day":
        text += f" ({use['label'].removesuffix(' per day')}, all jobs, today UTC)"
    elif use["scope"] == "day":
        text += " (today UTC)"
    else:
        text += " (this month UTC)"
    return text


def _failures(job: dict[str, Any]) -> str:
    count = job.get("failure_count", 0)
    if job.get("on_failure") == "continue":
        retries = max(int(job.get("max_retries") or 0) - 1, 0)
        return f"{count} (failures never stop this job: on_failure continue, {retries} retries a slot)"
    return f"{count} of {job.get('max_retries')} before dead-letter"


def _delivery(job: dict[str, Any]) -> str:
    channels = ", ".join(job.get("delivery") or []) or "-"
    when = job.get("delivery_on") or "always"
    return channels if when == "always" or channels == "-" else f"{channels} (on {when})"


def _duration_text(seconds: int) -> str:
    """``1h30m`` (models.format_duration, without importing the models: this is a read command)."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n) or "0s"


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
@utc_option
@wide_option
@format_option()
def status(job: str, history_n: int, watch: bool, interval: float, utc: bool, wide: bool, fmt: str) -> None:
    """Show a job's details, next run and recent runs (times in the job's zone, with the time left or passed).

    JOB is a job id, id prefix or name.
    """
    from ..services import jobs

    app = get_app()
    if jobs.get_job(app, job)["status"] == JobStatus.active:
        warn_if_no_daemon(app)

    def draw() -> None:
        result = jobs.job_status(app, job, history=history_n)
        if fmt == "json":
            emit_json({**result, "recent_runs": [_run_json(r) for r in result["recent_runs"]]})
        else:
            _print_status(result, TimeView(utc=utc), wide=wide)

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
@click.option(
    "--status", help="Only runs in this status (e.g. failed).", shell_complete=values(*(s.value for s in RunStatus))
)
@utc_option
@wide_option
@format_option(("table", "json", "csv"))
def history(job: str, limit: int, status: str | None, utc: bool, wide: bool, fmt: str) -> None:
    """Show a job's runs, newest first: the slot, when each run really started and ended, and how it went
    (`--format csv > runs.csv` for a spreadsheet).

    JOB is a job id, id prefix or name. Times are in the job's zone (--utc for UTC); a start or end on the
    slot's day shows the time only.
    """
    from ..services import jobs

    app = get_app()
    target = jobs.get_job(app, job)
    render_rows(
        jobs.job_history(app, target["id"], limit=limit, status=status),
        fmt,
        columns=run_columns(TimeView(utc=utc), target),
        csv_fields=CSV_RUN_FIELDS,
        empty="no runs",
        as_json=_run_json,
        wide=wide,
    )
