"""``symbi store``: prune it by the ``[retention]`` settings (docs/operations.md); move it to another backend
(docs/scaling.md)."""

from __future__ import annotations

import click

from .common import emit_json, format_option, get_app


@click.group("store")
def store() -> None:
    """Manage the job store (SQLite by default; PostgreSQL for several daemons)."""


@store.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@format_option(("table", "json"))
def prune(dry_run: bool, fmt: str) -> None:
    """Apply [retention] now: old runs and their logs, old job logs, the context directories of removed jobs,
    old audit events (behind a checkpoint `symbi audit verify` starts from). Never open runs, never runs whose
    deliveries are pending. The daemon does the same every [retention] interval_hours.

    Example: symbi store prune --dry-run
    """
    from ..services.retention import prune as prune_store
    from ..services.retention import summary

    report = prune_store(get_app(), dry_run=dry_run)
    if fmt == "json":
        emit_json(report)
    else:
        click.echo(summary(report))


@store.command("migrate")
@click.option(
    "--to",
    "to_url",
    required=True,
    metavar="URL",
    help="The empty target store: postgresql://USER@HOST/DB (a password from ${ENV} or ~/.pgpass).",
)
@format_option(("table", "json"))
def migrate(to_url: str, fmt: str) -> None:
    """Copy jobs, agents, runs, deliveries and the audit log into another store, verifying row counts and the
    audit hash chain. Stop the daemon first; point SYMBI_STORE_URL (or [store] url) at the target afterwards.

    Example: symbi store migrate --to postgresql://symbi@db.internal/symbi
    """
    from ..envref import expand_env
    from ..services.storage import migrate_store

    result = migrate_store(get_app(), expand_env(to_url, strict=True))
    if fmt == "json":
        emit_json(result)
        return
    for table, n in result["tables"].items():
        click.echo(f"{table:<11} {n:>9} rows copied")
    click.echo(
        f"audit chain verified on the target: {result['audit']['count']} events, head"
        f" {result['audit']['head'][:16] if result['audit']['head'] else '-'}"
    )
    click.echo("done: set SYMBI_STORE_URL (or [store] url in config.toml) to the new store on every host")
