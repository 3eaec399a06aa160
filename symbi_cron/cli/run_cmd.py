"""``symbi run AGENT [--input TEXT]``: run an agent once, outside the scheduler (SPEC §6).

No job, no run record, no delivery: the agent's stdout and stderr go to the terminal and the command exits with
the agent's exit code (124 when --timeout killed it, 127 when its command cannot be found).
"""

from __future__ import annotations

import sys

import click

from .common import get_app
from .completers import complete_agent


@click.command("run")
@click.argument("agent", metavar="AGENT", shell_complete=complete_agent)
@click.option("--input", "input_text", metavar="TEXT", help="Text on the agent's stdin (`-` reads this stdin).")
@click.option("--timeout", type=float, default=None, help="Kill the agent after this many seconds (exit 124).")
def run_agent(agent: str, input_text: str | None, timeout: float | None) -> None:
    """Run an agent once in the foreground (test it outside the scheduler)."""
    import shutil
    import time
    import uuid

    from ..runtime.executor import ExecRequest, agent_env, execute
    from ..services.agents import get_agent

    app = get_app()
    spec = get_agent(app, agent)
    if input_text == "-":
        input_text = sys.stdin.read()
    run_id = str(uuid.uuid4())
    workdir = app.paths.contexts_dir / "_adhoc" / run_id
    symbi_vars = {
        "SYMBI_JOB_ID": "", "SYMBI_JOB_NAME": "", "SYMBI_RUN_ID": run_id, "SYMBI_AGENT_ID": spec["name"],
        "SYMBI_SCHEDULED_FOR": "", "SYMBI_TRIGGER": "manual", "SYMBI_SESSION_MODE": "fully_ephemeral",
        "SYMBI_CONTEXT_DIR": str(workdir), "SYMBI_ITERATION": "1", "SYMBI_PREVIOUS_SUMMARY": "",
        "SYMBI_SUMMARY_FILE": str(workdir / ".symbi-summary"),
    }
    sched = app.settings.scheduler
    req = ExecRequest(
        agent=spec, input_text=input_text or "", cwd=workdir, env=agent_env(spec, symbi_vars, app.env),
        log_path=workdir.with_suffix(".log"), output_cap=sched.output_cap_bytes,
        deadline=(time.monotonic() + timeout) if timeout else None, max_runtime=timeout,
        kill_grace=sched.kill_grace_seconds, echo=sys.stdout, echo_stderr=sys.stderr,
    )
    try:
        if spec.get("model") and not spec.get("command"):  # a model agent: the built-in runner, as in a run
            from ..modelrun.execution import execute_model

            result = execute_model(req, session_mode="fully_ephemeral", previous_summary=None, summary_file=None,
                                   settings=app.settings)
        else:
            result = execute(req)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        try:
            workdir.with_suffix(".log").unlink()
        except FileNotFoundError:
            pass
    if result.status == "timed_out":
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(124)
    if result.exit_code is None or (result.status == "failed" and result.pid is None):
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(result.exit_code if result.exit_code else 1)
    if result.exit_code < 0:
        click.echo(f"error: {result.error_message}", err=True)
        raise click.exceptions.Exit(128 - result.exit_code)
    raise click.exceptions.Exit(result.exit_code)
