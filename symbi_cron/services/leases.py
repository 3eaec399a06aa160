"""Leases on a shared PostgreSQL store (docs/scaling.md): each daemon, and each run owner while it carries a run,
has a row in the ``daemons`` table (``store/daemons.py``) whose ``lease_until`` it renews; a run's owner is alive
while its lease holds.
"""

from __future__ import annotations

import os

from ..processes import host_name, owner_alive, owner_kind
from ..store import daemons as lease_rows


def register_daemon(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> None:
    """Record this daemon and its first lease (until ``now_ms + lease_ms``)."""
    lease_rows.register(
        conn, daemon_id, host=host_name(), pid=os.getpid(), now_ms=now_ms, lease_until=now_ms + lease_ms
    )


def renew_lease(conn, daemon_id: str, *, now_ms: int, lease_ms: int) -> bool:
    """Extend this daemon's lease. False when it had lapsed (or was removed): the others may have taken its
    runs over, so the caller should say so; the lease is taken again either way."""
    if lease_rows.extend(conn, daemon_id, now_ms=now_ms, lease_until=now_ms + lease_ms):
        return True
    register_daemon(conn, daemon_id, now_ms=now_ms, lease_ms=lease_ms)
    return False


def release_daemon(conn, daemon_id: str) -> None:
    """A clean stop: the daemon's row goes (its runs were drained and recorded)."""
    lease_rows.remove(conn, daemon_id)


def lease_alive(conn, owner: str | None, me: str, now_ms: int) -> bool:
    """Whether the owner of a run is alive on a shared store: its daemon holds an unexpired lease. An owner with
    no lease row is a daemon that is gone, or a foreground ``symbi cron run``: that one is judged by its pid when
    it ran on this host, and left alone when it ran elsewhere (only its own host can tell)."""
    if not owner or owner == me:
        return owner == me
    lease = lease_rows.lease_of(conn, owner)
    if lease is not None:
        return lease[0] >= now_ms
    if owner_kind(owner) == "daemon":
        return False
    parts = owner.split(":")
    if len(parts) > 3 and parts[3] != host_name():
        return True
    return owner_alive(owner, me)


def forget_lapsed(conn, *, me: str, now_ms: int) -> int:
    """Drop the lease rows of daemons and owners that lapsed and hold nothing any more (no running run, no owed
    delivery): their purpose is served. How many went."""
    return lease_rows.forget_lapsed(conn, keep=me, now_ms=now_ms)
