"""The ``daemons`` table, read side, and each daemon's label: which supervisors hold a live lease on a shared store
(docs/scaling.md), under which name, with which version. The leases themselves are written by the supervisor and
the run owners (``services/leases.py``)."""

from __future__ import annotations

from typing import Any


def count_live(conn: Any, now_ms: int) -> int:
    """How many daemons hold a lease that has not lapsed at ``now_ms``."""
    row = conn.execute("SELECT COUNT(*) FROM daemons WHERE lease_until >= ?", (now_ms,)).fetchone()
    return int(row[0]) if row else 0


def label(conn: Any, holder: str, *, name: str, version: str, renewed_at: int) -> None:
    """Record on ``holder``'s lease row its daemon name, its version and when it last renewed (the lease's age)."""
    conn.execute(
        "UPDATE daemons SET name = ?, version = ?, renewed_at = ? WHERE id = ?", (name, version, renewed_at, holder)
    )


def live_daemons(conn: Any, now_ms: int) -> list[dict[str, Any]]:
    """The daemons (not their run owners) holding a lease that has not lapsed at ``now_ms``, by name."""
    rows = conn.execute(
        "SELECT id, name, host, pid, started_at, lease_until, renewed_at, version FROM daemons"
        " WHERE lease_until >= ? AND id LIKE ? ORDER BY name, host, pid",
        (now_ms, "daemon:%"),
    ).fetchall()
    keys = ("id", "name", "host", "pid", "started_at", "lease_until", "renewed_at", "version")
    return [dict(zip(keys, tuple(r), strict=True)) for r in rows]
