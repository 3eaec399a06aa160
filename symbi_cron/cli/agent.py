"""``symbi agent add|list|show|remove``: the agent registry (SPEC §6) over services.agents."""

from __future__ import annotations

import re
from typing import Any

import click

from .common import Column, emit_json, format_option, get_app, local_time, render_rows, warn, wide_option
from .completers import complete_agent
from .table import Fit

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

LIST_COLUMNS: list[Column] = [
    ("NAME", "name", Fit(shrink=12)),
    ("KIND", lambda a: "model" if a.get("model") else ("shell" if a.get("shell") else "command")),
    ("RUNS", lambda a: a.get("model") or a.get("command"), Fit(shrink=20, early=True)),
    ("CAPABILITIES", "capabilities", Fit(shrink=12, drop=2, early=True)),
    # Values may be secrets written literally: tables show the names only.
    ("ENV", lambda a: sorted(a.get("env") or {}), Fit(shrink=10, drop=3, early=True)),
    ("UPDATED", "updated_at", Fit(drop=1)),
]
CSV_FIELDS = [
    "name",
    "command",
    "shell",
    "model",
    "system_prompt",
    "capabilities",
    "env",
    "workdir",
    "agentpin_id",
    "description",
    "created_at",
    "updated_at",
]


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    from ..errors import InvalidInput

    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"expected NAME=VALUE, got {pair!r}", field="--env")
        if not _ENV_NAME.match(name):
            raise InvalidInput(f"{name!r} is not an environment variable name", field="--env")
        env[name] = value  # `${VAR}` stays a reference, resolved when the agent runs
    return env


@click.group()
def agent() -> None:
    """Register and inspect the agents jobs run."""


@agent.command("add")
@click.argument("name")
@click.option("--command", "command", metavar="CMD", help="Command line to run (split like a shell, no shell).")
@click.option("--shell", is_flag=True, help="Run --command through /bin/sh -c (pipes, redirections).")
@click.option("--model", metavar="MODEL", help="A model agent: the model name (with --system-prompt).")
@click.option("--system-prompt", metavar="TEXT", help="The model agent's system prompt.")
@click.option("--capability", "capabilities", multiple=True, metavar="X", help="A capability (repeatable).")
@click.option(
    "--env",
    "env",
    multiple=True,
    metavar="K=V",
    help="Environment for the agent (repeatable); values may be ${VAR} references.",
)
@click.option(
    "--inherit-env",
    is_flag=True,
    help="Start from the daemon's whole environment (less the variables config.toml refers to) instead of"
    " cron's minimal one (PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR).",
)
@click.option(
    "--workdir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Working directory (default: the run's context directory).",
)
@click.option("--agentpin-id", metavar="ID", help="The agent's AgentPin id (default: its name).")
@click.option("--description", metavar="TEXT", help="A note for people.")
@click.option("--replace", is_flag=True, help="Replace an agent with the same name.")
@format_option()
def add(
    name: str,
    command: str | None,
    shell: bool,
    model: str | None,
    system_prompt: str | None,
    capabilities: tuple[str, ...],
    env: tuple[str, ...],
    inherit_env: bool,
    workdir: str | None,
    agentpin_id: str | None,
    description: str | None,
    replace: bool,
    fmt: str,
) -> None:
    """Register agent NAME.

    \b
      symbi agent add backup --command "/usr/local/bin/backup.sh --full" --capability fs_read
      symbi agent add monitor --model claude-sonnet-4.5 --system-prompt "You watch the servers."
      symbi agent add report --command "./report.sh | mail ops" --shell --env TOKEN='${REPORT_TOKEN}'
    """
    from ..services.agents import add_agent

    spec: dict[str, Any] = {
        "name": name,
        "command": command,
        "shell": shell,
        "model": model,
        "system_prompt": system_prompt,
        "capabilities": list(dict.fromkeys(capabilities)),
        "env": _parse_env(env),
        "inherit_env": inherit_env,
        "workdir": workdir,
        "agentpin_id": agentpin_id,
        "description": description,
    }
    result = add_agent(get_app(), spec, replace=replace)
    from ..envref import literal_secret_warnings

    for w in literal_secret_warnings(result.get("env") or {}, "env"):
        warn(w)
    if fmt == "json":
        emit_json(result)
    else:
        click.echo(f"agent {result['name']} registered")


@agent.command("list")
@wide_option
@format_option(("table", "json", "csv"))
def list_cmd(wide: bool, fmt: str) -> None:
    """List registered agents (the table fits the terminal; --wide shows every column whole)."""
    from ..services.agents import list_agents

    render_rows(
        list_agents(get_app()),
        fmt,
        columns=LIST_COLUMNS,
        csv_fields=CSV_FIELDS,
        empty="no agents (symbi agent add NAME --command ...)",
        wide=wide,
    )


@agent.command("show")
@click.argument("name", shell_complete=complete_agent)
@format_option()
def show(name: str, fmt: str) -> None:
    """Show one agent."""
    from ..services.agents import get_agent

    a = get_agent(get_app(), name)
    if fmt == "json":
        emit_json(a)
        return
    for key in CSV_FIELDS:
        value = a.get(key)
        if value in (None, [], {}, False) and key not in ("name",):
            continue
        if key == "env":
            value = ", ".join(sorted(value or {}))  # names only: values may be secrets
        elif isinstance(value, list):
            value = ", ".join(value)
        elif key in ("created_at", "updated_at"):
            value = local_time(value, seconds=True)
        elif key == "system_prompt":
            value = "\n  " + "\n  ".join(str(value).splitlines())
        click.echo(f"{key}: {value}")


@agent.command("remove")
@click.argument("name", shell_complete=complete_agent)
@click.option("--force", is_flag=True, help="Remove it even while jobs use it (their runs will fail).")
def remove(name: str, force: bool) -> None:
    """Unregister agent NAME (refused while jobs use it, unless --force)."""
    from ..services.agents import remove_agent

    remove_agent(get_app(), name, force=force)
    click.echo(f"agent {name} removed")
