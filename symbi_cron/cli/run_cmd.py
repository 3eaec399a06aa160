"""``symbi run AGENT [--input TEXT]``: run an agent once, outside the scheduler (SPEC §6).

No job, no run record, no delivery: the agent's stdout and stderr go to the terminal and the command exits with
the agent's exit code (124 when --timeout killed it, 127 when its command cannot be found).
"""

from __future__ import annotations

import os
import sys

import click

from ..vocab import RunStatus, Trigger
from .common import get_app
from .completers import complete_agent


@click.command("run")
@click.argument("agent", metavar="AGENT", shell_complete=complete_agent)
@click.option("--input", "input_text", metavar="TEXT", help="Text on the agent's stdin (`-` reads this stdin).")
@click.option("--timeout", type=float, default=None, help="Kill the agent after this many seconds (exit 124).")
def run_agent(agent: str, input_text: str | None, timeout: float | None) -> None:
    """Run an agent once in the foreground (test it outside the scheduler)."""
    import time
    import uuid

    from ..config import referenced_env
    from ..runtime.execute import execute_agent, symbi_vars
    from ..runtime.executor import ExecRequest, agent_env, env_secrets
    from ..runtime.sessions import FULLY_EPHEMERAL, open_session
    from ..services.agents import get_agent

    app = get_app()
    spec = get_agent(app, agent)
    if input_text == "-":
        input_text = sys.stdin.read()
    run = {"id": str(uuid.uuid4()), "trigger": Trigger.manual}
    # The same session, environment and dispatch as a scheduled run, in a throwaway context (no job, no record).
    session = open_session(app.paths, "_adhoc", run["id"], FULLY_EPHEMERAL, None)
    log_path = session.context_dir.with_suffix(".log")
    sched = app.settings.scheduler
    source = app.env if app.env is not None else dict(os.environ)
    env = agent_env(
        spec,
        symbi_vars(job={}, run=run, agent=spec, session=session, iteration=1),
        source,
        withheld=referenced_env(app.settings),
    )
    req = ExecRequest(
        agent=spec,
        input_text=input_text or "",
        cwd=session.context_dir,
        env=env,
        source_env=source,
        secrets=env_secrets(spec, env, source),
        log_path=log_path,
        output_cap=sched.output_cap_bytes,
        deadline=(time.monotonic() + timeout) if timeout else None,
        max_runtime=timeout,
        kill_grace=sched.kill_grace_seconds,
        echo=sys.stdout,
        echo_stderr=sys.stderr,
    )
    try:
        result = execute_agent(req, session, settings=app.settings)
    finally:
        session.close()
        log_path.unlink(missing_ok=True)
    if result.status == RunStatus.timed_out:
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(124)
    if result.exit_code is None or (result.status == RunStatus.failed and result.pid is None):
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(result.exit_code if result.exit_code else 1)
    if result.exit_code < 0:
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(128 - result.exit_code)
    raise click.exceptions.Exit(result.exit_code)
