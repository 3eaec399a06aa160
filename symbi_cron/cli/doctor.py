"""``symbi doctor``: check the installation end to end; one line per problem, exit 1 when there is any."""

from __future__ import annotations

import click

from .common import emit_json, format_option


@click.command("doctor")
@format_option()
def doctor(fmt: str) -> None:
    """Check the installation: config and the ${VAR}s it references, the store (integrity, schema, audit
    chain), the daemon and its pidfile, the API port, time zone data, disk space and file modes.

    Prints one line per problem and exits 1 when there is any; 0 and a summary when all is well.

    Example: symbi doctor || journalctl --user -u symbi-cron
    """
    from ..paths import resolve
    from ..services.doctor import Doctor

    results = Doctor(resolve()).run()
    problems = [(r["check"], p) for r in results for p in r["problems"]]
    if fmt == "json":
        emit_json({"ok": not problems, "checks": results})
    else:
        for check, problem in problems:
            click.echo(f"{check}: {problem}")
        if not problems:
            click.echo(f"ok: {len(results)} checks passed ({', '.join(r['check'] for r in results)})")
    if problems:
        raise click.exceptions.Exit(1)
