"""``symbi cron run JOB [--input TEXT] [--wait]``: trigger a job now (SPEC §11).

With a daemon running, the run is queued for it (and the daemon told at once); with none, it is executed here in
the foreground, deliveries included. ``--wait`` streams the run's output (its log file) and exits 0 when the run
succeeded, 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from .common import emit_json, format_option, get_app, warn_if_no_daemon
from .completers import complete_job


@click.command("run")
@click.argument("job", metavar="JOB", shell_complete=complete_job)
@click.option("--input", "input_text", metavar="TEXT", help="Input for this run (default: the job's input).")
@click.option("--wait", is_flag=True, help="Stream the run's output and exit with its result (0 succeeded).")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after this many seconds (exit 1).")
@format_option()
def run_job(job: str, input_text: str | None, wait: bool, timeout: float | None, fmt: str) -> None:
    """Run a job now: queued for the daemon, or in the foreground when no daemon runs.

    JOB is a job id, id prefix or name.

    \b
      symbi cron run nightly-report --wait
    """
    from ..runtime.control import running_pid
    from ..services import runs

    app = get_app()
    run = runs.queue_manual(app, job, input_text=input_text)
    pid = running_pid(app.paths)
    # With --format json, stdout holds the run object alone (for jq): the agent's streamed output and the
    # stdout channel go to stderr.
    out = sys.stderr if fmt == "json" else sys.stdout
    if pid is None:
        warn_if_no_daemon(app, also="this run is executed here")
        import logging

        from ..runtime.supervisor import execute_now

        logging.getLogger("symbi").addHandler(logging.NullHandler())  # the result line below says it all

        final = execute_now(app, run["id"], stdout=out, echo=out if wait else None)
        if final is not None and final["status"] == "queued":
            # The job is at its max_concurrent limit (a run of it is in flight elsewhere).
            click.echo(f"run {run['id']} is queued: job {run['job_name']!r} is at its max_concurrent limit", err=True)
        _finish(final or run, run["job_name"], fmt, wait)
        return
    if not wait:
        if fmt == "json":
            emit_json({**run, "daemon_pid": pid})
        else:
            click.echo(run["id"])
            click.echo(f"queued run {run['id'][:8]} of job {run['job_name']!r} for the daemon (pid {pid})", err=True)
        return
    follower = _LogFollower(app.paths.run_log(run["id"]), out)
    final = runs.wait_for_run(app, run["id"], timeout=timeout, poll=0.1, on_poll=follower.pump)
    time.sleep(0.05)
    follower.pump()
    _finish(final, run["job_name"], fmt, wait=True, streamed=True)


class _LogFollower:
    """Prints what is appended to a run's log file (``tail -f`` that starts at the beginning)."""

    def __init__(self, path, stream) -> None:
        self.path = path
        self.stream = stream
        self.pos = 0

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                data = fh.read()
        except FileNotFoundError:
            return
        if data:
            self.pos += len(data)
            self.stream.write(data.decode("utf-8", "replace"))
            self.stream.flush()


def _finish(run: dict[str, Any], job_name: str, fmt: str, wait: bool, streamed: bool = False) -> None:
    from ..models import FINAL_RUN_STATUSES

    status = run.get("status")
    if fmt == "json":
        emit_json({k: v for k, v in run.items() if k not in ("daemon_id", "not_before")})
    else:
        line = f"run {run['id'][:8]} of job {job_name!r}: {status}"
        if run.get("exit_code") is not None:
            line += f" (exit {run['exit_code']})"
        if run.get("error_message"):
            line += f": {run['error_message']}"
        click.echo(line, err=True)
    if status not in FINAL_RUN_STATUSES:
        raise click.exceptions.Exit(1 if wait else 0)
    raise click.exceptions.Exit(0 if status == "succeeded" else 1)
