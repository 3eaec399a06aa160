"""Value completers for shell completion: job names and ids, agent names, pending runs.

Used as ``shell_complete=`` on click parameters, so every command imports this module: it stays small. The store's
values come from ``store/completion.py`` (read-only, on the light path; any problem completes nothing).
"""

from __future__ import annotations

from typing import Any

import click


def complete_job(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Job names starting with ``incomplete``, and job ids when ``incomplete`` begins one."""
    from click.shell_completion import CompletionItem

    from ..store import completion

    rows = completion.jobs()
    items = [
        CompletionItem(name, help=f"{status}, agent {agent}")
        for _id, name, agent, status in rows
        if name.startswith(incomplete)
    ]
    if incomplete:
        items += [CompletionItem(job_id, help=name) for job_id, name, _a, _s in rows if job_id.startswith(incomplete)]
    return items


def complete_agent(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Registered agent names starting with ``incomplete``."""
    from click.shell_completion import CompletionItem

    from ..store import completion

    return [CompletionItem(n) for n in completion.agent_names(incomplete) if n.startswith(incomplete)]


def complete_run(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Ids of runs waiting for approval (what ``cron approve``/``deny`` take) starting with ``incomplete``."""
    from click.shell_completion import CompletionItem

    from ..store import completion

    return [
        CompletionItem(run_id, help=job) for run_id, job in completion.pending_runs() if run_id.startswith(incomplete)
    ]


def values(*choices: str):
    """A completer offering fixed ``choices``. The completion scripts embed them (``.values``): Tab needs no
    program run for them."""
    from click.shell_completion import CompletionItem

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        return [CompletionItem(c) for c in choices if c.startswith(incomplete)]

    complete.values = tuple(choices)  # type: ignore[attr-defined]
    return complete


def complete_zone(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """IANA time zone names (the machine's tz database) starting with ``incomplete``, case-insensitive."""
    from click.shell_completion import CompletionItem

    try:
        import zoneinfo

        zones = zoneinfo.available_timezones()
    except Exception:  # noqa: BLE001  (no tz database: nothing to offer)
        return []
    low = incomplete.lower()
    return [CompletionItem(z) for z in sorted(zones) if z.lower().startswith(low) and not z.startswith("posix")]


def complete_channel(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The built-in delivery channels and the ``custom:NAME`` ones of config ``[custom_channels]`` (read with
    tomllib: no settings model on a Tab press)."""
    from click.shell_completion import CompletionItem

    from ..vocab import BUILTIN_CHANNELS

    names = list(BUILTIN_CHANNELS)
    try:
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        from ..paths import resolve

        with open(resolve().config_file, "rb") as fh:
            custom = tomllib.load(fh).get("custom_channels") or {}
        names += [f"custom:{n}" for n in sorted(custom)]
    except Exception:  # noqa: BLE001  (no config, or a broken one: the built-in channels)
        pass
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]
