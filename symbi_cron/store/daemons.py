"""The ``daemons`` table: the leases on a shared store (docs/scaling.md), and each daemon's label. Each daemon, and
each run owner while it carries a run, has a row whose ``lease_until`` it renews; ``services/leases.py`` says who
holds what and when a lease counts as alive. The read side says which supervisors hold a live lease, under which
name, with which version, and how loaded each is. Every write here runs in the caller's write transaction.

A lease has a **token**, its fencing token: the instant (epoch ms) it was taken, so a lease taken again after it
lapsed, or after its row was dropped, always gets a greater one. A run carries the token of its owner's lease from
the moment it becomes ``running`` (``runs.fence``). An owner's row names the daemon it works for (``parent``): a
daemon's load is the running runs of its owners.
"""

from __future__ import annotations

from typing import Any

from .base import PerDialect


def register(
    conn: Any, holder: str, *, host: str, pid: int, now_ms: int, lease_ms: int, parent: str | None = None
) -> int:
    """Take the lease of ``holder`` until ``now_ms + lease_ms``; its token (a row already there keeps its host and
    start; a lease taken again after it lapsed, or after its row was dropped, gets a greater token)."""
    row = conn.execute(
        "INSERT INTO daemons (id, host, pid, started_at, lease_until, token, parent) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until,"
        " token = CASE WHEN daemons.lease_until >= ? THEN daemons.token"
        " WHEN excluded.token > daemons.token THEN excluded.token ELSE daemons.token + 1 END"
        " RETURNING token",
        (holder, host, pid, now_ms, now_ms + lease_ms, now_ms, parent, now_ms),
    ).fetchone()
    return int(row[0])


def extend(conn: Any, holder: str, token: int, *, now_ms: int, lease_ms: int, lapsed_too: bool = False) -> bool:
    """Extend the lease ``holder`` holds under ``token`` to ``now_ms + lease_ms``. Only one that has not lapsed,
    unless ``lapsed_too`` (a run owner: its lease stays its own until someone takes its run over, which drops the
    row). False: the lease is no longer the holder's; nothing was changed."""
    sql = "UPDATE daemons SET lease_until = ? WHERE id = ? AND token = ?"
    params: tuple = (now_ms + lease_ms, holder, token)
    if not lapsed_too:
        sql += " AND lease_until >= ?"
        params += (now_ms,)
    return conn.execute(sql, params).rowcount == 1


def remove(conn: Any, holder: str) -> None:
    """``holder``'s row goes (a clean stop, or its run was taken over)."""
    conn.execute("DELETE FROM daemons WHERE id = ?", (holder,))


_LEASE = PerDialect(
    sqlite="SELECT lease_until, host, token FROM daemons WHERE id = ?",
    postgresql="SELECT lease_until, host, token FROM daemons WHERE id = ? FOR UPDATE",
)


def lease_of(conn: Any, holder: str, *, lock: bool = False) -> tuple[int, str, int] | None:
    """``(lease_until, host, token)`` of ``holder``'s lease, or None when it has no row. With ``lock`` (inside a
    write), the row is locked until the transaction ends: the holder cannot renew it meanwhile (a daemon taking its
    run over decides on a lease that stays as read)."""
    sql = _LEASE(conn) if lock else _LEASE.sqlite
    row = conn.execute(sql, (holder,)).fetchone()
    return (int(row[0]), row[1], int(row[2])) if row is not None else None


def parent_of(conn: Any, holder: str) -> tuple[str, str | None, int] | None:
    """``(id, name, lease_until)`` of the daemon a run owner works for (its row's ``parent``); None when the owner
    has no row, names no parent, or the parent's row is gone."""
    row = conn.execute(
        "SELECT p.id, p.name, p.lease_until FROM daemons o JOIN daemons p ON p.id = o.parent WHERE o.id = ?",
        (holder,),
    ).fetchone()
    return (row[0], row[1], int(row[2])) if row is not None else None


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


def loads(conn: Any, now_ms: int, renewed_since: int) -> dict[str, int]:
    """``{daemon id: running runs}`` of every daemon whose lease holds and that renewed it at or after
    ``renewed_since`` (it is ticking: a frozen daemon's lease may not have lapsed yet): the runs its owners (rows
    naming it as ``parent``) carry. Owners that carry a run keep a lease row of their own, so this reads the leases
    alone."""
    rows = conn.execute(
        "SELECT d.id, COUNT(o.id) FROM daemons d LEFT JOIN daemons o ON o.parent = d.id"
        " AND EXISTS (SELECT 1 FROM runs r WHERE r.daemon_id = o.id AND r.status = 'running')"
        " WHERE d.lease_until >= ? AND d.id LIKE ? AND COALESCE(d.renewed_at, d.started_at) >= ? GROUP BY d.id",
        (now_ms, "daemon:%", renewed_since),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}
