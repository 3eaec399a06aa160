"""Placement you can see (docs/scaling.md, "Placement"): the daemons serving a store, each with its name, host,
pid, the age of its lease, its version and its load (runs running under it). On a shared PostgreSQL store they are
the daemons holding a live lease; on SQLite, the one daemon of this home (its pidfile), which holds no lease.
"""

from __future__ import annotations

from typing import Any

from ..timeutil import from_ms, iso, to_ms
from ..vocab import DaemonStatus
from .app import App


def live_daemons(app: App) -> list[dict[str, Any]]:
    """Every live daemon of the store, by name: ``name, host, pid, started_at, uptime_seconds,
    lease_age_seconds, lease_left_seconds, version, running, this_home`` (lease fields null on SQLite)."""
    from .. import __version__
    from ..processes import daemon_state, host_name
    from ..store import daemons as lease_rows
    from ..store import runs as run_rows

    now_ms = to_ms(app.clock.now())
    shared = getattr(app.store, "dialect", "sqlite") == "postgresql"
    local = daemon_state(app.paths)
    with app.store.read() as conn:
        load = run_rows.running_by_daemon(conn)
        rows = lease_rows.live_daemons(conn, now_ms) if shared else []
    if not shared and local.state == DaemonStatus.running:
        started = to_ms(local.started_at) if local.started_at else None
        rows = [
            {
                "id": None,
                "name": app.daemon_name,
                "host": host_name(),
                "pid": local.pid,
                "started_at": started,
                "lease_until": None,
                "renewed_at": None,
                "version": __version__,  # the installed one: a daemon on SQLite writes no lease row to say its own
            }
        ]
    out = []
    me = host_name()
    for row in rows:
        started, renewed, until = row["started_at"], row["renewed_at"], row["lease_until"]
        out.append(
            {
                "name": row["name"],
                "host": row["host"],
                "pid": row["pid"],
                "started_at": iso(from_ms(started)) if started is not None else None,
                "uptime_seconds": max(0, (now_ms - int(started)) // 1000) if started is not None else None,
                "lease_age_seconds": round(max(0, now_ms - int(renewed)) / 1000, 1) if renewed is not None else None,
                "lease_left_seconds": round((int(until) - now_ms) / 1000, 1) if until is not None else None,
                "version": row["version"],
                "running": load.get(row["name"], 0) if row["name"] else 0,
                "this_home": row["host"] == me and row["pid"] == local.pid and local.state == DaemonStatus.running,
            }
        )
    return out
