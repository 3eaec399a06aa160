"""The ``daemons`` table: the leases on a shared store (docs/scaling.md), and each daemon's label. Each daemon, and
each run owner while it carries a run, has a row whose ``lease_until`` it renews; ``services/leases.py`` says who
holds what and when a lease counts as alive. The read side says which supervisors hold a live lease, under which
name, with which version. Every write here runs in the caller's write transaction.
"""

from __future__ import annotations

from typing import Any


def register(conn: Any, holder: str, *, host: str, pid: int, now_ms: int, lease_until: int) -> None:
    """Record ``holder`` with a lease until ``lease_until`` (a row already there keeps its host and start, and
    takes the new lease)."""
    conn.execute(
        "INSERT INTO daemons (id, host, pid, started_at, lease_until) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        (holder, host, pid, now_ms, lease_until),
    )


def extend(conn: Any, holder: str, *, now_ms: int, lease_until: int) -> bool:
    """Extend ``holder``'s lease to ``lease_until`` if it still holds one at ``now_ms``; False when it had lapsed
    (or its row is gone): nothing was changed."""
    cur = conn.execute(
        "UPDATE daemons SET lease_until = ? WHERE id = ? AND lease_until >= ?", (lease_until, holder, now_ms)
    )
    return cur.rowcount == 1


def remove(conn: Any, holder: str) -> None:
    """``holder``'s row goes (a clean stop)."""
    conn.execute("DELETE FROM daemons WHERE id = ?", (holder,))


def lease_of(conn: Any, holder: str) -> tuple[int, str] | None:
    """``(lease_until, host)`` of ``holder``'s lease, or None when it has no row."""
    row = conn.execute("SELECT lease_until, host FROM daemons WHERE id = ?", (holder,)).fetchone()
    return (int(row[0]), row[1]) if row is not None else None


def forget_lapsed(conn: Any, *, keep: str, now_ms: int) -> int:
    """Remove the rows of holders (other than ``keep``) whose lease lapsed before ``now_ms`` and that hold nothing
    any more (no running run, no owed delivery); how many went."""
    cur = conn.execute(
        "DELETE FROM daemons WHERE lease_until < ? AND id <> ?"
        " AND id NOT IN (SELECT daemon_id FROM runs WHERE status = 'running' AND daemon_id IS NOT NULL)"
        " AND id NOT IN (SELECT owner FROM outbox)",
        (now_ms, keep),
    )
    return cur.rowcount


def count_live(conn: Any, now_ms: int) -> int:
    """How many daemons (not their run owners: a dead daemon's owners still renew theirs) hold a lease that has not
    lapsed at ``now_ms``."""
    row = conn.execute(
        "SELECT COUNT(*) FROM daemons WHERE lease_until >= ? AND id LIKE ?", (now_ms, "daemon:%")
    ).fetchone()
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
