"""``symbi cron run JOB [--input TEXT] [--wait]``: trigger a job now (SPEC §11).

With a daemon running, the run is queued for it (and the daemon told at once); with none, this command forks an
owner for it (a process in a session of its own) that executes it, deliveries included. ``--wait`` streams the
run's log as it is written, the same either way, and exits 0 when the run succeeded, 1 otherwise; Ctrl-C stops
the waiting (exit 130) and the run goes on, or, with ``--cancel-on-interrupt``, cancels it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from ..vocab import RunStatus
from .common import emit_json, format_option, get_app, warn_if_no_daemon
from .completers import complete_job


@click.command("run")
@click.argument("job", metavar="JOB", shell_complete=complete_job)
@click.option("--input", "input_text", metavar="TEXT", help="Input for this run (default: the job's input).")
@click.option("--wait", is_flag=True, help="Stream the run's output and exit with its result (0 succeeded).")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after this many seconds (exit 1).")
@click.option(
    "--cancel-on-interrupt",
    is_flag=True,
    help="Ctrl-C cancels the run (its agent is stopped, the run recorded cancelled) instead of only stopping the"
    " waiting.",
)
@format_option()
def run_job(
    job: str, input_text: str | None, wait: bool, timeout: float | None, cancel_on_interrupt: bool, fmt: str
) -> None:
    """Run a job now: queued for the daemon, or executed by this command when no daemon runs.

    JOB is a job id, id prefix or name. Either way the run has an owner process of its own, so Ctrl-C stops the
    waiting, not the run (exit 130), unless --cancel-on-interrupt.

    \b
      symbi cron run nightly-report --wait
    """
    from ..processes import running_pid
    from ..services import runs

    app = get_app()
    run = runs.queue_manual(app, job, input_text=input_text)
    pid = running_pid(app.paths)
    # With --format json, stdout holds the run object alone (for jq): the agent's streamed output and the
    # stdout channel go to stderr.
    out = sys.stderr if fmt == "json" else sys.stdout
    owner = None
    if pid is None:
        warn_if_no_daemon(app, also="this run is executed here")
        import os

        from ..runtime.owner import execute_detached

        # No SQLite connection may cross the fork: SQLite keeps a process's locks on a file in one structure that
        # a fork copies but the kernel does not, so this process's closing its connection could checkpoint and
        # remove the WAL under the child's writes. Closed here, opened again for the following.
        app.store.close()
        owner = execute_detached(
            app.env if app.env is not None else dict(os.environ), run["id"], stdout=out, actor=app.actor
        )
    elif not wait:
        if fmt == "json":
            emit_json({**run, "daemon_pid": pid})
        else:
            click.echo(run["id"])
            click.echo(f"queued run {run['id'][:8]} of job {run['job_name']!r} for the daemon (pid {pid})", err=True)
        return
    # The same thing either way: the run's log as it is written, then one line with the result.
    follower = _LogFollower(app.paths.run_log(run["id"]), out) if wait else None
    try:
        final = _wait(app, run, owner, follower, timeout)
    except KeyboardInterrupt:
        if not cancel_on_interrupt:
            click.echo(
                f"\nstopped waiting; run {run['id'][:8]} continues (symbi cron history {run['job_name']} or"
                f" symbi logs --run {run['id'][:8]}; symbi cron cancel {run['id'][:8]} stops it)",
                err=True,
            )
            raise click.exceptions.Exit(130) from None
        click.echo(f"\ncancelling run {run['id'][:8]} ...", err=True)
        try:
            runs.cancel_run(app, run["id"])
        except Exception as exc:  # already over, or cannot be reached from here: say so
            click.echo(f"warning: {exc}", err=True)
        final = _wait(app, run, owner, follower, 60.0)
        try:
            _finish(final, run["job_name"], fmt, wait=True)
        except click.exceptions.Exit:
            pass
        raise click.exceptions.Exit(130) from None
    if final["status"] == RunStatus.queued and owner is not None:
        click.echo(f"run {run['id']} is queued: job {run['job_name']!r} is at its max_concurrent limit", err=True)
    _finish(final, run["job_name"], fmt, wait)


def _wait(app: Any, run: dict[str, Any], owner: int | None, follower: Any, timeout: float | None) -> dict[str, Any]:
    """Follow the run until it is final (or its foreground owner ended without starting it, or ``timeout``)."""
    import os

    from ..services import runs

    def owner_done() -> bool:
        if owner is None:
            return False
        try:
            done, _status = os.waitpid(owner, os.WNOHANG)
        except ChildProcessError:
            return True
        return done != 0

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        final = runs.wait_for_run(app, run["id"], timeout=0.1, poll=0.05, on_poll=follower.pump if follower else None)
        if runs.is_final(final):
            break
        if owner is not None and owner_done():
            final = runs.get_run(app, run["id"])  # the gate left it queued or pending approval
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    if follower is not None:
        time.sleep(0.05)
        follower.pump()
    if owner is not None and runs.is_final(final):
        try:
            os.waitpid(owner, 0)  # its deliveries are sent: the command ends with them, as it always did
        except ChildProcessError:
            pass
    return final


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
    raise click.exceptions.Exit(0 if status == RunStatus.succeeded else 1)


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@format_option()
def cancel_cmd(run_id: str, fmt: str) -> None:
    """Cancel a run: a queued one at once; a running one is stopped by its owner and recorded cancelled.

    RUN is a run id or a unique id prefix (at least 4 characters). A cancelled run is not a failure: it is not
    retried and does not count toward dead-lettering.

    \b
      symbi cron cancel 3f2a9c01
    """
    from ..services import runs

    app = get_app()
    run = runs.cancel_run(app, run_id)
    if run["status"] == RunStatus.running:
        final = runs.wait_for_run(app, run["id"], timeout=60.0, poll=0.1)
    else:
        final = run
    if fmt == "json":
        emit_json({k: v for k, v in final.items() if k not in ("daemon_id", "not_before")})
    else:
        click.echo(
            f"run {final['id'][:8]}: {final['status']}"
            + (f": {final['error_message']}" if final.get("error_message") else "")
        )
