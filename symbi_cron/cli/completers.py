"""Value completers for shell completion: job names and ids, agent names, pending runs.

Used as ``shell_complete=`` on click parameters, so every command imports this module: it stays small (sqlite3 and
paths only). The store is opened read-only and never created or migrated: a Tab press must not leave a
``symbi.db`` behind, and it must not fail loudly (any problem completes nothing).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click


def _store_rows(sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Rows from the store opened read-only; [] when there is no store or it cannot be read."""
    from ..errors import SymbiError
    from ..paths import resolve
    from ..store.factory import is_postgres_url, store_url

    try:
        paths = resolve()
        url = store_url(paths)
        if url and is_postgres_url(url):
            return []  # a shared PostgreSQL store: a Tab press must not open network connections
        db = Path(url.removeprefix("sqlite://").removeprefix("sqlite:")) if url else paths.db
        if not db.exists():
            return []
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.5)
        try:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError, SymbiError):
        return []


def complete_job(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Job names starting with ``incomplete``, and job ids when ``incomplete`` begins one."""
    from click.shell_completion import CompletionItem

    rows = _store_rows("SELECT id, name, agent_id, status FROM jobs ORDER BY name")
    items = [
        CompletionItem(r["name"], help=f"{r['status']}, agent {r['agent_id']}")
        for r in rows
        if r["name"].startswith(incomplete)
    ]
    if incomplete:
        items += [CompletionItem(r["id"], help=r["name"]) for r in rows if r["id"].startswith(incomplete)]
    return items


def complete_agent(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Registered agent names starting with ``incomplete``."""
    from click.shell_completion import CompletionItem

    rows = _store_rows("SELECT name FROM agents WHERE name >= ? ORDER BY name", (incomplete,))
    return [CompletionItem(r["name"]) for r in rows if r["name"].startswith(incomplete)]


def complete_run(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Ids of runs waiting for approval (what ``cron approve``/``deny`` take) starting with ``incomplete``."""
    from click.shell_completion import CompletionItem

    rows = _store_rows(
        "SELECT r.id, j.name FROM runs r JOIN jobs j ON j.id = r.job_id "
        "WHERE r.status = 'pending_approval' ORDER BY r.created_at"
    )
    return [CompletionItem(r["id"], help=r["name"]) for r in rows if r["id"].startswith(incomplete)]


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
