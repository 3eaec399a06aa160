"""Leases on a shared PostgreSQL store (docs/scaling.md): each daemon, and each run owner while it carries a run,
has a row in the ``daemons`` table whose ``lease_until`` it renews; a run's owner is alive while its lease holds.
"""

from __future__ import annotations

import os

from ..processes import host_name, owner_alive, owner_kind


def register_daemon(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> None:
    """Record this daemon and its first lease (until ``now_ms + lease_ms``)."""
    conn.execute(
        "INSERT INTO daemons (id, host, pid, started_at, lease_until) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        (daemon_id, host_name(), os.getpid(), now_ms, now_ms + lease_ms),
    )


def renew_lease(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> bool:
    """Extend this daemon's lease. False when it had lapsed (or was removed): the others may have taken its
    runs over, so the caller should say so; the lease is taken again either way."""
    cur = conn.execute(
        "UPDATE daemons SET lease_until = ? WHERE id = ? AND lease_until >= ?", (now_ms + lease_ms, daemon_id, now_ms)
    )
    if cur.rowcount == 1:
        return True
    register_daemon(conn, daemon_id, now_ms=now_ms, lease_ms=lease_ms)
    return False


def release_daemon(conn, daemon_id: str) -> None:
    """A clean stop: the daemon's row goes (its runs were drained and recorded)."""
    conn.execute("DELETE FROM daemons WHERE id = ?", (daemon_id,))


def lease_alive(conn, owner: str | None, me: str, now_ms: int) -> bool:
    """Whether the owner of a run is alive on a shared store: its daemon holds an unexpired lease. An owner with
    no lease row is a daemon that is gone, or a foreground ``symbi cron run``: that one is judged by its pid when
    it ran on this host, and left alone when it ran elsewhere (only its own host can tell)."""
    if not owner or owner == me:
        return owner == me
    row = conn.execute("SELECT lease_until, host FROM daemons WHERE id = ?", (owner,)).fetchone()
    if row is not None:
        return int(row[0]) >= now_ms
    if owner_kind(owner) == "daemon":
        return False
    parts = owner.split(":")
    if len(parts) > 3 and parts[3] != host_name():
        return True
    return owner_alive(owner, me)


def forget_lapsed(conn, *, me: str, now_ms: int) -> int:
    """Drop the lease rows of daemons and owners that lapsed and hold nothing any more (no running run, no owed
    delivery): their purpose is served. How many went."""
    cur = conn.execute(
        "DELETE FROM daemons WHERE lease_until < ? AND id <> ?"
        " AND id NOT IN (SELECT daemon_id FROM runs WHERE status = 'running' AND daemon_id IS NOT NULL)"
        " AND id NOT IN (SELECT owner FROM outbox)",
        (now_ms, me),
    )
    return cur.rowcount
